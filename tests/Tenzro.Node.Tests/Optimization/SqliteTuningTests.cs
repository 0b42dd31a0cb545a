using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Storage;

namespace Tenzro.Node.Tests.Optimization;

[Trait("Suite", "optimization")]
public sealed class SqliteTuningTests
{
    private const long GiB = MachineProfiles.GiB;

    [Theory]
    [InlineData(1, 2, 32)] // a 1 GB container
    [InlineData(8, 4, 256)]
    [InlineData(64, 32, 256)]
    [InlineData(512, 32, 256)]
    public void Rule_FromUsableMemory_CacheAndMapWithinTheirBounds(long gigabytes, long cacheMB, long mmapMB)
    {
        var tuning = new SqliteTuning(new StorageOptions(), gigabytes * GiB);

        Assert.Equal(cacheMB, tuning.CacheMB);
        Assert.Equal(mmapMB, tuning.MmapMB);
    }

    [Fact]
    public void Settings_Given_WinOverTheRule()
    {
        var tuning = new SqliteTuning(new StorageOptions { SqliteCacheMB = 100, SqliteMmapMB = 0 }, 8 * GiB);

        Assert.Equal(100, tuning.CacheMB);
        Assert.Equal(0, tuning.MmapMB);
        Assert.All(tuning.Choices(), c => Assert.EndsWith("is set", c.Reason, StringComparison.Ordinal));
    }

    [Fact]
    public async Task SetMemory_WriteAndReadConnections_RunWithTheChosenCacheAndMap()
    {
        var directory = Directory.CreateTempSubdirectory("tenzro-sqlite-tuning-").FullName;
        try
        {
            await using var database = new NodeDatabase(Path.Combine(directory, "node.db"));
            database.Migrate(Migrations.All);
            database.SetMemory(6L << 20, 3L << 20);

            using var writer = database.OpenConnection();
            using var reader = database.OpenReadConnection();

            Assert.Equal(-6144L, Scalar(writer, "PRAGMA cache_size;"));
            Assert.Equal(-6144L, Scalar(reader, "PRAGMA cache_size;"));
            Assert.Equal(3L << 20, Scalar(reader, "PRAGMA mmap_size;"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static long Scalar(Microsoft.Data.Sqlite.SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}
