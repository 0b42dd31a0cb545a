using System.Globalization;

namespace Tenzro.Node.Core.Json;

/// <summary>UTC timestamps on the wire (signed messages and records): ISO 8601 with milliseconds and <c>Z</c>.</summary>
public static class Timestamps
{
    public static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>ISO 8601 UTC with seven fractional digits, so that lexical order is time order: stored times and the API's task times.</summary>
    public static string FormatPrecise(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static DateTimeOffset? Parse(string? text) =>
        text is not null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : null;
}
