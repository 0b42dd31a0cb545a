using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tenzro.Node.Runtimes.Workers;

/// <summary>What a frame between the node and a worker carries.</summary>
internal enum WorkerFrameKind : byte
{
    /// <summary>Worker → node, once at start: the worker is ready for requests. No payload.</summary>
    Ready = 1,

    /// <summary>Node → worker: one job (UTF-8 JSON <c>{"dataLimitBytes"?, "job"}</c>).</summary>
    Request = 2,

    /// <summary>Worker → node: the job's progress, a little-endian double in 0..1 (below 1: the end is the Done frame).</summary>
    Progress = 3,

    /// <summary>Worker → node: the job's end (UTF-8 JSON <c>{"result"?, "error"?, "memoryLimit"?, "stats"}</c>).</summary>
    Done = 4,
}

/// <summary>
/// The frames the node and its runtime workers exchange over the worker's standard input and output: a
/// 4-byte little-endian payload length, a <see cref="WorkerFrameKind"/> byte, then the payload. One request is
/// in flight per worker: the node writes a request and reads frames until <see cref="WorkerFrameKind.Done"/>.
/// </summary>
internal static class WorkerProtocol
{
    /// <summary>The largest payload either side accepts: more than a task's data or result can be.</summary>
    public const int MaxPayloadBytes = 1024 * 1024 * 1024;

    private const int HeaderBytes = 5;

    /// <summary>
    /// Frames up to this size, header included (a pipe's default buffer), go to the pipe in one write, so that the reader
    /// wakes once for the whole frame instead of once for the header and again for the payload; larger ones are written in two.
    /// </summary>
    private const int OneWriteBytes = 64 * 1024;

    /// <summary>Whether a frame of <paramref name="payloadBytes"/> goes to the pipe in one write (and so never blocks on an empty pipe).</summary>
    public static bool FitsOneWrite(int payloadBytes) => HeaderBytes + payloadBytes <= OneWriteBytes;

    public static async ValueTask WriteAsync(Stream stream, WorkerFrameKind kind, ReadOnlyMemory<byte> payload, CancellationToken token)
    {
        if (FitsOneWrite(payload.Length))
        {
            await stream.WriteAsync(Frame(kind, payload.Span), token);
        }
        else
        {
            await stream.WriteAsync(Header(kind, payload.Length), token);
            await stream.WriteAsync(payload, token);
        }

        await stream.FlushAsync(token);
    }

    /// <summary>Writes one frame; callers that share the stream across threads hold a lock around it.</summary>
    public static void Write(Stream stream, WorkerFrameKind kind, ReadOnlySpan<byte> payload)
    {
        if (FitsOneWrite(payload.Length))
        {
            stream.Write(Frame(kind, payload));
        }
        else
        {
            stream.Write(Header(kind, payload.Length));
            stream.Write(payload);
        }

        stream.Flush();
    }

    private static byte[] Header(WorkerFrameKind kind, int length)
    {
        var header = new byte[HeaderBytes];
        PutHeader(header, kind, length);
        return header;
    }

    private static byte[] Frame(WorkerFrameKind kind, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[HeaderBytes + payload.Length];
        PutHeader(frame, kind, payload.Length);
        payload.CopyTo(frame.AsSpan(HeaderBytes));
        return frame;
    }

    private static void PutHeader(Span<byte> destination, WorkerFrameKind kind, int length)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, length);
        destination[4] = (byte)kind;
    }

    /// <summary>The next frame, or null when the stream ended before one began.</summary>
    /// <exception cref="InvalidDataException">The stream ended inside a frame, or a frame is too large.</exception>
    public static async ValueTask<(WorkerFrameKind Kind, byte[] Payload)?> ReadAsync(Stream stream, CancellationToken token)
    {
        var header = new byte[HeaderBytes];
        if (PayloadLength(header, await stream.ReadAtLeastAsync(header, HeaderBytes, throwOnEndOfStream: false, token)) is not { } length)
        {
            return null;
        }

        var payload = new byte[length];
        if (await stream.ReadAtLeastAsync(payload, length, throwOnEndOfStream: false, token) < length)
        {
            throw new InvalidDataException("the stream ended inside a frame");
        }

        return ((WorkerFrameKind)header[4], payload);
    }

    /// <summary>
    /// <see cref="ReadAsync"/> on the calling thread, which blocks until the frame is whole: for a reader with nothing else
    /// to do (the worker's request loop), with no hand-off to another thread for each read.
    /// </summary>
    /// <exception cref="InvalidDataException">The stream ended inside a frame, or a frame is too large.</exception>
    public static (WorkerFrameKind Kind, byte[] Payload)? Read(Stream stream)
    {
        var header = new byte[HeaderBytes];
        if (PayloadLength(header, stream.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false)) is not { } length)
        {
            return null;
        }

        var payload = new byte[length];
        if (stream.ReadAtLeast(payload, length, throwOnEndOfStream: false) < length)
        {
            throw new InvalidDataException("the stream ended inside a frame");
        }

        return ((WorkerFrameKind)header[4], payload);
    }

    /// <summary>The payload length a header announces; null when the stream ended before the frame began (<paramref name="read"/> 0).</summary>
    private static int? PayloadLength(byte[] header, int read)
    {
        if (read == 0)
        {
            return null;
        }

        if (read < HeaderBytes)
        {
            throw new InvalidDataException("the stream ended inside a frame header");
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(header);
        return length is < 0 or > MaxPayloadBytes
            ? throw new InvalidDataException($"a frame of {length} bytes is over the {MaxPayloadBytes}-byte limit")
            : length;
    }

    public static byte[] Json(JsonNode node)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            node.WriteTo(writer);
        }

        return buffer.ToArray();
    }

    public static JsonObject ParseObject(byte[] payload) =>
        JsonNode.Parse(payload) as JsonObject ?? throw new InvalidDataException("a frame's payload is not a JSON object");
}
