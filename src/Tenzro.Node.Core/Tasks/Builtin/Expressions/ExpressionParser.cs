using System.Globalization;
using System.Text;

namespace Tenzro.Node.Core.Tasks.Builtin.Expressions;

/// <summary>
/// Tokenizer and recursive-descent parser for <see cref="Expression"/>. Precedence, lowest first:
/// <c>||</c>, <c>&amp;&amp;</c>, <c>== !=</c>, <c>&lt; &lt;= &gt; &gt;=</c>, <c>+ -</c>, <c>* / %</c>,
/// unary <c>- !</c>; binary operators associate to the left.
/// </summary>
/// <remarks>Single use, not thread-safe.</remarks>
internal sealed class ExpressionParser
{
    /// <summary>How deeply parentheses, unary operators and calls may nest; keeps recursion bounded.</summary>
    public const int MaxDepth = 64;

    private static readonly string[] Precedence = ["||", "&&", "== !=", "< <= > >=", "+ -", "* / %"];
    private readonly string _text;
    private readonly List<Token> _tokens;
    private int _next;
    private int _depth;

    public ExpressionParser(string text)
    {
        _text = text;
        _tokens = Tokenize(text);
    }

    private enum TokenKind
    {
        Number,
        String,
        Name,
        Symbol,
        End,
    }

    /// <summary>Parses the whole text as one expression.</summary>
    /// <exception cref="ExpressionSyntaxException">The text is not an expression.</exception>
    public ExpressionNode ParseAll()
    {
        if (_tokens[0].Kind == TokenKind.End)
        {
            throw new ExpressionSyntaxException("the expression is empty", 1);
        }

        var root = ParseBinary(0);
        var end = Peek;
        if (end.Kind != TokenKind.End)
        {
            throw new ExpressionSyntaxException($"expected an operator or the end of the expression, found {Describe(end)}", end.Position);
        }

        return root;
    }

    private Token Peek => _tokens[_next];

    private Token Take() => _tokens[_next++];

    private static int LevelOf(Token token)
    {
        if (token.Kind != TokenKind.Symbol)
        {
            return -1;
        }

        for (var level = 0; level < Precedence.Length; level++)
        {
            if (Precedence[level].Split(' ').Contains(token.Text))
            {
                return level;
            }
        }

        return -1;
    }

    private ExpressionNode ParseBinary(int minLevel)
    {
        var left = ParseUnary();
        while (true)
        {
            var op = Peek;
            var level = LevelOf(op);
            if (level < minLevel)
            {
                return left;
            }

            Take();
            var right = ParseBinary(level + 1);
            left = op.Text is "&&" or "||"
                ? new LogicalNode(op.Position, op.Text, left, right)
                : new BinaryNode(op.Position, op.Text, left, right);
        }
    }

    private ExpressionNode ParseUnary()
    {
        var token = Peek;
        if (token.Kind == TokenKind.Symbol && token.Text is "-" or "!")
        {
            Take();
            using var _ = Nest(token);
            return new UnaryNode(token.Position, token.Text[0], ParseUnary());
        }

        return ParsePrimary();
    }

    private ExpressionNode ParsePrimary()
    {
        var token = Take();
        switch (token.Kind)
        {
            case TokenKind.Number:
                return new LiteralNode(token.Position, ExpressionValue.FromNumber(token.Number));
            case TokenKind.String:
                return new LiteralNode(token.Position, ExpressionValue.FromString(token.Text));
            case TokenKind.Symbol when token.Text == "(":
                using (Nest(token))
                {
                    var inner = ParseBinary(0);
                    Expect(")", token);
                    return inner;
                }

            case TokenKind.Name:
                return ParseName(token);
            default:
                throw new ExpressionSyntaxException($"expected a number, a string, x, a function or '(', found {Describe(token)}", token.Position);
        }
    }

