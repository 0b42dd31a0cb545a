using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Storage;

namespace Tenzro.Node.Core.Dht;

/// <summary>
/// The routing table kept in the node's database (<c>dht_contacts</c>, migration 12), so that a restarted node
/// rejoins through the contacts it had, without a bootstrap entry.
/// </summary>
/// <remarks>Thread-safe: each call opens its own connection.</remarks>
public sealed class DhtContactStore(NodeDatabase database)
{
    /// <summary>The saved contacts, the most recently heard first.</summary>
    public IReadOnlyList<DhtTableEntry> Load()
    {
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, endpoint, first_seen, last_seen FROM dht_contacts ORDER BY last_seen DESC;";
        using var reader = command.ExecuteReader();
        var entries = new List<DhtTableEntry>();
        while (reader.Read())
        {
            if (DhtId.TryParse(reader.GetString(0), out var id) && Timestamps.Parse(reader.GetString(2)) is { } first && Timestamps.Parse(reader.GetString(3)) is { } last)
            {
                entries.Add(new DhtTableEntry(new DhtContact(id, reader.GetString(1)), first, last));
            }
        }

        return entries;
    }

    /// <summary>Replaces the saved table with <paramref name="entries"/>, in one transaction (the writer's).</summary>
    public Task SaveAsync(IReadOnlyList<DhtTableEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return database.Writer.WriteAsync(connection =>
        {
            using (var clear = connection.CreateCommand())
            {
                clear.CommandText = "DELETE FROM dht_contacts;";
                clear.ExecuteNonQuery();
            }

            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT OR REPLACE INTO dht_contacts(id, endpoint, first_seen, last_seen) VALUES ($i, $e, $f, $l);";
            var id = insert.Parameters.Add("$i", Microsoft.Data.Sqlite.SqliteType.Text);
            var endpoint = insert.Parameters.Add("$e", Microsoft.Data.Sqlite.SqliteType.Text);
            var first = insert.Parameters.Add("$f", Microsoft.Data.Sqlite.SqliteType.Text);
            var last = insert.Parameters.Add("$l", Microsoft.Data.Sqlite.SqliteType.Text);
            foreach (var entry in entries)
            {
                id.Value = entry.Contact.Id.ToString();
                endpoint.Value = entry.Contact.Endpoint;
                first.Value = Timestamps.Format(entry.FirstSeen);
                last.Value = Timestamps.Format(entry.LastSeen);
                insert.ExecuteNonQuery();
            }

            return entries.Count;
        });
    }
}
