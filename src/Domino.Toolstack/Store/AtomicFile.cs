using Domino.Toolstack.Interop;

namespace Domino.Toolstack.Store;

/// <summary>
/// Crash-safe file replacement: write a temp file, rename it over the target, so a crash at any moment
/// leaves the old or the new version. A durable write also fsyncs the file before the rename and the
/// directory after it, so the new version survives a host crash, not only a process crash.
/// </summary>
/// <remarks>
/// The daemon's own state (domain records and configs, VMM launch and pid files, pools) is written
/// atomically but not durably, as libxl keeps its domain records in <c>/var/run/xen</c>: it describes
/// guests that a host crash ends, and it lives in <c>/run/domino</c> by default. Durable writes are for
/// what must outlast the host: saved guest images.
/// </remarks>
public static class AtomicFile
{
    /// <param name="durable">
    /// True to fsync: the writer then waits for a journal commit, a fraction of a millisecond on an idle
    /// disk and ten and more on a busy one, which is why nothing on the path from create to a running
    /// guest asks for it.
    /// </param>
    public static void Write(string path, ReadOnlySpan<byte> content, bool durable = false)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp");
        try
        {
            Libc.WriteNewFile(temp, content, durable);
            Libc.Rename(temp, path);
        }
        catch
        {
            try { File.Delete(temp); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            throw;
        }
        if (durable) Libc.FsyncDirectory(dir);
    }

    public static void Write(string path, string content, bool durable = false) => Write(path, System.Text.Encoding.UTF8.GetBytes(content), durable);
}
