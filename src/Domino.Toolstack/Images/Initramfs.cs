using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Domino.Toolstack.Images;

/// <summary>What an initramfs entry is; the values are the <c>S_IFMT</c> bits of its mode.</summary>
public enum InitramfsEntryKind : uint
{
    File = 0x8000,
    Directory = 0x4000,
    Symlink = 0xA000,
    CharDevice = 0x2000,
    BlockDevice = 0x6000,
    Fifo = 0x1000,
}

/// <summary>
/// Writes a Linux initramfs: a cpio archive in the "new ASCII" (<c>newc</c>) format that the kernel
/// unpacks into its rootfs (Documentation/driver-api/early-userspace/buffer-format.rst), optionally gzip
/// compressed. Entries are owned by root, have mtime 0 and inode numbers in write order, so the same
/// tree always gives the same bytes. Parents must be written before their children.
/// </summary>
public sealed class InitramfsWriter : IDisposable
{
    /// <summary>The newc magic; "070702" would mean a checksummed header, which the kernel also takes.</summary>
    public const string Magic = "070701";

    /// <summary>6 magic bytes and 13 fields of 8 hex digits.</summary>
    public const int HeaderSize = 110;

    public const string TrailerName = "TRAILER!!!";

    private readonly Stream _out;
    private readonly bool _ownsStream;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private uint _nextInode = 1;
    private long _position;
    private bool _finished;

    public InitramfsWriter(Stream output, bool leaveOpen = false)
    {
        _out = output;
        _ownsStream = !leaveOpen;
    }

    /// <summary>Bytes written so far (the uncompressed archive's length).</summary>
    public long Length => _position;

    /// <summary>True once an entry named <paramref name="path"/> has been written.</summary>
    public bool HasEntry(string path) => _names.Contains(NormalizeName(path));

    public void AddDirectory(string path, int permissions = 0x1ED /* 0755 */) =>
        Add(path, InitramfsEntryKind.Directory, permissions, [], nlink: 2);

    public void AddFile(string path, ReadOnlySpan<byte> data, int permissions = 0x1A4 /* 0644 */) =>
        Add(path, InitramfsEntryKind.File, permissions, data);

    /// <summary>A symbolic link; as in cpio, its target is the entry's data.</summary>
    public void AddSymlink(string path, string target) =>
        Add(path, InitramfsEntryKind.Symlink, 0x1FF /* 0777 */, Encoding.UTF8.GetBytes(target));

    /// <summary>A device node, e.g. <c>dev/console</c> (c 5 1): the kernel opens it for init's stdio before any devtmpfs is mounted.</summary>
    public void AddDevice(string path, bool block, int major, int minor, int permissions = 0x180 /* 0600 */) =>
        Add(path, block ? InitramfsEntryKind.BlockDevice : InitramfsEntryKind.CharDevice, permissions, [], rdevMajor: major, rdevMinor: minor);

    public void AddFifo(string path, int permissions = 0x1A4) => Add(path, InitramfsEntryKind.Fifo, permissions, []);

    /// <summary>Adds every entry under <paramref name="directory"/> (not the directory itself), parents
    /// first, names sorted ordinally; keeps permission bits and symlinks, makes everything root's.</summary>
    public void AddTree(string directory, string prefix = "")
    {
        var root = new DirectoryInfo(directory);
        if (!root.Exists) throw new DirectoryNotFoundException($"initramfs source directory '{directory}' does not exist");
        AddTreeEntries(root, prefix.Trim('/'));
    }

    private void AddTreeEntries(DirectoryInfo dir, string prefix)
    {
        foreach (var info in dir.EnumerateFileSystemInfos().OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            var name = prefix.Length == 0 ? info.Name : $"{prefix}/{info.Name}";
            var permissions = (int)info.UnixFileMode & 0xFFF;
            if (info.LinkTarget is { } target)
                AddSymlink(name, target);
            else if (info is DirectoryInfo sub)
            {
                AddDirectory(name, permissions);
                AddTreeEntries(sub, name);
            }
            else if (info is FileInfo file)
                AddFile(name, File.ReadAllBytes(file.FullName), permissions);
        }
    }

    /// <summary>Writes the <c>TRAILER!!!</c> entry that ends the archive, then pads it to 512 bytes as cpio does.</summary>
    public void Finish()
    {
        if (_finished) return;
        WriteEntry(TrailerName, mode: 0, inode: 0, nlink: 1, rdevMajor: 0, rdevMinor: 0, data: []);
        Pad(512);
        _out.Flush();
        _finished = true;
    }

    public void Dispose()
    {
        Finish();
        if (_ownsStream) _out.Dispose();
    }

