using System.Text.Json.Nodes;
using Tenzro.Node.Runtimes.Training;
using static Tenzro.Node.Tests.Runtimes.Training.TrainTasks;

namespace Tenzro.Node.Tests.Runtimes.Training;

[Trait("Suite", "train")]
public sealed class MlpTests
{
    private static readonly double[][] XorFeatures = [[0, 0], [0, 1], [1, 0], [1, 1]];
    private static readonly double[] XorLabels = [0, 1, 1, 0];

    [Fact]
    public async Task Train_MlpClassificationOnXor_LearnsIt()
    {
        var result = await RunAsync(Task("mlp", XorFeatures, XorLabels, new JsonObject { ["epochs"] = 1500, ["learningRate"] = 0.5, ["hiddenUnits"] = new JsonArray(16), ["seed"] = 7 }, task: "classification"));

        Assert.Equal("mlp", result["model"]!.GetValue<string>());
        Assert.Equal("classification", result["task"]!.GetValue<string>());
        Assert.Equal(1.0, result["metrics"]!["accuracy"]!.GetValue<double>());
        Assert.True(result["finalLoss"]!.GetValue<double>() < 0.05, $"final loss {result["finalLoss"]}");
        var parameters = result["parameters"]!;
        Assert.Equal(32, Numbers(parameters["w0"]).Length);
        Assert.Equal(16, Numbers(parameters["b0"]).Length);
        Assert.Equal(16, Numbers(parameters["w1"]).Length);
        Assert.Single(Numbers(parameters["b1"]));
        Assert.Equal([2.0, 16.0], Numbers(parameters["shapes"]!["w0"]));
        Assert.Equal([16.0, 1.0], Numbers(parameters["shapes"]!["w1"]));
        Assert.Equal(2, result["hyperparameters"]!["classes"]!.GetValue<int>());
    }

    [Fact]
    public async Task Train_MlpRegression_FitsAQuadratic()
    {
        var features = Enumerable.Range(0, 41).Select(i => new[] { -1 + (i * 0.05) }).ToArray();
        var labels = features.Select(x => x[0] * x[0]).ToArray();

        var result = await RunAsync(Task("mlp", features, labels, new JsonObject { ["epochs"] = 400, ["learningRate"] = 0.05, ["hiddenUnits"] = new JsonArray(32), ["batchSize"] = 8, ["seed"] = 2 }));

        Assert.Equal("regression", result["task"]!.GetValue<string>());
        var history = Numbers(result["lossHistory"]);
        Assert.True(history[^1] < history[0] / 10, $"loss went from {history[0]} to {history[^1]}");
        Assert.True(result["metrics"]!["rmse"]!.GetValue<double>() < 0.05, $"rmse {result["metrics"]}");
    }

    [Fact]
    public async Task Train_MlpWithThreeClasses_UsesSoftmaxAndSeparatesThem()
    {
        double[][] features = [[0, 0], [0.1, 0.2], [2, 2], [2.1, 1.9], [-2, 2], [-1.9, 2.2]];
        double[] labels = [0, 0, 1, 1, 2, 2];

        var result = await RunAsync(Task("mlp", features, labels, new JsonObject { ["epochs"] = 300, ["learningRate"] = 0.1, ["hiddenUnits"] = new JsonArray(8) }, task: "classification"));

        Assert.Equal(1.0, result["metrics"]!["accuracy"]!.GetValue<double>());
        Assert.Equal([8.0, 3.0], Numbers(result["parameters"]!["shapes"]!["w1"]));
        Assert.Equal(3, result["hyperparameters"]!["classes"]!.GetValue<int>());
    }

