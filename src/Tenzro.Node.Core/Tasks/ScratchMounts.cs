using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;

namespace Tenzro.Node.Core.Tasks;

/// <summary>
/// The file systems mounted for tasks' scratch (the per-task images of <c>SCRATCH_QUOTA=auto</c>): unmounting one,
/// and the ones a stopped process left mounted under the scratch root.
/// </summary>
/// <remarks>Thread-safe (stateless). Linux only; elsewhere nothing is ever mounted, and every call does nothing.</remarks>
public static class ScratchMounts
{
    private const int MntDetach = 2;
    private const int Busy = 16;

    /// <summary>
    /// Unmounts the file system on <paramref name="mountPoint"/>: at once when nothing holds a file open on it, else
    /// lazily (detached now, released once the last file closes). False when it was not mounted or could not be unmounted.
    /// </summary>
    public static bool Unmount(string mountPoint)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        if (Umount2(mountPoint, 0) == 0)
        {
            return true;
        }

        return Marshal.GetLastPInvokeError() == Busy && Umount2(mountPoint, MntDetach) == 0;
    }

    /// <summary>Unmounts every file system mounted below <paramref name="root"/> (deepest first); returns how many.</summary>
    public static int UnmountUnder(string root)
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/proc/self/mountinfo"))
        {
            return 0;
        }

        // The kernel lists mount points by their real path: a DATA_DIR reached through a link must be resolved first.
        var prefix = Path.TrimEndingDirectorySeparator(RealPath(root)) + "/";
        var under = MountPoints(File.ReadAllLines("/proc/self/mountinfo"))
            .Where(p => p.StartsWith(prefix, StringComparison.Ordinal))
            .OrderByDescending(p => p.Length)
            .ToList();
        return under.Count(Unmount);
    }

    /// <summary>The path with every link in it resolved (realpath(3)); the full path as given when it cannot be resolved.</summary>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        if (!OperatingSystem.IsLinux())
        {
            return full;
        }

        var resolved = Realpath(full, IntPtr.Zero);
        if (resolved == IntPtr.Zero)
        {
            return full;
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved) ?? full;
        }
        finally
        {
            Free(resolved);
        }
    }

    /// <summary>The mount points of <c>/proc/self/mountinfo</c> lines (the fifth field, its octal escapes undone).</summary>
    public static IEnumerable<string> MountPoints(IEnumerable<string> mountInfo)
    {
        ArgumentNullException.ThrowIfNull(mountInfo);
        foreach (var line in mountInfo)
        {
            var fields = line.Split(' ');
            if (fields.Length > 4)
            {
                yield return Unescape(fields[4]);
            }
        }
    }

    /// <summary>The kernel writes a space, tab, newline and backslash in a path as <c>\040</c>, <c>\011</c>, <c>\012</c>, <c>\134</c>.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var bytes = new List<byte>(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && !field.AsSpan(i + 1, 3).ContainsAnyExceptInRange('0', '7'))
            {
                bytes.Add(Convert.ToByte(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    // realpath(3) with a null buffer allocates the result, which free(3) releases.
    [SupportedOSPlatform("linux")]
    [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern IntPtr Realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [SupportedOSPlatform("linux")]
    [DllImport("libc", EntryPoint = "free")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void Free(IntPtr pointer);

    // umount2(2). DllImport rather than LibraryImport: the project allows no unsafe code; the path is marshalled as UTF-8.
    [SupportedOSPlatform("linux")]
    [DllImport("libc", EntryPoint = "umount2", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Umount2([MarshalAs(UnmanagedType.LPUTF8Str)] string target, int flags);
}
