using System.Globalization;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Storage;

namespace Tenzro.Node.Core.Optimization;

/// <summary>The <c>cost_history</c> table (migration 14): one row per module, model or task type.</summary>
/// <remarks>Thread-safe (a connection per call).</remarks>
public sealed class CostHistoryStore(NodeDatabase database)
{
    public IReadOnlyList<CostHistory> LoadAll()
    {
        using var connection = database.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT key, runs, log_ratio, log_duration_ms, peak_memory_mb, updated_at FROM cost_history;";
        using var reader = command.ExecuteReader();
        var rows = new List<CostHistory>();
        while (reader.Read())
        {
            rows.Add(new CostHistory(
                reader.GetString(0),
                reader.GetInt32(1),
                reader.IsDBNull(2) ? null : reader.GetDouble(2),
                reader.GetDouble(3),
                reader.IsDBNull(4) ? null : reader.GetDouble(4),
                DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture)));
        }

        return rows;
    }

    /// <summary>Writes <paramref name="rows"/> and deletes <paramref name="removed"/> in one transaction.</summary>
    public void Save(IReadOnlyCollection<CostHistory> rows, IReadOnlyCollection<string> removed)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(removed);
        if (rows.Count == 0 && removed.Count == 0)
        {
            return;
        }

        using var connection = database.OpenConnection();
        using var transaction = connection.BeginTransaction();
        foreach (var row in rows)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO cost_history(key, runs, log_ratio, log_duration_ms, peak_memory_mb, updated_at) VALUES ($k, $n, $r, $d, $m, $u)
                ON CONFLICT(key) DO UPDATE SET runs = excluded.runs, log_ratio = excluded.log_ratio, log_duration_ms = excluded.log_duration_ms,
                    peak_memory_mb = excluded.peak_memory_mb, updated_at = excluded.updated_at;
                """;
            command.Parameters.AddWithValue("$k", row.Key);
            command.Parameters.AddWithValue("$n", row.Runs);
            command.Parameters.AddWithValue("$r", (object?)row.LogRatio ?? DBNull.Value);
            command.Parameters.AddWithValue("$d", row.LogDurationMs);
            command.Parameters.AddWithValue("$m", (object?)row.PeakMemoryMB ?? DBNull.Value);
            command.Parameters.AddWithValue("$u", Timestamps.FormatPrecise(row.UpdatedAt));
            command.ExecuteNonQuery();
        }

        foreach (var key in removed)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM cost_history WHERE key = $k;";
            command.Parameters.AddWithValue("$k", key);
            command.ExecuteNonQuery();
        }

        transaction.Commit();
    }
}
