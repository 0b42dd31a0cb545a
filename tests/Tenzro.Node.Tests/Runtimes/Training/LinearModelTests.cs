using System.Text.Json.Nodes;
using static Tenzro.Node.Tests.Runtimes.Training.TrainTasks;

namespace Tenzro.Node.Tests.Runtimes.Training;

[Trait("Suite", "train")]
public sealed class LinearModelTests
{
    [Fact]
    public async Task Train_LinearOnAPlane_RecoversItsCoefficients()
    {
        var (features, labels) = Plane(200);

        var result = await RunAsync(Task("linear", features, labels, new JsonObject { ["epochs"] = 40, ["learningRate"] = 0.05 }));

        var weights = Numbers(result["parameters"]!["weights"]);
        var bias = Numbers(result["parameters"]!["bias"]);
        Assert.Equal(2, weights[0], 1e-3);
        Assert.Equal(-3, weights[1], 1e-3);
        Assert.Single(bias);
        Assert.Equal(1, bias[0], 1e-3);
        Assert.Equal(200, result["sampleCount"]!.GetValue<int>());
        var history = Numbers(result["lossHistory"]);
        Assert.Equal(40, history.Length);
        Assert.Equal(history[^1], result["finalLoss"]!.GetValue<double>());
        Assert.True(history[^1] < 1e-6, $"final loss {history[^1]}");
        Assert.Equal(Math.Sqrt(history[^1]), result["metrics"]!["rmse"]!.GetValue<double>(), 1e-12);
    }

    [Fact]
    public async Task Train_LinearFromInitialParameters_StartsThere()
    {
        var (features, labels) = Plane(60);
        var exact = new JsonObject { ["weights"] = new JsonArray(2.0, -3.0), ["bias"] = new JsonArray(1.0) };

        var result = await RunAsync(Task("linear", features, labels, new JsonObject { ["epochs"] = 1 }, initialParameters: exact));

        // Starting at the exact solution, every update is zero up to float32 rounding: the parameters stay.
        var weights = Numbers(result["parameters"]!["weights"]);
        Assert.Equal(2, weights[0], 1e-5);
        Assert.Equal(-3, weights[1], 1e-5);
        Assert.Equal(1, Numbers(result["parameters"]!["bias"])[0], 1e-5);
        Assert.True(result["finalLoss"]!.GetValue<double>() < 1e-9);
    }

    [Fact]
    public async Task Train_LogisticOnSeparableData_ClassifiesEveryRowAndLossDecreases()
    {
        var (features, labels) = Separable();

        var result = await RunAsync(Task("logistic", features, labels, new JsonObject { ["epochs"] = 30, ["learningRate"] = 0.5, ["seed"] = 3 }));

        Assert.Equal("logistic", result["model"]!.GetValue<string>());
        Assert.Equal(1.0, result["metrics"]!["accuracy"]!.GetValue<double>());
        var history = Numbers(result["lossHistory"]);
        Assert.Equal(30, history.Length);
        Assert.True(history[^1] < history[0] / 2, $"loss went from {history[0]} to {history[^1]}");
        Assert.True(history[^1] < 0.1, $"final log loss {history[^1]}");
        Assert.Equal(2, Numbers(result["parameters"]!["weights"]).Length);
    }

    [Fact]
    public async Task Train_LogisticFromInitialParameters_ContinuesFromThem()
    {
        var (features, labels) = Separable();
        var first = await RunAsync(Task("logistic", features, labels, new JsonObject { ["epochs"] = 5, ["learningRate"] = 0.5 }));

        var second = await RunAsync(Task("logistic", features, labels, new JsonObject { ["epochs"] = 5, ["learningRate"] = 0.5, ["seed"] = 1 }, initialParameters: first["parameters"]!.DeepClone().AsObject()));

        Assert.True(second["lossHistory"]![0]!.GetValue<double>() < first["lossHistory"]![0]!.GetValue<double>());
        Assert.True(second["finalLoss"]!.GetValue<double>() <= first["finalLoss"]!.GetValue<double>());
    }
}
