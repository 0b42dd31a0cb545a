namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>
/// Counts the operators (nodes) of an ONNX model's main graph by walking its protobuf encoding: <c>ModelProto.graph</c>
/// (field 7) and, in it, <c>GraphProto.node</c> (field 1). Every other field is skipped by its length, so the
/// weights are never read.
/// </summary>
/// <remarks>
/// ONNX Runtime's .NET API gives a session's inputs and outputs but not its graph, and the ONNX protobuf package is far
/// larger than these few lines, which read the wire format's four field encodings and nothing else. Thread-safe; fuzzed
/// (tests/Tenzro.Node.Fuzz, target <c>onnx-graph</c>).
/// </remarks>
public static class OnnxOperators
{
    private const int GraphField = 7;
    private const int NodeField = 1;
    private const int Varint = 0;
    private const int Fixed64 = 1;
    private const int LengthDelimited = 2;
    private const int Fixed32 = 5;

    /// <summary>The nodes of the main graph of the model in <paramref name="stream"/> (readable and seekable); null when the bytes are not a model this reader can walk.</summary>
    public static int? Count(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var end = stream.Length;
        while (stream.Position < end)
        {
            if (!TryReadTag(stream, out var field, out var wire))
            {
                return null;
            }

            if (field == GraphField && wire == LengthDelimited)
            {
                return TryReadVarint(stream, out var length) && length <= (ulong)(end - stream.Position)
                    ? CountNodes(stream, stream.Position + (long)length)
                    : null;
            }

            if (!Skip(stream, wire, end))
            {
                return null;
            }
        }

        return null;
    }

    private static int? CountNodes(Stream stream, long end)
    {
        var nodes = 0;
        while (stream.Position < end)
        {
            if (!TryReadTag(stream, out var field, out var wire) || !Skip(stream, wire, end))
            {
                return null;
            }

            if (field == NodeField && wire == LengthDelimited)
            {
                nodes++;
            }
        }

        return stream.Position == end ? nodes : null;
    }

    private static bool TryReadTag(Stream stream, out ulong field, out int wire)
    {
        field = 0;
        wire = 0;
        if (!TryReadVarint(stream, out var key) || key >> 3 == 0)
        {
            return false;
        }

        field = key >> 3;
        wire = (int)(key & 7);
        return true;
    }

    /// <summary>Moves past a field's value of wire type <paramref name="wire"/>, never beyond <paramref name="end"/>.</summary>
    private static bool Skip(Stream stream, int wire, long end)
    {
        ulong length;
        switch (wire)
        {
            case Varint:
                return TryReadVarint(stream, out _) && stream.Position <= end;
            case Fixed64:
                length = 8;
                break;
            case Fixed32:
                length = 4;
                break;
            case LengthDelimited:
                if (!TryReadVarint(stream, out length))
                {
                    return false;
                }

                break;
            default:
                return false; // groups (3, 4) are long deprecated, and 6, 7 do not exist
        }

        if (stream.Position > end || length > (ulong)(end - stream.Position))
        {
            return false;
        }

        stream.Position += (long)length;
        return true;
    }

    private static bool TryReadVarint(Stream stream, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = stream.ReadByte();
            if (b < 0)
            {
                return false;
            }

            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }
}
