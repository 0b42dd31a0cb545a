using Tenzro.Node.Fuzz;

namespace Tenzro.Node.Tests.Fuzz;

/// <summary>
/// Replays every input kept in tests/Tenzro.Node.Fuzz/corpus (seeds, and each crash AFL++ found, once fixed)
/// through its fuzz target: none may throw.
/// </summary>
[Trait("Suite", "fuzz")]
public sealed class FuzzCorpusTests
{
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var target in FuzzTargets.All.Keys)
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(CorpusDirectory(), target)).Order(StringComparer.Ordinal))
            {
                data.Add(target, Path.GetFileName(file));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Target_CorpusInput_DoesNotThrow(string target, string file)
    {
        var input = File.ReadAllBytes(Path.Combine(CorpusDirectory(), target, file));

        var error = Record.Exception(() => FuzzTargets.All[target](input));

        Assert.Null(error);
    }

    [Fact]
    public void Corpus_EveryTarget_HasSeeds()
    {
        foreach (var target in FuzzTargets.All.Keys)
        {
            Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(CorpusDirectory(), target)));
        }
    }

    [Fact]
    public void DhtTarget_StoreSeedWithARecord_ReachesTheRecordStore()
    {
        var input = File.ReadAllBytes(Path.Combine(CorpusDirectory(), "dht", "store-record.json"));

        var node = DhtFuzzTarget.Deliver(input);

        Assert.NotNull(node);
        Assert.Equal(1, node.RecordsHeld);
    }

    private static string CorpusDirectory()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Tenzro.Node.slnx")))
        {
            directory = directory.Parent;
        }

        return Path.Combine(directory!.FullName, "tests", "Tenzro.Node.Fuzz", "corpus");
    }
}
