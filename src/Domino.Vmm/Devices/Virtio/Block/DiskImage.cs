using Microsoft.Win32.SafeHandles;

namespace Domino.Vmm.Devices.Virtio.Block;

/// <summary>A disk image could not be opened as asked; thrown while building the VM, before it runs.</summary>
public sealed class DiskImageException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// A raw disk image file with positional I/O. Opened read-write with an exclusive lock (FileShare.None)
/// so two guests cannot write the same image; read-only images share a read lock.
/// </summary>
public sealed class DiskImage : IDisposable
{
    public const int SectorSize = 512;

    private readonly FileStream _stream;

    private DiskImage(string path, bool readOnly, FileStream stream)
    {
        Path = path;
        IsReadOnly = readOnly;
        _stream = stream;
        // A trailing partial sector is not addressable by the guest.
        CapacitySectors = (ulong)RandomAccess.GetLength(stream.SafeFileHandle) / SectorSize;
    }

    public string Path { get; }
    public bool IsReadOnly { get; }

    /// <summary>Size in 512-byte sectors, as virtio-blk reports it.</summary>
    public ulong CapacitySectors { get; }

    private SafeFileHandle Handle => _stream.SafeFileHandle;

    public static DiskImage Open(string path, bool readOnly)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var access = readOnly ? "reading" : "reading and writing";
        if (Directory.Exists(path))
            throw new DiskImageException($"disk image '{path}' is a directory; give the path of a raw image file");
        try
        {
            var stream = new FileStream(path, FileMode.Open,
                readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                readOnly ? FileShare.Read : FileShare.None,
                bufferSize: 0);
            return new DiskImage(path, readOnly, stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DiskImageException($"disk image '{path}' does not exist; check the path in the disk specification", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new DiskImageException(
                $"disk image '{path}' cannot be opened for {access}: permission denied; fix the file's permissions" +
                (readOnly ? "" : " or attach it read-only"), e);
        }
        catch (IOException e)
        {
            throw new DiskImageException($"disk image '{path}' cannot be opened for {access}: {e.Message}", e);
        }
    }

    /// <summary>Fill <paramref name="buffer"/> from byte <paramref name="offset"/>; a short file is an I/O error.</summary>
    public void Read(long offset, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var n = RandomAccess.Read(Handle, buffer, offset);
            if (n == 0) throw new EndOfStreamException($"disk image '{Path}' ended at byte {offset}");
            buffer = buffer[n..];
            offset += n;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> buffer) => RandomAccess.Write(Handle, buffer, offset);

    /// <summary>fsync: what VIRTIO_BLK_T_FLUSH promises the guest.</summary>
    public void Flush() => _stream.Flush(flushToDisk: true);

    public void Dispose() => _stream.Dispose();
}
