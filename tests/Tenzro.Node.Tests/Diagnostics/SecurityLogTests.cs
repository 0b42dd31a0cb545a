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

    [Fact]
    public async Task FullRun_RefusalsAreSecurityEvents_AndNoKeyTokenOrSecretIsLogged()
    {
        const string admin = "tnz_logadm1_5e4d3c2b1a09f8e7d6c5b4a392817060";
        const string reader = "tnz_logrd1_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
        const string wrong = "tnz_logadm1_00000000000000000000000000000000";
        var logDirectory = TestNode.NewDirectory();
        var logPath = Path.Combine(logDirectory, "node.log");
        var secrets = new List<string> { admin, reader, wrong, admin.Split('_')[2], reader.Split('_')[2] };
        await using (var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["LOG_FILE_PATH"] = logPath,
            ["LOG_LEVEL"] = "debug",
            ["API_KEYS"] = $"reader:{reader}",
            ["API_KEY"] = admin,
        }))
        {
            secrets.Add(node.AdminToken);
            using var adminClient = node.ClientWith(admin);
            using var readerClient = node.ClientWith(reader);
            using var wrongClient = node.ClientWith(wrong);
            using var created = await adminClient.PostAsync("/api/keys", new StringContent("""{"role":"submitter"}""", System.Text.Encoding.UTF8, "application/json"), Timeouts.Token());
            var made = (await TaskApi.ReadAsync(created))!;
            secrets.Add(made["key"]!.GetValue<string>());
            using var rotated = await node.Admin.PostAsync($"/api/keys/{made["id"]}/rotate", null, Timeouts.Token());
            secrets.Add((await TaskApi.ReadAsync(rotated))!["key"]!.GetValue<string>());
            await readerClient.SubmitAsync("""{"type":"store","data":{"content":"x"}}""");
            using var unauthorized = await wrongClient.GetAsync("/status", Timeouts.Token());
            using var drained = await node.Admin.PostAsync("/api/node/drain", null, Timeouts.Token());
            await node.Client.GetAsync("/api/keys", Timeouts.Token());
            Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        }

        var events = await ReadEventsAsync(logPath, e => e["SourceContext"]?.GetValue<string>() == "Tenzro.Security");
        var log = await File.ReadAllTextAsync(logPath);

        Assert.Contains(events, e => e["Status"]?.GetValue<int>() == 401);
        Assert.Contains(events, e => e["Status"]?.GetValue<int>() == 403 && e["Caller"]!.GetValue<string>().Contains("key logrd1", StringComparison.Ordinal));
        Assert.All(secrets, secret => Assert.DoesNotContain(secret, log, StringComparison.Ordinal));
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
