namespace Tenzro.Node.Runtimes.Onnx;

/// <summary>Base of the errors of the ONNX component (model store and inference).</summary>
internal abstract class OnnxComponentException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The bytes are not a model ONNX Runtime can load; the message says why, for the user.</summary>
internal sealed class InvalidModelException(string message, Exception? inner = null) : OnnxComponentException(message, inner);

/// <summary>The model cannot be removed because queued or running inference tasks refer to it.</summary>
internal sealed class ModelInUseException(string sha256, IReadOnlyList<string> taskIds)
    : OnnxComponentException($"model {sha256} is used by {taskIds.Count} queued or running inference task(s): {string.Join(", ", taskIds.Take(5))}")
{
    public IReadOnlyList<string> TaskIds { get; } = taskIds;
}

/// <summary>Storing the model would take the blob store above the storage this node lends.</summary>
internal sealed class ModelStorageFullException(string message) : OnnxComponentException(message);
