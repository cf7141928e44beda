using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using Domino.Toolstack.Images;
using Xunit;

namespace Domino.Toolstack.Tests.Images;

public sealed class InitramfsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("domino-initramfs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Archive(Action<InitramfsWriter> build)
    {
        var ms = new MemoryStream();
        using (var w = new InitramfsWriter(ms, leaveOpen: true)) build(w);
        return ms.ToArray();
    }

    /// <summary>One parsed newc entry; a reader written from the format description, independent of the writer.</summary>
    private sealed record Entry(long Offset, string Name, uint Inode, uint Mode, uint Uid, uint Gid, uint Nlink, uint Mtime, uint RdevMajor, uint RdevMinor, byte[] Data);

    private static List<Entry> Parse(byte[] archive)
    {
        var entries = new List<Entry>();
        var pos = 0;
        while (true)
        {
            Assert.Equal(0, pos % 4);
            Assert.Equal("070701", Encoding.ASCII.GetString(archive, pos, 6));
            uint Field(int i) => uint.Parse(Encoding.ASCII.GetString(archive, pos + 6 + i * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var nameSize = (int)Field(11);
            var fileSize = (int)Field(6);
            Assert.Equal(0u, Field(12)); // check field is zero in newc
            var name = Encoding.UTF8.GetString(archive, pos + 110, nameSize - 1);
            Assert.Equal(0, archive[pos + 110 + nameSize - 1]);
            var dataStart = Align4(pos + 110 + nameSize);
            var data = archive[dataStart..(dataStart + fileSize)];
            entries.Add(new Entry(pos, name, Field(0), Field(1), Field(2), Field(3), Field(4), Field(5), Field(9), Field(10), data));
            pos = Align4(dataStart + fileSize);
            if (name == "TRAILER!!!") break;
        }
        Assert.Equal(0, archive.Length % 512);
        Assert.All(archive[pos..], b => Assert.Equal(0, b));
        return entries;
    }

    private static int Align4(int n) => (n + 3) & ~3;

    [Fact]
    public void File_header_is_newc_ascii_hex_with_name_and_data_padded_to_four()
    {
        var archive = Archive(w => w.AddFile("init", "#!/bin/sh\n"u8, 0x1ED));
        var header = Encoding.ASCII.GetString(archive, 0, 110);
        Assert.Equal(
            "070701" + "00000001" + "000081ED" + "00000000" + "00000000" + "00000001" + "00000000" + "0000000A"
            + "00000000" + "00000000" + "00000000" + "00000000" + "00000005" + "00000000", header);
        // 110 + "init\0" = 115 → name padded to 116; 10 data bytes → padded to 128.
        Assert.Equal("init\0\0", Encoding.ASCII.GetString(archive, 110, 6));
        Assert.Equal("#!/bin/sh\n", Encoding.ASCII.GetString(archive, 116, 10));
        Assert.Equal([0, 0], archive[126..128]);
        Assert.Equal("070701", Encoding.ASCII.GetString(archive, 128, 6)); // the trailer follows at once
    }

    [Fact]
    public void Archive_ends_with_the_trailer_and_is_padded_to_512()
    {
        var entries = Parse(Archive(w => w.AddDirectory("bin")));
        var trailer = entries[^1];
        Assert.Equal("TRAILER!!!", trailer.Name);
        Assert.Equal(0u, trailer.Mode);
        Assert.Equal(1u, trailer.Nlink);
        Assert.Empty(trailer.Data);
    }

    [Fact]
    public void Every_kind_of_entry_round_trips_with_root_owner_and_zero_mtime()
    {
        var entries = Parse(Archive(w =>
        {
            w.AddDirectory("bin");
            w.AddFile("bin/busybox", new byte[] { 1, 2, 3, 4, 5 }, 0x1ED);
            w.AddSymlink("bin/sh", "busybox");
            w.AddDirectory("dev");
            w.AddDevice("dev/console", block: false, 5, 1);
            w.AddDevice("dev/vda", block: true, 254, 0);
            w.AddFifo("dev/fifo");
        }));
        Assert.Equal(["bin", "bin/busybox", "bin/sh", "dev", "dev/console", "dev/vda", "dev/fifo", "TRAILER!!!"], entries.Select(e => e.Name));
        Assert.Equal(0x41EDu, entries[0].Mode);
        Assert.Equal(2u, entries[0].Nlink);
        Assert.Equal(0x81EDu, entries[1].Mode);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, entries[1].Data);
        Assert.Equal(0xA1FFu, entries[2].Mode);
        Assert.Equal("busybox", Encoding.UTF8.GetString(entries[2].Data));
        Assert.Equal(0x2180u, entries[4].Mode);
        Assert.Equal((5u, 1u), (entries[4].RdevMajor, entries[4].RdevMinor));
        Assert.Equal(0x6180u, entries[5].Mode);
        Assert.Equal(254u, entries[5].RdevMajor);
        Assert.Equal(0x11A4u, entries[6].Mode);
        Assert.All(entries, e => Assert.Equal((0u, 0u, 0u), (e.Uid, e.Gid, e.Mtime)));
        Assert.Equal([1u, 2u, 3u, 4u, 5u, 6u, 7u, 0u], entries.Select(e => e.Inode));
    }

    [Theory]
    [InlineData("a", 0)]
    [InlineData("ab", 5)]
    [InlineData("abc", 6)]
    [InlineData("abcd", 7)]
    public void Names_and_data_of_every_length_stay_aligned(string name, int dataLength)
    {
        var entries = Parse(Archive(w =>
        {
            w.AddFile(name, new byte[dataLength]);
            w.AddFile(name + "x", Enumerable.Range(0, dataLength + 1).Select(i => (byte)i).ToArray());
        }));
        Assert.Equal(dataLength + 1, entries[1].Data.Length);
        Assert.Equal((byte)dataLength, entries[1].Data[^1]);
    }

    [Theory]
    [InlineData("bin/sh", "comes before its directory 'bin'")]
    [InlineData("../etc", "'..' component")]
    [InlineData("", "empty name")]
    [InlineData("TRAILER!!!", "may not be named")]
    public void Bad_names_are_refused(string name, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Archive(w => w.AddFile(name, [])));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_name_written_twice_is_refused_and_leading_slashes_do_not_hide_it()
    {
        var e = Assert.Throws<ArgumentException>(() => Archive(w => { w.AddDirectory("/etc"); w.AddDirectory("etc/"); }));
        Assert.Contains("'etc' is written twice", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_packs_a_tree_sorted_parents_first_gzipped_with_extra_device_nodes()
    {
        var src = Path.Combine(_dir, "root");
        Directory.CreateDirectory(Path.Combine(src, "bin"));
        Directory.CreateDirectory(Path.Combine(src, "etc"));
        File.WriteAllText(Path.Combine(src, "init"), "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(Path.Combine(src, "init"), (UnixFileMode)0x1ED);
        File.WriteAllBytes(Path.Combine(src, "bin", "busybox"), [0x7f, (byte)'E', (byte)'L', (byte)'F']);
        File.CreateSymbolicLink(Path.Combine(src, "bin", "sh"), "busybox");
        var output = Path.Combine(_dir, "initrd.gz");

        Initramfs.Create(src, output, gzip: true, [Initramfs.DeviceNode.Parse("dev/console:c:5:1")]);

        using var gz = new GZipStream(File.OpenRead(output), CompressionMode.Decompress);
        var raw = new MemoryStream();
        gz.CopyTo(raw);
        var entries = Parse(raw.ToArray());
        Assert.Equal(["bin", "bin/busybox", "bin/sh", "etc", "init", "dev", "dev/console", "TRAILER!!!"], entries.Select(e => e.Name));
        Assert.Equal(0x81EDu, entries[4].Mode);
        Assert.Equal("busybox", Encoding.UTF8.GetString(entries[2].Data));
        Assert.False(File.Exists(output + ".tmp"));
    }

    [Fact]
    public void Same_tree_gives_the_same_bytes()
    {
        var src = Path.Combine(_dir, "root");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "a"), "a");
        Initramfs.Create(src, Path.Combine(_dir, "1"), gzip: false, []);
        File.SetLastWriteTimeUtc(Path.Combine(src, "a"), DateTime.UtcNow.AddDays(-3));
        Initramfs.Create(src, Path.Combine(_dir, "2"), gzip: false, []);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "1")), File.ReadAllBytes(Path.Combine(_dir, "2")));
    }

    [Theory]
    [InlineData("dev/console")]
    [InlineData("dev/console:x:5:1")]
    [InlineData("dev/console:c:five:1")]
    public void Bad_device_node_specs_name_the_expected_shape(string spec)
    {
        var e = Assert.Throws<FormatException>(() => Initramfs.DeviceNode.Parse(spec));
        Assert.Contains("PATH:c|b:MAJOR:MINOR", e.Message, StringComparison.Ordinal);
    }

    /// <summary>GNU cpio, when installed, lists what Domino wrote: the format is the one other tools read.</summary>
    [Fact]
    public void Gnu_cpio_lists_the_archive_when_installed()
    {
        var cpio = new[] { "/usr/bin/cpio", "/bin/cpio" }.FirstOrDefault(File.Exists);
        if (cpio is null) return; // optional cross-check; the parser above is the real test
        var src = Path.Combine(_dir, "root");
        Directory.CreateDirectory(Path.Combine(src, "bin"));
        File.WriteAllText(Path.Combine(src, "bin", "x"), "x");
        var output = Path.Combine(_dir, "initrd");
        Initramfs.Create(src, output, gzip: false, [Initramfs.DeviceNode.Parse("dev/console:c:5:1")]);
        var psi = new ProcessStartInfo(cpio, ["-t", "--quiet", "-F", output]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var listing = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        Assert.Equal(["bin", "bin/x", "dev", "dev/console"], listing.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
