namespace Tenzro.Node.IntegrationTests;

/// <summary>Tests that start node processes run one at a time, so CI on 2 cores is neither slow nor flaky.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessCollection
{
    public const string Name = "node processes";
}
