using Domino.Toolstack.Interop;

namespace Domino.Toolstack.Store;

/// <summary>Crash-safe file replacement: write a temp file, fsync it, rename over the target, fsync the directory.</summary>
public static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp");
        using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            f.Write(content);
            f.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        Libc.FsyncDirectory(dir);
    }

    public static void Write(string path, string content) => Write(path, System.Text.Encoding.UTF8.GetBytes(content));
}
