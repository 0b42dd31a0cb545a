using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Tenzro.Node.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Tenzro.Node.Benchmarks.Onnx.InferenceBenchmarks).Assembly).Run(args);
