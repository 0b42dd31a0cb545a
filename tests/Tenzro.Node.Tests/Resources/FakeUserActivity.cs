using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Resources;

/// <summary>A user the test controls: active (input just now), idle (input long ago) or absent (headless).</summary>
internal sealed class FakeUserActivity(TimeProvider time) : IUserActivity
{
    public FakeUserActivity()
        : this(TimeProvider.System)
    {
    }

    /// <summary>When set, the reading says the last input was this long ago; null: headless.</summary>
    public TimeSpan? InputAgo { get; set; } = TimeSpan.FromHours(1);

    public bool Active
    {
        set => InputAgo = value ? TimeSpan.Zero : TimeSpan.FromHours(1);
    }

    public Task<UserActivityReading> ReadAsync(CancellationToken cancellationToken) =>
        Task.FromResult(InputAgo is { } ago
            ? new UserActivityReading(time.GetUtcNow() - ago, "test keyboard")
            : UserActivityReading.Headless());
}
