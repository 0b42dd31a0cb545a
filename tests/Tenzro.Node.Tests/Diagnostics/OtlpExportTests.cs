using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Diagnostics;

/// <summary>
/// Traces leave the node by OTLP: a collector on loopback that speaks OTLP's gRPC transport (HTTP/2,
/// <c>TraceService/Export</c>) receives the spans of a task's path.
/// </summary>
[Trait("Suite", "metrics")]
public sealed class OtlpExportTests
{
    [Fact]
    public async Task Traces_OtlpEndpointSet_TheTaskRunSpanAndTheSubmittingRequestReachTheCollector()
    {
        await using var collector = await OtlpCollector.StartAsync();
        string taskId;
        await using (var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint.ToString() }))
        {
            var (status, body) = await node.Client.SubmitAsync("""{"type":"store","data":{"content":"traced"}}""");
            Assert.Equal(HttpStatusCode.Accepted, status);
            taskId = body!["taskId"]!.GetValue<string>();
            await node.Client.WaitFinalAsync(taskId);
        }

        // Stopping the node flushes what its batch has not sent yet.
        // The task.run span carries the task id as tenzro.task.id (the polling requests carry it only in their path).
        var export = await collector.WaitForAsync(
            text => text.Contains("task.run", StringComparison.Ordinal) && text.Contains("tenzro.task.id", StringComparison.Ordinal) && text.Contains(taskId, StringComparison.Ordinal),
            Timeouts.Long);

        Assert.Contains("tenzro.task.type", export, StringComparison.Ordinal);
        Assert.Contains("tenzro-node", export, StringComparison.Ordinal);
        Assert.Contains(collector.Exports, e => e.Contains("/api/tasks/execute", StringComparison.Ordinal));
        Assert.All(collector.ContentTypes, t => Assert.Equal("application/grpc", t));
    }

    /// <summary>
    /// The smallest OTLP/gRPC trace collector: HTTP/2 without TLS on a free loopback port, every export
    /// body kept (protobuf strings are plain UTF-8 inside it), answered with an empty message and
    /// <c>grpc-status: 0</c>.
    /// </summary>
    private sealed class OtlpCollector : IAsyncDisposable
    {
        private readonly ConcurrentQueue<string> _exports = new();
        private readonly ConcurrentQueue<string> _contentTypes = new();
        private LoopbackServer _server = null!;

        public Uri Endpoint => _server.BaseAddress;

        public IReadOnlyCollection<string> Exports => [.. _exports];

        public IReadOnlyCollection<string> ContentTypes => [.. _contentTypes];

        public static async Task<OtlpCollector> StartAsync()
        {
            var collector = new OtlpCollector();
            collector._server = await LoopbackServer.StartAsync(
                app => app.MapPost("/opentelemetry.proto.collector.trace.v1.TraceService/Export", async (HttpContext context) =>
                {
                    using var body = new MemoryStream();
                    await context.Request.Body.CopyToAsync(body, context.RequestAborted);
                    collector._contentTypes.Enqueue(context.Request.ContentType ?? "");
                    collector._exports.Enqueue(Encoding.UTF8.GetString(body.ToArray()));
                    context.Response.ContentType = "application/grpc";
                    // One gRPC frame: not compressed, length 0 (an empty ExportTraceServiceResponse).
                    await context.Response.Body.WriteAsync(new byte[5], context.RequestAborted);
                    context.Response.AppendTrailer("grpc-status", "0");
                }),
                builder => builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2)));
            return collector;
        }

        /// <summary>The first export whose text satisfies <paramref name="match"/>; fails after <paramref name="timeout"/>.</summary>
        public async Task<string> WaitForAsync(Func<string, bool> match, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < deadline)
            {
                if (_exports.FirstOrDefault(match) is { } found)
                {
                    return found;
                }

                await Task.Delay(50);
            }

            throw new TimeoutException($"no OTLP export matched within {timeout}; {_exports.Count} arrived");
        }

        public ValueTask DisposeAsync() => _server.DisposeAsync();
    }
}
