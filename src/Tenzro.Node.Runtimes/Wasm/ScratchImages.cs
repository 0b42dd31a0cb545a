using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Tenzro.Node.Core.Hardware;
using Tenzro.Node.Core.Optimization;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Diagnostics;

namespace Tenzro.Node.Runtimes.Wasm;

/// <summary>
/// Per-task quota file systems for <c>/scratch</c> (<c>SCRATCH_QUOTA=auto</c>): an ext4 image file exactly the size of
/// the task's <c>requirements.storageMB</c>, made in the task's scratch directory on DATA_DIR's disk and loop-mounted
/// (<c>nosuid,nodev,noexec</c>) where the module sees <c>/scratch</c>. The kernel then holds the limit: a write past it
/// fails inside the module with ENOSPC (no space left on device), as on a full disk, and the module goes on or fails as it
/// decides; files, directories, links and inodes all live inside the image, so nothing the module does can use more of
/// the host's disk than the image, and there is no overshoot. Made only where the node may mount (root, Linux, <c>/dev/loop-control</c>, <c>mkfs.ext4</c>) and
/// where DATA_DIR is not in memory (an image on tmpfs would be RAM that nobody counts); elsewhere, and for a task whose
/// image cannot be made, the scratch is a plain directory measured by <see cref="ScratchMeter"/>'s walk.
/// </summary>
/// <remarks>
/// Thread-safe; mounts are made one at a time. A task whose image fails falls back to the walk (event 6105); three failures
/// in a row turn images off for the rest of the process (event 6104), so that the next tasks do not pay for doomed
/// attempts, and the walk holds their limit.
/// </remarks>
internal sealed partial class ScratchImages : IOptimizationSource
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(30);
    private static readonly ProcessToolRunner Tools = new();

    /// <summary>Failed images in a row after which the node stops trying (a machine that cannot mount, not a passing error).</summary>
    private const int FailuresBeforeOff = 3;
    private readonly Lock _mounting = new();
    private int _failuresInARow;
    private readonly ILogger _logger;
    private readonly string? _mkfs;
    private readonly string? _mount;
    private volatile string? _off;

    private ScratchImages(string? mkfs, string? mount, string? off, ILogger logger)
    {
        _mkfs = mkfs;
        _mount = mount;
        _off = off;
        _logger = logger;
    }

    /// <summary>Null while images are made; otherwise why each task's scratch is a measured directory instead.</summary>
    public string? Off => _off;

    /// <summary>What <c>SCRATCH_QUOTA</c> (<c>auto</c> or <c>walk</c>) gives on this machine for scratch directories under <paramref name="scratchRoot"/>.</summary>
    public static ScratchImages Detect(string mode, string scratchRoot, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        if (mode == "walk")
        {
            return new(null, null, "SCRATCH_QUOTA is walk", logger);
        }

        if (!OperatingSystem.IsLinux())
        {
            return new(null, null, "loop-mounted images are made on Linux only", logger);
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return new(null, null, "the node does not run as root, so it may not mount an image", logger);
        }

        if (!File.Exists("/dev/loop-control"))
        {
            return new(null, null, "this machine has no loop devices (/dev/loop-control)", logger);
        }

        var mkfs = Tool("mkfs.ext4");
        var mount = Tool("mount");
        if (mkfs is null || mount is null)
        {
            return new(null, null, $"{(mkfs is null ? "mkfs.ext4" : "mount")} was not found (e2fsprogs and util-linux provide them)", logger);
        }

        var format = DiskFormat(scratchRoot);
        if (format is "tmpfs" or "ramfs")
        {
            return new(null, null, $"DATA_DIR is on {format}: an image there would be memory that no reservation counts", logger);
        }

        return new(mkfs, mount, null, logger);
    }

    /// <summary>
    /// Makes and mounts an image of <paramref name="limitBytes"/> (whole MiB, at least 1) on <paramref name="mountPoint"/>,
    /// the image file beside it. Null when images are off, or when this one failed (the task then uses the walk; after
    /// <see cref="FailuresBeforeOff"/> failures in a row, every task does).
    /// </summary>
    public ScratchImage? TryMount(string mountPoint, long limitBytes)
    {
        if (_off is not null)
        {
            return null;
        }

        var image = mountPoint.TrimEnd('/') + ".img";
        var sizeMiB = Math.Max(1, (limitBytes + (1 << 20) - 1) >> 20);
        try
        {
            Directory.CreateDirectory(mountPoint);
            using (var file = new FileStream(image, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                // Sparse: the image takes disk only as the module writes, up to its size.
                file.SetLength(sizeMiB << 20);
            }

            // mkfs discards the fresh file's blocks (cheap holes) and so marks the inode tables zeroed: the kernel then
            // writes no tables into the image in the background after the mount.
            Run(_mkfs!, "-q", "-F", "-m", "0", "-O", "^has_journal", "-E", "root_owner=0:0", image);
            lock (_mounting)
            {
                // One at a time: concurrent `mount -o loop` calls can race for the same free loop device.
                Run(_mount!, "-t", "ext4", "-o", "loop,nosuid,nodev,noexec,noatime", image, mountPoint);
            }

            var lostFound = Path.Combine(mountPoint, "lost+found");
            if (Directory.Exists(lostFound))
            {
                Directory.Delete(lostFound);
            }

            Interlocked.Exchange(ref _failuresInARow, 0);
            return new ScratchImage(mountPoint, image);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            ScratchMounts.Unmount(mountPoint);
            TryDeleteFile(image);
            if (Interlocked.Increment(ref _failuresInARow) >= FailuresBeforeOff)
            {
                _off = $"{FailuresBeforeOff} images in a row could not be made or mounted (the last: {e.Message}); since then scratch directories are measured";
                Log.ImagesOff(_logger, e.Message);
            }
            else
            {
                Log.ImageFailed(_logger, e.Message);
            }

            return null;
        }
    }

    public IEnumerable<OptimizationChoice> Choices()
    {
        var off = _off;
        yield return new OptimizationChoice(
            "scratchQuota",
            JsonValue.Create(off is null ? "image" : "walk"),
            off ?? "each compute task's /scratch is an ext4 image of its requirements.storageMB, loop-mounted, so the kernel holds the limit with no overshoot (a write past it fails with ENOSPC)",
            "SCRATCH_QUOTA");
    }

    internal static void TryDeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The task's scratch directory is removed when it leaves its slot, and leftovers at the next start.
        }
    }

    /// <summary>Runs <paramref name="tool"/> to its end; throws with what it said when it fails or outlives <see cref="ToolTimeout"/>.</summary>
    private static void Run(string tool, params string[] arguments)
    {
        // On the module's own thread, which may block: the runner kills a tool that outlives its timeout.
        var run = Tools.RunAsync(tool, arguments, ToolTimeout, CancellationToken.None).GetAwaiter().GetResult();
        if (run.Outcome != ToolOutcome.Ok)
        {
            throw new InvalidOperationException(run.Detail);
        }
    }

    /// <summary>The tool on PATH, or in the system directories a service's PATH may leave out.</summary>
    private static string? Tool(string name) =>
        ProcessToolRunner.FindOnPath(name)
            ?? new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static string? DiskFormat(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            return new DriveInfo(Path.GetFullPath(directory)).DriveFormat;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.ScratchImagesOff, Level = LogLevel.Warning, Message = "Scratch images are off from now on: the last of several in a row failed with {Reason}. Each compute task's /scratch is measured by walking it instead (SCRATCH_QUOTA, docs/ISOLATION.md).")]
        public static partial void ImagesOff(ILogger logger, string reason);

        [LoggerMessage(EventId = LogEvents.ScratchImageFailed, Level = LogLevel.Warning, Message = "A task's scratch image could not be made or mounted ({Reason}); its /scratch is measured by walking it instead.")]
        public static partial void ImageFailed(ILogger logger, string reason);
    }
}

/// <summary>One task's mounted scratch image; disposing unmounts it and deletes the image file.</summary>
/// <remarks>Not thread-safe: the module's thread uses it.</remarks>
internal sealed class ScratchImage(string mountPoint, string imageFile) : IDisposable
{
    public string MountPoint { get; } = mountPoint;

    public void Dispose()
    {
        ScratchMounts.Unmount(MountPoint);
        ScratchImages.TryDeleteFile(imageFile);
    }
}
