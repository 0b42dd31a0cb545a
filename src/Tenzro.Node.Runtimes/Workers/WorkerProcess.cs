using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Runtimes.Workers;

/// <summary>
/// The node's side of one worker process: started with its memory group (where the node may make one), one
/// request at a time, killed on cancellation. The worker ends when its standard input is closed.
/// </summary>
/// <remarks>Used by one task at a time (the pool hands it out); <see cref="Kill"/> may be called from any thread.</remarks>
internal sealed class WorkerProcess : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly Stream _input;
    private readonly Stream _output;
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _stat;
    private int _disposed;

    private WorkerProcess(Process process, MemoryGroup? group)
    {
        _process = process;
        _input = process.StandardInput.BaseStream;
        _output = process.StandardOutput.BaseStream;
        Group = group;
        Pid = process.Id;
    }

    public int Pid { get; }

    /// <summary>The worker's memory group; null where the worker holds itself with <see cref="DataLimit"/>.</summary>
    public MemoryGroup? Group { get; }

    /// <summary>When the worker last finished a job (guarded by the pool).</summary>
    public DateTimeOffset IdleSince { get; set; }

    /// <summary>What the worker has cached (for example a model and thread count), so the pool sends it jobs that use it (guarded by the pool).</summary>
    public HashSet<string> Affinity { get; } = new(StringComparer.Ordinal);

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// True when the worker ended by SIGABRT: under <c>RLIMIT_DATA</c> that is how the .NET runtime ends when one of its
    /// own native allocations is refused ("terminate called after throwing…"), before any managed out-of-memory.
    /// </summary>
    public bool Aborted => _process.HasExited && _process.ExitCode == 128 + 6;

    /// <summary>"exit code 3" or "killed by signal 9 (SIGKILL)"; "still running" before it ended.</summary>
    public string ExitDescription
    {
        get
        {
            if (!_process.HasExited)
            {
                return "still running";
            }

            var code = _process.ExitCode;
            return code > 128 ? $"killed by signal {code - 128}{SignalName(code - 128)}" : $"exit code {code}";
        }
    }

    /// <summary>Starts <c>worker <paramref name="runtime"/></c> and waits until it says it is ready.</summary>
    /// <exception cref="IOException">The worker did not start or did not say it was ready.</exception>
    public static async Task<WorkerProcess> StartAsync(WorkerLaunch launch, string runtime, CancellationToken token)
    {
        var start = new ProcessStartInfo(launch.FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        foreach (var argument in launch.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("worker");
        start.ArgumentList.Add(runtime);
        start.Environment["DOTNET_GCHeapHardLimit"] = launch.ManagedHeapLimitBytes.ToString("x", CultureInfo.InvariantCulture);
        start.Environment["DOTNET_gcServer"] = "0";
        start.Environment["DOTNET_gcConcurrent"] = "0";

        var process = Process.Start(start) ?? throw new IOException($"{launch.FileName} did not start");
        var worker = new WorkerProcess(process, MemoryGroup.Create(process.Id));
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(StartTimeout);
            var ready = await WorkerProtocol.ReadAsync(worker._output, timeout.Token);
            if (ready is not { Kind: WorkerFrameKind.Ready })
            {
                await worker.WaitForExitAsync(TimeSpan.FromSeconds(5));
                throw new IOException($"the {runtime} worker ended before it was ready ({worker.ExitDescription})");
            }

            return worker;
        }
        catch
        {
            worker.Kill();
            worker.Dispose();
            throw;
        }
    }

    /// <summary>Sends one request and reads frames until the worker's answer, reporting progress on the way.</summary>
    /// <exception cref="WorkerStoppedException">The worker ended (or was killed) before it answered.</exception>
    public async Task<JsonObject> RunAsync(JsonObject request, IProgress<double> progress)
    {
        try
        {
            // The worker has read everything sent before (it answered), so a frame that fits the pipe's buffer is written
            // at once without blocking: no hand-off to an asynchronous write for the usual small request.
            var payload = WorkerProtocol.Json(request);
            if (WorkerProtocol.FitsOneWrite(payload.Length))
            {
                WorkerProtocol.Write(_input, WorkerFrameKind.Request, payload);
            }
            else
            {
                await WorkerProtocol.WriteAsync(_input, WorkerFrameKind.Request, payload, CancellationToken.None);
            }

            while (await WorkerProtocol.ReadAsync(_output, CancellationToken.None) is { } frame)
            {
                switch (frame.Kind)
                {
                    case WorkerFrameKind.Progress when frame.Payload.Length == sizeof(double):
                        progress.Report(BitConverter.ToDouble(frame.Payload));
                        break;
                    case WorkerFrameKind.Done:
                        return WorkerProtocol.ParseObject(frame.Payload);
                    default:
                        throw new InvalidDataException($"the worker sent a frame of kind {frame.Kind} in the middle of a job");
                }
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ObjectDisposedException)
        {
            throw new WorkerStoppedException(e);
        }

        throw new WorkerStoppedException(null);
    }

    /// <summary>
    /// The CPU time the worker process has used (user and system, every thread), or null where it cannot be read. Read
    /// twice a job, so <c>/proc/PID/stat</c> stays open and each read is one <c>pread</c> (procfs makes the text anew at
    /// offset 0), with no file opened, no string made and no split.
    /// </summary>
    public TimeSpan? CpuTime()
    {
        try
        {
            _stat ??= File.OpenHandle($"/proc/{Pid}/stat");
            Span<byte> text = stackalloc byte[1024];
            var length = RandomAccess.Read(_stat, text, 0);
            return ThreadCpu.CpuTicks(text[..length]) is { } ticks ? ThreadCpu.FromTicks(ticks) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>The worker's resident memory now (<c>VmRSS</c>), or null once it has ended.</summary>
    public long? ResidentBytes()
    {
        try
        {
            var line = File.ReadLines($"/proc/{Pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Kill()
    {
        try
        {
            _process.Kill();
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Already ended.
        }
    }

    /// <summary>Closes the worker's standard input (it exits), kills it if it has not after a moment, and removes its group.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _input.Dispose();
        }
        catch (IOException)
        {
        }

        if (!_process.WaitForExit(TimeSpan.FromSeconds(2)))
        {
            Kill();
            _process.WaitForExit(TimeSpan.FromSeconds(5));
        }

        _stat?.Dispose();
        Group?.Dispose();
        _process.Dispose();
    }

    private static string SignalName(int signal) => signal switch
    {
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    };
}

/// <summary>A worker ended before it answered: it crashed, was killed, or its memory group's limit stopped it.</summary>
internal sealed class WorkerStoppedException(Exception? inner) : Exception("the worker ended before it answered", inner);
