namespace Tenzro.Node.LoadTest;

/// <summary>
/// The bare Kestrel minimal API the health, get and compute scenarios compare against: <c>GET /health</c> and
/// <c>GET /task/{id}</c> answer JSON of the same shape and size as the node's (its health, a finished store task's
/// status), <c>POST /echo</c> returns the request body, and <c>POST /accept</c> parses the body as JSON and answers 202
/// with a submission's answer (the node's submit without validation, hashing, queueing or durability).
/// </summary>
internal static class BaselineServer
{
    private const string HealthBody = """{"status":"healthy","checks":{"store":{"status":"healthy","detail":"/tmp/tenzro-load-000000/data/node.db is writable"},"tasks":{"status":"healthy","detail":"0 running, 0 queued"},"memory":{"status":"healthy","detail":"5.1% of memory in use (critical above 90%)"},"disk":{"status":"healthy","detail":"71.4% of DATA_DIR's filesystem in use, 73878 MB free (critical above 95%)"}}}""";

    private const string TaskBody = """{"taskId":"t-6ea6c0df86803de64070f854","type":"store","priority":"low","state":"completed","progress":1,"attempts":1,"origin":"api","owner":"anonymous-loopback","submittedAt":"2026-12-05T23:03:25.8818365Z","startedAt":"2026-12-05T23:03:25.8844829Z","finishedAt":"2026-12-05T23:03:25.9259000Z","timeout":1800,"requirements":{"cpu":1,"memoryMB":256,"storageMB":0,"gpuCount":0,"gpuMemoryMB":0},"reservation":null,"waitingFor":null,"estimate":null,"paused":false,"pauseReason":null,"error":null,"errorKind":null}""";

    public static async Task RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapGet("/health", () => Results.Text(HealthBody, "application/json"));
        app.MapGet("/task/{id}", (string id) => Results.Text(TaskBody, "application/json"));
        app.MapPost("/accept", async (HttpContext context) =>
        {
            using var body = await System.Text.Json.JsonDocument.ParseAsync(context.Request.Body);
            var type = body.RootElement.GetProperty("type").GetString();
            context.Response.StatusCode = StatusCodes.Status202Accepted;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync($$"""{"taskId":"{{Guid.NewGuid():N}}","type":"{{type}}","state":"queued"}""");
        });
        app.MapPost("/echo", async (HttpContext context) =>
        {
            context.Response.ContentType = "application/json";
            await context.Request.Body.CopyToAsync(context.Response.Body);
        });
        await app.RunAsync();
    }
}
