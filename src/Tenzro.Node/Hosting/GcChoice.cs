using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Optimization;

namespace Tenzro.Node.Hosting;

/// <summary>
/// The .NET garbage collector the node runs with, chosen from the machine (GC_MODE, docs/HARDWARE.md): the server
/// collector from <see cref="ServerMinCores"/> cores and <see cref="ServerMinMemoryGb"/> GB, else the workstation
/// one. The mode is fixed when a process starts, so <see cref="RestartInPlaceIfNeeded"/> replaces the starting node
/// with itself under <c>DOTNET_gcServer</c> (execve: the same process id, so a supervisor sees nothing) when the
/// mode in force is not the one chosen. <c>DOTNET_gcServer</c> set by the operator is kept as it is.
/// </summary>
/// <remarks>Immutable; thread-safe.</remarks>
internal sealed class GcChoice(HardwareOptions options) : IOptimizationSource
{
    public const int ServerMinCores = 8;
    public const double ServerMinMemoryGb = 8;

    /// <summary>Set in the environment of the restarted node, so that it never restarts twice.</summary>
    public const string RestartedVariable = "TENZRO_GC_RESTARTED";

    /// <summary>What the node should run with, and why.</summary>
    public sealed record Decision(bool Server, string Reason, bool Fixed);

    /// <summary>
    /// The collector for <paramref name="setting"/> (GC_MODE) on <paramref name="cores"/> cores and
    /// <paramref name="memoryBytes"/> of memory, as the runtime sees them (a container's limits applied).
    /// <paramref name="dotnetGcServer"/> is the operator's <c>DOTNET_gcServer</c>, which wins when set.
    /// </summary>
    public static Decision Decide(string setting, int cores, long memoryBytes, string? dotnetGcServer)
    {
        if (!string.IsNullOrEmpty(dotnetGcServer))
        {
            return new(dotnetGcServer is "1" or "true", $"DOTNET_gcServer={dotnetGcServer} is set in the environment", Fixed: true);
        }

        switch (setting)
        {
            case "server":
                return new(true, "GC_MODE is set", Fixed: false);
            case "workstation":
                return new(false, "GC_MODE is set", Fixed: false);
        }

        var gb = memoryBytes / (1024.0 * 1024 * 1024);
        var server = cores >= ServerMinCores && gb >= ServerMinMemoryGb;
        var reason = string.Create(
            CultureInfo.InvariantCulture,
            $"{cores} cores and {gb:0.#} GB seen by the runtime: {(server ? "server (a heap per core, sized to the load by the runtime's dynamic adaptation)" : "workstation (one heap, the smallest resident set)")}; server from {ServerMinCores} cores and {ServerMinMemoryGb} GB");
        return new(server, reason, Fixed: false);
    }

    /// <summary>The decision for this process, from GC_MODE and what the runtime sees.</summary>
    public static Decision ForThisProcess(HardwareOptions options) =>
        Decide(
            options.GcMode,
            Environment.ProcessorCount,
            GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
            Environment.GetEnvironmentVariable(RestartedVariable) is null ? Environment.GetEnvironmentVariable("DOTNET_gcServer") : null);

    /// <summary>
    /// Replaces this process with itself, under the chosen collector, when the one in force differs. Returns only
    /// when no restart is due or the restart failed (then a line on stderr says why, and the node runs on as it is).
    /// Call it before the node opens anything: the process image is replaced.
    /// </summary>
    public static void RestartInPlaceIfNeeded(HardwareOptions options)
    {
        var decision = ForThisProcess(options);
        if (decision.Fixed || decision.Server == GCSettings.IsServerGC || Environment.GetEnvironmentVariable(RestartedVariable) is not null
            || !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()))
        {
            return;
        }

        // /proc/self/cmdline is the process's own argv, exactly as it was started (apphost or 'dotnet x.dll').
        string[] argv;
        try
        {
            argv = File.ReadAllText("/proc/self/cmdline").TrimEnd('\0').Split('\0');
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"GC_MODE: cannot read this process's command line ({e.Message}); running on with the {Mode()} collector.");
            return;
        }

        var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => $"{e.Key}={e.Value}")
            .Append($"DOTNET_gcServer={(decision.Server ? 1 : 0)}")
            .Append($"{RestartedVariable}=1");
        Console.Out.Flush();
        Console.Error.Flush();
        string why;
        try
        {
            _ = Execve(Environment.ProcessPath ?? "/proc/self/exe", [.. argv, null], [.. environment, null]);
            why = $"errno {Marshal.GetLastPInvokeError()}";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or MarshalDirectiveException)
        {
            why = e.Message;
        }

        Console.Error.WriteLine($"GC_MODE: restarting with the {(decision.Server ? "server" : "workstation")} collector failed ({why}); running on with the {Mode()} collector.");
    }

    private static string Mode() => $"{(GCSettings.IsServerGC ? "server" : "workstation")}, {GCSettings.LatencyMode}";

    public IEnumerable<OptimizationChoice> Choices()
    {
        var decision = ForThisProcess(options);
        var info = GC.GetGCMemoryInfo();
        var inForce = decision.Server == GCSettings.IsServerGC ? string.Empty : " (not the one chosen: the restart under it failed, see the node's first lines on stderr)";
        yield return new OptimizationChoice(
            "dotnetGc",
            JsonValue.Create(Mode()),
            string.Create(
                CultureInfo.InvariantCulture,
                $"{decision.Reason}{inForce}; heap limit {info.TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024):0.#} GB (the container's memory limit where there is one)"),
            "GC_MODE");
    }

    // execve(2): replaces the process image, keeping its id. Runtime marshalling turns each array into a
    // null-terminated array of C strings (LPStr is UTF-8 on Unix; the last element is null).
    [DllImport("libc", EntryPoint = "execve", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Execve(
        [MarshalAs(UnmanagedType.LPUTF8Str)] string path,
        [MarshalAs(UnmanagedType.LPArray, ArraySubType = UnmanagedType.LPStr)] string?[] argv,
        [MarshalAs(UnmanagedType.LPArray, ArraySubType = UnmanagedType.LPStr)] string?[] envp);
}
