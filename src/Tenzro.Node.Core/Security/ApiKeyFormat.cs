using System.Security.Cryptography;
using System.Text;

namespace Tenzro.Node.Core.Security;

/// <summary>
/// The shape of an API key, <c>tnz_&lt;id&gt;_&lt;secret&gt;</c>: the id names the key in lists, logs and the audit
/// log; only the SHA-256 of the secret is ever stored.
/// </summary>
public static class ApiKeyFormat
{
    public const string Prefix = "tnz_";

    /// <summary>Splits a bearer into id and secret; false for anything that is not a well-formed key.</summary>
    public static bool TryParse(string? key, out string id, out string secret)
    {
        id = secret = string.Empty;
        if (key is null || !key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = key.AsSpan(Prefix.Length);
        var separator = rest.IndexOf('_');
        if (separator is < 1 or > 32 || !IsAlphanumeric(rest[..separator]) || rest.Length - separator - 1 is < 16 or > 128 || !IsAlphanumeric(rest[(separator + 1)..]))
        {
            return false;
        }

        id = rest[..separator].ToString();
        secret = rest[(separator + 1)..].ToString();
        return true;
    }

    /// <summary>The id of the key an <c>API_KEY</c> given as a bare secret stands for.</summary>
    public const string BareKeyId = "admin";

    /// <summary>
    /// A bare secret (16-128 letters or digits, as Heroku's <c>secret</c> generator makes for <c>API_KEY</c>) stands for
    /// the admin key <c>tnz_admin_&lt;secret&gt;</c>, so that it is sent as the bearer as it is.
    /// </summary>
    public static bool TryParseBare(string? key, out string id, out string secret)
    {
        id = secret = string.Empty;
        if (key is null || key.Length is < 16 or > 128 || !IsAlphanumeric(key))
        {
            return false;
        }

        (id, secret) = (BareKeyId, key);
        return true;
    }

    /// <summary>A new key: 12 hex digits of id, 48 of secret (192 bits).</summary>
    public static (string Id, string Secret, string Key) Generate()
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        return (id, secret, $"{Prefix}{id}_{secret}");
    }

    /// <summary>The stored form of a secret: lowercase hex SHA-256 of its UTF-8 bytes.</summary>
    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>Compares a secret with a stored hash in constant time.</summary>
    public static bool Matches(string secret, string? storedHash) =>
        storedHash is not null
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(secret)), Encoding.ASCII.GetBytes(storedHash));

    private static bool IsAlphanumeric(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}
