using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Aggregation;

namespace Tenzro.Node.Aggregation;

/// <summary>The entry point of this project: the Raft group log factory.</summary>
public static class GroupLogs
{
    public static IGroupLogFactory Factory(ILoggerFactory loggers) => new RaftGroupLogFactory(loggers);
}