    private ExpressionNode ParseName(Token token)
    {
        switch (token.Text)
        {
            case "true":
                return new LiteralNode(token.Position, ExpressionValue.FromBoolean(true));
            case "false":
                return new LiteralNode(token.Position, ExpressionValue.FromBoolean(false));
            case "null":
                return new LiteralNode(token.Position, ExpressionValue.Null);
            case "x":
                return ParsePath(token);
        }

        if (Peek.Kind == TokenKind.Symbol && Peek.Text == "(")
        {
            return ParseCall(token);
        }

        throw new ExpressionSyntaxException($"unknown name '{token.Text}'; the item is 'x' (e.g. x.price)", token.Position);
    }

    private PathNode ParsePath(Token start)
    {
        var segments = new List<PathSegment>();
        while (Peek.Kind == TokenKind.Symbol && Peek.Text is "." or "[")
        {
            var open = Take();
            if (open.Text == ".")
            {
                var name = Take();
                if (name.Kind != TokenKind.Name)
                {
                    throw new ExpressionSyntaxException($"expected a field name or index after '.', found {Describe(name)}", name.Position);
                }

                segments.Add(new PathSegment(name.Text));
                continue;
            }

            var key = Take();
            if (key.Kind == TokenKind.String)
            {
                segments.Add(new PathSegment(key.Text));
            }
            else if (key.Kind == TokenKind.Number && key.Number >= 0 && key.Number == Math.Floor(key.Number) && key.Number <= int.MaxValue)
            {
                segments.Add(new PathSegment(((int)key.Number).ToString(CultureInfo.InvariantCulture)));
            }
            else
            {
                throw new ExpressionSyntaxException($"expected a quoted field name or a whole-number index inside '[ ]', found {Describe(key)}", key.Position);
            }

            Expect("]", open);
        }

        return new PathNode(start.Position, segments);
    }

    private CallNode ParseCall(Token name)
    {
        if (!CallNode.Functions.TryGetValue(name.Text, out var arity))
        {
            throw new ExpressionSyntaxException(
                $"unknown function '{name.Text}'; expected one of {string.Join(", ", CallNode.Functions.Keys.Order(StringComparer.Ordinal))}", name.Position);
        }

        var open = Take();
        using var _ = Nest(open);
        var arguments = new List<ExpressionNode>();
        if (!(Peek.Kind == TokenKind.Symbol && Peek.Text == ")"))
        {
            arguments.Add(ParseBinary(0));
            while (Peek.Kind == TokenKind.Symbol && Peek.Text == ",")
            {
                Take();
                arguments.Add(ParseBinary(0));
            }
        }

        Expect(")", open);
        if (arguments.Count < arity.Min || arguments.Count > arity.Max)
        {
            var expected = arity.Min == arity.Max ? $"{arity.Min}" : $"{arity.Min} to {arity.Max}";
            throw new ExpressionSyntaxException($"{name.Text}() takes {expected} argument(s), got {arguments.Count}", name.Position);
        }

        return new CallNode(name.Position, name.Text, arguments);
    }

    private void Expect(string symbol, Token opening)
    {
        var token = Take();
        if (token.Kind != TokenKind.Symbol || token.Text != symbol)
        {
            throw new ExpressionSyntaxException($"expected '{symbol}' to close '{opening.Text}' at position {opening.Position}, found {Describe(token)}", token.Position);
        }
    }

    private DepthScope Nest(Token token)
    {
        if (++_depth > MaxDepth)
        {
            throw new ExpressionSyntaxException($"the expression nests more than {MaxDepth} levels deep", token.Position);
        }

        return new DepthScope(this);
    }

    private string Describe(Token token) => token.Kind switch
    {
        TokenKind.End => "the end of the expression",
        TokenKind.String => $"the string {_text.Substring(token.Position - 1, Math.Min(token.Length, 20))}",
        _ => $"'{token.Text}'",
    };

