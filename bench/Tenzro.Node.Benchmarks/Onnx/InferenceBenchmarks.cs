using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.ModelGen;
using Tenzro.Node.Runtimes.Onnx;

namespace Tenzro.Node.Benchmarks.Onnx;

/// <summary>
/// The per-task cost of an inference on tests/models/mlp.onnx once its session is cached: reading the
/// JSON input tensor, the ONNX Runtime call, and writing the JSON output, for one row and for 64.
/// </summary>
[MemoryDiagnoser]
public class InferenceBenchmarks : IDisposable
{
    private InferenceSession _session = null!;
    private SessionOptions _options = null!;
    private JsonObject _input = null!;
    private ModelTensorInfo _declared = null!;

    [Params(1, 64)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        _options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        _session = new InferenceSession(TestModels.Mlp(), _options);
        _declared = ModelInspector.Describe(_session.InputNames, _session.InputMetadata)[0];
        var values = Enumerable.Range(0, Rows * TestModels.MlpInputs).Select(i => (JsonNode)((i % 7) - 3.5));
        _input = new JsonObject
        {
            ["type"] = "float32",
            ["shape"] = new JsonArray(Rows, TestModels.MlpInputs),
            ["data"] = new JsonArray([.. values]),
        };
    }

    [Benchmark]
    public JsonObject ParseRunWrite()
    {
        var tensor = TensorJson.Parse(_input, "data.inputs.x", _declared, new ValidationErrors())!;
        using var value = tensor.ToOrtValue();
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, ["x"], [value], _session.OutputNames);
        return TensorJson.ToJson(TensorValue.FromOrtValue("y", outputs[0]));
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _session?.Dispose();
        _options?.Dispose();
        GC.SuppressFinalize(this);
    }
}
