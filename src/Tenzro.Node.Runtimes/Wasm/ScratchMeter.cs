using System.Diagnostics;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// Measures a task's <c>/scratch</c> directory against its limit without ever following a link the module made:
/// a link counts as one entry and is not opened, and nothing outside the directory is measured.
/// </summary>
/// <remarks>
/// Every entry (file, directory or link) counts at least one <see cref="BlockBytes"/> block, and a file its length
/// rounded up to whole blocks, so that empty directories and files use the limit as they use the disk. A walk stops
/// as soon as the total is above the limit, and any error during it (an entry that cannot be read) counts as over
/// the limit: the module owns the directory, so an error there is of its making; a directory the module removed
/// while it was measured counts nothing. A walk is skipped while less time has passed since the last one than that walk took,
/// so that measuring never takes more than about half of the module's thread. Between two walks the module can
/// write as fast as the disk allows: the overshoot is what it writes in one epoch (10 ms) plus one walk.
/// Where the directory is a quota file system of its own (<see cref="Image"/>), none of this applies: the kernel refuses
/// a write past the limit (the module sees ENOSPC and goes on or fails as it decides), so there is no overshoot.
/// Not thread-safe: used by the module's thread only.
/// </remarks>
internal sealed class ScratchMeter(string directory, long limitBytes)
{
    /// <summary>The least an entry counts for: one file-system block.</summary>
    public const long BlockBytes = 4096;

    private static readonly EnumerationOptions OneLevel = new()
    {
        RecurseSubdirectories = false,
        IgnoreInaccessible = false,
        AttributesToSkip = 0,
        ReturnSpecialDirectories = false,
    };

    private long _nextWalk;

    /// <summary>
    /// The quota file system mounted on the directory (<see cref="ScratchImages"/>), if any: the kernel then holds the
    /// limit (a write past it fails inside the module with ENOSPC, as on a full disk), so nothing is walked.
    /// </summary>
    public ScratchImage? Image { get; set; }

    /// <summary>Measures now unless the last walk was too recent; returns why the limit is broken, or null.</summary>
    public string? Check(bool force = false)
    {
        if (Image is not null)
        {
            return null;
        }

        var now = Stopwatch.GetTimestamp();
        if (!force && now < _nextWalk)
        {
            return null;
        }

        var over = Measure();
        var end = Stopwatch.GetTimestamp();
        _nextWalk = end + (end - now);
        return over;
    }

    /// <summary>Walks the directory; returns why the limit is broken, or null when it holds.</summary>
    private string? Measure()
    {
        long used = 0;
        var pending = new Stack<DirectoryInfo>();
        pending.Push(new DirectoryInfo(directory));
        try
        {
            while (pending.TryPop(out var current))
            {
                IEnumerable<FileSystemInfo> entries;
                try
                {
                    entries = current.EnumerateFileSystemInfos("*", OneLevel).ToList();
                }
                catch (DirectoryNotFoundException) when (current.FullName != directory)
                {
                    // The module removed it since its parent was listed: it uses nothing now.
                    continue;
                }

                foreach (var entry in entries)
                {
                    // The attributes are those of the entry itself (lstat): a link is counted, never followed, as its
                    // target may be anywhere on this machine.
                    used += BlockBytes;
                    if (entry.Attributes.HasFlag(FileAttributes.ReparsePoint))
                    {
                        continue;
                    }

                    if (entry is DirectoryInfo child)
                    {
                        pending.Push(child);
                    }
                    else if (entry is FileInfo file)
                    {
                        used += Math.Max(0, ((file.Length + BlockBytes - 1) / BlockBytes * BlockBytes) - BlockBytes);
                    }

                    if (used > limitBytes)
                    {
                        return $"the module used more than requirements.storageMB ({limitBytes / (1024 * 1024)} MB) in /scratch (files, directories and links, each at least {BlockBytes / 1024} KiB); it was stopped";
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.SecurityException)
        {
            return "/scratch could not be measured (an entry the module made cannot be read), which counts as over requirements.storageMB; it was stopped";
        }

        return null;
    }
}
