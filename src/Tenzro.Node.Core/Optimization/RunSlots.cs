using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Core.Optimization;

/// <summary>
/// The run slots in force: MAX_CONCURRENT_TASKS when it is a number, else <see cref="RunSlotRule"/> over what the ledger
/// allows now. The ledger's allowed amounts come from the hardware profile and move with the active and idle limits,
/// so the slots are derived again whenever those change (checked at every scheduling pass).
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed partial class RunSlots : IOptimizationSource
{
    private readonly int? _configured;
    private readonly IResourceLedger _ledger;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private ResourceAmounts? _derivedFrom;
    private RunSlotDecision _decision = new(1, "not derived yet");

    public RunSlots(TaskOptions options, IResourceLedger ledger, ILogger<RunSlots>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _configured = options.MaxConcurrentTasks;
        _ledger = ledger ?? throw new ArgumentNullException(nameof(ledger));
        _logger = logger ?? NullLogger<RunSlots>.Instance;
    }

    /// <summary>True when MAX_CONCURRENT_TASKS is <c>auto</c>.</summary>
    public bool IsAuto => _configured is null;

    /// <summary>Tasks that may run at once now.</summary>
    public int Current => Decision.Slots;

    /// <summary>Of <see cref="Current"/>, the tasks of a fraction of a core not held to it that may run at once now (<see cref="RunSlotDecision.UnheldSlots"/>).</summary>
    public int UnheldCurrent => Decision.UnheldSlots;

    /// <summary>The slots in force and why.</summary>
    public RunSlotDecision Decision
    {
        get
        {
            if (_configured is { } fixedSlots)
            {
                return new RunSlotDecision(fixedSlots, "MAX_CONCURRENT_TASKS is set");
            }

            var allowed = _ledger.Allowed;
            lock (_lock)
            {
                if (_derivedFrom != allowed)
                {
                    var before = _derivedFrom is null ? (int?)null : _decision.Slots;
                    _decision = RunSlotRule.Derive(allowed);
                    _derivedFrom = allowed;
                    if (before != _decision.Slots)
                    {
                        Log.SlotsDerived(_logger, _decision.Slots, _decision.Reason);
                    }
                }

                return _decision;
            }
        }
    }

    public IEnumerable<OptimizationChoice> Choices()
    {
        var decision = Decision;
        yield return new OptimizationChoice("MAX_CONCURRENT_TASKS", JsonValue.Create(decision.Slots), decision.Reason, "MAX_CONCURRENT_TASKS");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = Diagnostics.LogEvents.RunSlotsDerived, Level = LogLevel.Information, Message = "Run slots (MAX_CONCURRENT_TASKS=auto): {Slots} from {Reason}")]
        public static partial void SlotsDerived(ILogger logger, int slots, string reason);
    }
}
