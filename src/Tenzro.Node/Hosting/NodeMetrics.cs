using System.Diagnostics.Metrics;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Regional;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Hosting;

/// <summary>
/// The node's observable gauges (meter <c>Tenzro.Node</c>, beside the task counters of <see cref="TaskMetrics"/>).
/// Resource figures are read from <see cref="ResourceSampler.Current"/>: the sampler is their only source.
/// </summary>
internal sealed class NodeMetrics
{
    public NodeMetrics(IMeterFactory meterFactory, ResourceSampler sampler, TaskEngine engine, IntakeState intake, IRegionalLinkStatus regional, Networking.Regional.IRegionalTransport transport, Core.Hardware.HardwareProfiler profiler)
    {
        var meter = meterFactory.Create(TaskMetrics.MeterName);
        meter.CreateObservableGauge("tenzro.host.cpu.utilization", () => sampler.Current.HostCpuPercent / 100, "1", "Host CPU busy share over the last sampling period (0-1).");
        meter.CreateObservableGauge("tenzro.host.memory.used", () => sampler.Current.MemoryTotalBytes - sampler.Current.MemoryAvailableBytes, "By", "Host memory in use (total minus available).");
        meter.CreateObservableGauge("tenzro.host.memory.total", () => sampler.Current.MemoryTotalBytes, "By", "Host memory (or the container's limit).");
        meter.CreateObservableGauge("tenzro.host.memory.utilization", () => sampler.Current.MemoryUsedPercent / 100, "1", "Host memory in use (0-1).");
        meter.CreateObservableGauge("tenzro.storage.free", () => sampler.Current.StorageFreeBytes, "By", "Free space on DATA_DIR's filesystem.");
        meter.CreateObservableGauge("tenzro.storage.total", () => sampler.Current.StorageTotalBytes, "By", "Size of DATA_DIR's filesystem.");
        meter.CreateObservableGauge("tenzro.storage.utilization", () => sampler.Current.StorageUsedPercent / 100, "1", "Used share of DATA_DIR's filesystem (0-1).");
        meter.CreateObservableCounter("tenzro.host.network.io", () => new[]
        {
            new Measurement<long>(sampler.Current.NetworkReceivedBytes, new KeyValuePair<string, object?>("direction", "receive")),
            new Measurement<long>(sampler.Current.NetworkSentBytes, new KeyValuePair<string, object?>("direction", "transmit")),
        }, "By", "Bytes through the host's network interfaces (loopback excluded).");
        meter.CreateObservableGauge("tenzro.process.cpu.utilization", () => sampler.Current.ProcessCpuPercent / 100, "1", "The node process's CPU share of all cores (0-1).");
        meter.CreateObservableGauge("tenzro.process.memory.usage", () => sampler.Current.ProcessMemoryBytes, "By", "The node process's resident memory.");
        meter.CreateObservableGauge("tenzro.gpu.utilization", () => sampler.Current.Gpus.Select(g => new Measurement<double>(g.UtilizationPercent / 100, new KeyValuePair<string, object?>("gpu", g.Name))), "1", "GPU utilization (0-1), where a GPU is present.");
        meter.CreateObservableGauge("tenzro.gpu.memory.used", () => sampler.Current.Gpus.Select(g => new Measurement<long>(g.MemoryUsedBytes, new KeyValuePair<string, object?>("gpu", g.Name))), "By", "GPU memory in use, where a GPU is present.");
        meter.CreateObservableGauge("tenzro.tasks.queued", () => engine.QueueDepthByPriority().Select(p => new Measurement<int>(p.Value, new KeyValuePair<string, object?>("priority", p.Key.ToWire()))), "{task}", "Tasks waiting in the queue, by priority.");
        meter.CreateObservableGauge("tenzro.tasks.running", () => engine.RunningCount, "{task}", "Tasks running now.");
        meter.CreateObservableGauge("tenzro.quota.bytes", () =>
        {
            var budgets = engine.Budgets();
            return new[]
            {
                new Measurement<long>(budgets.QueuedBytes, new KeyValuePair<string, object?>("budget", "queued"), new KeyValuePair<string, object?>("figure", "used")),
                new Measurement<long>(budgets.QueuedLimit, new KeyValuePair<string, object?>("budget", "queued"), new KeyValuePair<string, object?>("figure", "limit")),
                new Measurement<long>(budgets.StoredBytes, new KeyValuePair<string, object?>("budget", "stored"), new KeyValuePair<string, object?>("figure", "used")),
                new Measurement<long>(budgets.StoredLimit, new KeyValuePair<string, object?>("budget", "stored"), new KeyValuePair<string, object?>("figure", "limit")),
            };
        }, "By", "The byte budgets: bytes of queued payloads (QUOTA_QUEUED_BYTES) and of kept task inputs and results (QUOTA_STORED_BYTES), used and limit.");
        meter.CreateObservableGauge("tenzro.regional.link.state", () => Enum.GetValues<Core.Regional.RegionalLinkState>().Select(state =>
            new Measurement<int>(regional.Snapshot().State == state ? 1 : 0, new KeyValuePair<string, object?>("state", Core.Regional.RegionalLinkSnapshot.Name(state)))),
            "1", "1 for the regional link's current state (disabled, connecting, joined, failed), 0 for the others.");
        meter.CreateObservableCounter("tenzro.regional.reconnects", () => regional.Snapshot().Reconnects, "{reconnect}", "Reconnections of the regional link since start.");
        if (transport is Networking.Regional.WebSocketRegionalTransport websocket)
        {
            meter.CreateObservableCounter("tenzro.regional.link.io", () => new[]
            {
                new Measurement<long>(websocket.BytesReceived, new KeyValuePair<string, object?>("direction", "receive")),
                new Measurement<long>(websocket.BytesSent, new KeyValuePair<string, object?>("direction", "transmit")),
            }, "By", "Bytes of messages the node received from and sent to the regional node.");
        }

        meter.CreateObservableGauge("tenzro.regional.peers", () => regional.Snapshot().Peers.Count, "{peer}", "Peers of the region known from network_state, peer_joined and peer_left.");
        meter.CreateObservableGauge("tenzro.network.bandwidth.mbps", () => BandwidthFigures(profiler.Current.Network), "{Mbit/s}",
            "Bandwidth in Mbps: what node_status reports (reported), and the last measurement's download and upload where one was made.");
        meter.CreateObservableGauge("tenzro.intake.open", () => intake.RefusalReason is null ? 1 : 0, "1", "1 while the node takes new tasks; 0 while draining or under pressure.");
    }

    private static IEnumerable<Measurement<double>> BandwidthFigures(Core.Hardware.NetworkProfile network)
    {
        if (network.BandwidthMbps is { } reported)
        {
            yield return new Measurement<double>(reported, new KeyValuePair<string, object?>("kind", "reported"));
        }

        if (network.Measurement?.DownloadMbps is { } down)
        {
            yield return new Measurement<double>(down, new KeyValuePair<string, object?>("kind", "download"));
        }

        if (network.Measurement?.UploadMbps is { } up)
        {
            yield return new Measurement<double>(up, new KeyValuePair<string, object?>("kind", "upload"));
        }
    }
}
