using System.Net;
using System.Text.Json.Nodes;
using Tenzro.Node.Tests.Support;
using static Tenzro.Node.Tests.Runtimes.Training.TrainTasks;

namespace Tenzro.Node.Tests.Runtimes.Training;

[Trait("Suite", "train")]
public sealed class TrainApiTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Theory]
    [InlineData("linear")]
    [InlineData("logistic")]
    [InlineData("mlp")]
    public async Task Train_SameTaskTwice_GivesTheSameDigest(string model)
    {
        var (features, labels) = model == "linear" ? Plane(50) : Separable();
        var hyperparameters = new JsonObject { ["epochs"] = 20, ["seed"] = 42, ["hiddenUnits"] = new JsonArray(8), ["batchSize"] = 16 };
        var task = Task(model, features, labels, hyperparameters, task: model == "mlp" ? "classification" : null);

        var first = await RunToEndAsync(task);
        var second = await RunToEndAsync(task);

        Assert.Equal("completed", first["state"]!.GetValue<string>());
        Assert.Equal("completed", second["state"]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{64}$", first["digest"]!.GetValue<string>());
        Assert.Equal(first["digest"]!.GetValue<string>(), second["digest"]!.GetValue<string>());
        Assert.Equal(first["result"]!.ToJsonString(), second["result"]!.ToJsonString());
    }

    [Fact]
    public async Task Validate_CompletedTrainTask_ReexecutesToTheSameDigest()
    {
        var (features, labels) = Separable();
        var trained = await SubmitAsync(Task("mlp", features, labels, new JsonObject { ["epochs"] = 10, ["hiddenUnits"] = new JsonArray(8) }, task: "classification"));
        await ResultAsync(trained);

        var validation = await RunToEndAsync(new JsonObject { ["type"] = "validate", ["data"] = new JsonObject { ["taskId"] = trained } });

        Assert.Equal("completed", validation["state"]!.GetValue<string>());
        Assert.True(validation["result"]!["match"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Train_OtherSeed_GivesOtherParameters()
    {
        var (features, labels) = Separable();
        var hyperparameters = new JsonObject { ["epochs"] = 5, ["hiddenUnits"] = new JsonArray(8), ["batchSize"] = 16 };

        var first = await RunToEndAsync(Task("mlp", features, labels, hyperparameters.DeepClone().AsObject(), task: "classification"));
        hyperparameters["seed"] = 1;
        var second = await RunToEndAsync(Task("mlp", features, labels, hyperparameters, task: "classification"));

        Assert.NotEqual(first["digest"]!.GetValue<string>(), second["digest"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"model":"linear","features":[[1,2],[3,4],[5,6],[7]],"labels":[1,2,3,4]}""", "data.features[3]", "has 1 values, expected 2")]
    [InlineData("""{"model":"linear","features":[[1,2],[3,4]],"labels":[1]}""", "data.labels", "has 1 values for 2 rows of data.features")]
    [InlineData("""{"model":"logistic","features":[[1],[2],[3]],"labels":[0,1,2]}""", "data.labels[2]", "logistic regression needs labels 0 or 1")]
    [InlineData("""{"model":"svm","features":[[1]],"labels":[1]}""", "data.model", "'svm' is not a model")]
    [InlineData("""{"model":"linear","features":[[1]],"labels":[1],"hyperparameters":{"epochs":20000}}""", "data.hyperparameters.epochs", "from 1 to 10,000")]
    [InlineData("""{"model":"linear","features":[[1]],"labels":[1],"hyperparameters":{"learningRate":0}}""", "data.hyperparameters.learningRate", "must be above 0")]
    [InlineData("""{"model":"linear","features":[[1]],"labels":[1],"hyperparameters":{"l2":0.5}}""", "data.hyperparameters.l2", "below 0.5")]
    [InlineData("""{"model":"mlp","features":[[1]],"labels":[1],"hyperparameters":{"hiddenUnits":[2000]}}""", "data.hyperparameters.hiddenUnits[0]", "1 to 1024 units")]
    [InlineData("""{"model":"mlp","task":"classification","features":[[1],[2]],"labels":[0,1.5]}""", "data.labels[1]", "class numbers")]
    [InlineData("""{"model":"mlp","task":"classification","features":[[1],[2]],"labels":[0,3],"hyperparameters":{"classes":3}}""", "data.labels[1]", "the classes are 0 to 2")]
    [InlineData("""{"model":"mlp","task":"ranking","features":[[1]],"labels":[1]}""", "data.task", "regression or classification")]
    [InlineData("""{"model":"linear","features":[[1,2]],"labels":[1],"initialParameters":{"weights":[1],"bias":[0]}}""", "data.initialParameters.weights", "has 1 values, expected 2")]
    [InlineData("""{"model":"mlp","features":[[1,2]],"labels":[1],"initialParameters":{"w0":[1,2],"b0":[0],"w1":[1],"b1":[0]}}""", "data.initialParameters.w0", "expected 32")]
    [InlineData("""{"model":"linear","dataBlob":"0000000000000000000000000000000000000000000000000000000000000000"}""", "data.dataBlob", "no blob")]
    [InlineData("""{"model":"linear","features":[[1]],"labels":[1],"dataBlob":"0000000000000000000000000000000000000000000000000000000000000000"}""", "data.dataBlob", "not both")]
    [InlineData("""{"model":"linear","labels":[1]}""", "data.features", "is required")]
    public async Task Submit_InvalidTrainTask_Answers422NamingTheField(string data, string field, string message)
    {
        var (status, body) = await _node.Client.SubmitAsync($$"""{"type":"train","data":{{data}}}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var errors = body!["errors"]![field]!.AsArray().Select(e => e!.GetValue<string>()).ToList();
        Assert.Contains(errors, e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Submit_SeveralBadFields_AnswersEveryErrorAtOnce()
    {
        var (status, body) = await _node.Client.SubmitAsync("""
            {"type":"train","data":{"model":"linear","features":[[1,2],[3]],"labels":[1,2],
             "hyperparameters":{"epochs":0,"learningRate":-1,"l2":0.7}}}
            """);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var fields = body!["errors"]!.AsObject().Select(e => e.Key).Order(StringComparer.Ordinal);
        Assert.Equal(["data.features[1]", "data.hyperparameters.epochs", "data.hyperparameters.l2", "data.hyperparameters.learningRate"], fields);
    }

    [Theory]
    [InlineData("""{"model":"linear","features":"1,2","labels":[1]}""", "data.features")]
    [InlineData("""{"model":"linear","features":[[1,"two"]],"labels":[1]}""", "data.features[0][1]")]
    [InlineData("""{"model":3,"features":[[1]],"labels":[1]}""", "data.model")]
    public async Task Submit_WrongJsonType_Answers400NamingTheField(string data, string field)
    {
        var (status, body) = await _node.Client.SubmitAsync($$"""{"type":"train","data":{{data}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body!["errors"]![field]);
    }

    [Theory]
    [InlineData("linear", null)]
    [InlineData("mlp", "regression")]
    public async Task FederatedRound_TwoHalvesThenFederatedAverage_EqualsTheSampleWeightedMean(string model, string? task)
    {
        var (features, labels) = Plane(40);
        var hyperparameters = new JsonObject { ["epochs"] = 5, ["learningRate"] = 0.05, ["seed"] = 9, ["hiddenUnits"] = new JsonArray(4) };
        var start = (await RunToEndAsync(Task(model, features, labels, new JsonObject { ["epochs"] = 1, ["hiddenUnits"] = new JsonArray(4) }, task)))["result"]!["parameters"]!;

        // Unequal halves, so that weighting by sample count matters.
        var first = await SubmitAsync(Task(model, features[..15], labels[..15], hyperparameters.DeepClone().AsObject(), task, start.DeepClone().AsObject()));
        var second = await SubmitAsync(Task(model, features[15..], labels[15..], hyperparameters.DeepClone().AsObject(), task, start.DeepClone().AsObject()));
        var results = new[] { await ResultAsync(first), await ResultAsync(second) };
        var aggregate = await RunToEndAsync(new JsonObject
        {
            ["type"] = "aggregate",
            ["data"] = new JsonObject { ["strategy"] = "federated_average", ["taskIds"] = new JsonArray(first, second) },
        });

        Assert.Equal("completed", aggregate["state"]!.GetValue<string>());
        var value = aggregate["result"]!["value"]!;
        Assert.Equal(40, value["sampleCount"]!.GetValue<double>());
        var averaged = value["parameters"]!.AsObject();
        var names = results[0]["parameters"]!.AsObject().Select(p => p.Key).Where(n => n != "shapes").ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), averaged.Select(p => p.Key).Where(n => n != "shapes").Order(StringComparer.Ordinal));
        Assert.NotEqual(results[0]["parameters"]!.ToJsonString(), results[1]["parameters"]!.ToJsonString());
        foreach (var name in names)
        {
            var a = Numbers(results[0]["parameters"]![name]);
            var b = Numbers(results[1]["parameters"]![name]);
            var expected = a.Zip(b, (x, y) => ((15 * x) + (25 * y)) / 40).ToArray();
            var actual = Numbers(averaged[name]);
            Assert.Equal(expected.Length, actual.Length);
            for (var i = 0; i < expected.Length; i++)
            {
                Assert.Equal(expected[i], actual[i], 1e-12);
            }
        }

        // The next round starts from the average as it is.
        var next = await RunToEndAsync(Task(model, features[..15], labels[..15], hyperparameters.DeepClone().AsObject(), task, value.DeepClone().AsObject()));
        Assert.Equal("completed", next["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Train_DataBlob_GivesTheSameResultAsInlineData()
    {
        var (features, labels) = Plane(30);
        var stored = await RunToEndAsync(new JsonObject
        {
            ["type"] = "store",
            ["data"] = new JsonObject { ["input"] = new JsonObject { ["features"] = Matrix(features), ["labels"] = new JsonArray([.. labels.Select(l => (JsonNode)l)]) } },
        });
        var sha256 = stored["result"]!["sha256"]!.GetValue<string>();
        var inline = Task("linear", features, labels, new JsonObject { ["epochs"] = 10 });

        var fromBlob = await RunToEndAsync(new JsonObject
        {
            ["type"] = "train",
            ["data"] = new JsonObject { ["model"] = "linear", ["dataBlob"] = sha256, ["hyperparameters"] = new JsonObject { ["epochs"] = 10 } },
        });
        var fromInline = await RunToEndAsync(inline);

        Assert.Equal("completed", fromBlob["state"]!.GetValue<string>());
        Assert.Equal(30, fromBlob["result"]!["sampleCount"]!.GetValue<int>());
        Assert.Equal(fromInline["digest"]!.GetValue<string>(), fromBlob["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task Train_DataBlobThatDoesNotFit_FailsNamingTheBlobField()
    {
        var stored = await RunToEndAsync(new JsonObject
        {
            ["type"] = "store",
            ["data"] = new JsonObject { ["input"] = JsonNode.Parse("""{"features":[[1,2],[3]],"labels":[0,1]}""") },
        });
        var sha256 = stored["result"]!["sha256"]!.GetValue<string>();

        var result = await RunToEndAsync(new JsonObject
        {
            ["type"] = "train",
            ["data"] = new JsonObject { ["model"] = "logistic", ["dataBlob"] = sha256 },
        });

        Assert.Equal("failed", result["state"]!.GetValue<string>());
        Assert.Contains("dataBlob.features[1]: has 1 values, expected 2", result["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_PastItsTimeout_EndsTimedOut()
    {
        var task = LongMlpTask();
        task["timeout"] = 1;

        var taskId = await SubmitAsync(task);
        var status = await _node.Client.WaitFinalAsync(taskId, Timeouts.Short);

        Assert.Equal("timed_out", status["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Cancel_RunningTrainTask_StopsItAfterProgressWasReported()
    {
        var taskId = await SubmitAsync(LongMlpTask());
        var deadline = DateTime.UtcNow + Timeouts.Short;
        double progress = 0;
        while (progress <= 0 && DateTime.UtcNow < deadline)
        {
            await System.Threading.Tasks.Task.Delay(50);
            progress = (await _node.Client.GetJsonAsync($"/api/tasks/{taskId}"))["progress"]?.GetValue<double>() ?? 0;
        }

        Assert.InRange(progress, double.Epsilon, 0.5);
        var response = await _node.Client.DeleteAsync($"/api/tasks/{taskId}", Timeouts.Token());
        Assert.True(response.IsSuccessStatusCode, $"cancel answered {(int)response.StatusCode}");
        var status = await _node.Client.WaitFinalAsync(taskId, Timeouts.Short);

        Assert.Equal("cancelled", status["state"]!.GetValue<string>());
    }

    /// <summary>An MLP task that would run for minutes: 10,000 epochs over 2,000 rows through two layers of 128.</summary>
    private static JsonObject LongMlpTask()
    {
        var random = new Random(3);
        var features = Enumerable.Range(0, 2000).Select(_ => Enumerable.Range(0, 10).Select(_ => random.NextDouble()).ToArray()).ToArray();
        var labels = features.Select(f => f.Sum()).ToArray();
        return Task("mlp", features, labels, new JsonObject { ["epochs"] = 10_000, ["hiddenUnits"] = new JsonArray(128, 128), ["learningRate"] = 0.001 });
    }

    private async Task<string> SubmitAsync(JsonObject task)
    {
        var (status, body) = await _node.Client.SubmitAsync(task.ToJsonString());
        Assert.True(status == HttpStatusCode.Accepted, $"submit answered {(int)status}: {body?.ToJsonString()}");
        return body!["taskId"]!.GetValue<string>();
    }

    private async Task<JsonObject> ResultAsync(string taskId)
    {
        await _node.Client.WaitFinalAsync(taskId, Timeouts.Long);
        var result = await _node.Client.GetJsonAsync($"/api/tasks/{taskId}/result");
        Assert.True(result["state"]!.GetValue<string>() == "completed", result.ToJsonString());
        return result["result"]!.AsObject();
    }

    private async Task<JsonObject> RunToEndAsync(JsonObject task)
    {
        var taskId = await SubmitAsync(task);
        await _node.Client.WaitFinalAsync(taskId, Timeouts.Long);
        return await _node.Client.GetJsonAsync($"/api/tasks/{taskId}/result");
    }
}
