using System.Text.Json.Nodes;

namespace Tenzro.Node.Core.Tasks.Builtin.Expressions;

/// <summary>
/// A parsed expression over one item <c>x</c>: numbers, strings, <c>true</c>/<c>false</c>/<c>null</c>,
/// paths (<c>x</c>, <c>x.price</c>, <c>x.items.0</c>, <c>x["odd key"]</c>), <c>+ - * / %</c>, parentheses,
/// unary minus, comparisons, <c>&amp;&amp; || !</c> and the functions abs, min, max, sqrt, floor, ceil,
/// round, pow. Nothing else can be named: there is no reflection, no member access on .NET objects and
/// no way to run code.
/// </summary>
/// <remarks>
/// Immutable and thread-safe once parsed. Evaluation is deterministic: IEEE double arithmetic in a fixed
/// order, <c>pow</c> with an integer exponent by repeated multiplication, and failure (never NaN or an
/// infinity) for division by zero, overflow or a root of a negative number.
/// </remarks>
internal sealed class Expression
{
    /// <summary>The longest expression text accepted.</summary>
    public const int MaxLength = 1_000;

    private readonly ExpressionNode _root;

    private Expression(string text, ExpressionNode root)
    {
        Text = text;
        _root = root;
    }

    public string Text { get; }

    /// <summary>Parses <paramref name="text"/>.</summary>
    /// <exception cref="ExpressionSyntaxException">The text is empty, too long or malformed; the message names the position.</exception>
    public static Expression Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxLength)
        {
            throw new ExpressionSyntaxException($"the expression is {text.Length} characters long; the limit is {MaxLength}", MaxLength + 1);
        }

        return new Expression(text, new ExpressionParser(text).ParseAll());
    }

    /// <summary>Evaluates the expression with <c>x</c> bound to <paramref name="item"/>.</summary>
    /// <exception cref="ExpressionEvaluationException">Division by zero, a type mismatch, overflow.</exception>
    public ExpressionValue Evaluate(JsonNode? item) => _root.Evaluate(ExpressionValue.FromJson(item));

    /// <summary>Evaluates the expression with <c>x</c> bound to <paramref name="item"/>.</summary>
    /// <exception cref="ExpressionEvaluationException">Division by zero, a type mismatch, overflow.</exception>
    public ExpressionValue Evaluate(ExpressionValue item) => _root.Evaluate(item);

    public override string ToString() => Text;
}
