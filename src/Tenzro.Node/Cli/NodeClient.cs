using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using Tenzro.Node.Core.Configuration;

namespace Tenzro.Node.Cli;

/// <summary>
/// The HTTP client every subcommand talks to the node with. It proves who it is with, in order: the key in
/// <c>--api-key-file</c>, the key in <c>TENZRO_API_KEY</c>, or, when the node's URL is loopback, the admin
/// token the node wrote to <c>DATA_DIR/admin.token</c> (DATA_DIR read like the node reads it).
/// </summary>
internal static class NodeClient
{
    public const string KeyVariable = "TENZRO_API_KEY";

    /// <summary>The global <c>--api-key-file</c> option, valid on every subcommand.</summary>
    public static Option<FileInfo?> ApiKeyFileOption { get; } = new("--api-key-file")
    {
        Description = "A file holding the API key (tnz_<id>_<secret>) to call the node with; default: TENZRO_API_KEY, else on the node's machine DATA_DIR/admin.token.",
        Recursive = true,
    };

    /// <summary>Set from the parsed command line before any subcommand runs.</summary>
    public static FileInfo? ApiKeyFile { get; set; }

    /// <summary>A client for <paramref name="baseUrl"/> that sends the caller's key or token.</summary>
    /// <exception cref="IOException">The --api-key-file cannot be read.</exception>
    public static HttpClient Create(Uri baseUrl, TimeSpan timeout)
    {
        var http = new HttpClient { BaseAddress = baseUrl, Timeout = timeout };
        if (Bearer(baseUrl) is { } bearer)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return http;
    }

    private static string? Bearer(Uri baseUrl)
    {
        if (ApiKeyFile is { } file)
        {
            return File.ReadAllText(file.FullName).Trim();
        }

        if (Environment.GetEnvironmentVariable(KeyVariable) is { Length: > 0 } key)
        {
            return key.Trim();
        }

        if (!IsLoopback(baseUrl))
        {
            return null;
        }

        var configuration = NodeSettings.BuildConfiguration([], NodeSettings.ProcessEnvironment(), Path.Combine(Directory.GetCurrentDirectory(), ".env"));
        var dataDirectory = Path.GetFullPath(configuration["DATA_DIR"] ?? SettingCatalog.Get("DATA_DIR").Default, Directory.GetCurrentDirectory());
        try
        {
            return File.ReadAllText(Path.Combine(dataDirectory, "admin.token")).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not this node's machine, or not its user: the node then decides what a keyless caller may do.
            return null;
        }
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
