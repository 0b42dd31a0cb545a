using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;

namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// What the ONNX Runtime build in this process can do: its execution providers, and whether the CUDA
/// provider loads (with the reason when it does not). Probed once, on first use; the hardware profile and
/// <c>GET /api/models</c> report it.
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal sealed class OnnxCapabilities
{
    public const string CudaProvider = "CUDAExecutionProvider";

    private readonly Lazy<Probe> _probe = new(Run, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The execution providers this build of ONNX Runtime contains.</summary>
    public IReadOnlyList<string> Providers => _probe.Value.Providers;

    /// <summary>True when a session can be given the CUDA provider on device 0.</summary>
    public bool CudaAvailable => _probe.Value.CudaReason is null;

    /// <summary>Why the CUDA provider cannot be used; null when it can.</summary>
    public string? CudaUnavailableReason => _probe.Value.CudaReason;

    public JsonObject ToJson() => new()
    {
        ["providers"] = new JsonArray([.. Providers.Select(p => (JsonNode)p)]),
        ["cuda"] = new JsonObject { ["available"] = CudaAvailable, ["reason"] = CudaUnavailableReason },
    };

    /// <summary>Adds the CUDA provider to <paramref name="options"/>, or explains why it cannot.</summary>
    /// <returns>Null on success, else the reason.</returns>
    public static string? TryAppendCuda(SessionOptions options)
    {
        try
        {
            options.AppendExecutionProvider_CUDA(0);
            return null;
        }
        catch (EntryPointNotFoundException)
        {
            // The CPU package exports no CUDA entry point at all.
            return "this build of ONNX Runtime has no CUDA provider (the CPU package is installed; build with -p:OnnxGpu=true for the GPU package)";
        }
        catch (OnnxRuntimeException e)
        {
            return e.Message;
        }
        catch (DllNotFoundException e)
        {
            return e.Message;
        }
    }

    private static Probe Run()
    {
        string[] providers;
        try
        {
            providers = OrtEnv.Instance().GetAvailableProviders();
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or TypeInitializationException)
        {
            return new Probe([], $"ONNX Runtime cannot be loaded: {e.Message}");
        }

        using var options = new SessionOptions();
        var reason = TryAppendCuda(options);
        if (reason is null && !providers.Contains(CudaProvider, StringComparer.Ordinal))
        {
            reason = $"this build of ONNX Runtime does not list {CudaProvider} (it has {string.Join(", ", providers)})";
        }

        return new Probe(providers, reason);
    }

    private sealed record Probe(IReadOnlyList<string> Providers, string? CudaReason);
}
