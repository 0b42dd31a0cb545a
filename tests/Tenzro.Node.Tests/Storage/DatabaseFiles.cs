namespace Tenzro.Node.Tests.Storage;

/// <summary>Damages database files the way a failing disk does, for the tests of what the node does then.</summary>
public static class DatabaseFiles
{
    /// <summary>Overwrites <paramref name="length"/> bytes from <paramref name="offset"/> with a fixed pseudo-random pattern.</summary>
    public static void Damage(string path, long offset, int length)
    {
        var garbage = new byte[length];
        new Random(22).NextBytes(garbage);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(garbage);
        file.Flush(flushToDisk: true);
    }
}
