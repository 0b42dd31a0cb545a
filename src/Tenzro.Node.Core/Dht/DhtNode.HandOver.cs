namespace Tenzro.Node.Core.Dht;

public sealed partial class DhtNode
{
    /// <summary>
    /// Kademlia's store on join: when a node new to the table is among the k closest to a key this node holds records
    /// under, as far as this node knows, the records go to it with a STORE, so that a record stays with the nodes
    /// closest to its key as they change and not only until its publisher's next republish. Only a holder among the
    /// α closest to the key of the nodes it knows (the newcomer aside) hands them on, so a newcomer gets a few STOREs
    /// per key rather than k, and a closer contact that left without a word does not stop it.
    /// </summary>
    private void HandOver(DhtContact newcomer)
    {
        var now = _time.GetUtcNow();
        foreach (var key in Records.Keys)
        {
            if (Table.CountCloser(key, Self, newcomer.Id, Options.Alpha) >= Options.Alpha)
            {
                continue;
            }

            var selfCloser = key.CompareDistance(Self, newcomer.Id) < 0 ? 1 : 0;
            if (Table.CountCloser(key, newcomer.Id, newcomer.Id, Options.K) + selfCloser >= Options.K)
            {
                continue;
            }

            // A record (at most 800 bytes) always fits in a datagram beside the header, so a STORE of MaxParts records is
            // never cut short; a larger batch could be.
            foreach (var batch in Records.Get(key, now, Options.Store.PerKey).Chunk(DhtWire.MaxParts))
            {
                var store = new DhtMessage { Type = DhtMessageType.Store, RequestId = NewRequestId(), Sender = Self, Target = key, Records = [.. batch.Select(r => r.Json)] };
                Request(newcomer.Endpoint, newcomer.Id, store, _ => { });
            }
        }
    }
}
