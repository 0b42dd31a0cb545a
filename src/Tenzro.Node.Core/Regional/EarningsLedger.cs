using System.Globalization;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Regional;

/// <summary>The totals of the earnings ledger.</summary>
public sealed record EarningsTotals(double Total, long Rewards, DateTimeOffset? LastRewardAt);

/// <summary>
/// The persistent ledger of rewards received in <c>reward_distribution</c> (table <c>earnings</c>: task id,
/// reward, time). Its total is reported in <c>/status</c> and <c>node_status</c> and adds to the token balance.
/// </summary>
/// <remarks>Thread-safe. The totals are read from the database once and then kept in memory, updated under a lock after each committed row.</remarks>
public sealed class EarningsLedger
{
    private readonly NodeDatabase _database;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private EarningsTotals _totals;

    public EarningsLedger(NodeDatabase database, TimeProvider time)
    {
        _database = database;
        _time = time;
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(SUM(reward), 0), COUNT(*), MAX(at) FROM earnings;";
        using var reader = command.ExecuteReader();
        reader.Read();
        _totals = new EarningsTotals(
            reader.GetDouble(0),
            reader.GetInt64(1),
            reader.IsDBNull(2) ? null : DateTimeOffset.Parse(reader.GetString(2), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal));
    }

    public EarningsTotals Totals
    {
        get
        {
            lock (_lock)
            {
                return _totals;
            }
        }
    }

    /// <summary>The most one reward may credit (PROTOCOL.md "Rewards"); a larger one is refused whole.</summary>
    public const double MaxRewardPerTask = 10_000;

    /// <summary>Whether a reward for <paramref name="taskId"/> was credited already (a task is paid once).</summary>
    public bool HasReward(string taskId)
    {
        using var connection = _database.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM earnings WHERE task_id=$task LIMIT 1;";
        command.Parameters.AddWithValue("$task", taskId);
        return command.ExecuteScalar() is not null;
    }

    /// <summary>Records one reward durably and returns the new totals.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The reward is negative or not finite.</exception>
    public EarningsTotals Record(string? taskId, double reward)
    {
        if (!double.IsFinite(reward) || reward < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(reward), reward, "a reward is a finite number of at least 0");
        }

        var now = _time.GetUtcNow();
        lock (_lock)
        {
            using (var connection = _database.OpenConnection())
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "INSERT INTO earnings(task_id, reward, at) VALUES ($task, $reward, $at);";
                command.Parameters.AddWithValue("$task", (object?)taskId ?? DBNull.Value);
                command.Parameters.AddWithValue("$reward", reward);
                command.Parameters.AddWithValue("$at", Json.Timestamps.FormatPrecise(now));
                command.ExecuteNonQuery();
            }

            _totals = new EarningsTotals(_totals.Total + reward, _totals.Rewards + 1, now);
            return _totals;
        }
    }
}
