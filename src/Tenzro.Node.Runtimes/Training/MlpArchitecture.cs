namespace Tenzro.Node.Runtimes.Training;

/// <summary>How the last layer of an MLP turns into a prediction and a loss.</summary>
internal enum MlpOutput
{
    /// <summary>Regression: the output itself, mean squared error.</summary>
    Identity,

    /// <summary>Two classes: one output through a sigmoid, binary cross-entropy.</summary>
    Sigmoid,

    /// <summary>Three or more classes: one output per class through a softmax, cross-entropy.</summary>
    Softmax,
}

/// <summary>
/// The layer sizes of an MLP: <c>Sizes[0]</c> inputs, then the hidden layers (ReLU), then the outputs.
/// Layer <c>l</c> has the weights <c>w{l}</c> (<c>Sizes[l]</c> × <c>Sizes[l+1]</c>, row-major: row k holds
/// the weights from input k) and the biases <c>b{l}</c> (<c>Sizes[l+1]</c>).
/// </summary>
internal sealed record MlpArchitecture(int[] Sizes, MlpOutput Output)
{
    /// <summary>Weight layers (hidden layers + 1).</summary>
    public int Layers => Sizes.Length - 1;

    public long ParameterCount
    {
        get
        {
            long count = 0;
            for (var l = 0; l < Layers; l++)
            {
                count += ((long)Sizes[l] * Sizes[l + 1]) + Sizes[l + 1];
            }

            return count;
        }
    }

    /// <summary>For messages: <c>2→16→1</c>.</summary>
    public string Describe() => string.Join("→", Sizes);

    /// <summary>The dimensions of the parameter <paramref name="name"/> (<c>w0</c>, <c>b0</c>, …); null for another name.</summary>
    public int[]? ShapeOf(string name)
    {
        if (name.Length < 2 || name[0] is not ('w' or 'b') || !int.TryParse(name.AsSpan(1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var layer)
            || layer >= Layers || name != $"{name[0]}{layer}")
        {
            return null;
        }

        return name[0] == 'w' ? [Sizes[layer], Sizes[layer + 1]] : [Sizes[layer + 1]];
    }
}
