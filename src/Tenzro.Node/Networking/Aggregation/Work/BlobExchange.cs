using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Aggregation;
using Tenzro.Node.Networking.Peers;

namespace Tenzro.Node.Networking.Aggregation.Work;

/// <summary>
/// Moves split tasks' payloads and results between members over peer links (CONTRACTS "Peer links"):
/// <c>{"type":"blob_get","requestId","sha256","offset"}</c> is answered with
/// <c>{"type":"blob","requestId","sha256","offset","total","data"}</c> (base64, at most 512 KiB a chunk, so a frame
/// stays under the links' 1 MiB) or <c>{"type":"blob","requestId","error"}</c>. A blob goes only to a member the group
/// state lets have it (<see cref="Allow"/>); what arrives is checked against its sha256.
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal sealed class BlobExchange(GroupBlobs blobs)
{
    public const string RequestType = "blob_get";
    public const string ChunkType = "blob";
    private static readonly TimeSpan ChunkTimeout = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonObject>> _waiting = new(StringComparer.Ordinal);

    /// <summary>Whether the peer (first argument) may have the blob (second); set by the group work.</summary>
    public Func<string, string, bool> Allow { get; set; } = (_, _) => false;

    /// <summary>Fetches a whole blob over <paramref name="link"/> (or from this node's store when it is here).</summary>
    /// <exception cref="IOException">No link to the peer, the peer refused, or the bytes do not match the sha256.</exception>
    public async Task<byte[]> FetchAsync(PeerLink? link, string sha, CancellationToken cancellationToken)
    {
        if (blobs.Has(sha))
        {
            return blobs.Read(sha);
        }

        if (link is null)
        {
            throw new IOException($"blob {sha[..12]} is not here and its holder has no open link");
        }

        using var buffer = new MemoryStream();
        long total;
        do
        {
            var requestId = Guid.NewGuid().ToString("N");
            var waiting = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting[requestId] = waiting;
            try
            {
                await link.SendAsync(new JsonObject { ["type"] = RequestType, ["requestId"] = requestId, ["sha256"] = sha, ["offset"] = buffer.Length }, cancellationToken);
                var answer = await waiting.Task.WaitAsync(ChunkTimeout, cancellationToken);
                if (answer["error"] is JsonValue error)
                {
                    throw new IOException($"the peer refused blob {sha[..12]}: {error}");
                }

                var data = Convert.FromBase64String(answer["data"]!.GetValue<string>());
                total = answer["total"]!.GetValue<long>();
                if (data.Length == 0 && buffer.Length < total)
                {
                    throw new IOException($"the peer sent an empty chunk of blob {sha[..12]}");
                }

                buffer.Write(data);
            }
            catch (TimeoutException)
            {
                throw new IOException($"no answer for blob {sha[..12]} within {ChunkTimeout.TotalSeconds} s");
            }
            finally
            {
                _waiting.TryRemove(requestId, out _);
            }
        }
        while (buffer.Length < total);

        var bytes = buffer.ToArray();
        if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != sha)
        {
            throw new IOException($"blob {sha[..12]} arrived with other content");
        }

        blobs.Put(bytes);
        return bytes;
    }

    /// <summary>Answers a <c>blob_get</c>.</summary>
    public async ValueTask ServeAsync(PeerLink link, JsonObject message, CancellationToken cancellationToken)
    {
        var requestId = GroupMessages.Text(message, "requestId");
        var sha = GroupMessages.Text(message, "sha256");
        var offset = message["offset"] is JsonValue v && v.TryGetValue<long>(out var o) ? o : -1;
        JsonObject answer;
        if (requestId is null || !GroupBlobs.IsHash(sha) || offset < 0)
        {
            answer = new JsonObject { ["error"] = "malformed blob_get: needs requestId, sha256 and offset" };
        }
        else if (!Allow(link.PeerId, sha!) || !blobs.Has(sha!))
        {
            answer = new JsonObject { ["error"] = "no such blob for this member" };
        }
        else
        {
            var total = blobs.Length(sha!);
            var chunk = offset >= total ? [] : blobs.Chunk(sha!, offset);
            answer = new JsonObject { ["sha256"] = sha, ["offset"] = offset, ["total"] = total, ["data"] = Convert.ToBase64String(chunk) };
        }

        answer["type"] = ChunkType;
        answer["requestId"] = requestId;
        await link.SendAsync(answer, cancellationToken);
    }

    /// <summary>Hands a <c>blob</c> answer to the fetch waiting for it.</summary>
    public void Receive(JsonObject message)
    {
        if (GroupMessages.Text(message, "requestId") is { } requestId && _waiting.TryRemove(requestId, out var waiting))
        {
            waiting.TrySetResult(message);
        }
    }
}

/// <summary>Hands <c>blob_get</c> requests to the <see cref="BlobExchange"/>.</summary>
internal sealed class BlobGetHandler(BlobExchange exchange) : IPeerMessageHandler
{
    public string Type => BlobExchange.RequestType;

    public ValueTask HandleAsync(PeerLink link, JsonObject message, CancellationToken cancellationToken) => exchange.ServeAsync(link, message, cancellationToken);
}

/// <summary>Hands <c>blob</c> answers to the <see cref="BlobExchange"/>.</summary>
internal sealed class BlobChunkHandler(BlobExchange exchange) : IPeerMessageHandler
{
    public string Type => BlobExchange.ChunkType;

    public ValueTask HandleAsync(PeerLink link, JsonObject message, CancellationToken cancellationToken)
    {
        exchange.Receive(message);
        return ValueTask.CompletedTask;
    }
}
