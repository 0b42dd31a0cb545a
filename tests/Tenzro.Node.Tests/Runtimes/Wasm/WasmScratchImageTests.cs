using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Tenzro.Node.Core.Resources;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Wasm;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Wasm;

/// <summary>
/// /scratch as a quota file system of its own (SCRATCH_QUOTA=auto): an ext4 image of requirements.storageMB, loop-mounted
/// for the task. Where this machine cannot make one (not root, no loop devices, no mkfs.ext4), each test checks that the
/// node says why and falls back to the walk instead.
/// </summary>
[Trait("Suite", "wasm")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class WasmScratchImageTests : IDisposable
{
    private static readonly JsonObject ScratchConfig = new() { ["scratch"] = true, ["fuel"] = 1e15 };

    private readonly string _root = TestNode.NewDirectory();
    private readonly ScratchImages _images;
    private readonly WasmSandbox _sandbox;

    public WasmScratchImageTests()
    {
        _images = ScratchImages.Detect("auto", Path.Combine(_root, "scratch"), NullLogger.Instance);
        _sandbox = new WasmSandbox(_images);
    }

    public void Dispose()
    {
        ScratchMounts.UnmountUnder(_sandbox.Directory);
        ScratchMounts.UnmountUnder(_root);
        _sandbox.Dispose();
        TaskScratch.TryDelete(_root);
    }

    [Fact]
    public async Task WritingPastTheLimit_FailsInsideTheModule_WithNoOvershoot()
    {
        if (NoImages())
        {
            return;
        }

        var context = _sandbox.Context(Task(Fill(8 << 20)));

        var result = await _sandbox.Runtime.ExecuteAsync(context).WaitAsync(Timeouts.Short);

        // It asked for 8 MB in 64 KiB writes; the kernel refused the write that did not fit a 1 MB image (the walk lets a
        // module write for a whole epoch past the limit before it stops it). The image's own metadata is inside the MB.
        var written = result["returns"]![0]!.GetValue<int>();
        Assert.InRange(written, 512 * 1024, 1 << 20);
        AssertUnmountedAndRemoved(context);
    }

    [Fact]
    public async Task WritingWithinTheLimit_Completes_AndTheImageIsGoneAfterwards()
    {
        if (NoImages())
        {
            return;
        }

        var context = _sandbox.Context(Task(Fill(512 * 1024)));

        var result = await _sandbox.Runtime.ExecuteAsync(context).WaitAsync(Timeouts.Short);

        Assert.Equal("[524288]", result["returns"]!.ToJsonString());
        AssertUnmountedAndRemoved(context);
    }

    [Fact]
    public async Task ImageIsTheModulesOnlyDisk_ItSeesAnEmptyScratch()
    {
        if (NoImages())
        {
            return;
        }

        // The image's lost+found is removed, so the module finds /scratch as empty as a plain directory: it can make a
        // directory named lost+found itself.
        var wat = """
            (module
              (import "wasi_snapshot_preview1" "path_create_directory" (func $mkdir (param i32 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 100) "lost+found")
              (func (export "run") (result i32) (call $mkdir (i32.const 3) (i32.const 100) (i32.const 10))))
            """;

        var result = await _sandbox.RunAsync(Task(new JsonObject { ["wat"] = wat, ["entry"] = "run" }));

        Assert.Equal("[0]", result["returns"]!.ToJsonString());
    }

    [Fact]
    public async Task ManyEmptyDirectories_StopAtTheImagesSize()
    {
        if (NoImages())
        {
            return;
        }

        var result = await _sandbox.RunAsync(Task(new JsonObject { ["wat"] = WasmModules.MakeDirectories, ["entry"] = "mkdirs" }));

        // Each directory takes a block (1 KiB here) and an inode of the image: mkdir fails once they run out, well within
        // the MB (the walk counts each one 4 KiB, so 256 of them, and lets more through between two walks).
        Assert.InRange(result["returns"]![0]!.GetValue<int>(), 1, 1024);
    }

    [Fact]
    public void LeftoverMount_OfAKilledNode_IsUnmountedAndRemovedAtStart()
    {
        if (NoImages())
        {
            return;
        }

        var scratch = new TaskScratch(Path.Combine(_root, "scratch"));
        var mountPoint = Path.Combine(scratch.PathFor("t-left-behind"), "scratch");
        var image = Assert.IsType<ScratchImage>(_images.TryMount(mountPoint, 1 << 20));
        File.WriteAllText(Path.Combine(mountPoint, "kept-by-a-killed-node"), "x");

        scratch.RemoveLeftovers();

        Assert.DoesNotContain(mountPoint, MountPoints());
        Assert.Empty(Directory.GetFileSystemEntries(scratch.Root));
        GC.KeepAlive(image);
    }

    [Fact]
    public void LeftoverMount_UnderADataDirReachedThroughALink_IsStillFound()
    {
        if (NoImages())
        {
            return;
        }

        // The kernel lists mount points by their real path; a DATA_DIR given through a link must still find them.
        var real = Directory.CreateDirectory(Path.Combine(_root, "real")).FullName;
        var link = Path.Combine(_root, "link");
        Directory.CreateSymbolicLink(link, real);
        var scratch = new TaskScratch(Path.Combine(link, "scratch"));
        var mountPoint = Path.Combine(scratch.PathFor("t-linked"), "scratch");
        Assert.NotNull(_images.TryMount(mountPoint, 1 << 20));

        scratch.RemoveLeftovers();

        Assert.DoesNotContain(Path.Combine(real, "scratch", Path.GetFileName(scratch.PathFor("t-linked")), "scratch"), MountPoints());
        Assert.Empty(Directory.GetFileSystemEntries(scratch.Root));
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("walk")]
    public async Task Node_ComputeTaskWritingPastItsStorage_IsHeldAsTheProfileSays(string mode)
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?> { ["SCRATCH_QUOTA"] = mode });
        var choice = (await node.Client.GetJsonAsync("/api/hardware/profile"))["optimizations"]!.AsArray()
            .Single(o => o!["name"]!.GetValue<string>() == "scratchQuota")!;
        var task = new JsonObject
        {
            ["type"] = "compute",
            ["requirements"] = new JsonObject { ["storageMB"] = 1 },
            ["config"] = ScratchConfig.DeepClone(),
            ["data"] = Fill(8 << 20),
        };

        var (_, answer) = await node.Client.SubmitAsync(task.ToJsonString(), "?wait=20s");
        var body = Assert.IsType<JsonObject>(answer);

        Assert.Equal("SCRATCH_QUOTA", choice["setting"]!.GetValue<string>());
        if (choice["value"]!.GetValue<string>() == "image")
        {
            // The kernel refused the writes past the image: the module saw a full disk and returned what it wrote.
            Assert.Equal("auto", mode);
            Assert.Equal("completed", body["state"]!.GetValue<string>());
            Assert.InRange(body["result"]!["returns"]![0]!.GetValue<int>(), 512 * 1024, 1 << 20);
        }
        else
        {
            // The walk stopped the module once it had written more than the MB.
            Assert.True(mode == "walk" || NoImages());
            Assert.Equal("failed", body["state"]!.GetValue<string>());
            Assert.Contains("more than requirements.storageMB (1 MB)", body["error"]!.ToJsonString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Walk_IsChosenBySetting_WithTheReason()
    {
        var images = ScratchImages.Detect("walk", Path.Combine(_root, "scratch"), NullLogger.Instance);

        Assert.Equal("SCRATCH_QUOTA is walk", images.Off);
        Assert.Null(images.TryMount(Path.Combine(_root, "scratch", "x"), 1 << 20));
        var choice = Assert.Single(images.Choices());
        Assert.Equal("walk", choice.Value!.GetValue<string>());
        Assert.Equal("SCRATCH_QUOTA", choice.Setting);
    }

    [Fact]
    public void MountPoints_UndoTheKernelsEscapes()
    {
        var lines = new[]
        {
            @"52 27 7:0 / /data/scratch/ab\040cd/scratch rw,nosuid - ext4 /dev/loop0 rw",
            "22 1 8:1 / / rw - ext4 /dev/vda rw",
        };

        Assert.Equal(["/data/scratch/ab cd/scratch", "/"], ScratchMounts.MountPoints(lines));
    }

    /// <summary>
    /// True, having checked that the reason is one this machine explains, where no image can be made here. The tests
    /// of the walk (<see cref="WasmScratchTests"/>) hold the limit on such a machine.
    /// </summary>
    private bool NoImages()
    {
        if (_images.Off is not { } reason)
        {
            return false;
        }

        Assert.True(
            !Environment.IsPrivilegedProcess || !File.Exists("/dev/loop-control") || reason.Contains("was not found", StringComparison.Ordinal) || reason.Contains("tmpfs", StringComparison.Ordinal),
            $"images are off on a machine that should make them: {reason}");
        return true;
    }

    private static void AssertUnmountedAndRemoved(TaskExecutionContext context)
    {
        var mountPoint = Path.Combine(context.ScratchDirectory, "scratch");
        Assert.DoesNotContain(mountPoint, MountPoints());
        Assert.False(File.Exists(mountPoint + ".img"), "the image file outlived its task");
    }

    private static List<string> MountPoints() => [.. ScratchMounts.MountPoints(File.ReadAllLines("/proc/self/mountinfo"))];

    private static TaskSpec Task(JsonObject data) => WasmSandbox.Task(data, ScratchConfig.DeepClone().AsObject(), ResourceAmounts.TaskDefault with { StorageMB = 1 });

    /// <summary>"fill" writes 64 KiB chunks to /scratch/big until <paramref name="bytes"/> or a write fails; returns the bytes written.</summary>
    private static JsonObject Fill(int bytes)
    {
        var wat = $$"""
            (module
              (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 2)
              (data (i32.const 400) "big")
              (func (export "fill") (result i32) (local $total i32) (local $fd i32)
                (drop (call $open (i32.const 3) (i32.const 0) (i32.const 400) (i32.const 3) (i32.const 9) (i64.const 0x1FFFFFFF) (i64.const 0) (i32.const 0) (i32.const 500)))
                (local.set $fd (i32.load (i32.const 500)))
                (i32.store (i32.const 16) (i32.const 65536))
                (i32.store (i32.const 20) (i32.const 65536))
                (block $stop
                  (loop $more
                    (br_if $stop (call $write (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 24)))
                    (br_if $stop (i32.eqz (i32.load (i32.const 24))))
                    (local.set $total (i32.add (local.get $total) (i32.load (i32.const 24))))
                    (br_if $more (i32.lt_u (local.get $total) (i32.const {{bytes}})))))
                (local.get $total)))
            """;
        return new JsonObject { ["wat"] = wat, ["entry"] = "fill" };
    }
}
