using Tenzro.Node.LoadTest;

// Load generator for the node. Usage:
//   dotnet run -c Release --project bench/Tenzro.Node.LoadTest -- <scenario> [--duration S] [--clients N] [--runs R] [--url URL] [--node PATH]
// Scenarios: health, submit, compute, inference, mixed, startup. Each prints the node's figure beside a
// baseline measured in the same run, and the ratio. "baseline-server" and "noop" are helper modes that
// the scenarios start as child processes.
return await LoadTestApp.RunAsync(args);