    [Fact]
    public async Task Train_MlpWithoutHiddenLayers_IsSoftmaxRegression()
    {
        double[][] features = [[0, 0], [0.1, 0.2], [2, 2], [2.1, 1.9], [-2, 2], [-1.9, 2.2]];
        double[] labels = [0, 0, 1, 1, 2, 2];

        var result = await RunAsync(Task("mlp", features, labels, new JsonObject { ["epochs"] = 200, ["hiddenUnits"] = new JsonArray() }, task: "classification"));

        Assert.Equal(1.0, result["metrics"]!["accuracy"]!.GetValue<double>());
        Assert.Equal([2.0, 3.0], Numbers(result["parameters"]!["shapes"]!["w0"]));
        Assert.Null(result["parameters"]!["w1"]);
    }

    [Theory]
    [InlineData("Identity", 1)]
    [InlineData("Sigmoid", 1)]
    [InlineData("Softmax", 4)]
    public void Objective_Gradient_MatchesCentralDifferences(string outputName, int outputs)
    {
        var output = Enum.Parse<MlpOutput>(outputName);
        var random = new DeterministicRandom(11);
        var architecture = new MlpArchitecture([3, 5, 4, outputs], output);
        var network = MlpNetwork.Initialize(architecture, random);
        foreach (var bias in network.Biases)
        {
            for (var i = 0; i < bias.Length; i++)
            {
                bias[i] = random.NextDouble() - 0.3;
            }
        }

        const int Rows = 6;
        var features = Enumerable.Range(0, Rows * 3).Select(_ => (random.NextDouble() * 4) - 2).ToArray();
        var labels = Enumerable.Range(0, Rows).Select(i => output switch
        {
            MlpOutput.Identity => random.NextDouble() * 3,
            MlpOutput.Sigmoid => i % 2,
            _ => i % outputs,
        }).Select(l => (double)l).ToArray();
        var data = new TrainingData(features, labels, 3);
        int[] rows = [0, 1, 2, 3, 4, 5];
        const double L2 = 0.1;
        var workspace = new MlpWorkspace(architecture, Rows);
        var gradient = network.ZerosLike();
        network.Objective(data, rows, L2, gradient, workspace);

        const double Step = 1e-6;
        var checkedCount = 0;
        var groups = network.Weights.Zip(gradient.Weights).Concat(network.Biases.Zip(gradient.Biases));
        foreach (var (parameters, analytic) in groups)
        {
            for (var i = 0; i < parameters.Length; i++)
            {
                var saved = parameters[i];
                parameters[i] = saved + Step;
                var plus = network.Objective(data, rows, L2, null, workspace);
                parameters[i] = saved - Step;
                var minus = network.Objective(data, rows, L2, null, workspace);
                parameters[i] = saved;
                var numeric = (plus - minus) / (2 * Step);
                Assert.True(
                    Math.Abs(numeric - analytic[i]) <= 1e-6 * Math.Max(1, Math.Abs(numeric) + Math.Abs(analytic[i])),
                    $"parameter {i}: analytic {analytic[i]}, numeric {numeric}");
                checkedCount++;
            }
        }

        Assert.Equal(architecture.ParameterCount, checkedCount);
        Assert.Contains(gradient.Weights, w => w.Any(g => Math.Abs(g) > 1e-3));
    }

    [Fact]
    public void Initialize_SameSeed_GivesTheSameXavierWeightsWithinTheirLimit()
    {
        var architecture = new MlpArchitecture([10, 20, 1], MlpOutput.Identity);

        var first = MlpNetwork.Initialize(architecture, new DeterministicRandom(5));
        var second = MlpNetwork.Initialize(architecture, new DeterministicRandom(5));
        var other = MlpNetwork.Initialize(architecture, new DeterministicRandom(6));

        Assert.Equal(first.Weights[0], second.Weights[0]);
        Assert.NotEqual(first.Weights[0], other.Weights[0]);
        var limit = Math.Sqrt(6.0 / 30);
        Assert.All(first.Weights[0], w => Assert.InRange(w, -limit, limit));
        Assert.All(first.Biases[0], b => Assert.Equal(0, b));
    }
}
