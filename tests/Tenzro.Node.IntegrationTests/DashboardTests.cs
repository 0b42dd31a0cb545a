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
        var submitted = await node.Client.PostAsJsonAsync("/api/tasks/execute", new { type = "store", data = new { content = "dashboard" } });
        var taskId = (await submitted.Content.ReadFromJsonAsync<JsonObject>())!["taskId"]!.GetValue<string>();
        await page.WaitForSelectorAsync($"tr[data-task='{taskId}']", new PageWaitForSelectorOptions { Timeout = 30_000 });
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

    /// <summary>
    /// Returns its range's start; a part whose range starts above 0 spins until it is cancelled, so that a split job
    /// over [0, 2) stays running with part 0 done and part 1 running, whatever the machine's speed.
    /// </summary>
    private const string HalfDoneWat = """
        (module (func (export "first") (param $start i64) (param $end i64) (result i64)
          (if (i64.gt_s (local.get $start) (i64.const 0)) (then (loop $spin (br $spin))))
          (local.get $start)))
        """;

    [Fact]
    public async Task Dashboard_GroupOfThree_ShowsASplitJobsParts()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: install Debian's chromium package (apt-get install chromium), as .ci/run does.");
        var ports = Enumerable.Range(0, 3).Select(_ => NodeProcess.FreePort()).ToArray();
        var nodes = new List<NodeProcess>();
        try
        {
            var entries = new List<string>();
            foreach (var port in ports)
            {
                var node = await AggregationProcessTests.StartAsync(port, "aggregator", entries.Count > 0 ? string.Join(',', entries) : null);
                nodes.Add(node);
                entries.Add(PeerLinkProcessTests.Entry(await PeerLinkProcessTests.IdOfAsync(node), port));
            }

            var leaderId = (await AggregationProcessTests.WaitForGroupAsync(nodes, null, TimeSpan.FromSeconds(60)))["leaderId"]!.GetValue<string>();
            var shortIds = new List<string>();
            NodeProcess? home = null;
            foreach (var node in nodes)
            {
                var id = await PeerLinkProcessTests.IdOfAsync(node);
                shortIds.Add(id[..16]);
                home = id == leaderId ? home : node;
            }

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await LaunchAsync(playwright);
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
            var errors = new List<string>();
            page.PageError += (_, error) => errors.Add(error);
            await page.GotoAsync(home!.BaseAddress.ToString(), new PageGotoOptions { Timeout = 30_000 });
            var submitted = await home.Client.PostAsJsonAsync("/api/tasks/execute", new
            {
                type = "compute",
                timeout = 300,
                data = new { wat = HalfDoneWat, entry = "first" },
                config = new { fuel = 1_000_000_000_000_000L, split = new { parts = 2, range = new[] { 0, 2 }, combine = "sum" } },
            });
            var taskId = (await submitted.Content.ReadFromJsonAsync<JsonObject>())!["taskId"]!.GetValue<string>();

            var job = page.Locator($"#jobs .job[data-job='{taskId}']");
            var done = job.Locator($"tr[data-part='{taskId}.0']");
            var running = job.Locator($"tr[data-part='{taskId}.1']");
            await done.Locator(".state", new LocatorLocatorOptions { HasText = "completed" }).WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
            await running.Locator(".state", new LocatorLocatorOptions { HasText = "running" }).WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
            var doneCells = await done.Locator("td").AllTextContentsAsync();
            var runningCells = await running.Locator("td").AllTextContentsAsync();
            var heading = await job.Locator("p").TextContentAsync();
            await home.Client.DeleteAsync($"/api/tasks/{taskId}");

            // part, member (short id), state, attempts, duration
            Assert.Equal(".0", doneCells[0]);
            Assert.Contains(doneCells[1], shortIds);
            Assert.Equal("1", doneCells[3]);
            Assert.Matches(@"^\d+\.\d s$", doneCells[4]);
            Assert.Equal(".1", runningCells[0]);
            Assert.Contains(runningCells[1], shortIds);
            Assert.Equal("", runningCells[4]);
            Assert.Contains("1 of 2 parts done", heading);
            Assert.Empty(errors);
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
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

    private static Task<IBrowser> LaunchAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = ChromiumPath,
        Headless = true,
        Args = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
}
