using Domino.Toolstack.Interop;

namespace Domino.Toolstack.Store;

/// <summary>
/// Crash-safe file replacement: write a temp file, rename it over the target, so a crash at any moment
/// leaves the old or the new version. A durable write also fsyncs the file before the rename and the
/// directory after it, so the new version survives a host crash, not only a process crash.
/// </summary>
public static class AtomicFile
{
    /// <param name="durable">
    /// False for files that only describe running processes (a VMM's launch file, its pid, its vCPU
    /// threads): a host crash ends those processes, so the file is worth nothing after one, while each
    /// fsync makes the writer wait for a journal commit (a fraction of a millisecond on an idle disk,
    /// ten and more on a busy one) on the path from create to a running guest.
    /// </param>
    public static void Write(string path, ReadOnlySpan<byte> content, bool durable = true)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp");
        using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            f.Write(content);
            f.Flush(flushToDisk: durable);
        }
        File.Move(temp, path, overwrite: true);
        if (durable) Libc.FsyncDirectory(dir);
    }

    public static void Write(string path, string content, bool durable = true) => Write(path, System.Text.Encoding.UTF8.GetBytes(content), durable);
}
