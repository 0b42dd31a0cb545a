using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Tenzro.Node.Core.Configuration;

/// <summary>
/// Reads typed values from configuration by catalog key, falling back to the catalog's default,
/// and collects one error line per bad key instead of throwing at the first one.
/// </summary>
/// <remarks>Not thread-safe; used once at start-up.</remarks>
public sealed class SettingsReader(IConfiguration configuration)
{
    private readonly List<SettingError> _errors = [];

    public IReadOnlyList<SettingError> Errors => _errors;

    /// <summary>The raw value as configured, or the catalog default when the key is absent.</summary>
    public string Raw(string key)
    {
        var definition = SettingCatalog.Get(key);
        var value = configuration[key];
        return value is null ? definition.Default : value.Trim();
    }

    public string String(string key) => Raw(key);

    public string? OptionalString(string key)
    {
        var value = Raw(key);
        return value.Length == 0 ? null : value;
    }

    public int Int(string key, int min, int max)
    {
        var raw = Raw(key);
        if (int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        Fail(key, raw, $"an integer from {min} to {max}");
        return ParseDefault(key, int.Parse);
    }

    public long Long(string key, long min, long max)
    {
        var raw = Raw(key);
        if (long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        Fail(key, raw, $"an integer from {min} to {max}");
        return ParseDefault(key, long.Parse);
    }

    public double Double(string key, double min, double max)
    {
        var raw = Raw(key);
        if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        Fail(key, raw, $"a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
        return ParseDefault(key, s => double.Parse(s, CultureInfo.InvariantCulture));
    }

    /// <summary>An optional integer: empty means <c>null</c>.</summary>
    public int? OptionalInt(string key, int min, int max)
    {
        var raw = Raw(key);
        if (raw.Length == 0)
        {
            return null;
        }

        if (int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        Fail(key, raw, $"empty, or an integer from {min} to {max}");
        return null;
    }

    /// <summary>An integer, or <c>auto</c> (null): the node derives the value from the machine.</summary>
    public int? AutoOrInt(string key, int min, int max)
    {
        var raw = Raw(key);
        if (raw.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        Fail(key, raw, $"auto, or an integer from {min} to {max}");
        return null;
    }

    /// <summary>An optional number: empty means <c>null</c>.</summary>
    public double? OptionalDouble(string key, double min, double max)
    {
        var raw = Raw(key);
        if (raw.Length == 0)
        {
            return null;
        }

        if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        Fail(key, raw, $"empty, or a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
        return null;
    }

    public bool Bool(string key)
    {
        var raw = Raw(key);
        switch (raw.ToLowerInvariant())
        {
            case "true" or "1" or "yes" or "on":
                return true;
            case "false" or "0" or "no" or "off":
                return false;
            default:
                Fail(key, raw, "true or false");
                return ParseDefault(key, s => s == "true");
        }
    }

    /// <summary>A duration given in milliseconds (the seed's unit for intervals).</summary>
    public TimeSpan Milliseconds(string key, long min, long max) =>
        TimeSpan.FromMilliseconds(Long(key, min, max));

    /// <summary>A duration given in seconds (TASK_TIMEOUT, RESULT_RETENTION_PERIOD).</summary>
    public TimeSpan Seconds(string key, long min, long max) =>
        TimeSpan.FromSeconds(Long(key, min, max));

    /// <summary>One of a fixed set of lowercase words; anything else is an error, never silently defaulted.</summary>
    public string OneOf(string key, IReadOnlyCollection<string> allowed, IReadOnlyDictionary<string, string>? explanations = null)
    {
        var raw = Raw(key);
        var normalized = raw.ToLowerInvariant();
        if (allowed.Contains(normalized))
        {
            return normalized;
        }

        var expected = $"one of {string.Join(", ", allowed)}";
        if (explanations is not null && explanations.TryGetValue(normalized, out var why))
        {
            expected = $"{expected} ({why})";
        }

        Fail(key, raw, expected);
        return SettingCatalog.Get(key).Default;
    }

    /// <summary>A comma-separated list of absolute URLs with one of the given schemes; empty is an empty list.</summary>
    public IReadOnlyList<Uri> UrlList(string key, params string[] schemes)
    {
        var raw = Raw(key);
        var result = new List<Uri>();
        foreach (var part in raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (Uri.TryCreate(part, UriKind.Absolute, out var uri) && schemes.Contains(uri.Scheme, StringComparer.OrdinalIgnoreCase))
            {
                result.Add(uri);
            }
            else
            {
                Fail(key, part, $"a comma-separated list of absolute {string.Join(" or ", schemes.Select(s => s + "://"))} URLs");
            }
        }

        return result;
    }

    public Uri? OptionalUrl(string key, params string[] schemes)
    {
        var list = UrlList(key, schemes);
        if (list.Count > 1)
        {
            Fail(key, Raw(key), "a single URL");
        }

        return list.Count == 0 ? null : list[0];
    }

    /// <summary>Records a rule that spans several keys or needs a check the typed readers do not do.</summary>
    public void Fail(string key, string value, string expected) => _errors.Add(new SettingError(key, value, expected));

    private static T ParseDefault<T>(string key, Func<string, T> parse)
    {
        var fallback = SettingCatalog.Get(key).Default;
        return fallback.Length == 0 ? default! : parse(fallback);
    }
}

/// <summary>A bad configuration value: the key, the value given and what was expected.</summary>
public sealed record SettingError(string Key, string Value, string Expected)
{
    public override string ToString() => $"{Key}: '{Value}' is not valid; expected {Expected}.";
}
