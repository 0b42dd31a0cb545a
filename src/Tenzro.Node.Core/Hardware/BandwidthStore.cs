using System.Text.Json;
using Tenzro.Node.Core.Storage;

namespace Tenzro.Node.Core.Hardware;

/// <summary>
/// The last bandwidth measurement per target: one row of <c>bandwidth_measurements</c> (migration 7),
/// <c>body</c> being the measurement as the profile shows it.
/// </summary>
/// <remarks>Thread-safe: each call opens its own connection.</remarks>
public sealed class BandwidthStore(NodeDatabase database)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The last measurement against <paramref name="target"/>; null when none was stored or the row cannot be read.</summary>
    public BandwidthMeasurement? Find(Uri target)
    {
        ArgumentNullException.ThrowIfNull(target);
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM bandwidth_measurements WHERE target = $t;";
        command.Parameters.AddWithValue("$t", target.ToString());
        if (command.ExecuteScalar() is not string body)
        {
            return null;
        }

        try
        {
            var measurement = JsonSerializer.Deserialize<BandwidthMeasurement>(body, Json);
            return measurement is { DownloadMbps: not null, MeasuredAt: not null } ? measurement : null;
        }
        catch (JsonException)
        {
            // A row this version cannot read is a miss: the next measurement replaces it.
            return null;
        }
    }

    /// <summary>Stores (or replaces) a finished measurement.</summary>
    public void Save(BandwidthMeasurement measurement)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        if (measurement.MeasuredAt is null)
        {
            throw new ArgumentException("Only a finished measurement is stored.", nameof(measurement));
        }

        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO bandwidth_measurements(target, measured_at, body) VALUES ($t, $m, $b)
            ON CONFLICT(target) DO UPDATE SET measured_at = excluded.measured_at, body = excluded.body;
            """;
        command.Parameters.AddWithValue("$t", measurement.Target);
        command.Parameters.AddWithValue("$m", measurement.MeasuredAt);
        command.Parameters.AddWithValue("$b", JsonSerializer.Serialize(measurement with { State = BandwidthState.Measured }, Json));
        command.ExecuteNonQuery();
    }
}
