using System.Text.Json.Nodes;
using CsCheck;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Tasks;

/// <summary>Properties of the task parser and validator, over generated task objects.</summary>
[Trait("Suite", "tasks")]
public sealed class TaskParserPropertyTests
{
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromSeconds(1800);
    private static readonly string[] Types = ["store", "compute", "process"];
    private static readonly string[] Fields = ["taskId", "type", "priority", "requirements", "data", "config", "timeout"];

    /// <summary>Objects whose known fields hold values of any JSON type, valid or not.</summary>
    private static readonly Gen<JsonObject> AnyTask = Gen.Select(Gen.OneOf(Fields.Select(Gen.Const).ToArray()), JsonGen.Value).Array[0, 8]
        .Select(members =>
        {
            var task = new JsonObject();
            foreach (var (name, value) in members)
            {
                task[name] = value;
            }

            return task;
        });

    private static readonly Gen<JsonObject> ValidTask = Gen.Select(
            Gen.OneOf(Types.Select(Gen.Const).ToArray()),
            Gen.OneOf(Gen.Const("low"), Gen.Const("medium"), Gen.Const("high"), Gen.Const("critical")),
            Gen.Double[0.01, 64],
            Gen.Long[0, 1 << 20],
            Gen.Double[0.001, 1800],
            JsonGen.Object)
        .Select((type, priority, cpu, memory, timeout, data) => new JsonObject
        {
            ["type"] = type,
            ["priority"] = priority,
            ["requirements"] = new JsonObject { ["cpu"] = cpu, ["memoryMB"] = memory },
            ["timeout"] = timeout,
            ["data"] = data,
        });

    [Fact]
    public void Parse_AnyFieldValues_NeverThrowsAndEitherGivesASpecOrSaysWhy() =>
        AnyTask.Sample(body =>
        {
            var errors = new ValidationErrors();

            var spec = TaskParser.Parse(body, MaxTimeout, Types, TaskOrigins.Api, errors);

            Assert.True(spec is not null || !errors.IsEmpty);
            if (spec is not null && errors.IsEmpty)
            {
                Assert.Contains(spec.Type, Types);
                Assert.InRange(spec.Timeout, TimeSpan.Zero, MaxTimeout);
                Assert.True(spec.Requirements.Cpu >= 0.01 && spec.Requirements.MemoryMB >= 0);
            }
        }, iter: 3000);

    [Fact]
    public void Parse_ValidTask_HasNoErrorsAndSurvivesTheStoredFormWithTheSameContentHash() =>
        ValidTask.Sample(body =>
        {
            var errors = new ValidationErrors();

            var spec = TaskParser.Parse(body, MaxTimeout, Types, TaskOrigins.Api, errors)!;
            var stored = TaskParser.FromStored(TaskParser.ToStored(spec));

            Assert.True(errors.IsEmpty, errors.ToString());
            Assert.Equal(TaskParser.ContentHash(spec), TaskParser.ContentHash(stored));
            Assert.Equal(spec.Requirements, stored.Requirements);
            Assert.Equal(spec.Priority, stored.Priority);
        }, iter: 2000);

    [Fact]
    public void ContentHash_SameTaskWithMembersInAnotherOrder_IsTheSame() =>
        ValidTask.Sample(body =>
        {
            var reversed = new JsonObject(body.Reverse().Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));

            var first = TaskParser.Parse(body, MaxTimeout, Types, TaskOrigins.Api, new ValidationErrors())!;
            var second = TaskParser.Parse(reversed, MaxTimeout, Types, TaskOrigins.Api, new ValidationErrors())!;

            Assert.Equal(TaskParser.ContentHash(first), TaskParser.ContentHash(second));
        }, iter: 1000);
}
