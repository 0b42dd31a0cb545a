using Microsoft.Extensions.Time.Testing;
using Tenzro.Node.Core.Configuration;
using Tenzro.Node.Core.Security;
using Tenzro.Node.Core.Storage;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Security;

/// <summary>Key expiry, rotation's grace period and revocation, under a fake clock.</summary>
[Trait("Suite", "security")]
public sealed class ApiKeyStoreTests : IAsyncLifetime
{
    private readonly string _directory = TestNode.NewDirectory();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private NodeDatabase _database = null!;

    public Task InitializeAsync()
    {
        _database = new NodeDatabase(Path.Combine(_directory, "node.db"));
        _database.Migrate(Migrations.All);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Check_KeyPastItsExpiry_IsExpired()
    {
        var store = new ApiKeyStore(_database, new SecurityOptions(), _time);
        var (record, key) = await store.CreateAsync("submitter", "ci", TimeSpan.FromDays(30));
        _ = ApiKeyFormat.TryParse(key, out var id, out var secret);

        var before = store.Check(id, secret, out _);
        _time.Advance(TimeSpan.FromDays(31));
        var after = store.Check(id, secret, out _);

        Assert.Equal(record.Id, id);
        Assert.Equal(ApiKeyCheck.Valid, before);
        Assert.Equal(ApiKeyCheck.Expired, after);
    }

    [Fact]
    public async Task Rotate_OldSecret_WorksForTheGracePeriodOnly_AndAllSurviveARestart()
    {
        var store = new ApiKeyStore(_database, new SecurityOptions(), _time);
        var (_, first) = await store.CreateAsync("reader", null, null);
        _ = ApiKeyFormat.TryParse(first, out var id, out var oldSecret);
        var (_, second) = (await store.RotateAsync(id))!.Value;
        _ = ApiKeyFormat.TryParse(second, out _, out var newSecret);

        var oldDuringGrace = store.Check(id, oldSecret, out _);
        _time.Advance(ApiKeyStore.RotationGrace + TimeSpan.FromSeconds(1));
        var reopened = new ApiKeyStore(_database, new SecurityOptions(), _time);
        var oldAfterGrace = reopened.Check(id, oldSecret, out _);
        var newAfterGrace = reopened.Check(id, newSecret, out _);
        await reopened.RevokeAsync(id);

        Assert.Equal(ApiKeyCheck.Valid, oldDuringGrace);
        Assert.Equal(ApiKeyCheck.Unknown, oldAfterGrace);
        Assert.Equal(ApiKeyCheck.Valid, newAfterGrace);
        Assert.Equal(ApiKeyCheck.Revoked, reopened.Check(id, newSecret, out _));
        Assert.DoesNotContain(newSecret, File.ReadAllText(Path.Combine(_directory, "node.db"), System.Text.Encoding.Latin1), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfiguredKey_IsValidButCannotBeRevokedThroughTheApi()
    {
        const string key = "tnz_conf1_0a1b2c3d4e5f60718293a4b5c6d7e8f9";
        var store = new ApiKeyStore(_database, new SecurityOptions { ApiKeys = [new ConfiguredApiKey("admin", key)] }, _time);

        Assert.Equal(ApiKeyCheck.Valid, store.Check("conf1", "0a1b2c3d4e5f60718293a4b5c6d7e8f9", out var found));
        Assert.Equal("admin", found!.Role);
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.RevokeAsync("conf1")).WaitAsync(Timeouts.Short);
        Assert.Equal("admin:<redacted>", new ConfiguredApiKey("admin", key).ToString());
    }
}
