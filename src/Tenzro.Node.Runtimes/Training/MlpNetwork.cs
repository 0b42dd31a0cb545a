using System.Numerics;

namespace Tenzro.Node.Runtimes.Training;

/// <summary>
/// The weights of a multilayer perceptron and its arithmetic: forward pass, loss, gradient by
/// backpropagation, and a gradient-descent step. ReLU hidden layers; the output is <see cref="MlpOutput"/>.
/// </summary>
/// <remarks>
/// Everything is double precision and single-threaded. Sums run in a fixed order, and the only vectorized
/// loop (<see cref="AddScaled"/>) is element-wise, so a result never depends on the CPU's vector width.
/// Not thread-safe: one network per training run.
/// </remarks>
internal sealed class MlpNetwork
{
    public MlpNetwork(MlpArchitecture architecture, double[][] weights, double[][] biases)
    {
        Architecture = architecture;
        Weights = weights;
        Biases = biases;
    }

    public MlpArchitecture Architecture { get; }

    /// <summary>Per layer, row-major <c>Sizes[l]</c> × <c>Sizes[l+1]</c>.</summary>
    public double[][] Weights { get; }

    public double[][] Biases { get; }

    /// <summary>
    /// Xavier (Glorot) uniform initialization: weights uniform in ±√(6 / (fan-in + fan-out)), biases 0.
    /// </summary>
    public static MlpNetwork Initialize(MlpArchitecture architecture, DeterministicRandom random)
    {
        var sizes = architecture.Sizes;
        var weights = new double[architecture.Layers][];
        var biases = new double[architecture.Layers][];
        for (var l = 0; l < architecture.Layers; l++)
        {
            var limit = Math.Sqrt(6.0 / (sizes[l] + sizes[l + 1]));
            weights[l] = new double[sizes[l] * sizes[l + 1]];
            for (var i = 0; i < weights[l].Length; i++)
            {
                weights[l][i] = ((2 * random.NextDouble()) - 1) * limit;
            }

            biases[l] = new double[sizes[l + 1]];
        }

        return new MlpNetwork(architecture, weights, biases);
    }

    /// <summary>A zeroed set of arrays shaped like this network's parameters, for gradients.</summary>
    public MlpNetwork ZerosLike() => new(
        Architecture,
        [.. Weights.Select(w => new double[w.Length])],
        [.. Biases.Select(b => new double[b.Length])]);

    /// <summary>
    /// The objective on <paramref name="rows"/>: the mean loss plus (l2 / 2)·Σw² over the weights (not the
    /// biases). With <paramref name="gradient"/>, also sets it to the objective's gradient.
    /// </summary>
    /// <param name="data">The training data.</param>
    /// <param name="rows">The rows of the batch (at most <paramref name="workspace"/>'s capacity).</param>
    /// <param name="l2">The L2 penalty.</param>
    /// <param name="gradient">Overwritten with the gradient when not null (from <see cref="ZerosLike"/>).</param>
    /// <param name="workspace">Scratch arrays for the batch.</param>
    public double Objective(TrainingData data, ReadOnlySpan<int> rows, double l2, MlpNetwork? gradient, MlpWorkspace workspace)
    {
        var loss = Forward(data, rows, workspace, gradient is null ? 0 : 1.0 / rows.Length);
        var objective = loss / rows.Length;
        if (l2 > 0)
        {
            var squares = 0d;
            foreach (var layer in Weights)
            {
                foreach (var w in layer)
                {
                    squares += w * w;
                }
            }

            objective += 0.5 * l2 * squares;
        }

        if (gradient is not null)
        {
            Backward(rows.Length, l2, gradient, workspace);
        }

        return objective;
    }

    /// <summary>The mean loss over all rows, without the L2 term.</summary>
    public double MeanLoss(TrainingData data, MlpWorkspace workspace)
    {
        var total = 0d;
        ForEachChunk(data, workspace, (rows, _) => total += Forward(data, rows, workspace, 0));
        return total / data.Rows;
    }

