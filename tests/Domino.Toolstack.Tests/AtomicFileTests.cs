using System.Text;
using Domino.Toolstack.Store;
using Xunit;

namespace Domino.Toolstack.Tests;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("domino-atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_write_replaces_the_whole_file_and_leaves_no_temporary_behind(bool durable)
    {
        var path = Path.Combine(_dir, "record.json");
        AtomicFile.Write(path, new string('x', 100_000), durable);
        AtomicFile.Write(path, "{\"state\":\"running\"}", durable);
        Assert.Equal("{\"state\":\"running\"}", File.ReadAllText(path));
        Assert.Equal(["record.json"], Directory.GetFiles(_dir).Select(Path.GetFileName));

        var big = Encoding.UTF8.GetBytes(new string('é', 300_000));
        AtomicFile.Write(path, big, durable);
        Assert.Equal(big, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_new_file_gets_the_usual_mode_under_the_umask()
    {
        var path = Path.Combine(_dir, "new");
        AtomicFile.Write(path, "x");
        // 0666 less a umask that takes at least group and other write (022 or stricter here).
        Assert.False(File.GetUnixFileMode(path).HasFlag(UnixFileMode.UserExecute));
        Assert.True(File.GetUnixFileMode(path).HasFlag(UnixFileMode.UserRead | UnixFileMode.UserWrite));
    }

    [Fact]
    public void A_write_into_a_missing_directory_fails_naming_the_file_and_changes_nothing()
    {
        var path = Path.Combine(_dir, "gone", "record.json");
        var e = Assert.ThrowsAny<IOException>(() => AtomicFile.Write(path, "x"));
        Assert.Contains(Path.Combine(_dir, "gone"), e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir, "gone")));
    }

    [Fact]
    public void A_failed_rename_removes_the_temporary_file()
    {
        var target = Path.Combine(_dir, "taken");
        Directory.CreateDirectory(Path.Combine(target, "inside")); // rename(2) cannot replace a non-empty directory
        Assert.ThrowsAny<IOException>(() => AtomicFile.Write(target, "x"));
        Assert.Equal([], Directory.GetFiles(_dir));
    }
}