    private void Add(string path, InitramfsEntryKind kind, int permissions, ReadOnlySpan<byte> data, uint nlink = 1, int rdevMajor = 0, int rdevMinor = 0)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        var name = NormalizeName(path);
        if (!_names.Add(name)) throw new ArgumentException($"initramfs entry '{name}' is written twice", nameof(path));
        var parent = Path.GetDirectoryName(name)?.Replace('\\', '/');
        if (!string.IsNullOrEmpty(parent) && !_names.Contains(parent))
            throw new ArgumentException($"initramfs entry '{name}' comes before its directory '{parent}'", nameof(path));
        if ((permissions & ~0xFFF) != 0) throw new ArgumentOutOfRangeException(nameof(permissions), $"permissions 0{Convert.ToString(permissions, 8)} of '{name}' have bits outside 07777");
        WriteEntry(name, (uint)kind | (uint)permissions, _nextInode++, nlink, rdevMajor, rdevMinor, data);
    }

    /// <summary>Archive names are relative ("bin/sh", not "/bin/sh") and never climb out with "..".</summary>
    private static string NormalizeName(string path)
    {
        var name = path.Replace('\\', '/').Trim('/');
        while (name.StartsWith("./", StringComparison.Ordinal)) name = name[2..];
        if (name.Length == 0 || name == ".") throw new ArgumentException("initramfs entry has an empty name", nameof(path));
        if (name.Split('/').Any(part => part is ".." or "." or ""))
            throw new ArgumentException($"initramfs entry '{path}' has an empty, '.' or '..' component", nameof(path));
        if (name == TrailerName) throw new ArgumentException($"initramfs entry may not be named {TrailerName}", nameof(path));
        return name;
    }

    private void WriteEntry(string name, uint mode, uint inode, uint nlink, int rdevMajor, int rdevMinor, ReadOnlySpan<byte> data)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var header = new StringBuilder(HeaderSize);
        header.Append(Magic);
        foreach (var field in (ReadOnlySpan<uint>)[
            inode, mode, 0 /* uid */, 0 /* gid */, nlink, 0 /* mtime */, (uint)data.Length,
            0 /* devmajor */, 0 /* devminor */, (uint)rdevMajor, (uint)rdevMinor,
            (uint)nameBytes.Length + 1 /* namesize counts the NUL */, 0 /* check */])
            header.Append(field.ToString("X8", CultureInfo.InvariantCulture));
        Write(Encoding.ASCII.GetBytes(header.ToString()));
        Write(nameBytes);
        Write([0]);
        Pad(4); // newc: the name ends on a 4-byte boundary counted from the header's start...
        Write(data);
        Pad(4); // ...and so does the data.
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        _out.Write(bytes);
        _position += bytes.Length;
    }

    private void Pad(int alignment)
    {
        var pad = (int)((alignment - _position % alignment) % alignment);
        if (pad > 0) Write(new byte[pad]);
    }
}

/// <summary>Builds an initramfs file from a directory tree plus extra device nodes.</summary>
public static class Initramfs
{
    /// <summary>One device node to add, as <c>PATH:c|b:MAJOR:MINOR</c> (e.g. <c>dev/console:c:5:1</c>).</summary>
    public sealed record DeviceNode(string Path, bool Block, int Major, int Minor)
    {
        public static DeviceNode Parse(string spec)
        {
            var parts = spec.Split(':');
            if (parts.Length != 4 || parts[1] is not ("c" or "b")
                || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
                || !int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var minor))
                throw new FormatException($"invalid device node '{spec}' (expected PATH:c|b:MAJOR:MINOR, e.g. dev/console:c:5:1)");
            return new DeviceNode(parts[0], parts[1] == "b", major, minor);
        }
    }

    /// <summary>Writes <paramref name="output"/> (atomically: a temporary file renamed into place).</summary>
    /// <returns>The archive's uncompressed length.</returns>
    public static long Create(string sourceDirectory, string output, bool gzip, IReadOnlyList<DeviceNode> devices)
    {
        var full = Path.GetFullPath(output);
        var temp = full + ".tmp";
        long length;
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
            using (Stream body = gzip ? new GZipStream(file, CompressionLevel.Optimal) : file)
            using (var writer = new InitramfsWriter(body, leaveOpen: true))
            {
                writer.AddTree(sourceDirectory);
                foreach (var d in devices)
                {
                    EnsureParents(writer, d.Path, sourceDirectory);
                    writer.AddDevice(d.Path, d.Block, d.Major, d.Minor);
                }
                writer.Finish();
                length = writer.Length;
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        return length;
    }

    /// <summary>A device node whose directory is not in the tree (e.g. no <c>dev/</c>) gets that directory.</summary>
    private static void EnsureParents(InitramfsWriter writer, string path, string sourceDirectory)
    {
        var parts = path.Trim('/').Split('/');
        for (var i = 1; i < parts.Length; i++)
        {
            var dir = string.Join('/', parts[..i]);
            if (!Directory.Exists(Path.Combine(sourceDirectory, dir)) && !writer.HasEntry(dir)) writer.AddDirectory(dir);
        }
    }
}
