using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Runtimes.Workers;

/// <summary>
/// The worker side: the loop of <c>tenzro-node worker &lt;runtime&gt;</c>. Reads requests from standard input,
/// runs each under its memory limit and answers on standard output (<see cref="WorkerProtocol"/>). Exits when
/// the node closes standard input, or after <see cref="IdleExit"/> without a request.
/// </summary>
internal static class WorkerHost
{
    /// <summary>Longer than the node's own idle retirement, so that the node, not the worker, normally ends an idle worker.</summary>
    public static readonly TimeSpan IdleExit = TimeSpan.FromSeconds(90);

    /// <summary>The words of every memory-limit error, which the node and the tests look for.</summary>
    public const string MemoryLimitWords = "memory limit";

    /// <summary>Runs the worker for <paramref name="runtime"/> (<c>onnx</c> or <c>train</c>); returns the exit code.</summary>
    public static async Task<int> RunAsync(string runtime)
    {
        IWorkerJob? job = runtime switch
        {
            WorkerRuntimes.Onnx => new Onnx.OnnxWorkerJob(),
            WorkerRuntimes.Train => new Training.TrainWorkerJob(),
            _ => null,
        };
        if (job is null)
        {
            await Console.Error.WriteLineAsync($"unknown worker runtime '{runtime}'; expected {WorkerRuntimes.Onnx} or {WorkerRuntimes.Train}");
            return 2;
        }

        var input = Console.OpenStandardInput();
        var output = Console.OpenStandardOutput();

        // Standard output carries frames only: anything written to Console.Out goes to standard error instead.
        Console.SetOut(Console.Error);
        var writeLock = new Lock();
        lock (writeLock)
        {
            WorkerProtocol.Write(output, WorkerFrameKind.Ready, []);
        }

        // The main thread, which has nothing else to do, blocks in each read: a request reaches the job with no hand-off
        // between threads. A worker left idle for IdleExit ends itself; the state decides between the timer and a request
        // read at the same moment, so that the timer never ends a job under way.
        var state = new StrongBox<int>(Idle);
        using var idle = new Timer(
            static box =>
            {
                if (Interlocked.CompareExchange(ref ((StrongBox<int>)box!).Value, Exiting, Idle) == Idle)
                {
                    Environment.Exit(0);
                }
            },
            state,
            IdleExit,
            Timeout.InfiniteTimeSpan);
        while (true)
        {
            var frame = WorkerProtocol.Read(input);
            if (frame is not { Kind: WorkerFrameKind.Request } request)
            {
                return frame is null ? 0 : 2;
            }

            if (Interlocked.CompareExchange(ref state.Value, Busy, Idle) != Idle)
            {
                return 0; // the idle timer is ending this worker: the node sees it stop, as with any worker that ends
            }

            idle.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            var answer = Handle(job, WorkerProtocol.ParseObject(request.Payload), new FrameProgress(output, writeLock));
            lock (writeLock)
            {
                WorkerProtocol.Write(output, WorkerFrameKind.Done, WorkerProtocol.Json(answer));
            }

            Volatile.Write(ref state.Value, Idle);
            idle.Change(IdleExit, Timeout.InfiniteTimeSpan);
        }
    }

    private const int Idle = 0;
    private const int Busy = 1;
    private const int Exiting = 2;

    private static JsonObject Handle(IWorkerJob job, JsonObject request, IProgress<double> progress)
    {
        var answer = new JsonObject();
        var dataLimit = request["dataLimitBytes"]?.GetValue<long>();
        var atRest = ResidentPeak.Start();
        try
        {
            using (dataLimit is { } extra ? DataLimit.Hold(extra) : null)
            {
                answer["result"] = job.Run((JsonObject)request["job"]!, progress);
            }
        }
        catch (TaskExecutionException e)
        {
            answer["error"] = e.Message;
            answer["memoryLimit"] = dataLimit is not null && LooksLikeAllocationFailure(e);
        }
        catch (OutOfMemoryException)
        {
            answer["error"] = MemoryLimitWords;
            answer["memoryLimit"] = true;
        }
        catch (InsufficientExecutionStackException)
        {
            answer["error"] = "the task's work went deeper than the worker's stack allows";
        }
        catch (Exception e)
        {
            // The edge of the request loop: whatever the runtime threw fails this task, and the worker goes on.
            answer["error"] = $"the runtime failed: {e.GetType().Name}: {Onnx.OnnxModelScan.WithoutPaths(e.Message)}";
            answer["memoryLimit"] = dataLimit is not null && LooksLikeAllocationFailure(e);
        }

        answer["stats"] = job.Stats();
        if (ResidentPeak.Added(atRest) is { } added)
        {
            answer["peakBytes"] = added;
        }

        return answer;
    }

    /// <summary>ONNX Runtime reports an allocation the data limit refused as an error whose text names the failure.</summary>
    private static bool LooksLikeAllocationFailure(Exception e)
    {
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (current is OutOfMemoryException
                || current.Message.Contains("bad_alloc", StringComparison.OrdinalIgnoreCase)
                || current.Message.Contains("bad allocation", StringComparison.OrdinalIgnoreCase)
                || current.Message.Contains("Failed to allocate", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Sends a job's progress to the node; the end (1) is not sent, since the answer that follows says as much, and a
    /// frame fewer spares the node a wake-up on every short job.
    /// </summary>
    private sealed class FrameProgress(Stream output, Lock writeLock) : IProgress<double>
    {
        public void Report(double value)
        {
            if (value >= 1)
            {
                return;
            }

            var payload = BitConverter.GetBytes(value);
            lock (writeLock)
            {
                WorkerProtocol.Write(output, WorkerFrameKind.Progress, payload);
            }
        }
    }
}

/// <summary>The runtimes that run in workers, as named on the worker's command line.</summary>
internal static class WorkerRuntimes
{
    public const string Onnx = "onnx";
    public const string Train = "train";
}
