using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Resources;

/// <summary>The Linux reader of the user's activity: its parsers on recorded outputs, and the reader over a fake root.</summary>
[Trait("Suite", "resources")]
public sealed class UserActivityReaderTests : IDisposable
{
    /// <summary><c>loginctl show-session 2 c1 5 -p …</c> on a GNOME desktop (systemd 252): the user's Wayland session, the GDM greeter, an ssh login.</summary>
    private const string GnomeDesktop = """
        Id=2
        Remote=no
        Type=wayland
        Class=user
        Active=yes
        IdleHint=no
        IdleSinceHint=1718031000123456

        Id=c1
        Remote=no
        Type=wayland
        Class=greeter
        Active=no
        IdleHint=no
        IdleSinceHint=0

        Id=5
        Remote=yes
        Type=tty
        Class=user
        Active=yes
        IdleHint=no
        IdleSinceHint=1718031234000000

        """;

    /// <summary>The same desktop after GNOME's idle delay: the session's idle hint is on.</summary>
    private const string GnomeIdle = """
        Id=2
        Remote=no
        Type=wayland
        Class=user
        Active=yes
        IdleHint=yes
        IdleSinceHint=1718034600000000

        """;

    /// <summary>An X11 session under a window manager that never reports idleness to logind.</summary>
    private const string X11NoHint = """
        Id=3
        Remote=no
        Type=x11
        Class=user
        Active=yes
        IdleHint=no
        IdleSinceHint=0

        """;

    /// <summary>A text console login; logind takes IdleSinceHint from the terminal's last input.</summary>
    private const string TextConsole = """
        Id=7
        Remote=no
        Type=tty
        Class=user
        Active=yes
        IdleHint=no
        IdleSinceHint=1718031500000000

        """;

    /// <summary><c>/proc/interrupts</c> of a laptop (x86, 4 CPUs): keyboard on IRQ 1, touchpad on IRQ 12, both through i8042.</summary>
    private const string LaptopInterrupts = """
                   CPU0       CPU1       CPU2       CPU3
          0:         36          0          0          0   IO-APIC    2-edge      timer
          1:          0       9812          0         17   IO-APIC    1-edge      i8042
          8:          0          0          1          0   IO-APIC    8-edge      rtc0
          9:          0       1234          0          0   IO-APIC    9-fasteoi   acpi
         12:          0          0      48213          0   IO-APIC   12-edge      i8042
         16:          0          0          0        512   IO-APIC   16-fasteoi   i801_smbus
        122:       3021          0          0          0   PCI-MSI 327680-edge      xhci_hcd
        NMI:          0          0          0          0   Non-maskable interrupts
        LOC:     912345     812345     712345     612345   Local timer interrupts
        ERR:          0
        MIS:          0
        """;

    /// <summary><c>/proc/interrupts</c> of a cloud server (2 CPUs): no keyboard or mouse line.</summary>
    private const string ServerInterrupts = """
                   CPU0       CPU1
         24:          1          0  IO-APIC   5-edge      ACPI:Ged
         25:          0          1  IO-APIC   6-edge      ACPI:Ged
         26:     812034          0  PCI-MSI 81920-edge      nvme0q0
        NMI:          0          0   Non-maskable interrupts
        LOC:    1234567    1234000   Local timer interrupts
        """;

