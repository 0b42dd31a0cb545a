using System.Globalization;
using System.Text.RegularExpressions;
using Tenzro.Node.Core.Hardware;

namespace Tenzro.Node.Core.Resources;

/// <summary>
/// The user's activity on Linux, from three sources; the latest sign among them counts:
/// <list type="number">
/// <item>systemd-logind: the local sessions in the foreground of their seat (the session files under
/// <c>/run/systemd/sessions</c>, then <c>loginctl show-session</c> with a short timeout). A graphical session whose
/// desktop reports idleness says "active now" while its <c>IdleHint</c> is no, and "idle since <c>IdleSinceHint</c>"
/// once it is yes; one whose desktop never set the hint (<c>IdleSinceHint=0</c>) says nothing. A text console session
/// gives <c>IdleSinceHint</c>, which logind takes from the terminal's last input.</item>
/// <item>The interrupt counts of the PS/2 keyboard and mouse controller (<c>i8042</c>) and of lines named keyboard,
/// mouse or touchpad in <c>/proc/interrupts</c>: a change since the previous reading is input now.</item>
/// <item>The latest access or modification time of the input device nodes <c>/dev/input/event*</c> and <c>/dev/input/mice</c>.</item>
/// </list>
/// With no local session and no input device at all the machine is headless, and its user counts as idle. A machine
/// with an input device but no sign from any source has been idle since the node started.
/// </summary>
/// <remarks>Not thread-safe: one caller at a time (it remembers the previous interrupt counts).</remarks>
public sealed partial class LinuxUserActivity : IUserActivity
{
    /// <summary>How long <c>loginctl</c> may take before its answer is skipped for this reading.</summary>
    public static readonly TimeSpan LoginctlTimeout = TimeSpan.FromSeconds(2);

    private const string InterruptsSource = "keyboard or mouse interrupts (/proc/interrupts)";
    private const string DeviceNodesSource = "input device nodes (/dev/input)";

    private static readonly string[] SessionProperties = ["Id", "Type", "Class", "Remote", "Active", "IdleHint", "IdleSinceHint"];

    private readonly IToolRunner _tools;
    private readonly TimeProvider _time;
    private readonly string _root;
    private readonly DateTimeOffset _startedAt;
    private long? _interruptTotal;
    private DateTimeOffset _interruptsChangedAt;

    public LinuxUserActivity(IToolRunner tools, TimeProvider time, string root = "/")
    {
        ArgumentNullException.ThrowIfNull(tools);
        ArgumentNullException.ThrowIfNull(time);
        _tools = tools;
        _time = time;
        _root = root;
        _startedAt = time.GetUtcNow();
    }

    public async Task<UserActivityReading> ReadAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var signs = new List<(DateTimeOffset At, string Source)>();
        var hasUser = false;

        var (sessions, problem) = await ReadSessionsAsync(cancellationToken);
        foreach (var session in sessions.Where(s => s.IsLocalUser && s.Active))
        {
            hasUser = true;
            if (LastActivity(session, now) is { } at)
            {
                signs.Add((at, $"logind session {session.Id} ({session.Type})"));
            }
        }

        if (ReadText(Path.Combine("proc", "interrupts")) is { } interrupts && ParseInputInterrupts(interrupts) is { Lines: > 0 } counts)
        {
            hasUser = true;
            if (_interruptTotal != counts.Total)
            {
                // The first reading counts as input too: without an earlier count, recent input cannot be ruled out.
                _interruptTotal = counts.Total;
                _interruptsChangedAt = now;
            }

            signs.Add((_interruptsChangedAt, InterruptsSource));
        }

        if (LatestDeviceNodeTime() is { } deviceTime)
        {
            hasUser = true;
            signs.Add((deviceTime, DeviceNodesSource));
        }

        if (!hasUser)
        {
            return UserActivityReading.Headless(problem);
        }

        if (signs.Count == 0)
        {
            return new UserActivityReading(_startedAt, "no sign of input since the node started", problem);
        }

