using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Tenzro.Node.IntegrationTests;

/// <summary>The dashboard in a real headless Chromium (Debian's <c>chromium</c>, which .ci/run installs).</summary>
[Collection(ProcessCollection.Name)]
[Trait("Suite", "dashboard")]
public sealed class DashboardTests
{
    public const string ChromiumPath = "/usr/bin/chromium";

    [Fact]
    public async Task Dashboard_LoadsWithoutErrors_ShowsASubmittedTaskAndChartsData()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: install Debian's chromium package (apt-get install chromium), as .ci/run does.");
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["BANDWIDTH_MBPS"] = "250" });
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };
        page.PageError += (_, error) => errors.Add(error);

        var response = await page.GotoAsync(node.BaseAddress.ToString(), new PageGotoOptions { Timeout = 30_000 });
        var submitted = await node.Client.PostAsJsonAsync("/api/tasks/execute?wait=10s", new { type = "store", data = new { content = "dashboard" } });
        var taskId = (await submitted.Content.ReadFromJsonAsync<JsonObject>())!["taskId"]!.GetValue<string>();
        await page.WaitForSelectorAsync($"tr[data-task='{taskId}']", new PageWaitForSelectorOptions { Timeout = 30_000 });
        // A second store task is estimated from the first one's run: its row shows the estimate beside what it took.
        var again = await node.Client.PostAsJsonAsync("/api/tasks/execute?wait=10s", new { type = "store", data = new { content = "dashboard again" } });
        var againId = (await again.Content.ReadFromJsonAsync<JsonObject>())!["taskId"]!.GetValue<string>();
        await page.WaitForFunctionAsync($"() => (document.querySelector(\"tr[data-task='{againId}']\")?.textContent ?? '').includes(' / ')", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        var againRow = await page.TextContentAsync($"tr[data-task='{againId}']");
        await page.WaitForFunctionAsync("() => Number(document.getElementById('chart-usage').dataset.points) >= 2", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        var identity = await page.TextContentAsync("#identity");
        await page.WaitForFunctionAsync("() => document.getElementById('hardware').textContent.includes('bandwidth')", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        var hardware = await page.TextContentAsync("#hardware");
        var screenshot = Environment.GetEnvironmentVariable("TENZRO_DASHBOARD_SCREENSHOT");
        if (!string.IsNullOrEmpty(screenshot))
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        }

        Assert.True(response!.Ok);
        Assert.Matches(@"~[0-9.]+ m?s / [0-9.]+ m?s", againRow);
        Assert.Contains("individual", identity);
        Assert.Contains("250 Mbps (configured)", hardware);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Dashboard_TwoLinkedNodes_PeersPanelShowsThePeerWithLinkOpen()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: install Debian's chromium package (apt-get install chromium), as .ci/run does.");
        var ports = new[] { NodeProcess.FreePort(), NodeProcess.FreePort() };
        await using var a = await PeerLinkProcessTests.StartAsync(ports[0]);
        var aId = await PeerLinkProcessTests.IdOfAsync(a);
        await using var b = await PeerLinkProcessTests.StartAsync(ports[1], PeerLinkProcessTests.Entry(aId, ports[0]));
        await PeerLinkProcessTests.WaitLinkedAsync([a, b], [aId, await PeerLinkProcessTests.IdOfAsync(b)]);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);

        await page.GotoAsync(b.BaseAddress.ToString(), new PageGotoOptions { Timeout = 30_000 });
        var peer = page.Locator($"#peers li[title='{aId}']");
        await peer.Locator(".pill", new LocatorLocatorOptions { HasText = "open" }).WaitForAsync(new LocatorWaitForOptions { Timeout = 30_000 });
        var shown = await peer.TextContentAsync();
        var note = await page.TextContentAsync("#peers-note");

        Assert.StartsWith("open " + aId[..16], shown?.Trim());
        Assert.StartsWith("1 of ", note);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Dashboard_IsLight_AndUnknownPathsStayProblemJson()
    {
        await using var node = await NodeProcess.StartAsync();

        var total = 0L;
        foreach (var asset in new[] { "/", "/app.js", "/style.css" })
        {
            total += (await node.Client.GetByteArrayAsync(asset)).Length;
        }

        var unknown = await node.Client.GetAsync("/no/such/page");

        Assert.InRange(total, 1, 300 * 1024);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType!.MediaType);
    }

    internal static Task<IBrowser> LaunchAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = ChromiumPath,
        Headless = true,
        Args = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
}
