using System.Security.Cryptography;
using System.Text;

namespace Tenzro.Node.Security;

/// <summary>
/// <c>DATA_DIR/admin.token</c>: a random bearer made at every start (mode 0600), which makes a loopback caller
/// admin. The CLI reads it when it talks to a node on the same machine; only its owner can read the file.
/// </summary>
/// <remarks>Thread-safe after construction.</remarks>
internal sealed class AdminToken
{
    public const string FileName = "admin.token";

    private readonly byte[] _token;

    private AdminToken(byte[] token, string path)
    {
        _token = token;
        Path = path;
    }

    public string Path { get; }

    /// <summary>Writes a new token into <paramref name="dataDirectory"/>, replacing the previous one.</summary>
    public static AdminToken Create(string dataDirectory)
    {
        var text = "tnzadmin_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var path = System.IO.Path.Combine(dataDirectory, FileName);
        var temporary = path + ".new";
        File.Delete(temporary);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(Encoding.ASCII.GetBytes(text + "\n"));
        }

        File.Move(temporary, path, overwrite: true);
        return new AdminToken(Encoding.ASCII.GetBytes(text), path);
    }

    /// <summary>Whether <paramref name="bearer"/> is the token, compared in constant time.</summary>
    public bool Matches(string bearer) => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(bearer), _token);
}
