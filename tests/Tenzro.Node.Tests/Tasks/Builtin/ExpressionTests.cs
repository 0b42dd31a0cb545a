using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks.Builtin.Expressions;

namespace Tenzro.Node.Tests.Tasks.Builtin;

[Trait("Suite", "tasks")]
public sealed class ExpressionTests
{
    private static ExpressionValue Eval(string text, string item = "null") => Expression.Parse(text).Evaluate(JsonNode.Parse(item));

    [Theory]
    [InlineData("1 + 2 * 3", 7)]
    [InlineData("(1 + 2) * 3", 9)]
    [InlineData("2 - 3 - 4", -5)]
    [InlineData("16 / 4 / 2", 2)]
    [InlineData("-2 * 3", -6)]
    [InlineData("2 * -3", -6)]
    [InlineData("- -4", 4)]
    [InlineData("10 % 4 + 1", 3)]
    [InlineData("-7 % 3", -1)]
    [InlineData("1.5e2 + 0.25", 150.25)]
    [InlineData("2 + 3 * (4 - 1) / 9", 3)]
    public void Evaluate_Arithmetic_FollowsPrecedenceAndLeftAssociativity(string text, double expected)
    {
        var value = Eval(text);

        Assert.Equal(ValueKind.Number, value.Kind);
        Assert.Equal(expected, value.Number, 12);
    }

    [Theory]
    [InlineData("1 + 2 < 4 && !false", true)]
    [InlineData("1 < 2 == true", true)]
    [InlineData("true || false && false", true)]
    [InlineData("(true || false) && false", false)]
    [InlineData("!(1 >= 2) && 2 <= 2", true)]
    [InlineData("3 != 3.0", false)]
    [InlineData("'abc' < 'abd'", true)]
    [InlineData("\"a\" == 'a'", true)]
    [InlineData("null == null", true)]
    [InlineData("1 == '1'", false)]
    [InlineData("false && 1 / 0 > 0", false)]
    [InlineData("true || 1 / 0 > 0", true)]
    public void Evaluate_LogicAndComparisons_FollowPrecedenceAndShortCircuit(string text, bool expected)
    {
        var value = Eval(text);

        Assert.Equal(ValueKind.Boolean, value.Kind);
        Assert.Equal(expected, value.Boolean);
    }

    [Theory]
    [InlineData("abs(-2.5)", 2.5)]
    [InlineData("min(3, 1, 2)", 1)]
    [InlineData("max(3, 1, 2)", 3)]
    [InlineData("sqrt(16)", 4)]
    [InlineData("floor(-1.5)", -2)]
    [InlineData("ceil(1.2)", 2)]
    [InlineData("round(2.5)", 3)]
    [InlineData("round(-2.5)", -3)]
    [InlineData("round(1.2345, 2)", 1.23)]
    [InlineData("pow(2, 10)", 1024)]
    [InlineData("pow(2, -2)", 0.25)]
    [InlineData("pow(4, 0.5)", 2)]
    [InlineData("pow(-2, 3)", -8)]
    [InlineData("max(abs(-3), sqrt(4)) * 2", 6)]
    public void Evaluate_Functions_GiveTheirValues(string text, double expected)
    {
        Assert.Equal(expected, Eval(text).Number, 12);
    }

    [Fact]
    public void Evaluate_Paths_ReadFieldsIndexesAndQuotedKeys()
    {
        const string item = """{"price":2.5,"items":[10,20,30],"odd key":{"n":4},"kind":"a"}""";

        Assert.Equal(5, Eval("x.price * 2", item).Number);
        Assert.Equal(20, Eval("x.items.1", item).Number);
        Assert.Equal(30, Eval("x.items[2]", item).Number);
        Assert.Equal(4, Eval("x[\"odd key\"].n", item).Number);
        Assert.True(Eval("x.kind == 'a'", item).Boolean);
        Assert.Equal(ValueKind.Null, Eval("x.missing.deeper", item).Kind);
        Assert.Equal(ValueKind.Null, Eval("x.items.7", item).Kind);
        Assert.Equal(7, Eval("x", "7").Number);
    }

    [Theory]
    [InlineData("1 + * 2", 5, "expected a number")]
    [InlineData("(1 + 2", 7, "expected ')'")]
    [InlineData("x.", 3, "after '.'")]
    [InlineData("foo(1)", 1, "unknown function 'foo'")]
    [InlineData("y + 1", 1, "unknown name 'y'")]
    [InlineData("1 = 1", 3, "did you mean '=='")]
    [InlineData("abs(1, 2)", 1, "abs() takes 1 argument(s), got 2")]
    [InlineData("x.a + 'abc", 7, "no closing '")]
    [InlineData("1 2", 3, "expected an operator")]
    [InlineData("2 + 3e", 6, "exponent has no digits")]
    [InlineData("x.price # 2", 9, "unexpected character '#'")]
    [InlineData("   ", 1, "the expression is empty")]
    [InlineData("x + System.IO.File", 5, "unknown name 'System'")]
    public void Parse_MalformedText_FailsNamingThePosition(string text, int position, string reason)
    {
        var e = Assert.Throws<ExpressionSyntaxException>(() => Expression.Parse(text));

        Assert.Equal(position, e.Position);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.EndsWith($"at position {position}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TextOverTheLimit_Fails()
    {
        var e = Assert.Throws<ExpressionSyntaxException>(() => Expression.Parse("1+" + new string('1', Expression.MaxLength)));

        Assert.Contains("the limit is 1000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DeepNesting_FailsInsteadOfExhaustingTheStack()
    {
        var text = new string('(', 200) + "1" + new string(')', 200);

        var e = Assert.Throws<ExpressionSyntaxException>(() => Expression.Parse(text));

        Assert.Contains("nests more than 64 levels", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("x / (x - 1)", "division by zero at position 3")]
    [InlineData("x % 0", "modulo by zero at position 3")]
    [InlineData("pow(0, -1)", "division by zero")]
    [InlineData("sqrt(x - 2)", "sqrt of a negative number (-1) at position 1")]
    [InlineData("pow(10, 400)", "too large")]
    [InlineData("x * 1e308 * 10", "too large to represent at position 11")]
    public void Evaluate_UndefinedArithmetic_FailsClearly(string text, string reason)
    {
        var expression = Expression.Parse(text);

        var e = Assert.Throws<ExpressionEvaluationException>(() => expression.Evaluate(JsonNode.Parse("1")));

        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("x + 1", "\"a\"", "'+' needs a number, got a string at position 3")]
    [InlineData("x.price * 2", "{}", "'*' needs a number, got null at position 9")]
    [InlineData("x && true", "1", "'&&' needs true or false on both sides, got a number")]
    [InlineData("!x", "\"yes\"", "'!' needs true or false")]
    [InlineData("x < 'b'", "1", "compares two numbers or two strings, got a number and a string")]
    public void Evaluate_WrongKinds_FailsWithoutCoercion(string text, string item, string reason)
    {
        var expression = Expression.Parse(text);

        var e = Assert.Throws<ExpressionEvaluationException>(() => expression.Evaluate(JsonNode.Parse(item)));

        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }
}
