namespace Tenzro.Node.Tests.Support;

/// <summary>Every async test awaits under one of these, so a hang fails the test instead of stalling CI.</summary>
public static class Timeouts
{
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    public static CancellationToken Token(TimeSpan? timeout = null) => new CancellationTokenSource(timeout ?? Short).Token;
}
