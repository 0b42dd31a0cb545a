using System.Globalization;
using System.Text.Json;

namespace Tenzro.Node.Core.Tasks.Builtin.Expressions;

/// <summary>A node of the parsed expression tree; <see cref="Position"/> is where its operator or name starts (1-based).</summary>
internal abstract class ExpressionNode(int position)
{
    public int Position { get; } = position;

    public abstract ExpressionValue Evaluate(ExpressionValue item);

    protected ExpressionEvaluationException Fail(string reason) => new(reason, Position);

    protected double RequireNumber(ExpressionValue value, string what)
    {
        if (value.Kind != ValueKind.Number)
        {
            throw Fail($"{what} needs a number, got {value.KindName}");
        }

        return value.Number;
    }

    protected ExpressionValue Finite(double value, string what) =>
        double.IsFinite(value) ? ExpressionValue.FromNumber(value) : throw Fail($"{what} gives a number too large to represent");
}

internal sealed class LiteralNode(int position, ExpressionValue value) : ExpressionNode(position)
{
    public override ExpressionValue Evaluate(ExpressionValue item) => value;
}

/// <summary>One step of a path: an object member, or an array index when the text is a whole number.</summary>
internal sealed record PathSegment(string Name)
{
    public int? Index { get; } = Name.Length > 0 && Name.All(char.IsAsciiDigit) && int.TryParse(Name, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : null;
}

/// <summary><c>x</c> or a path below it. A missing member or index gives null rather than failing.</summary>
internal sealed class PathNode(int position, IReadOnlyList<PathSegment> segments) : ExpressionNode(position)
{
    public IReadOnlyList<PathSegment> Segments { get; } = segments;

    public override ExpressionValue Evaluate(ExpressionValue item)
    {
        if (Segments.Count == 0)
        {
            return item;
        }

        if (item.Kind != ValueKind.Json)
        {
            return ExpressionValue.Null;
        }

        var current = item.Json;
        foreach (var segment in Segments)
        {
            switch (current.ValueKind)
            {
                case JsonValueKind.Object when current.TryGetProperty(segment.Name, out var member):
                    current = member;
                    break;
                case JsonValueKind.Array when segment.Index is { } i && i < current.GetArrayLength():
                    current = current[i];
                    break;
                default:
                    return ExpressionValue.Null;
            }
        }

        try
        {
            return ExpressionValue.FromElement(current);
        }
        catch (FormatException e)
        {
            throw Fail(e.Message);
        }
    }
}

internal sealed class UnaryNode(int position, char op, ExpressionNode operand) : ExpressionNode(position)
{
    public override ExpressionValue Evaluate(ExpressionValue item)
    {
        var value = operand.Evaluate(item);
        if (op == '!')
        {
            return value.Kind == ValueKind.Boolean ? ExpressionValue.FromBoolean(!value.Boolean) : throw Fail($"'!' needs true or false, got {value.KindName}");
        }

        return ExpressionValue.FromNumber(-RequireNumber(value, "unary '-'"));
    }
}

/// <summary><c>&amp;&amp;</c> and <c>||</c>: both sides must be booleans; the right side is skipped when the left decides.</summary>
internal sealed class LogicalNode(int position, string op, ExpressionNode left, ExpressionNode right) : ExpressionNode(position)
{
    public override ExpressionValue Evaluate(ExpressionValue item)
    {
        var l = Boolean(left.Evaluate(item));
        if (op == "&&" ? !l : l)
        {
            return ExpressionValue.FromBoolean(l);
        }

        return ExpressionValue.FromBoolean(Boolean(right.Evaluate(item)));
    }

    private bool Boolean(ExpressionValue value) =>
        value.Kind == ValueKind.Boolean ? value.Boolean : throw Fail($"'{op}' needs true or false on both sides, got {value.KindName}");
}

internal sealed class BinaryNode(int position, string op, ExpressionNode left, ExpressionNode right) : ExpressionNode(position)
{
    public override ExpressionValue Evaluate(ExpressionValue item)
    {
        var l = left.Evaluate(item);
        var r = right.Evaluate(item);
        switch (op)
        {
            case "==":
                return ExpressionValue.FromBoolean(l.Equals(r));
            case "!=":
                return ExpressionValue.FromBoolean(!l.Equals(r));
            case "<" or "<=" or ">" or ">=":
                var order = Compare(l, r);
                return ExpressionValue.FromBoolean(op switch
                {
                    "<" => order < 0,
                    "<=" => order <= 0,
                    ">" => order > 0,
                    _ => order >= 0,
                });
        }

        var a = RequireNumber(l, $"'{op}'");
        var b = RequireNumber(r, $"'{op}'");
        return op switch
        {
            "+" => Finite(a + b, "'+'"),
            "-" => Finite(a - b, "'-'"),
            "*" => Finite(a * b, "'*'"),
            "/" => b == 0 ? throw Fail("division by zero") : Finite(a / b, "'/'"),
            _ => b == 0 ? throw Fail("modulo by zero") : Finite(a % b, "'%'"),
        };
    }

