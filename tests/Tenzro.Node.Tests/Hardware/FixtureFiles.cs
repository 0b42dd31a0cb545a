namespace Tenzro.Node.Tests.Hardware;

/// <summary>The files under Hardware/Fixtures (copied next to the test assembly), and scratch trees built from them.</summary>
internal static class FixtureFiles
{
    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "Hardware", "Fixtures", name);

    public static string Read(string name) => File.ReadAllText(PathOf(name));
}

/// <summary>A directory under the temp folder that stands for a filesystem root (/proc, /sys, ...); deleted on dispose.</summary>
internal sealed class TempTree : IDisposable
{
    public TempTree()
    {
        Root = Path.Combine(Path.GetTempPath(), "tenzro-hw-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    /// <summary>Writes <paramref name="content"/> at the absolute path <paramref name="path"/> of the tree.</summary>
    public TempTree Write(string path, string content)
    {
        var full = Path.Join(Root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        return this;
    }

    public TempTree CreateDirectory(string path)
    {
        Directory.CreateDirectory(Path.Join(Root, path));
        return this;
    }

    /// <summary>Creates a symbolic link at <paramref name="path"/> pointing to <paramref name="target"/> (relative, as sysfs links are).</summary>
    public TempTree Link(string path, string target)
    {
        var full = Path.Join(Root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        Directory.CreateSymbolicLink(full, target);
        return this;
    }

    /// <summary>Copies a fixture tree (e.g. "cgroup-v2") into this one.</summary>
    public TempTree CopyFixture(string name)
    {
        var source = FixtureFiles.PathOf(name);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Join(Root, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }

        return this;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
