using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Tenzro.Node.Tests.Diagnostics;

[Trait("Suite", "logging")]
public sealed class LogEventTests
{
    public static TheoryData<string> Assemblies => new() { "Tenzro.Node.Core", "tenzro-node", "Tenzro.Node.Runtimes" };

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void LoggerMessages_InOneAssembly_NeverRepeatAnEventId(string assemblyName)
    {
        var assembly = Assembly.Load(assemblyName);
        var ids = assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .GroupBy(x => x.Attribute!.EventId)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(x => x.Method.DeclaringType!.Name + "." + x.Method.Name))}")
            .ToList();

        Assert.Empty(ids);
    }
}
