using Microsoft.Data.Sqlite;

namespace Tenzro.Node.Core.Storage;

/// <summary>Recognises a write refused because the disk (or the database's size limit) is full.</summary>
public static class DiskFull
{
    private const int SqliteFull = 13;
    private const int EnospcHResult = 28;
    private const int WindowsDiskFull = unchecked((int)0x80070070);

    /// <summary>Whether <paramref name="exception"/>, or one it wraps, is SQLITE_FULL or ENOSPC.</summary>
    public static bool Is(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is SqliteException { SqliteErrorCode: SqliteFull } || e is IOException { HResult: EnospcHResult or WindowsDiskFull })
            {
                return true;
            }
        }

        return false;
    }
}
