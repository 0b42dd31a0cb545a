namespace Tenzro.Node.LoadTest;

/// <summary>
/// The bare Kestrel minimal API the health and compute scenarios compare against: <c>GET /health</c>
/// answers JSON of the same shape and size as the node's, <c>POST /echo</c> returns the request body.
/// </summary>
internal static class BaselineServer
{
    private const string HealthBody = """{"status":"healthy","checks":{"store":{"status":"healthy","detail":"/tmp/tenzro-load-000000/data/node.db is writable"},"tasks":{"status":"healthy","detail":"0 running, 0 queued"},"memory":{"status":"healthy","detail":"5.1% of memory in use (critical above 90%)"},"disk":{"status":"healthy","detail":"71.4% of DATA_DIR's filesystem in use, 73878 MB free (critical above 95%)"}}}""";

    public static async Task RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapGet("/health", () => Results.Text(HealthBody, "application/json"));
        app.MapPost("/echo", async (HttpContext context) =>
        {
            context.Response.ContentType = "application/json";
            await context.Request.Body.CopyToAsync(context.Response.Body);
        });
        await app.RunAsync();
    }
}
