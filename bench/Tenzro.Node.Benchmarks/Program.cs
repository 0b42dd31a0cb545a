using BenchmarkDotNet.Running;

namespace Tenzro.Node.Benchmarks;

/// <summary>
/// Micro benchmarks (BenchmarkDotNet). Run all with
/// <c>dotnet run -c Release --project bench/Tenzro.Node.Benchmarks -- --filter '*'</c>.
/// </summary>
internal static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
