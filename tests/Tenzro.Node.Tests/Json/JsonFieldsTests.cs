using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Tests.Jcs;

/// <summary>The one field reader: a member of the wrong kind is a type error named by its path and reads as absent.</summary>
[Trait("Suite", "json")]
public sealed class JsonFieldsTests
{
    [Fact]
    public void Readers_MembersOfTheRightKind_ReadTheirValues()
    {
        var errors = new ValidationErrors();
        var fields = new JsonFields(JsonNode.Parse("""{"s":"x","n":2.5,"b":false,"o":{},"a":[1]}""")!.AsObject(), "data", errors);

        Assert.Equal("x", fields.OptionalString("s"));
        Assert.Equal(2.5, fields.OptionalDouble("n"));
        Assert.Equal("2.5", fields.OptionalNumberText("n"));
        Assert.False(fields.OptionalBool("b"));
        Assert.NotNull(fields.OptionalObject("o"));
        Assert.Single(fields.OptionalArray("a", "must be an array.")!);
        Assert.Null(fields.OptionalString("absent"));
        Assert.True(errors.IsEmpty);
    }

    [Fact]
    public void Readers_WrongKinds_AddOneTypeErrorEachUnderTheMembersPath()
    {
        var errors = new ValidationErrors();
        var fields = new JsonFields(JsonNode.Parse("""{"s":1,"n":"2","b":"yes","o":[]}""")!.AsObject(), "config", errors);

        Assert.Null(fields.OptionalString("s"));
        Assert.Null(fields.OptionalDouble("n", "must be a number of seconds."));
        Assert.Null(fields.OptionalBool("b"));
        Assert.Null(fields.OptionalObject("o"));
        Assert.Null(fields.RequiredString("missing", "is required."));

        Assert.True(errors.HasTypeErrors);
        Assert.Equal(5, errors.Count);
        var byField = errors.ToDictionary();
        Assert.Equal(["must be a string."], byField["config.s"]);
        Assert.Equal(["must be a number of seconds."], byField["config.n"]);
        Assert.Equal(["must be true or false."], byField["config.b"]);
        Assert.Equal(["must be an object."], byField["config.o"]);
        Assert.Equal(["is required."], byField["config.missing"]);
    }

    [Fact]
    public void NumberOf_ParsedAndBuiltValues_ReadAlike()
    {
        Assert.Equal(12.0, JsonFields.NumberOf(JsonNode.Parse("12")!));
        Assert.Equal(12.0, JsonFields.NumberOf(JsonValue.Create(12L)));
        Assert.Equal(double.PositiveInfinity, JsonFields.NumberOf(JsonNode.Parse("1e400")!));
    }
}
