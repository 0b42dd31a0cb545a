using System.Globalization;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Optimization;

/// <summary>The run slots a machine gets with <c>MAX_CONCURRENT_TASKS=auto</c>, and the figures behind them.</summary>
/// <param name="Slots">Tasks that may run at once.</param>
/// <param name="Reason">The rule's inputs and how they were combined, for the profile's <c>optimizations</c>.</param>
public sealed record RunSlotDecision(int Slots, string Reason)
{
    /// <summary>
    /// Of <see cref="Slots"/>, how many may hold tasks of a fraction of a core that their runtime cannot hold to it
    /// (<see cref="Tasks.ITaskRuntime.HoldsCpuFraction"/>): two a core, as each may use a whole one. Also what the
    /// runtime workers' shares are divided by: as many workers as tasks of half a core or more keep busy.
    /// </summary>
    public int UnheldSlots { get; init; } = Slots;
}

/// <summary>
/// <c>MAX_CONCURRENT_TASKS=auto</c>: slots = min(⌈cores × 8⌉, ⌊memory ÷ 256 MB⌋) + GPUs, at least 1 and at most 1024,
/// from what the network may reserve now (the ledger's allowed amounts: usable cores and memory after cgroup limits,
/// MAX_* settings and, while the machine's user is active, the active limits) and the GPUs that can run tasks; of
/// them, min(⌈cores × 2⌉, ⌊memory ÷ 256 MB⌋) + GPUs for tasks of a fraction of a core that are not held to it.
/// </summary>
/// <remarks>
/// The ledger already reserves each task's cores, and where a runtime holds a task that reserves a fraction of a core
/// to that fraction (a CPU quota on its thread or worker), the slots need not ration the cores: tasks that ask for a
/// whole core (the default) never run more than the cores allow, whatever the slots. The slots bound only how many
/// small tasks run at once, and eight a core let held tasks of an eighth of a core fill the cores they were lent (two
/// a core left 1.6 of 2 cores idle under tasks of a tenth of a core, each held to it). A task of a fraction of a core
/// that is not held (a built-in type on the node's threads, or a worker where no quota can be made) may use a whole
/// core, so such tasks keep two a core. A slot per 256 MB (the default <c>requirements.memoryMB</c>) so that the slots
/// never outnumber the default tasks that fit in memory; a GPU adds one slot because a task on it leaves the CPU
/// mostly idle.
/// </remarks>
public static class RunSlotRule
{
    public const int SlotsPerCore = 8;

    /// <summary>Slots a core for tasks of a fraction of a core that are not held to it.</summary>
    public const int UnheldSlotsPerCore = 2;
    public const long MemoryPerSlotMB = 256;
    public const int MaxSlots = 1024;

    /// <summary>The unheld slots of <see cref="Derive"/> alone, without its reason: for what is decided at every run.</summary>
    public static int UnheldSlots(ResourceAmounts allowed) => Count(allowed).Unheld;

    public static RunSlotDecision Derive(ResourceAmounts allowed)
    {
        var c = Count(allowed);
        var reason = string.Create(
            CultureInfo.InvariantCulture,
            $"{c.Cores:0.##} cores allowed × {SlotsPerCore} = {c.CoreSlots}; {allowed.MemoryMB / 1024.0:0.#} GB allowed ÷ {MemoryPerSlotMB} MB = {c.MemorySlots}; {c.Gpus} GPU(s): min({c.CoreSlots}, {c.MemorySlots}) + {c.Gpus}");
        reason = c.Slots == 1 && Math.Min(c.CoreSlots, c.MemorySlots) + c.Gpus < 1 ? reason + ", at least 1" : reason;
        reason += string.Create(CultureInfo.InvariantCulture, $"; of them {c.Unheld} for tasks of a fraction of a core not held to it (× {UnheldSlotsPerCore} a core)");
        return new RunSlotDecision(c.Slots, reason) { UnheldSlots = c.Unheld };
    }

    /// <summary>The rule's figures for <paramref name="allowed"/>.</summary>
    private static Counts Count(ResourceAmounts allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        var cores = Math.Max(allowed.Cpu, 0);
        var coreSlots = PerCore(cores, SlotsPerCore);
        var memorySlots = (int)Math.Min(MaxSlots, Math.Max(allowed.MemoryMB, 0) / MemoryPerSlotMB);
        var gpus = Math.Clamp(allowed.GpuCount, 0, MaxSlots);
        var slots = Math.Clamp(Math.Min(coreSlots, memorySlots) + gpus, 1, MaxSlots);
        var unheld = Math.Clamp(Math.Min(PerCore(cores, UnheldSlotsPerCore), memorySlots) + gpus, 1, slots);
        return new Counts(cores, coreSlots, memorySlots, gpus, slots, unheld);
    }

    private static int PerCore(double cores, int perCore) => (int)Math.Min(MaxSlots, Math.Ceiling(Math.Round(cores * perCore, 6)));

    private readonly record struct Counts(double Cores, int CoreSlots, int MemorySlots, int Gpus, int Slots, int Unheld);
}
