namespace Tenzro.Node.Runtimes.Training;

/// <summary>The limits of a <c>train</c> task, checked at submission (docs/TASKS.md, "train").</summary>
internal static class TrainingLimits
{
    /// <summary>The most numbers the training data may hold: rows × features plus the labels.</summary>
    public const long MaxValues = 1_000_000;

    /// <summary>The most passes over the data one task may make.</summary>
    public const int MaxEpochs = 10_000;

    /// <summary>The widest hidden layer, and the most classes, of an MLP.</summary>
    public const int MaxLayerSize = 1024;

    /// <summary>The most hidden layers of an MLP.</summary>
    public const int MaxHiddenLayers = 8;

    /// <summary>The most weights and biases a model may have (an MLP's input layer grows with the features).</summary>
    public const long MaxParameters = 1_000_000;

    /// <summary>The largest learning rate accepted; anything near it diverges, but it keeps the float conversion finite.</summary>
    public const double MaxLearningRate = 1_000_000;

    /// <summary>The largest blob <c>data.dataBlob</c> may name.</summary>
    public const long MaxBlobBytes = 64L * 1024 * 1024;

    /// <summary>How many bad values of one array are reported before the rest are skipped.</summary>
    public const int MaxReportedErrors = 10;
}