    /// <summary>Regression: the root mean squared error. Classification: the fraction of rows whose most likely class is the label.</summary>
    public double Metric(TrainingData data, MlpWorkspace workspace)
    {
        var outputs = Architecture.Sizes[^1];
        var total = 0d;
        ForEachChunk(data, workspace, (rows, logits) =>
        {
            for (var r = 0; r < rows.Length; r++)
            {
                var z = logits.AsSpan(r * outputs, outputs);
                var label = data.Labels[rows[r]];
                total += Architecture.Output switch
                {
                    MlpOutput.Identity => (z[0] - label) * (z[0] - label),
                    MlpOutput.Sigmoid => (z[0] >= 0 ? 1 : 0) == label ? 1 : 0,
                    _ => z.IndexOf(Max(z)) == (int)label ? 1 : 0,
                };
            }
        });
        var mean = total / data.Rows;
        return Architecture.Output == MlpOutput.Identity ? Math.Sqrt(mean) : mean;
    }

    /// <summary>One gradient-descent step: every parameter minus <paramref name="learningRate"/> times its gradient.</summary>
    public void Step(MlpNetwork gradient, double learningRate)
    {
        for (var l = 0; l < Weights.Length; l++)
        {
            AddScaled(-learningRate, gradient.Weights[l], Weights[l]);
            AddScaled(-learningRate, gradient.Biases[l], Biases[l]);
        }
    }

    /// <summary>True when every parameter is a finite number.</summary>
    public bool IsFinite() =>
        Weights.All(w => w.All(double.IsFinite)) && Biases.All(b => b.All(double.IsFinite));

    private void ForEachChunk(TrainingData data, MlpWorkspace workspace, Action<int[], double[]> chunk)
    {
        var rows = new int[Math.Min(workspace.Capacity, data.Rows)];
        for (var start = 0; start < data.Rows; start += rows.Length)
        {
            var count = Math.Min(rows.Length, data.Rows - start);
            var batch = count == rows.Length ? rows : new int[count];
            for (var i = 0; i < count; i++)
            {
                batch[i] = start + i;
            }

            Forward(data, batch, workspace, 0);
            chunk(batch, workspace.Activations[^1]);
        }
    }

    /// <summary>
    /// Computes the activations of <paramref name="rows"/> and returns the sum of their losses. With a
    /// <paramref name="deltaScale"/> above 0, also stores ∂loss/∂output × deltaScale for <see cref="Backward"/>.
    /// </summary>
    private double Forward(TrainingData data, ReadOnlySpan<int> rows, MlpWorkspace workspace, double deltaScale)
    {
        var sizes = Architecture.Sizes;
        var layers = Architecture.Layers;
        var input = workspace.Activations[0];
        for (var r = 0; r < rows.Length; r++)
        {
            data.Row(rows[r]).CopyTo(input.AsSpan(r * sizes[0], sizes[0]));
        }

        for (var l = 0; l < layers; l++)
        {
            int fanIn = sizes[l], fanOut = sizes[l + 1];
            var weights = Weights[l];
            var before = workspace.Activations[l];
            var after = workspace.Activations[l + 1];
            for (var r = 0; r < rows.Length; r++)
            {
                var output = after.AsSpan(r * fanOut, fanOut);
                Biases[l].CopyTo(output);
                var x = before.AsSpan(r * fanIn, fanIn);
                for (var k = 0; k < fanIn; k++)
                {
                    if (x[k] != 0)
                    {
                        AddScaled(x[k], weights.AsSpan(k * fanOut, fanOut), output);
                    }
                }

                if (l < layers - 1)
                {
                    for (var j = 0; j < fanOut; j++)
                    {
                        output[j] = Math.Max(output[j], 0);
                    }
                }
            }
        }

        var outputs = sizes[^1];
        var logits = workspace.Activations[^1];
        var delta = workspace.Deltas[^1];
        var total = 0d;
        for (var r = 0; r < rows.Length; r++)
        {
            var z = logits.AsSpan(r * outputs, outputs);
            var label = data.Labels[rows[r]];
            total += Loss(z, label, deltaScale > 0 ? delta.AsSpan(r * outputs, outputs) : default, deltaScale);
        }

        return total;
    }

