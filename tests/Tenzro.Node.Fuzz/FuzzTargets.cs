using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Wasm;

namespace Tenzro.Node.Fuzz;

/// <summary>
/// The parsers that read untrusted bytes, each driven the way the node drives it. An input may be refused in the
/// ways the node itself answers (a problem, a rejection); any other exception escaping a target is a crash.
/// </summary>
/// <remarks>Not thread-safe: one input at a time, as AFL++ and the corpus replay run them.</remarks>
public static class FuzzTargets
{
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromSeconds(1800);
    private static readonly string[] Types = ["store", "compute", "process", "aggregate", "validate", "inference", "train"];
    private static readonly Lazy<BlobStore> Blobs = new(() => new BlobStore(Directory.CreateTempSubdirectory("tenzro-fuzz-").FullName));

    /// <summary>Target names, as the fuzz script and the corpus folders spell them.</summary>
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["task-json"] = TaskJson,
        ["regional"] = RegionalMessage,
        ["wasm-entry"] = WasmEntry,
        ["mdns"] = MdnsPacket,
        ["dht"] = DhtFuzzTarget.Datagram,
        ["onnx-graph"] = OnnxGraph,
    };

    /// <summary>
    /// An uploaded model file, as the cost model reads it: the operators of its graph are counted by walking its
    /// protobuf fields. A model it cannot walk counts as none; any exception is a crash, and so is a count beyond the
    /// fields the input could hold.
    /// </summary>
    public static void OnnxGraph(byte[] input)
    {
        if (Runtimes.Onnx.OnnxOperators.Count(new MemoryStream(input, writable: false)) is { } count && (count < 0 || count > input.Length / 2))
        {
            throw new InvalidOperationException($"{count} operators in {input.Length} bytes");
        }
    }

    private static readonly Lazy<(Core.Identity.NodeIdentity Identity, Core.Lan.LanDiscoveryProtocol Protocol)> Lan = new(() =>
    {
        var identity = Core.Identity.NodeIdentity.CreateEphemeral();
        return (identity, new Core.Lan.LanDiscoveryProtocol(identity, TimeProvider.System));
    });

    /// <summary>
    /// A datagram on UDP 5353, handled as LAN discovery handles it: the codec's parse, then queries, announcements, TXT
    /// records and their signatures. A refusal is an answer; only an exception escaping is a crash.
    /// </summary>
    public static void MdnsPacket(byte[] input)
    {
        var result = Lan.Value.Protocol.Receive(input, input.Length, System.Net.IPAddress.Loopback, "fuzz");
        if (result.Refusals.Any(r => r.Reason is null))
        {
            throw new InvalidOperationException("a refusal without a reason");
        }

        Lan.Value.Protocol.Sweep();
    }

    /// <summary>An HTTP task body: strict JSON, then the parser, the content hash and the stored form.</summary>
    public static void TaskJson(byte[] input)
    {
        if (!StrictJson.TryParse(input, out var node, out _) || node is not JsonObject body)
        {
            return;
        }

        var errors = new ValidationErrors();
        var spec = TaskParser.Parse(body, MaxTimeout, Types, TaskOrigins.Api, errors);
        if (spec is null || !errors.IsEmpty)
        {
            _ = errors.ToString();
            return;
        }

        _ = TaskParser.ContentHash(spec);
        var stored = TaskParser.FromStored(TaskParser.ToStored(spec));
        if (TaskParser.ContentHash(stored) != TaskParser.ContentHash(spec))
        {
            throw new InvalidOperationException("the stored form of a task changed its content hash");
        }
    }

    /// <summary>
    /// A regional frame's text, read as the link reads it (JSON, the signature check when the frame is signed, the
    /// type), then as the intake reads a task assignment: the task id outside any handler, the mapping to a local task
    /// and its parsing inside the one that answers task_rejected.
    /// </summary>
    public static void RegionalMessage(byte[] input)
    {
        // The strict reader must not throw on any frame either; it also gives AFL++ coverage on every input, where the
        // rest may end in System.Text.Json, which is not instrumented.
        _ = StrictJson.TryParse(input, out _, out _);
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(input);
        }
        catch (DecoderFallbackException)
        {
            return;
        }

        JsonObject? message;
        try
        {
            // What the link's Accept reads; it drops a frame that throws one of these (AcceptOrDrop).
            message = JsonNode.Parse(text) as JsonObject;
            if (message is null)
            {
                return;
            }

            if (message.ContainsKey("publicKey") || message.ContainsKey("signature"))
            {
                _ = SignedEnvelope.Verify(message, DateTimeOffset.UnixEpoch.AddYears(56));
            }

            _ = RegionalMessages.TypeOf(message);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or JsonException)
        {
            return;
        }

        // The intake's reading of an assignment: every one with a taskId must be answered, accepted or rejected.
        if (message["task"] is not JsonObject task || RegionalMessages.StringMember(task, "taskId") is not { Length: > 0 })
        {
            return;
        }

        try
        {
            var errors = new ValidationErrors();
            var local = RegionalTaskMapper.ToLocal(task, DateTimeOffset.UnixEpoch.AddYears(56), MaxTimeout, errors);
            var spec = TaskParser.Parse(local, MaxTimeout, Types, TaskOrigins.Regional, errors);
            if (spec is not null)
            {
                _ = TaskParser.ContentHash(spec);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException or ArgumentException)
        {
            // The intake answers these with task_rejected ("the task cannot be read").
        }
    }

    /// <summary>A compute task's body: parsed as a task, then its Wasm entry (module source, entry, args, argv, env).</summary>
    public static void WasmEntry(byte[] input)
    {
        if (!StrictJson.TryParse(input, out var node, out _) || node is not JsonObject body)
        {
            return;
        }

        body["type"] = "compute";
        var errors = new ValidationErrors();
        var spec = TaskParser.Parse(body, MaxTimeout, Types, TaskOrigins.Api, errors);
        if (spec is not null)
        {
            _ = WasmTaskRequest.Parse(spec, errors, Blobs.Value);
        }
    }
}
