using System.Text.Json.Serialization;
using Tenzro.Node.Core.Security;

namespace Tenzro.Node.Api;

/// <summary>
/// The source-generated serializer of the host's wire contracts (docs/ARCHITECTURE.md "Wire contracts"):
/// <c>/status</c>, <c>/api/network/status</c>, drain and resume, and the key audit. Registered first in the HTTP JSON options
/// (HttpSetup), and read back with it by the CLI. Names are camelCase; null members are written.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(StatusBody))]
[JsonSerializable(typeof(NetworkStatusBody))]
[JsonSerializable(typeof(AuditBody))]
[JsonSerializable(typeof(DrainBody))]
internal sealed partial class ApiJson : JsonSerializerContext;

/// <summary><c>GET /api/keys/audit</c>: the newest admin actions first.</summary>
internal sealed record AuditBody(IReadOnlyList<AuditEntry> Entries);

/// <summary><c>POST /api/node/drain</c> and <c>/resume</c>: whether the node now refuses new tasks, and the tasks running and queued.</summary>
internal sealed record DrainBody(bool Draining, int Running, int Queued);