        var latest = signs.MaxBy(s => s.At);
        return new UserActivityReading(latest.At, latest.Source, problem);
    }

    /// <summary>
    /// What one logind session says about its user's last activity: now for a graphical session whose idle hint is
    /// off, <c>IdleSinceHint</c> when it is on or for a text console; null when the session says nothing.
    /// </summary>
    public static DateTimeOffset? LastActivity(LogindSession session, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.IsGraphical)
        {
            // IdleSinceHint=0: the desktop never reported idleness, so IdleHint=no means nothing.
            return session.IdleSince is null ? null : session.IdleHint ? session.IdleSince : now;
        }

        return session.IdleSince;
    }

    /// <summary>Parses <c>loginctl show-session ID... -p Key...</c>: one block of Key=Value lines per session, blocks apart by a blank line.</summary>
    public static IReadOnlyList<LogindSession> ParseShowSession(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sessions = new List<LogindSession>();
        foreach (var block in text.ReplaceLineEndings("\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var line in block.Split('\n'))
            {
                var equals = line.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0)
                {
                    values[line[..equals].Trim()] = line[(equals + 1)..].Trim();
                }
            }

            if (!values.TryGetValue("Id", out var id) || id.Length == 0)
            {
                continue;
            }

            sessions.Add(new LogindSession(
                id,
                values.GetValueOrDefault("Type", ""),
                values.GetValueOrDefault("Class", ""),
                Yes(values, "Remote"),
                Yes(values, "Active"),
                Yes(values, "IdleHint"),
                Microseconds(values.GetValueOrDefault("IdleSinceHint"))));
        }

        return sessions;
    }

    /// <summary>
    /// Sums the counts, over every CPU, of the lines of <c>/proc/interrupts</c> that serve a keyboard or a mouse: the PS/2
    /// controller (<c>i8042</c>) and lines named keyboard, mouse or touchpad.
    /// </summary>
    public static InputInterrupts ParseInputInterrupts(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = 0;
        long total = 0;
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }

            var fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long sum = 0;
            var counted = 0;
            while (counted < fields.Length && long.TryParse(fields[counted], NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                sum += count;
                counted++;
            }

            if (counted > 0 && InputDeviceName().IsMatch(string.Join(' ', fields.Skip(counted))))
            {
                lines++;
                total += sum;
            }
        }

        return new InputInterrupts(lines, total);
    }

    private async Task<(IReadOnlyList<LogindSession> Sessions, string? Problem)> ReadSessionsAsync(CancellationToken cancellationToken)
    {
        // sd_get_sessions() lists this directory too: one state file per session, beside "<id>.ref" FIFOs.
        var directory = Path.Combine(_root, "run", "systemd", "sessions");
        List<string> ids;
        try
        {
            ids = Directory.Exists(directory)
                ? [.. Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).OfType<string>().Where(n => !n.Contains('.', StringComparison.Ordinal)).Order(StringComparer.Ordinal)]
                : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ([], $"{directory} cannot be listed: {e.Message}");
        }

        if (ids.Count == 0)
        {
            return ([], null);
        }

        List<string> arguments = ["show-session", .. ids, "--no-pager"];
        foreach (var property in SessionProperties)
        {
            arguments.Add("-p");
            arguments.Add(property);
        }

        var result = await _tools.RunAsync("loginctl", arguments, LoginctlTimeout, cancellationToken);
        return result.Outcome == ToolOutcome.Ok
            ? (ParseShowSession(result.Output), null)
            : ([], $"logind sessions were not read: {result.Detail}");
    }

    private DateTimeOffset? LatestDeviceNodeTime()
    {
        var directory = Path.Combine(_root, "dev", "input");
        try
        {
            if (!Directory.Exists(directory))
            {
                return null;
            }

            DateTimeOffset? latest = null;
            foreach (var node in Directory.EnumerateFileSystemEntries(directory, "event*").Append(Path.Combine(directory, "mice")).Where(File.Exists))
            {
                var accessed = new DateTimeOffset(File.GetLastAccessTimeUtc(node), TimeSpan.Zero);
                var modified = new DateTimeOffset(File.GetLastWriteTimeUtc(node), TimeSpan.Zero);
                var at = accessed > modified ? accessed : modified;
                latest = latest is null || at > latest ? at : latest;
            }

            return latest;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private string? ReadText(string relativePath)
    {
        var path = Path.Combine(_root, relativePath);
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool Yes(Dictionary<string, string> values, string key) => values.GetValueOrDefault(key) == "yes";

    /// <summary>A CLOCK_REALTIME timestamp in microseconds as logind prints it; 0 (never set) and text that is not a number are null.</summary>
    private static DateTimeOffset? Microseconds(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var microseconds) && microseconds > 0
            ? DateTimeOffset.UnixEpoch.AddTicks(microseconds * 10)
            : null;

    [GeneratedRegex(@"\b(i8042|keyboard|mouse|touchpad)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex InputDeviceName();
}

/// <summary>A login session as logind reports it.</summary>
/// <param name="Id">The session id.</param>
/// <param name="Type">x11, wayland, mir, tty, web or unspecified.</param>
/// <param name="Class">user, greeter, lock-screen, background, manager...</param>
/// <param name="Remote">True for a session from another machine (ssh).</param>
/// <param name="Active">True when the session is in the foreground of its seat.</param>
/// <param name="IdleHint">The session's idle hint.</param>
/// <param name="IdleSince">IdleSinceHint: when the hint last changed (graphical) or the terminal's last input (tty); null when 0.</param>
public sealed record LogindSession(string Id, string Type, string Class, bool Remote, bool Active, bool IdleHint, DateTimeOffset? IdleSince)
{
    public bool IsGraphical => Type is "x11" or "wayland" or "mir";

    /// <summary>A person at this machine: not remote, a user session, on a screen or a text console.</summary>
    public bool IsLocalUser => !Remote && Class == "user" && (IsGraphical || Type == "tty");
}

/// <summary>How many keyboard and mouse lines <c>/proc/interrupts</c> has, and their summed counts.</summary>
public readonly record struct InputInterrupts(int Lines, long Total);
