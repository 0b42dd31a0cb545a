using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Diagnostics;

[Trait("Suite", "logging")]
public sealed class SecurityLogTests
{
    [Fact]
    public async Task QuotaRefusal_IsLoggedUnderTheSecurityCategory()
    {
        var logDirectory = TestNode.NewDirectory();
        var logPath = Path.Combine(logDirectory, "node.log");
        await using (var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["LOG_FILE_PATH"] = logPath,
            ["LOG_LEVEL"] = "information",
            ["QUOTA_LOOPBACK"] = "true",
            ["QUOTA_TASKS_PER_MINUTE"] = "1",
        }))
        {
            await node.Client.SubmitAsync("""{"type":"store","data":{"content":"a"}}""");
            var (status, _) = await node.Client.SubmitAsync("""{"type":"store","data":{"content":"b"}}""");
            Assert.Equal(HttpStatusCode.TooManyRequests, status);
        }

        var events = await ReadEventsAsync(logPath, e => e["SourceContext"]?.GetValue<string>() == "Tenzro.Security");

        Assert.Contains(events, e => e["@mt"]!.GetValue<string>().Contains("Refused a task", StringComparison.Ordinal) && e["Requester"]!.GetValue<string>() == "127.0.0.1");
        Directory.Delete(logDirectory, recursive: true);
    }

    private static async Task<List<JsonObject>> ReadEventsAsync(string path, Func<JsonObject, bool> match)
    {
        var deadline = DateTime.UtcNow + Timeouts.Short;
        while (true)
        {
            var events = new List<JsonObject>();
            if (File.Exists(path))
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (JsonNode.Parse(line) is JsonObject e && match(e))
                    {
                        events.Add(e);
                    }
                }
            }

            if (events.Count > 0 || DateTime.UtcNow > deadline)
            {
                return events;
            }

            await Task.Delay(100);
        }
    }
}
