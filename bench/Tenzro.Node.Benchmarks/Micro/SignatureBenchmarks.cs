using System.Text;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using Tenzro.Node.Core.Identity;
using Tenzro.Node.Core.Regional;

namespace Tenzro.Node.Benchmarks.Micro;

/// <summary>Signing and verifying a node_status message with the section 10 envelope.</summary>
[MemoryDiagnoser]
public class SignatureBenchmarks
{
    private NodeIdentity _identity = null!;
    private byte[] _frame = null!;
    private DateTimeOffset _now;

    [GlobalSetup]
    public void Setup()
    {
        _identity = NodeIdentity.CreateEphemeral();
        _now = DateTimeOffset.UtcNow;
        _frame = Encoding.UTF8.GetBytes(SignedEnvelope.Sign(Message(), _identity, _now).ToJsonString());
    }

    [GlobalCleanup]
    public void Cleanup() => _identity.Dispose();

    [Benchmark]
    public JsonObject Sign() => SignedEnvelope.Sign(Message(), _identity, _now);

    [Benchmark]
    public bool Verify() => SignedEnvelope.Verify(_frame, 1 << 20, _now, _identity.PublicKey).IsValid;

    private JsonObject Message() => new()
    {
        ["type"] = "node_status",
        ["peerId"] = _identity.PeerId,
        ["status"] = new JsonObject
        {
            ["peerId"] = _identity.PeerId, ["online"] = true, ["nodeType"] = "individual", ["nodeTier"] = "inference",
            ["region"] = "us-east", ["connections"] = 0, ["earnings"] = 0, ["activeTasks"] = 1, ["completedTasks"] = 4,
            ["resources"] = new JsonObject { ["cpu"] = 12.5, ["memory"] = 16, ["storage"] = 200, ["bandwidth"] = 100 },
        },
    };
}
