namespace Tenzro.Node.Runtimes.Training;

/// <summary>The model a <c>train</c> task fits.</summary>
internal enum TrainModel
{
    /// <summary>Linear regression, squared loss, trained by ML.NET's online gradient descent.</summary>
    Linear,

    /// <summary>Logistic regression, log loss, labels 0/1, trained by ML.NET's averaged perceptron trainer with log loss.</summary>
    Logistic,

    /// <summary>A multilayer perceptron with ReLU hidden layers (<see cref="MlpNetwork"/>).</summary>
    Mlp,
}

/// <summary>What an MLP predicts.</summary>
internal enum MlpTask
{
    /// <summary>One number per row; mean squared error.</summary>
    Regression,

    /// <summary>A class 0..K-1 per row; sigmoid cross-entropy for two classes, softmax cross-entropy for more.</summary>
    Classification,
}

/// <summary>Features (rows × columns, row-major) and one label per row. Immutable once built.</summary>
internal sealed class TrainingData(double[] features, double[] labels, int columns)
{
    public double[] Features { get; } = features;

    public double[] Labels { get; } = labels;

    public int Rows => Labels.Length;

    public int Columns { get; } = columns;

    public ReadOnlySpan<double> Row(int index) => Features.AsSpan(index * Columns, Columns);
}

/// <summary><c>data.hyperparameters</c>, with the defaults filled in.</summary>
/// <param name="Epochs">Passes over the data.</param>
/// <param name="LearningRate">The step size of every update.</param>
/// <param name="L2">The L2 penalty; its meaning per model is in docs/TASKS.md.</param>
/// <param name="Seed">Seeds the MLContext (shuffling) or the MLP's initialization and shuffling.</param>
/// <param name="BatchSize">MLP only: rows per gradient step.</param>
/// <param name="HiddenUnits">MLP only: the width of each hidden layer.</param>
/// <param name="Classes">MLP classification only: the number of classes when given.</param>
internal sealed record Hyperparameters(int Epochs, double LearningRate, double L2, int Seed, int BatchSize, IReadOnlyList<int> HiddenUnits, int? Classes)
{
    public const int DefaultEpochs = 100;
    public const double DefaultLearningRate = 0.1;
    public const int DefaultBatchSize = 32;
    public static readonly IReadOnlyList<int> DefaultHiddenUnits = [16];
}

/// <summary>
/// <c>data.initialParameters</c>: named flat arrays of numbers (a bare number counts as an array of one),
/// and the <c>shapes</c> member when given. Checked against the model once the data is known.
/// </summary>
internal sealed record InitialParameters(IReadOnlyDictionary<string, double[]> Values, IReadOnlyDictionary<string, int[]>? Shapes, string Field);

/// <summary>A parsed <c>train</c> task. <see cref="Data"/> is null when the data is in the blob <see cref="DataBlob"/>.</summary>
internal sealed record TrainRequest(
    TrainModel Model,
    MlpTask Task,
    TrainingData? Data,
    string? DataBlob,
    InitialParameters? Initial,
    Hyperparameters Hyperparameters);