    private readonly string _root = Support.TestNode.NewDirectory();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void ParseShowSession_GnomeDesktop_ReadsEveryBlock()
    {
        var sessions = LinuxUserActivity.ParseShowSession(GnomeDesktop);

        Assert.Equal(["2", "c1", "5"], sessions.Select(s => s.Id));
        var user = sessions[0];
        Assert.True(user.IsGraphical);
        Assert.True(user.IsLocalUser);
        Assert.True(user.Active);
        Assert.False(user.IdleHint);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1718031000123).AddTicks(4560), user.IdleSince);
        Assert.False(sessions[1].IsLocalUser);
        Assert.Null(sessions[1].IdleSince);
        Assert.False(sessions[2].IsLocalUser);
    }

    [Fact]
    public void LastActivity_GraphicalSessionNotIdle_IsNow()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1718032000);
        var session = LinuxUserActivity.ParseShowSession(GnomeDesktop)[0];

        Assert.Equal(now, LinuxUserActivity.LastActivity(session, now));
    }

    [Fact]
    public void LastActivity_GraphicalSessionIdle_IsWhenItBecameIdle()
    {
        var session = LinuxUserActivity.ParseShowSession(GnomeIdle)[0];

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1718034600), LinuxUserActivity.LastActivity(session, DateTimeOffset.FromUnixTimeSeconds(1718035000)));
    }

    [Fact]
    public void LastActivity_DesktopThatNeverReportsIdleness_SaysNothing()
    {
        var session = LinuxUserActivity.ParseShowSession(X11NoHint)[0];

        Assert.True(session.IsLocalUser);
        Assert.Null(LinuxUserActivity.LastActivity(session, DateTimeOffset.FromUnixTimeSeconds(1718035000)));
    }

    [Fact]
    public void LastActivity_TextConsole_IsTheTerminalsLastInput()
    {
        var session = LinuxUserActivity.ParseShowSession(TextConsole)[0];

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1718031500), LinuxUserActivity.LastActivity(session, DateTimeOffset.FromUnixTimeSeconds(1718035000)));
    }

    [Fact]
    public void ParseInputInterrupts_Laptop_SumsBothI8042LinesOverAllCpus()
    {
        Assert.Equal(new InputInterrupts(2, 9812 + 17 + 48213), LinuxUserActivity.ParseInputInterrupts(LaptopInterrupts));
    }

    [Fact]
    public void ParseInputInterrupts_Server_FindsNoInputLine()
    {
        Assert.Equal(new InputInterrupts(0, 0), LinuxUserActivity.ParseInputInterrupts(ServerInterrupts));
    }

    [Fact]
    public async Task ReadAsync_NoSessionNoInputDevice_IsHeadless()
    {
        Write("proc/interrupts", ServerInterrupts);
        var reader = new LinuxUserActivity(new RecordingTools(), new FakeTimeProvider(), _root);

        var reading = await reader.ReadAsync(Support.Timeouts.Token());

        Assert.Null(reading.LastActivityAt);
        Assert.Equal(UserActivityReading.HeadlessSource, reading.Source);
    }

    [Fact]
    public async Task ReadAsync_KeyboardInterrupts_ActiveWhenTheyChangeIdleSinceWhenTheyStop()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1718030000));
        Write("proc/interrupts", LaptopInterrupts);
        var reader = new LinuxUserActivity(new RecordingTools(), time, _root);

        var first = await reader.ReadAsync(Support.Timeouts.Token());
        var started = time.GetUtcNow();
        time.Advance(TimeSpan.FromMinutes(10));
        var unchanged = await reader.ReadAsync(Support.Timeouts.Token());
        Write("proc/interrupts", LaptopInterrupts.Replace("9812", "9830", StringComparison.Ordinal));
        time.Advance(TimeSpan.FromSeconds(15));
        var typed = await reader.ReadAsync(Support.Timeouts.Token());

        Assert.Equal(started, first.LastActivityAt);
        Assert.Equal(started, unchanged.LastActivityAt);
        Assert.Equal(time.GetUtcNow(), typed.LastActivityAt);
        Assert.Contains("interrupts", typed.Source);
    }

    [Fact]
    public async Task ReadAsync_LogindSessions_AsksLoginctlForTheListedSessionsOnly()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1718035000));
        Write("run/systemd/sessions/2", "UID=1000\nACTIVE=1\n");
        Write("run/systemd/sessions/2.ref", "");
        var tools = new RecordingTools { Output = GnomeIdle };
        var reader = new LinuxUserActivity(tools, time, _root);

        var reading = await reader.ReadAsync(Support.Timeouts.Token());

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1718034600), reading.LastActivityAt);
        Assert.Equal("logind session 2 (wayland)", reading.Source);
        var call = Assert.Single(tools.Calls);
        Assert.Equal(["show-session", "2"], call.Take(2));
        Assert.Contains("IdleSinceHint", call);
    }

    [Fact]
    public async Task ReadAsync_LoginctlFails_SaysWhyAndFallsBackToInputDevices()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1718035000));
        Write("run/systemd/sessions/2", "UID=1000\n");
        Write("dev/input/event3", "");
        File.SetLastAccessTimeUtc(Path.Combine(_root, "dev/input/event3"), DateTime.UnixEpoch.AddSeconds(1718034000));
        File.SetLastWriteTimeUtc(Path.Combine(_root, "dev/input/event3"), DateTime.UnixEpoch.AddSeconds(1718033000));
        var tools = new RecordingTools { Result = new ToolResult(ToolOutcome.TimedOut, "", "loginctl did not finish within 2 s and was stopped") };
        var reader = new LinuxUserActivity(tools, time, _root);

        var reading = await reader.ReadAsync(Support.Timeouts.Token());

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1718034000), reading.LastActivityAt);
        Assert.Contains("/dev/input", reading.Source);
        Assert.Contains("did not finish", reading.Problem);
    }

    private void Write(string relative, string text)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private sealed class RecordingTools : IToolRunner
    {
        public string Output { get; init; } = "";

        public ToolResult? Result { get; init; }

        public List<IReadOnlyList<string>> Calls { get; } = [];

        public Task<ToolResult> RunAsync(string tool, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
        {
            Assert.Equal("loginctl", tool);
            Calls.Add(arguments);
            return Task.FromResult(Result ?? new ToolResult(ToolOutcome.Ok, Output));
        }
    }
}