    private static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            var start = i;
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            var afterDot = tokens.Count > 0 && tokens[^1] is { Kind: TokenKind.Symbol, Text: "." };
            if (afterDot && IsNameCharacter(c))
            {
                // A path segment: a field name or an index, so "x.items.0" never reads "0" as a number.
                while (i < text.Length && IsNameCharacter(text[i]))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Name, text[start..i], start + 1, i - start));
            }
            else if (char.IsAsciiDigit(c))
            {
                tokens.Add(ReadNumber(text, ref i));
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                while (i < text.Length && IsNameCharacter(text[i]))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Name, text[start..i], start + 1, i - start));
            }
            else if (c is '"' or '\'')
            {
                tokens.Add(ReadString(text, ref i));
            }
            else
            {
                var two = i + 1 < text.Length ? text.Substring(i, 2) : string.Empty;
                if (two is "<=" or ">=" or "==" or "!=" or "&&" or "||")
                {
                    tokens.Add(new Token(TokenKind.Symbol, two, start + 1, 2));
                    i += 2;
                }
                else if ("+-*/%()<>!,.[]".Contains(c, StringComparison.Ordinal))
                {
                    tokens.Add(new Token(TokenKind.Symbol, c.ToString(), start + 1, 1));
                    i++;
                }
                else
                {
                    var hint = c switch
                    {
                        '=' => "; did you mean '=='?",
                        '&' => "; did you mean '&&'?",
                        '|' => "; did you mean '||'?",
                        _ => string.Empty,
                    };
                    throw new ExpressionSyntaxException($"unexpected character '{c}'{hint}", start + 1);
                }
            }
        }

        tokens.Add(new Token(TokenKind.End, string.Empty, text.Length + 1, 0));
        return tokens;
    }

    private static bool IsNameCharacter(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    private static Token ReadNumber(string text, ref int i)
    {
        var start = i;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
        }

        if (i + 1 < text.Length && text[i] == '.' && char.IsAsciiDigit(text[i + 1]))
        {
            i++;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }
        }

        if (i < text.Length && text[i] is 'e' or 'E')
        {
            var mark = i;
            i++;
            if (i < text.Length && text[i] is '+' or '-')
            {
                i++;
            }

            if (i >= text.Length || !char.IsAsciiDigit(text[i]))
            {
                throw new ExpressionSyntaxException($"'{text[start..i]}' is not a number: the exponent has no digits", mark + 1);
            }

            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }
        }

        if (i < text.Length && (char.IsAsciiLetter(text[i]) || text[i] == '_'))
        {
            throw new ExpressionSyntaxException($"unexpected '{text[i]}' right after the number {text[start..i]}", i + 1);
        }

        var literal = text[start..i];
        var value = double.Parse(literal, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (!double.IsFinite(value))
        {
            throw new ExpressionSyntaxException($"the number {literal} is too large", start + 1);
        }

        return new Token(TokenKind.Number, literal, start + 1, i - start, value);
    }

    private static Token ReadString(string text, ref int i)
    {
        var quote = text[i];
        var start = i;
        i++;
        var value = new StringBuilder();
        while (true)
        {
            if (i >= text.Length)
            {
                throw new ExpressionSyntaxException($"the string has no closing {quote}", start + 1);
            }

            var c = text[i];
            if (c == quote)
            {
                i++;
                break;
            }

            if (c != '\\')
            {
                value.Append(c);
                i++;
                continue;
            }

            if (i + 1 >= text.Length)
            {
                throw new ExpressionSyntaxException($"the string has no closing {quote}", start + 1);
            }

            var escape = text[i + 1];
            switch (escape)
            {
                case '"' or '\'' or '\\' or '/':
                    value.Append(escape);
                    break;
                case 'n':
                    value.Append('\n');
                    break;
                case 't':
                    value.Append('\t');
                    break;
                case 'r':
                    value.Append('\r');
                    break;
                case 'u' when i + 5 < text.Length && int.TryParse(text.AsSpan(i + 2, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code):
                    value.Append((char)code);
                    i += 4;
                    break;
                default:
                    throw new ExpressionSyntaxException($"'\\{escape}' is not an escape; use \\\" \\' \\\\ \\n \\t \\r or \\uXXXX", i + 1);
            }

            i += 2;
        }

        return new Token(TokenKind.String, value.ToString(), start + 1, i - start);
    }

    private readonly record struct Token(TokenKind Kind, string Text, int Position, int Length, double Number = 0);

    private readonly struct DepthScope(ExpressionParser parser) : IDisposable
    {
        public void Dispose() => parser._depth--;
    }
}
