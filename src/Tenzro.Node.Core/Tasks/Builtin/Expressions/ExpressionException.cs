namespace Tenzro.Node.Core.Tasks.Builtin.Expressions;

/// <summary>An expression that cannot be parsed or evaluated; <see cref="Position"/> is the 1-based character where it went wrong.</summary>
internal abstract class ExpressionException(string reason, int position)
    : Exception($"{reason} at position {position}")
{
    /// <summary>1-based character position in the expression text.</summary>
    public int Position { get; } = position;

    /// <summary>The reason without the position.</summary>
    public string Reason { get; } = reason;
}

/// <summary>The text is not a valid expression (thrown by <see cref="Expression.Parse"/>).</summary>
internal sealed class ExpressionSyntaxException(string reason, int position) : ExpressionException(reason, position);

/// <summary>A valid expression failed on a particular item: division by zero, a type mismatch, a missing field.</summary>
internal sealed class ExpressionEvaluationException(string reason, int position) : ExpressionException(reason, position);
