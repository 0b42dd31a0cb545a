namespace Tenzro.Node.Runtimes.Workers;

/// <summary>
/// How to start a runtime worker: the node's own executable (<see cref="FileName"/> with <see cref="Arguments"/>)
/// followed by <c>worker &lt;runtime&gt;</c>, so that a published node needs no other file.
/// </summary>
/// <param name="FileName">The program: the <c>tenzro-node</c> apphost, or the <c>dotnet</c> host.</param>
/// <param name="Arguments">What precedes <c>worker</c>: the path of <c>tenzro-node.dll</c> under the <c>dotnet</c> host, else nothing.</param>
/// <param name="ManagedHeapLimitBytes">The worker's <c>DOTNET_GCHeapHardLimit</c>: the most memory a task may reserve on this node.</param>
internal sealed record WorkerLaunch(string FileName, IReadOnlyList<string> Arguments, long ManagedHeapLimitBytes);
