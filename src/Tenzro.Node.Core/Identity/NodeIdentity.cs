using System.Security.Cryptography;
using NSec.Cryptography;

namespace Tenzro.Node.Core.Identity;

/// <summary>
/// The node's Ed25519 key pair and the peer id derived from it (PROTOCOL.md section 10:
/// DEVICE_ID if set, else the lowercase hex SHA-256 of the raw public key).
/// </summary>
/// <remarks>Thread-safe: signing with an NSec key may be done concurrently.</remarks>
public sealed class NodeIdentity : IDisposable
{
    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    private NodeIdentity(Key key, string? deviceId)
    {
        _key = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        NodeId = DomainSignature.NodeIdOf(PublicKey);
        PeerId = deviceId ?? NodeId;
    }

    /// <summary>The 32 raw bytes of the public key.</summary>
    public byte[] PublicKey { get; }

    /// <summary>Hex SHA-256 of the public key, whatever DEVICE_ID says.</summary>
    public string NodeId { get; }

    /// <summary>The id this node announces in <c>join</c>.</summary>
    public string PeerId { get; }

    public string PublicKeyBase64 => Convert.ToBase64String(PublicKey);

    /// <summary>Creates a fresh identity that lives only in memory (tests, benchmarks).</summary>
    public static NodeIdentity CreateEphemeral(string? deviceId = null) =>
        new(Key.Create(Algorithm, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }), deviceId);

    /// <summary>Uses a raw 32-byte Ed25519 private key given in the settings (IDENTITY_KEY) instead of the key file.</summary>
    /// <exception cref="IdentityException">The bytes are not a 32-byte private key.</exception>
    public static NodeIdentity FromPrivateKey(ReadOnlySpan<byte> privateKey, string? deviceId)
    {
        if (privateKey.Length != 32)
        {
            throw new IdentityException("IDENTITY_KEY is not a 32-byte Ed25519 private key.");
        }

        return new NodeIdentity(Key.Import(Algorithm, privateKey, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }), deviceId);
    }

    /// <summary>
    /// Loads the key from <c>{dataDirectory}/node.key</c>, creating it (mode 0600) on first start.
    /// </summary>
    /// <exception cref="IdentityException">The key file is readable by others, or is not a valid key.</exception>
    public static NodeIdentity LoadOrCreate(string dataDirectory, string? deviceId)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, "node.key");
        if (File.Exists(path))
        {
            if (!OperatingSystem.IsWindows())
            {
                var mode = File.GetUnixFileMode(path);
                if ((mode & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite)) != 0)
                {
                    throw new IdentityException(
                        $"The identity key {path} is readable by other users (mode {Convert.ToString((int)mode, 8)}). Run 'chmod 600 {path}' and start again.");
                }
            }

            var bytes = File.ReadAllBytes(path);
            if (bytes.Length != 32)
            {
                throw new IdentityException($"The identity key {path} is not a 32-byte Ed25519 private key. Restore it from a backup, or move it away to create a new identity.");
            }

            var key = Key.Import(Algorithm, bytes, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
            CryptographicOperations.ZeroMemory(bytes);
            return new NodeIdentity(key, deviceId);
        }

        var created = Key.Create(Algorithm, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        var raw = created.Export(KeyBlobFormat.RawPrivateKey);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(raw);
            stream.Flush(flushToDisk: true);
        }

        CryptographicOperations.ZeroMemory(raw);
        File.Move(temporary, path);
        return new NodeIdentity(created, deviceId);
    }

    /// <summary>Signs <paramref name="data"/> (64-byte Ed25519 signature).</summary>
    public byte[] Sign(ReadOnlySpan<byte> data) => Algorithm.Sign(_key, data);

    /// <summary>Verifies an Ed25519 signature against a raw 32-byte public key; false for malformed keys.</summary>
    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != 32 || signature.Length != 64)
        {
            return false;
        }

        return NSec.Cryptography.PublicKey.TryImport(Algorithm, publicKey, KeyBlobFormat.RawPublicKey, out var key)
            && key is not null
            && Algorithm.Verify(key, data, signature);
    }

    public void Dispose() => _key.Dispose();
}

/// <summary>The identity key cannot be used.</summary>
public sealed class IdentityException(string message) : Exception(message);
