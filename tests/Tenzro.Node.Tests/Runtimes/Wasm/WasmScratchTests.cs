using System.Text.Json.Nodes;
using Tenzro.Node.Core.Tasks;
using Tenzro.Node.Runtimes.Wasm;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Runtimes.Wasm;

/// <summary>Hostile WASI modules against the /scratch limit (requirements.storageMB): links, unreadable targets, empty directories.</summary>
[Trait("Suite", "wasm")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class WasmScratchTests : IDisposable
{
    private static readonly JsonObject ScratchConfig = new() { ["scratch"] = true, ["fuel"] = 1e15 };

    private readonly WasmSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    [Fact]
    public async Task LinkToADirectoryOutsideScratch_IsNeitherFollowedNorMeasured()
    {
        // 5 MB beside the sandbox, reached from /scratch by a relative link (cap-std accepts it): a walk that
        // followed it would stop a task with a 1 MB limit, and tell it the size of any directory on the machine.
        var outside = Directory.CreateDirectory(Path.Combine(_sandbox.Directory, "outside"));
        var canary = Path.Combine(outside.FullName, "canary");
        await File.WriteAllBytesAsync(canary, new byte[5 * 1024 * 1024]);
        var task = Task(LinkThen("../../../outside", write: false));

        var result = await _sandbox.RunAsync(task);

        Assert.Equal("[0]", result["returns"]!.ToJsonString());
        Assert.Equal(5 * 1024 * 1024, new FileInfo(canary).Length);
    }

    [Fact]
    public async Task LinkToAnUnreadableDirectory_DoesNotTurnTheLimitOff()
    {
        // The review's escape: the walk threw on the link's target, counted 0 bytes, and 200 MB were written under a 1 MB limit.
        var locked = Directory.CreateDirectory(Path.Combine(_sandbox.Directory, "private"));
        File.SetUnixFileMode(locked.FullName, UnixFileMode.None);
        try
        {
            var failure = await _sandbox.FailAsync(Task(LinkThen("../../../private", write: true)));

            Assert.Equal(WasmFailure.ScratchLimit, failure.Failure);
            Assert.Contains("more than requirements.storageMB (1 MB)", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.SetUnixFileMode(locked.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public async Task ManyEmptyDirectories_CountAgainstTheLimit()
    {
        var task = Task(new JsonObject { ["wat"] = WasmModules.MakeDirectories, ["entry"] = "mkdirs" });
        var context = _sandbox.Context(task);

        var failure = await Assert.ThrowsAsync<WasmTaskException>(() => _sandbox.Runtime.ExecuteAsync(context).WaitAsync(Support.Timeouts.Short));

        Assert.Equal(WasmFailure.ScratchLimit, failure.Failure);
        Assert.Contains("files, directories and links, each at least 4 KiB", failure.Message, StringComparison.Ordinal);
        // 1 MB is 256 entries of 4 KiB; what the module made between two walks is the documented overshoot.
        var made = Directory.GetDirectories(Path.Combine(context.ScratchDirectory, "scratch")).Length;
        Assert.InRange(made, 256, 256 + 20_000);
    }

    [Fact]
    public async Task FilesWrittenJustBeforeTheModuleReturns_AreCounted()
    {
        // 2 MB in one call, then return at once: the last walk runs after the module ends.
        var failure = await _sandbox.FailAsync(Task(LinkThen("nowhere", write: true, chunks: 32)));

        Assert.Equal(WasmFailure.ScratchLimit, failure.Failure);
    }

    private static TaskSpec Task(JsonObject data) => WasmSandbox.Task(data, ScratchConfig.DeepClone().AsObject(), ResourceAmounts.TaskDefault with { StorageMB = 1 });

    /// <summary>
    /// A module whose "run" makes the link /scratch/l → <paramref name="target"/>; then, with <paramref name="write"/>,
    /// writes 64 KiB chunks to /scratch/big (<paramref name="chunks"/> of them, or forever). Returns the link's errno.
    /// </summary>
    private static JsonObject LinkThen(string target, bool write, int chunks = -1)
    {
        var writes = !write ? string.Empty : $$"""
            (local.set $e (call $open (i32.const 3) (i32.const 0) (i32.const 400) (i32.const 3) (i32.const 9) (i64.const 0x1FFFFFFF) (i64.const 0) (i32.const 0) (i32.const 500)))
            (i32.store (i32.const 16) (i32.const 65536))
            (i32.store (i32.const 20) (i32.const 65536))
            (loop $write
              (drop (call $write (i32.load (i32.const 500)) (i32.const 16) (i32.const 1) (i32.const 24)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $write (i32.ne (local.get $i) (i32.const {{chunks}}))))
            """;
        var wat = $$"""
            (module
              (import "wasi_snapshot_preview1" "path_symlink" (func $symlink (param i32 i32 i32 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 2)
              (data (i32.const 200) "{{target}}")
              (data (i32.const 300) "l")
              (data (i32.const 400) "big")
              (func (export "run") (result i32) (local $link i32) (local $e i32) (local $i i32)
                (local.set $link (call $symlink (i32.const 200) (i32.const {{target.Length}}) (i32.const 3) (i32.const 300) (i32.const 1)))
                {{writes}}
                (local.get $link)))
            """;
        return new JsonObject { ["wat"] = wat, ["entry"] = "run" };
    }
}
