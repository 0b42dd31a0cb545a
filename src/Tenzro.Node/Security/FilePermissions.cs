using System.Runtime.InteropServices;

namespace Tenzro.Node.Security;

/// <summary>
/// What the node writes is its owner's alone: a umask of 077 for every file and directory the process makes,
/// DATA_DIR itself 0700, and the files already in it 0600 (a node.db made by an older version was 0644).
/// </summary>
internal static partial class FilePermissions
{
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Sets the process umask to 077; call once at start, before any file is made.</summary>
    public static void RestrictNewFiles()
    {
        if (!OperatingSystem.IsWindows())
        {
            _ = Umask(0b000_111_111);
        }
    }

    /// <summary>Makes <paramref name="dataDirectory"/> 0700 and the files directly in it 0600; null, or why it could not.</summary>
    public static string? RestrictDataDirectory(string dataDirectory)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        try
        {
            File.SetUnixFileMode(dataDirectory, OwnerOnlyDirectory);
            foreach (var file in Directory.EnumerateFiles(dataDirectory))
            {
                if ((File.GetUnixFileMode(file) & ~OwnerOnlyFile) != 0)
                {
                    File.SetUnixFileMode(file, File.GetUnixFileMode(file) & OwnerOnlyFile);
                }
            }

            return null;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return $"Cannot make DATA_DIR ({dataDirectory}) readable by its owner only: {e.Message}. Run the node as the directory's owner, or chmod 700 it.";
        }
    }

    // libc's umask(2); "libc" resolves to the C library on glibc and musl alike.
    [DllImport("libc", EntryPoint = "umask", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern uint Umask(uint mask);
}