    private int Compare(ExpressionValue l, ExpressionValue r)
    {
        if (l.Kind == ValueKind.Number && r.Kind == ValueKind.Number)
        {
            return l.Number.CompareTo(r.Number);
        }

        if (l.Kind == ValueKind.String && r.Kind == ValueKind.String)
        {
            return string.CompareOrdinal(l.String, r.String);
        }

        throw Fail($"'{op}' compares two numbers or two strings, got {l.KindName} and {r.KindName}");
    }
}

/// <summary>A call of one of the built-in functions; the arity is checked when parsing.</summary>
internal sealed class CallNode(int position, string name, IReadOnlyList<ExpressionNode> arguments) : ExpressionNode(position)
{
    /// <summary>Function name → (least, most) arguments.</summary>
    public static readonly IReadOnlyDictionary<string, (int Min, int Max)> Functions = new Dictionary<string, (int, int)>(StringComparer.Ordinal)
    {
        ["abs"] = (1, 1),
        ["min"] = (1, 64),
        ["max"] = (1, 64),
        ["sqrt"] = (1, 1),
        ["floor"] = (1, 1),
        ["ceil"] = (1, 1),
        ["round"] = (1, 2),
        ["pow"] = (2, 2),
    };

    public override ExpressionValue Evaluate(ExpressionValue item)
    {
        Span<double> values = stackalloc double[arguments.Count];
        for (var i = 0; i < arguments.Count; i++)
        {
            values[i] = RequireNumber(arguments[i].Evaluate(item), $"{name}()");
        }

        switch (name)
        {
            case "abs":
                return ExpressionValue.FromNumber(Math.Abs(values[0]));
            case "min" or "max":
                var result = values[0];
                foreach (var v in values[1..])
                {
                    result = name == "min" ? Math.Min(result, v) : Math.Max(result, v);
                }

                return ExpressionValue.FromNumber(result);
            case "sqrt":
                return values[0] < 0 ? throw Fail($"sqrt of a negative number ({values[0].ToString(CultureInfo.InvariantCulture)})") : ExpressionValue.FromNumber(Math.Sqrt(values[0]));
            case "floor":
                return ExpressionValue.FromNumber(Math.Floor(values[0]));
            case "ceil":
                return ExpressionValue.FromNumber(Math.Ceiling(values[0]));
            case "round":
                return Round(values);
            default:
                return Power(values[0], values[1]);
        }
    }

    /// <summary>Half away from zero (2.5 → 3, -2.5 → -3), optionally to 0..15 decimal places.</summary>
    private ExpressionValue Round(ReadOnlySpan<double> values)
    {
        if (values.Length == 1)
        {
            return ExpressionValue.FromNumber(Math.Round(values[0], MidpointRounding.AwayFromZero));
        }

        var digits = values[1];
        if (digits != Math.Floor(digits) || digits < 0 || digits > 15)
        {
            throw Fail($"round() takes 0 to 15 decimal places, got {digits.ToString(CultureInfo.InvariantCulture)}");
        }

        return ExpressionValue.FromNumber(Math.Round(values[0], (int)digits, MidpointRounding.AwayFromZero));
    }

    /// <summary>
    /// An integer exponent is computed by repeated squaring, which is the same on every platform; a fractional
    /// exponent uses the platform's pow.
    /// </summary>
    private ExpressionValue Power(double x, double y)
    {
        double result;
        var integral = y == Math.Floor(y);
        if (integral && Math.Abs(y) <= int.MaxValue)
        {
            var exponent = (long)Math.Abs(y);
            result = 1;
            var square = x;
            while (exponent > 0)
            {
                if ((exponent & 1) == 1)
                {
                    result *= square;
                }

                exponent >>= 1;
                if (exponent > 0)
                {
                    square *= square;
                }
            }

            if (y < 0)
            {
                result = result == 0 ? throw Fail("pow of zero to a negative power (division by zero)") : 1 / result;
            }
        }
        else
        {
            if (x < 0 && !integral)
            {
                throw Fail($"pow of a negative number to a fractional power ({y.ToString(CultureInfo.InvariantCulture)})");
            }

            result = Math.Pow(x, y);
        }

        return Finite(result, "pow()");
    }
}
