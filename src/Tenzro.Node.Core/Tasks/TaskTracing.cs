using System.Diagnostics;

namespace Tenzro.Node.Core.Tasks;

/// <summary>The activity source of a task's path (submit → queue → run → result); costs nothing unless a tracer listens.</summary>
public static class TaskTracing
{
    public const string SourceName = "Tenzro.Node.Tasks";

    public static readonly ActivitySource Source = new(SourceName);
}
