using Tenzro.Node.Core.Aggregation;
using Tenzro.Node.Networking.Peers;

namespace Tenzro.Node.Networking.Aggregation;

/// <summary>DI registration of aggregation groups.</summary>
internal static class AggregationServices
{
    /// <summary>The group message handler and inbox, the group log factory (Raft) and the aggregation service.</summary>
    public static IServiceCollection AddAggregation(this IServiceCollection services)
    {
        services.AddSingleton<GroupInbox>();
        services.AddSingleton<GroupLogPort>();
        services.AddSingleton(sp => new GroupExclusions(
            sp.GetRequiredService<TimeProvider>(),
            new GroupExclusionsFile(sp.GetRequiredService<Core.Configuration.StorageOptions>().DataDirectory, sp.GetRequiredService<ILogger<GroupExclusionsFile>>())));
        services.AddSingleton<GroupQuota>();
        services.AddSingleton<IPeerMessageHandler, GroupMessageHandler>();
        services.AddSingleton<IGroupLogFactory>(sp => Node.Aggregation.GroupLogs.Factory(sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton(sp => new Work.GroupBlobs(sp.GetRequiredService<Core.Configuration.StorageOptions>().DataDirectory));
        services.AddSingleton<Work.BlobExchange>();
        services.AddSingleton<IPeerMessageHandler, Work.BlobGetHandler>();
        services.AddSingleton<IPeerMessageHandler, Work.BlobChunkHandler>();
        services.AddSingleton<Work.GroupWorkMetrics>();
        services.AddSingleton<Work.GroupWork>();
        services.AddSingleton<Core.Tasks.ISplitRunner>(sp => sp.GetRequiredService<Work.GroupWork>());
        services.AddSingleton<AggregationService>();
        services.AddHostedService(sp => sp.GetRequiredService<AggregationService>());
        services.AddSingleton<IAggregationGroup>(sp => sp.GetRequiredService<AggregationService>());
        return services;
    }
}
