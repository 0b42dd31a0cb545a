using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Benchmarks.Micro;

/// <summary>Canonical JSON and digest of a typical task result, against plain System.Text.Json serialization as the baseline.</summary>
[MemoryDiagnoser]
public class CanonicalJsonBenchmarks
{
    private JsonDocument _document = null!;

    [GlobalSetup]
    public void Setup() => _document = JsonDocument.Parse("""
        {"outputs":{"y":{"type":"float32","shape":[1,4],"data":[0.125,1.5,-3.25,1e-7]}},
         "returns":[5,333333333.33333329,"text with \"quotes\""],"exitCode":0,"stdout":"hello\n","meta":{"b":1,"a":[true,false,null]}}
        """);

    [GlobalCleanup]
    public void Cleanup() => _document.Dispose();

    [Benchmark(Baseline = true)]
    public string SystemTextJson() => JsonSerializer.Serialize(_document.RootElement);

    [Benchmark]
    public string Canonical() => CanonicalJson.ToCanonicalString(_document.RootElement);

    [Benchmark]
    public string Digest() => CanonicalJson.Digest(_document.RootElement);
}
