using System.Text.Json.Serialization;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Core.Json;

/// <summary>
/// The source-generated serializer of Core's wire contracts (docs/ARCHITECTURE.md "Wire contracts"): the task's
/// status, result and submission answers, the regional <c>node_status</c> and the node record's fields. Names are
/// camelCase; null members are written.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(TaskStatusBody))]
[JsonSerializable(typeof(TaskResultBody))]
[JsonSerializable(typeof(TaskPendingBody))]
[JsonSerializable(typeof(TaskSubmittedBody))]
[JsonSerializable(typeof(TaskListBody))]
[JsonSerializable(typeof(TaskProgressEvent))]
[JsonSerializable(typeof(Regional.NodeStatusMessage))]
[JsonSerializable(typeof(Peers.NodeRecordFields))]
public sealed partial class CoreJson : JsonSerializerContext;
