using System.Runtime.InteropServices;
using Spectre.Console;

namespace Tenzro.Node.Cli;

/// <summary>How long-running commands show progress: a live line on a terminal, plain lines otherwise (logs, pipes, CI).</summary>
internal static class Terminal
{
    /// <summary>True when standard output is an interactive terminal that can redraw a line.</summary>
    public static bool IsInteractive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>
    /// Runs <paramref name="work"/>, which reports its state through the callback it is given: on a terminal the
    /// state replaces a spinner's text; elsewhere each new state is printed once as a plain line.
    /// </summary>
    public static async Task ShowProgressAsync(string initial, Func<Action<string>, Task> work)
    {
        if (IsInteractive)
        {
            await AnsiConsole.Status().StartAsync(Markup.Escape(initial), context => work(state => context.Status(Markup.Escape(state))));
            return;
        }

        string? last = null;
        await work(state =>
        {
            if (state != last)
            {
                Console.WriteLine(state);
                last = state;
            }
        });
    }

    /// <summary>
    /// A token cancelled by Ctrl-C (SIGINT), SIGTERM or <paramref name="cancellationToken"/>, for commands that run
    /// until stopped and must stop what they started before exiting. Dispose the result to let the signals go.
    /// </summary>
    public static StopSignal OnStopSignal(CancellationToken cancellationToken) => new(cancellationToken);

    /// <summary>See <see cref="OnStopSignal"/>.</summary>
    internal sealed class StopSignal : IDisposable
    {
        private readonly CancellationTokenSource _source;
        private readonly PosixSignalRegistration[] _registrations;

        public StopSignal(CancellationToken cancellationToken)
        {
            _source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _registrations =
            [
                PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop),
                PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop),
            ];
        }

        public CancellationToken Token => _source.Token;

        public void Dispose()
        {
            foreach (var registration in _registrations)
            {
                registration.Dispose();
            }

            _source.Dispose();
        }

        private void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            _source.Cancel();
        }
    }
}
