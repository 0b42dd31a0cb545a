using System.Buffers.Binary;
using System.Net;
using System.Text;
using DotNext.Buffers;
using DotNext.Net.Cluster.Consensus.Raft.Membership;

namespace Tenzro.Node.Aggregation;

/// <summary>The Raft membership saved in a file: each member's address as a length-prefixed UTF-8 <c>host:port</c>.</summary>
internal sealed class EndPointStorage(string path) : PersistentClusterConfigurationStorage<EndPoint>(path)
{
    protected override void Encode(EndPoint address, ref BufferWriterSlim<byte> output)
    {
        var text = Encoding.UTF8.GetBytes(address.ToString() ?? string.Empty);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, text.Length);
        output.Write(length);
        output.Write(text);
    }

    protected override EndPoint Decode(ref SequenceReader input)
    {
        Span<byte> length = stackalloc byte[4];
        input.Read(length);
        var text = new byte[BinaryPrimitives.ReadInt32LittleEndian(length)];
        input.Read(text);
        return IPEndPoint.Parse(Encoding.UTF8.GetString(text));
    }
}
