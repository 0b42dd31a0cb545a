using System.Text.Json;

namespace Tenzro.Node.IntegrationTests.Lan;

/// <summary>
/// The services of <c>docker-compose.yml</c> as far as the tests need them: each service's <c>profiles</c>,
/// <c>command</c> and <c>environment</c>, with <c>&lt;&lt;: *anchor</c> merges between services applied. A minimal
/// reader of the block style that file uses (two-space indents, <c>KEY: value</c> maps, flow lists), not a YAML parser.
/// </summary>
public sealed class ComposeFile
{
    private readonly Dictionary<string, Service> _services;

    private ComposeFile(Dictionary<string, Service> services) => _services = services;

    public static string DefaultPath => Path.Combine(NodeProcess.RepositoryRoot(), "docker-compose.yml");

    public static ComposeFile Read(string path)
    {
        var services = new Dictionary<string, Service>();
        var anchors = new Dictionary<string, Service>();
        Service? service = null;
        string? section = null;
        var inServices = false;
        foreach (var raw in File.ReadAllLines(path))
        {
            if (raw.TrimStart().StartsWith('#') || raw.Trim().Length == 0)
            {
                continue;
            }

            var indent = raw.Length - raw.TrimStart().Length;
            var (key, value) = Split(raw.Trim());
            if (indent == 0)
            {
                inServices = key == "services";
                service = null;
            }
            else if (inServices && indent == 2)
            {
                service = new Service();
                services[key] = service;
                if (value.StartsWith('&'))
                {
                    anchors[value[1..]] = service;
                }
            }
            else if (service is not null && indent == 4)
            {
                section = key;
                if (key == "<<")
                {
                    service.Base = anchors.GetValueOrDefault(value.TrimStart('*'));
                }
                else if (value.Length > 0)
                {
                    service.Values[key] = value;
                }
            }
            else if (service is not null && indent == 6 && section == "environment")
            {
                service.Environment[key] = Unquote(value);
            }
        }

        return new ComposeFile(services);
    }

    /// <summary>The names of the services in <paramref name="profile"/>, in file order.</summary>
    public IReadOnlyList<string> ServicesIn(string profile) =>
        [.. _services.Where(s => ListValue(s.Value, "profiles")?.Contains(profile) == true).Select(s => s.Key)];

    /// <summary>The service's <c>command</c> (a flow list); empty when it has none.</summary>
    public IReadOnlyList<string> Command(string service) => ListValue(Get(service), "command") ?? [];

    /// <summary>The service's <c>environment</c>, merged ones included.</summary>
    public IReadOnlyDictionary<string, string> Environment(string service)
    {
        var merged = new Dictionary<string, string>();
        for (var s = Get(service); s is not null; s = s.Base)
        {
            foreach (var (key, value) in s.Environment)
            {
                merged.TryAdd(key, value);
            }
        }

        return merged;
    }

    private Service Get(string service) =>
        _services.GetValueOrDefault(service) ?? throw new InvalidOperationException($"docker-compose.yml has no service '{service}'");

    private static List<string>? ListValue(Service? service, string key)
    {
        for (var s = service; s is not null; s = s.Base)
        {
            if (s.Values.TryGetValue(key, out var value))
            {
                // A flow list: ["a", "b"] or [a, b].
                return [.. value.Trim('[', ']').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(Unquote)];
            }
        }

        return null;
    }

    private static (string Key, string Value) Split(string line)
    {
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? (line, string.Empty) : (line[..colon].Trim(), line[(colon + 1)..].Trim());
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? JsonSerializer.Deserialize<string>(value)! : value;

    private sealed class Service
    {
        public Service? Base { get; set; }

        public Dictionary<string, string> Values { get; } = [];

        public Dictionary<string, string> Environment { get; } = [];
    }
}
