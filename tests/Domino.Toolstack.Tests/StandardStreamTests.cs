using System.Text;
using Domino.Toolstack.Interop;
using Xunit;

namespace Domino.Toolstack.Tests;

public sealed class StandardStreamTests : IDisposable
{
    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    [Fact]
    public void Writes_go_at_the_descriptors_own_offset_so_other_writers_do_not_overwrite_them()
    {
        using (var handle = File.OpenHandle(_path, FileMode.Truncate, FileAccess.Write))
        {
            var fd = (int)handle.DangerousGetHandle();
            // Two writers on one descriptor, as a shell's redirection and the console output share one:
            // each write must land after the last, whoever made it.
            using var first = new StandardStream(fd, writable: true);
            using var second = new StandardStream(fd, writable: true);
            first.Write("one\n"u8);
            second.Write("two\n"u8);
            first.Write("three\n"u8);
        }
        Assert.Equal("one\ntwo\nthree\n", File.ReadAllText(_path));
    }

    [Fact]
    public void Reads_what_is_there_then_the_end()
    {
        File.WriteAllText(_path, "input");
        using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read);
        using var stream = new StandardStream((int)handle.DangerousGetHandle(), writable: false);
        var buffer = new byte[16];
        var n = stream.Read(buffer);
        Assert.Equal("input", Encoding.ASCII.GetString(buffer, 0, n));
        Assert.Equal(0, stream.Read(buffer));
        Assert.False(stream.CanWrite);
    }

    [Fact]
    public void A_closed_descriptor_is_an_IOException_naming_it()
    {
        using var stream = new StandardStream(-1, writable: true);
        var e = Assert.Throws<IOException>(() => stream.Write("x"u8));
        Assert.Contains("fd -1", e.Message, StringComparison.Ordinal);
    }
}
