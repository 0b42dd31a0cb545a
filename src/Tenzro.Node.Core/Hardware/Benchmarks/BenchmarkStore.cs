using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Core.Hardware.Benchmarks;

/// <summary>
/// The benchmark cache: one row of <c>hardware_benchmarks</c> (migration 3) per hardware fingerprint,
/// <c>body</c> being <c>{"benchmarks":{name:{"value","unit"}}}</c>.
/// </summary>
/// <remarks>Thread-safe: each call opens its own connection.</remarks>
public sealed class BenchmarkStore(NodeDatabase database)
{
    /// <summary>The figures measured on hardware with this fingerprint; null when none were stored or the row cannot be read.</summary>
    public BenchmarkResult? Find(string fingerprint)
    {
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT measured_at, body FROM hardware_benchmarks WHERE fingerprint = $f;";
        command.Parameters.AddWithValue("$f", fingerprint);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        try
        {
            var body = JsonNode.Parse(reader.GetString(1))?["benchmarks"] as JsonObject;
            if (body is null)
            {
                return null;
            }

            var figures = new Dictionary<string, BenchmarkFigure>(StringComparer.Ordinal);
            foreach (var (name, figure) in body)
            {
                if (figure?["value"]?.GetValue<double>() is { } value && figure["unit"]?.GetValue<string>() is { } unit)
                {
                    figures[name] = new BenchmarkFigure(value, unit);
                }
            }

            var measuredAt = DateTimeOffset.Parse(reader.GetString(0), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            return figures.Count == 0 ? null : new BenchmarkResult(figures, measuredAt);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            // A row this version cannot read is a cache miss: the benchmarks run again and replace it.
            return null;
        }
    }

    /// <summary>Stores (or replaces) the figures for <paramref name="fingerprint"/>.</summary>
    public void Save(string fingerprint, BenchmarkResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var benchmarks = new JsonObject();
        foreach (var (name, figure) in result.Figures)
        {
            benchmarks[name] = new JsonObject { ["value"] = figure.Value, ["unit"] = figure.Unit };
        }

        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO hardware_benchmarks(fingerprint, measured_at, body) VALUES ($f, $m, $b)
            ON CONFLICT(fingerprint) DO UPDATE SET measured_at = excluded.measured_at, body = excluded.body;
            """;
        command.Parameters.AddWithValue("$f", fingerprint);
        command.Parameters.AddWithValue("$m", Timestamps.FormatPrecise(result.MeasuredAt));
        command.Parameters.AddWithValue("$b", new JsonObject { ["benchmarks"] = benchmarks }.ToJsonString());
        command.ExecuteNonQuery();
    }
}
