using Microsoft.Data.Sqlite;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Storage;

[Trait("Suite", "store")]
public sealed class PreparedCommandsTests : IDisposable
{
    private readonly string _directory = TestNode.NewDirectory();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Prepared_SameStatementOnOneConnection_IsOneCommandWithNoParametersLeft_AndAnotherConnectionHasItsOwn()
    {
        await using var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        database.Migrate(Migrations.All);
        using var first = database.OpenConnection();
        using var second = database.OpenConnection();
        const string sql = "SELECT $value;";

        var command = first.Prepared(sql);
        command.Parameters.AddWithValue("$value", 1);
        Assert.Equal(1L, command.ExecuteScalar());
        var again = first.Prepared(sql);
        again.Parameters.AddWithValue("$value", 2);

        Assert.Same(command, again);
        Assert.Equal(2L, again.ExecuteScalar());
        Assert.NotSame(command, second.Prepared(sql));
        Assert.Empty(first.Prepared(sql).Parameters);
    }

    [Fact]
    public async Task Prepared_ConnectionClosedAndReopened_CompilesAgainAndRuns()
    {
        await using var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        database.Migrate(Migrations.All);
        using var connection = database.OpenConnection();
        const string sql = "SELECT $value + 1;";
        var before = connection.Prepared(sql);
        before.Parameters.AddWithValue("$value", 1);
        Assert.Equal(2L, before.ExecuteScalar());

        // Closing disposes the connection's commands: the kept one must not be handed out again.
        connection.Close();
        connection.Open();
        var after = connection.Prepared(sql);
        after.Parameters.AddWithValue("$value", 41);

        Assert.NotSame(before, after);
        Assert.Equal(42L, after.ExecuteScalar());
    }

    [Fact]
    public async Task Release_AfterALargeValue_DropsTheKeptCommand_AfterASmallOneKeepsIt()
    {
        await using var database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        database.Migrate(Migrations.All);
        using var connection = database.OpenConnection();
        const string sql = "SELECT length($value);";
        var small = new string('a', 100);
        var large = new string('b', PreparedCommands.KeptValueChars + 1);

        var first = Run(connection, sql, small);
        var second = Run(connection, sql, large);
        var third = Run(connection, sql, small);

        // A kept statement holds its last values until its next use: a large task body or result is not left bound.
        Assert.Same(first.Command, second.Command);
        Assert.NotSame(second.Command, third.Command);
        Assert.Equal([100L, PreparedCommands.KeptValueChars + 1L, 100L], new[] { first.Length, second.Length, third.Length });
    }

    private static (SqliteCommand Command, long Length) Run(SqliteConnection connection, string sql, string value)
    {
        var command = connection.Prepared(sql);
        command.Parameters.AddWithValue("$value", value);
        var length = (long)command.ExecuteScalar()!;
        connection.Release(command, value.Length);
        return (command, length);
    }
}
