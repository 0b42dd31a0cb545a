using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Aggregation;

namespace Tenzro.Node.Tests.Aggregation;

public sealed class GroupExclusionsTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly string _directory = Directory.CreateTempSubdirectory("tenzro-exclusions-").FullName;
    private readonly WarningLog _log = new();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string SavedFile => Path.Combine(_directory, GroupExclusionsFile.FileName);

    /// <summary>The exclusions a node keeps in <see cref="_directory"/>, as a node starting on it loads them.</summary>
    private GroupExclusions Saved() => new(_time, new GroupExclusionsFile(_directory, _log));

    private static void Strike(GroupExclusions exclusions, string id, string reason)
    {
        for (var i = 0; i < GroupExclusions.Strikes; i++)
        {
            exclusions.Misbehaved(id, reason);
        }
    }

    private static GroupState WithJob(params string[] disagreed) =>
        new GroupState("g1", [new GroupMember("a", "127.0.0.1:9001"), new GroupMember("b", "127.0.0.1:9002"), new GroupMember("c", "127.0.0.1:9003")])
        {
            Jobs = [new SplitJob("t1", "a", "compute", "api", 3, [], disagreed)],
        };

    [Fact]
    public void Misbehaved_ExcludesOnlyAtTheThirdInvalidMessageWithinAMinute()
    {
        var exclusions = new GroupExclusions(_time);

        Assert.Null(exclusions.Misbehaved("b", "bad_signature"));
        Assert.Null(exclusions.Misbehaved("b", "bad_signature"));
        Assert.False(exclusions.IsExcluded("b"));
        var excluded = exclusions.Misbehaved("b", "malformed");

        Assert.NotNull(excluded);
        Assert.Equal("malformed", excluded.Reason);
        Assert.Equal(_time.GetUtcNow() + GroupExclusions.Duration, excluded.Until);
        Assert.True(exclusions.IsExcluded("b"));
        Assert.False(exclusions.IsExcluded("c"));
    }

    [Fact]
    public void Misbehaved_StrikesOlderThanTheWindow_DoNotCount()
    {
        var exclusions = new GroupExclusions(_time);

        exclusions.Misbehaved("b", "stale");
        exclusions.Misbehaved("b", "stale");
        _time.Advance(GroupExclusions.StrikeWindow + TimeSpan.FromSeconds(1));

        Assert.Null(exclusions.Misbehaved("b", "stale"));
        Assert.False(exclusions.IsExcluded("b"));
    }

    [Fact]
    public void Exclusion_EndsAfterTheDocumentedTime()
    {
        var exclusions = new GroupExclusions(_time);
        exclusions.Outvote(WithJob("c"), "a");
        Assert.Equal(_time.GetUtcNow() + GroupExclusions.Duration, exclusions.Until("c"));

        _time.Advance(GroupExclusions.Duration - TimeSpan.FromSeconds(1));
        Assert.True(exclusions.IsExcluded("c"));
        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.False(exclusions.IsExcluded("c"));
        Assert.Null(exclusions.Until("c"));
        Assert.Empty(exclusions.Active());
    }

    [Fact]
    public void Outvote_ExcludesEachDissenterOncePerJob_NeverThisNode()
    {
        var exclusions = new GroupExclusions(_time);

        var first = exclusions.Outvote(WithJob("a", "c"), "a");
        var again = exclusions.Outvote(WithJob("a", "c"), "a");

        var only = Assert.Single(first);
        Assert.Equal(("c", GroupExclusions.Outvoted), (only.Id, only.Reason));
        Assert.Empty(again);
        Assert.False(exclusions.IsExcluded("a"));
        Assert.Equal(["c"], exclusions.Active().Select(e => e.Id));
    }

    [Fact]
    public void Saved_ExclusionsInForce_OutlastARestart()
    {
        var before = Saved();
        Strike(before, "b", "bad_signature");
        before.Outvote(WithJob("c"), "a");
        _time.Advance(TimeSpan.FromMinutes(3));

        var after = Saved();

        Assert.Equal(
            [("b", "bad_signature", DateTimeOffset.Parse("2026-01-01T00:10:00Z", System.Globalization.CultureInfo.InvariantCulture)), ("c", GroupExclusions.Outvoted, DateTimeOffset.Parse("2026-01-01T00:10:00Z", System.Globalization.CultureInfo.InvariantCulture))],
            after.Active().Select(e => (e.Id, e.Reason, e.Until)));
        Assert.True(after.IsExcluded("b"));
        Assert.False(File.Exists(SavedFile + ".tmp"));
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void Saved_OutvotedJob_DoesNotExcludeItsDissenterAgainAfterARestart()
    {
        Saved().Outvote(WithJob("c"), "a");
        _time.Advance(GroupExclusions.Duration + TimeSpan.FromSeconds(1));

        var after = Saved();

        Assert.Empty(after.Outvote(WithJob("c"), "a"));
        Assert.False(after.IsExcluded("c"));
    }

    [Fact]
    public void Load_DropsExclusionsThatEndedWhileTheNodeWasDown()
    {
        var before = Saved();
        Strike(before, "b", "stale");
        _time.Advance(TimeSpan.FromMinutes(6));
        Strike(before, "c", "malformed");
        _time.Advance(TimeSpan.FromMinutes(5));

        var after = Saved();

        Assert.Equal(["c"], after.Active().Select(e => e.Id));
        Assert.False(after.IsExcluded("b"));
    }

    [Theory]
    [InlineData("{\"excluded\":[{\"id\":\"b\",\"reason\":\"stale\",\"until\":")]
    [InlineData("{\"excluded\":[{\"id\":\"b\",\"reason\":\"stale\",\"until\":\"tomorrow\"}]}")]
    [InlineData("{\"excluded\":{\"id\":\"b\"}}")]
    [InlineData("[1,2]")]
    [InlineData("\u0000\u0001binary")]
    public void Load_DamagedFile_IsIgnoredWithAWarning_AndTheNextExclusionRewritesIt(string damaged)
    {
        File.WriteAllText(SavedFile, damaged);

        var exclusions = Saved();
        Strike(exclusions, "d", "replayed");

        var warning = Assert.Single(_log.Warnings);
        Assert.Contains(GroupExclusionsFile.FileName, warning, StringComparison.Ordinal);
        Assert.Contains("damaged or unreadable", warning, StringComparison.Ordinal);
        Assert.Equal(["d"], exclusions.Active().Select(e => e.Id));
        Assert.Equal(["d"], Saved().Active().Select(e => e.Id));
    }

    [Fact]
    public void Save_DirectoryGone_KeepsTheExclusionInMemoryAndWarns()
    {
        var exclusions = Saved();
        Directory.Delete(_directory, recursive: true);

        Strike(exclusions, "b", "bad_signature");

        Assert.True(exclusions.IsExcluded("b"));
        Assert.Contains("not saved", Assert.Single(_log.Warnings), StringComparison.Ordinal);
        Directory.CreateDirectory(_directory);
    }

    /// <summary>Keeps the warnings logged, formatted.</summary>
    private sealed class WarningLog : ILogger
    {
        public List<string> Warnings { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
            {
                Warnings.Add(formatter(state, exception));
            }
        }
    }
}
