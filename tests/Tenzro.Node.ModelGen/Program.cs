using Tenzro.Node.Runtimes.Onnx;
using Tenzro.Node.ModelGen;

// Writes the committed test models into the directory given as the first argument (default: tests/models).
var directory = args.Length > 0 ? args[0] : Path.Combine("tests", "models");
Directory.CreateDirectory(directory);
foreach (var (name, build) in TestModels.Committed)
{
    var bytes = build();
    var path = Path.Combine(directory, name);
    await File.WriteAllBytesAsync(path, bytes);
    Console.WriteLine($"{path}: {bytes.Length} bytes");
}
