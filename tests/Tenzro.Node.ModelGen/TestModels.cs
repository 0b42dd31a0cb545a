using Tenzro.Node.Runtimes.Onnx;
namespace Tenzro.Node.ModelGen;

/// <summary>
/// The small models the tests and benchmarks use. Weights come from exact formulas, so a test can
/// recompute every output in plain C# and a regenerated file is identical to the committed one.
/// </summary>
internal static class TestModels
{
    /// <summary>W of <c>linear.onnx</c>, row-major [4,2].</summary>
    public static readonly float[] LinearWeights = [0.5f, -1f, 0.25f, 2f, -0.75f, 0.125f, 1.5f, -0.5f];

    /// <summary>b of <c>linear.onnx</c>, [2].</summary>
    public static readonly float[] LinearBias = [0.1f, -0.2f];

    public const int MlpInputs = 4;
    public const int MlpHidden = 16;
    public const int MlpOutputs = 3;

    /// <summary>
    /// <c>linear.onnx</c>: y = x·W + b (MatMul then Add), x float32 [batch,4], y float32 [batch,2].
    /// <paramref name="fixedBatch"/> declares a fixed first dimension instead of a dynamic one.
    /// </summary>
    public static byte[] Linear(long? fixedBatch = null)
    {
        var batch = fixedBatch is { } n ? OnnxDim.Fixed(n) : OnnxDim.Named("batch");
        return OnnxModelWriter.Write(new OnnxGraph(
            "linear",
            [
                new OnnxNode("MatMul", ["x", "W"], ["xw"], "matmul"),
                new OnnxNode("Add", ["xw", "b"], ["y"], "add"),
            ],
            [
                OnnxInitializer.Floats("W", [4, 2], LinearWeights),
                OnnxInitializer.Floats("b", [2], LinearBias),
            ],
            [new OnnxValueInfo("x", OnnxDataType.Float, [batch, OnnxDim.Fixed(4)])],
            [new OnnxValueInfo("y", OnnxDataType.Float, [batch, OnnxDim.Fixed(2)])]));
    }

    /// <summary><c>mlp.onnx</c>: 4 → 16 (Relu) → 3, x float32 [batch,4], y float32 [batch,3].</summary>
    public static byte[] Mlp()
    {
        var (w1, b1, w2, b2) = MlpWeights();
        var batch = OnnxDim.Named("batch");
        return OnnxModelWriter.Write(new OnnxGraph(
            "mlp",
            [
                new OnnxNode("MatMul", ["x", "W1"], ["h0"], "matmul1"),
                new OnnxNode("Add", ["h0", "b1"], ["h1"], "add1"),
                new OnnxNode("Relu", ["h1"], ["h"], "relu"),
                new OnnxNode("MatMul", ["h", "W2"], ["y0"], "matmul2"),
                new OnnxNode("Add", ["y0", "b2"], ["y"], "add2"),
            ],
            [
                OnnxInitializer.Floats("W1", [MlpInputs, MlpHidden], w1),
                OnnxInitializer.Floats("b1", [MlpHidden], b1),
                OnnxInitializer.Floats("W2", [MlpHidden, MlpOutputs], w2),
                OnnxInitializer.Floats("b2", [MlpOutputs], b2),
            ],
            [new OnnxValueInfo("x", OnnxDataType.Float, [batch, OnnxDim.Fixed(MlpInputs)])],
            [new OnnxValueInfo("y", OnnxDataType.Float, [batch, OnnxDim.Fixed(MlpOutputs)])]));
    }

    /// <summary>The MLP's weights, row-major: W1 [4,16], b1 [16], W2 [16,3], b2 [3].</summary>
    public static (float[] W1, float[] B1, float[] W2, float[] B2) MlpWeights()
    {
        var w1 = new float[MlpInputs * MlpHidden];
        for (var i = 0; i < MlpInputs; i++)
        {
            for (var j = 0; j < MlpHidden; j++)
            {
                w1[(i * MlpHidden) + j] = ((((i * 7) + (j * 13)) % 17) - 8) / 16f;
            }
        }

        var b1 = new float[MlpHidden];
        for (var j = 0; j < MlpHidden; j++)
        {
            b1[j] = (((j * 5) % 7) - 3) / 8f;
        }

        var w2 = new float[MlpHidden * MlpOutputs];
        for (var j = 0; j < MlpHidden; j++)
        {
            for (var k = 0; k < MlpOutputs; k++)
            {
                w2[(j * MlpOutputs) + k] = ((((j * 11) + (k * 3)) % 13) - 6) / 8f;
            }
        }

        float[] b2 = [0.25f, -0.5f, 0.125f];
        return (w1, b1, w2, b2);
    }

    /// <summary>A model whose output "y" is its input "x" (Identity), for one element type and shape.</summary>
    public static byte[] Identity(OnnxDataType type, IReadOnlyList<OnnxDim> shape) =>
        OnnxModelWriter.Write(new OnnxGraph(
            "identity",
            [new OnnxNode("Identity", ["x"], ["y"], "identity")],
            [],
            [new OnnxValueInfo("x", type, shape)],
            [new OnnxValueInfo("y", type, shape)]));

    /// <summary>A model with two float32 [batch,2] inputs "a" and "b" and their sum "sum".</summary>
    public static byte[] TwoInputs()
    {
        IReadOnlyList<OnnxDim> shape = [OnnxDim.Named("batch"), OnnxDim.Fixed(2)];
        return OnnxModelWriter.Write(new OnnxGraph(
            "two_inputs",
            [new OnnxNode("Add", ["a", "b"], ["sum"], "add")],
            [],
            [new OnnxValueInfo("a", OnnxDataType.Float, shape), new OnnxValueInfo("b", OnnxDataType.Float, shape)],
            [new OnnxValueInfo("sum", OnnxDataType.Float, shape)]));
    }

    /// <summary>
    /// y = x + W where W (float32 [1]) keeps its data in the external file <paramref name="location"/>, relative to
    /// the model's directory: a model this node must refuse at upload.
    /// </summary>
    public static byte[] ExternalData(string location = "etc/hostname") => OnnxModelWriter.Write(new OnnxGraph(
        "external",
        [new OnnxNode("Add", ["x", "W"], ["y"], "add")],
        [OnnxInitializer.Floats("W", [1], [0f]) with { ExternalLocation = location }],
        [new OnnxValueInfo("x", OnnxDataType.Float, [OnnxDim.Fixed(1)])],
        [new OnnxValueInfo("y", OnnxDataType.Float, [OnnxDim.Fixed(1)])]));

    /// <summary>
    /// The review's memory bomb: c = ConstantOfShape(n) (float32 zeros of shape n, an int64 [1] input), y = ReduceSum(c).
    /// A few bytes of model that allocate 4·n bytes when run.
    /// </summary>
    public static byte[] MemoryBomb() => OnnxModelWriter.Write(new OnnxGraph(
        "bomb",
        [new OnnxNode("ConstantOfShape", ["n"], ["c"], "fill"), new OnnxNode("ReduceSum", ["c"], ["y"], "sum")],
        [],
        [new OnnxValueInfo("n", OnnxDataType.Int64, [OnnxDim.Fixed(1)])],
        [new OnnxValueInfo("y", OnnxDataType.Float, [OnnxDim.Fixed(1)])]));

    /// <summary>The committed models, by file name.</summary>
    public static IReadOnlyDictionary<string, Func<byte[]>> Committed { get; } = new Dictionary<string, Func<byte[]>>(StringComparer.Ordinal)
    {
        ["linear.onnx"] = () => Linear(),
        ["mlp.onnx"] = Mlp,
    };
}
