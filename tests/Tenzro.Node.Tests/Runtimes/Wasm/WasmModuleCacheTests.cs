using System.Security.Cryptography;
using Tenzro.Node.Runtimes.Wasm;

namespace Tenzro.Node.Tests.Runtimes.Wasm;

[Trait("Suite", "wasm")]
public sealed class WasmModuleCacheTests : IDisposable
{
    private readonly WasmSandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    private static (string Hash, byte[] Wasm) AddModule()
    {
        var wasm = WasmModules.AddBinary();
        return (Convert.ToHexStringLower(SHA256.HashData(wasm)), wasm);
    }

    [Fact]
    public void GetOrCompile_SameModuleTwice_CompilesOnceAndHitsMemory()
    {
        var (hash, wasm) = AddModule();

        var first = _sandbox.Cache.GetOrCompile(hash, wasm);
        var second = _sandbox.Cache.GetOrCompile(hash, wasm);

        Assert.Same(first, second);
        Assert.Equal(1, _sandbox.Cache.Compilations);
        Assert.Equal(1, _sandbox.Cache.MemoryHits);
        Assert.True(File.Exists(_sandbox.Cache.PathOf(hash)));
    }

    [Fact]
    public void GetOrCompile_NewCacheOverSameFolder_LoadsCwasmInsteadOfCompiling()
    {
        var (hash, wasm) = AddModule();
        _sandbox.Cache.GetOrCompile(hash, wasm);

        var restarted = _sandbox.NewCache();
        restarted.GetOrCompile(hash, wasm);

        Assert.Equal(0, restarted.Compilations);
        Assert.Equal(1, restarted.DiskHits);
    }

    [Fact]
    public void GetOrCompile_DamagedCwasm_CompilesAgainAndReplacesIt()
    {
        var (hash, wasm) = AddModule();
        File.WriteAllBytes(_sandbox.Cache.PathOf(hash), [1, 2, 3, 4]);

        _sandbox.Cache.GetOrCompile(hash, wasm);

        Assert.Equal(1, _sandbox.Cache.Compilations);
        Assert.True(new FileInfo(_sandbox.Cache.PathOf(hash)).Length > 4);
    }

    [Fact]
    public void PathOf_DependsOnModuleAndEngine_IsCwasmUnderWasmCache()
    {
        var (hash, _) = AddModule();

        var path = _sandbox.Cache.PathOf(hash);

        Assert.Equal(Path.Combine(_sandbox.Directory, "wasm-cache"), Path.GetDirectoryName(path));
        Assert.Matches("^[0-9a-f]{64}\\.cwasm$", Path.GetFileName(path));
        Assert.NotEqual(path, _sandbox.Cache.PathOf(new string('0', 64)));
        Assert.Contains("wasmtime 50.", WasmEngine.Shared.CacheKey);
    }

    [Fact]
    public void GetOrCompile_MoreModulesThanCapacity_EvictsLeastRecentlyUsed()
    {
        var cache = new WasmModuleCache(WasmEngine.Shared, Path.Combine(_sandbox.Directory, "small-cache"), Microsoft.Extensions.Logging.Abstractions.NullLogger<WasmModuleCache>.Instance, memoryCapacity: 1);
        var (hash, wasm) = AddModule();
        var other = Wasmtime.Module.ConvertText(WasmModules.Spin);
        var otherHash = Convert.ToHexStringLower(SHA256.HashData(other));

        cache.GetOrCompile(hash, wasm);
        cache.GetOrCompile(otherHash, other);
        cache.GetOrCompile(hash, wasm);

        Assert.Equal(0, cache.MemoryHits);
        Assert.Equal(1, cache.DiskHits);
    }

    [Fact]
    public async Task ExecuteAsync_SameModuleAgain_HitsTheCache()
    {
        var task = WasmSandbox.Task(WasmSandbox.Call(WasmModules.Add, "add", 1, 2));

        await _sandbox.RunAsync(task);
        await _sandbox.RunAsync(task);

        Assert.Equal(1, _sandbox.Cache.Compilations);
        Assert.Equal(1, _sandbox.Cache.MemoryHits);
    }
}