    /// <summary>The loss of one row, and ∂loss/∂z × scale into <paramref name="delta"/> when it is not empty.</summary>
    private double Loss(ReadOnlySpan<double> z, double label, Span<double> delta, double scale)
    {
        switch (Architecture.Output)
        {
            case MlpOutput.Identity:
            {
                var error = z[0] - label;
                if (!delta.IsEmpty)
                {
                    delta[0] = 2 * error * scale;
                }

                return error * error;
            }

            case MlpOutput.Sigmoid:
            {
                var x = z[0];
                if (!delta.IsEmpty)
                {
                    delta[0] = (Sigmoid(x) - label) * scale;
                }

                // log(1 + e^x) − x·y, written so that neither exponential overflows.
                return Math.Max(x, 0) - (x * label) + Math.Log(1 + Math.Exp(-Math.Abs(x)));
            }

            default:
            {
                var max = Max(z);
                var sum = 0d;
                foreach (var value in z)
                {
                    sum += Math.Exp(value - max);
                }

                var logSum = max + Math.Log(sum);
                var target = (int)label;
                if (!delta.IsEmpty)
                {
                    for (var j = 0; j < z.Length; j++)
                    {
                        delta[j] = (Math.Exp(z[j] - logSum) - (j == target ? 1 : 0)) * scale;
                    }
                }

                return logSum - z[target];
            }
        }
    }

    /// <summary>Backpropagates the deltas <see cref="Forward"/> stored into <paramref name="gradient"/>.</summary>
    private void Backward(int count, double l2, MlpNetwork gradient, MlpWorkspace workspace)
    {
        var sizes = Architecture.Sizes;
        for (var l = Architecture.Layers - 1; l >= 0; l--)
        {
            int fanIn = sizes[l], fanOut = sizes[l + 1];
            var weights = Weights[l];
            var weightGradient = gradient.Weights[l];
            var biasGradient = gradient.Biases[l];
            Array.Clear(weightGradient);
            Array.Clear(biasGradient);
            var before = workspace.Activations[l];
            var delta = workspace.Deltas[l + 1];
            var previous = workspace.Deltas[l];
            for (var r = 0; r < count; r++)
            {
                var d = delta.AsSpan(r * fanOut, fanOut);
                var x = before.AsSpan(r * fanIn, fanIn);
                for (var j = 0; j < fanOut; j++)
                {
                    biasGradient[j] += d[j];
                }

                for (var k = 0; k < fanIn; k++)
                {
                    if (x[k] != 0)
                    {
                        AddScaled(x[k], d, weightGradient.AsSpan(k * fanOut, fanOut));
                    }
                }

                if (l == 0)
                {
                    continue;
                }

                // ReLU: the gradient passes where the unit was active (its output above 0).
                var back = previous.AsSpan(r * fanIn, fanIn);
                for (var k = 0; k < fanIn; k++)
                {
                    back[k] = x[k] > 0 ? Dot(d, weights.AsSpan(k * fanOut, fanOut)) : 0;
                }
            }

            if (l2 > 0)
            {
                AddScaled(l2, weights, weightGradient);
            }
        }
    }

    private static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    private static double Max(ReadOnlySpan<double> values)
    {
        var max = values[0];
        foreach (var value in values)
        {
            max = Math.Max(max, value);
        }

        return max;
    }

    /// <summary>Sums in index order, so the result is the same on every CPU.</summary>
    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var sum = 0d;
        for (var i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    /// <summary>y += a·x element by element; each element is one multiply and one add whatever the vector width.</summary>
    private static void AddScaled(double a, ReadOnlySpan<double> x, Span<double> y)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<double>.Count)
        {
            var scale = new Vector<double>(a);
            for (; i <= x.Length - Vector<double>.Count; i += Vector<double>.Count)
            {
                var sum = new Vector<double>(y[i..]) + (scale * new Vector<double>(x[i..]));
                sum.CopyTo(y[i..]);
            }
        }

        for (; i < x.Length; i++)
        {
            y[i] += a * x[i];
        }
    }
}

/// <summary>Scratch arrays for forward and backward passes over up to <see cref="Capacity"/> rows.</summary>
internal sealed class MlpWorkspace
{
    public MlpWorkspace(MlpArchitecture architecture, int capacity)
    {
        Capacity = capacity;
        Activations = [.. architecture.Sizes.Select(size => new double[capacity * size])];
        // Layer 0 has no pre-activation to backpropagate into: the inputs need no delta.
        Deltas = [[], .. architecture.Sizes.Skip(1).Select(size => new double[capacity * size])];
    }

    public int Capacity { get; }

    /// <summary>Per layer, rows × width: the inputs, the hidden activations after ReLU, the output logits.</summary>
    public double[][] Activations { get; }

    /// <summary>Per layer, rows × width: ∂objective/∂(pre-activation).</summary>
    public double[][] Deltas { get; }
}
