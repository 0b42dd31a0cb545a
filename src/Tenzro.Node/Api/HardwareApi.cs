using Microsoft.AspNetCore.Http.HttpResults;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Hardware.Benchmarks;
using Tenzro.Node.Core.Optimization;

using Tenzro.Node.Security;

namespace Tenzro.Node.Api;

/// <summary><c>GET /api/hardware/profile</c> (CONTRACTS.md "/api/hardware/profile") and <c>POST /api/hardware/benchmark</c>.</summary>
internal static class HardwareApi
{
    public static WebApplication MapHardwareApi(this WebApplication app)
    {
        var hardware = app.MapGroup("/api/hardware").WithTags("Hardware");
        hardware.MapGet("/profile", (HardwareProfiler profiler, IEnumerable<IOptimizationSource> tuning) => TypedResults.Ok(WithOptimizations(profiler.Current, tuning)))
            .WithName("GetHardwareProfile")
            .WithSummary("CPU, memory, storage, GPUs, network, benchmarks, tier and container limits of this machine.");
        hardware.MapPost("/benchmark", RunBenchmarksAsync)
            .RequireAuthorization(NodePolicies.Admin)
            .WithName("RunHardwareBenchmarks")
            .WithSummary("Run the micro-benchmarks now (about 3 s), store them for this fingerprint and answer the new profile.");
        return app;
    }

    /// <summary>The profile with the choices tuned from it, as they stand now.</summary>
    private static HardwareProfile WithOptimizations(HardwareProfile profile, IEnumerable<IOptimizationSource> tuning) =>
        profile with { Optimizations = [.. tuning.SelectMany(source => source.Choices())] };

    private static async Task<Results<Ok<HardwareProfile>, ProblemHttpResult>> RunBenchmarksAsync(HardwareBenchmarks benchmarks, IEnumerable<IOptimizationSource> tuning, CancellationToken cancellationToken)
    {
        var profile = await benchmarks.RunAsync(cancellationToken);
        return profile.BenchmarkRun.State == BenchmarkState.Measured
            ? TypedResults.Ok(WithOptimizations(profile, tuning))
            : HttpSetup.Problem(500, "Benchmarks failed", $"The benchmarks did not finish: {profile.BenchmarkRun.Error ?? profile.BenchmarkRun.State}. Check that DATA_DIR is writable and has free space, then retry.");
    }
}
