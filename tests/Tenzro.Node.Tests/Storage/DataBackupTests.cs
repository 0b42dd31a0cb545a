using System.IO.Compression;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Storage;

[Trait("Suite", "store")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataBackupTests : IDisposable
{
    private const string Blob = "blobs/ab/ab00000000000000000000000000000000000000000000000000000000000000";
    private readonly string _directory = TestNode.NewDirectory();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void CreateThenRestore_IntoAnEmptyDirectory_BringsBackDatabaseKeyAndBlobsOwnerOnly()
    {
        var source = MakeDataDirectory("source");
        var archive = Path.Combine(_directory, "backup.zip");
        var target = Path.Combine(_directory, "target");

        var included = DataBackup.Create(source, archive);
        var (restored, replaced) = DataBackup.Restore(archive, target, force: false);

        Assert.Equal(["node.db", "node.key", "1 blob(s)"], included);
        Assert.Equal(["node.db", "node.key", "1 blob(s)"], restored);
        Assert.Null(replaced);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(archive));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(target, "node.key")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(source, "node.key")), File.ReadAllBytes(Path.Combine(target, "node.key")));
        Assert.Equal("blob", File.ReadAllText(Path.Combine(target, Blob)));
        using var connection = new NodeDatabase(Path.Combine(target, "node.db")).OpenReadConnection();
        using var read = connection.CreateCommand();
        read.CommandText = "SELECT value FROM node_metadata WHERE key = 'kept';";
        Assert.Equal("yes", read.ExecuteScalar());
    }

    [Fact]
    public void Restore_OverAnotherIdentity_NeedsForceAndThenMovesTheOldFilesAside()
    {
        var archive = Path.Combine(_directory, "backup.zip");
        DataBackup.Create(MakeDataDirectory("source"), archive);
        var target = MakeDataDirectory("target");
        var oldKey = File.ReadAllBytes(Path.Combine(target, "node.key"));

        var refused = Assert.Throws<DataRestoreException>(() => DataBackup.Restore(archive, target, force: false));
        var (_, replaced) = DataBackup.Restore(archive, target, force: true);

        Assert.Contains("another identity (node.key)", refused.Message);
        Assert.Contains("--force", refused.Message);
        Assert.NotNull(replaced);
        Assert.Equal(oldKey, File.ReadAllBytes(Path.Combine(replaced, "node.key")));
        Assert.True(File.Exists(Path.Combine(replaced, "node.db")));
        Assert.NotEqual(oldKey, File.ReadAllBytes(Path.Combine(target, "node.key")));
    }

    [Fact]
    public void Restore_ArchiveWithAPathOutsideTheDataDirectory_IsRefused()
    {
        var archive = Path.Combine(_directory, "evil.zip");
        using (var zip = ZipFile.Open(archive, ZipArchiveMode.Create))
        {
            using var writer = new StreamWriter(zip.CreateEntry("../escaped").Open());
            writer.Write("x");
        }

        var error = Assert.Throws<DataRestoreException>(() => DataBackup.Restore(archive, Path.Combine(_directory, "target"), force: true));

        Assert.Contains("not a data backup", error.Message);
        Assert.False(File.Exists(Path.Combine(_directory, "escaped")));
    }

    private string MakeDataDirectory(string name)
    {
        var directory = Path.Combine(_directory, name);
        NodeIdentity.LoadOrCreate(directory, null).Dispose();
        var database = new NodeDatabase(Path.Combine(directory, "node.db"));
        database.Migrate(Migrations.All);
        using (var connection = database.OpenConnection())
        using (var insert = connection.CreateCommand())
        {
            insert.CommandText = "INSERT INTO node_metadata(key, value) VALUES ('kept', 'yes');";
            insert.ExecuteNonQuery();
        }

        Directory.CreateDirectory(Path.Combine(directory, "blobs", "ab"));
        File.WriteAllText(Path.Combine(directory, Blob), "blob");
        Directory.CreateDirectory(Path.Combine(directory, "wasm-cache"));
        File.WriteAllText(Path.Combine(directory, "wasm-cache", "module.bin"), "cache");
        return directory;
    }
}
