using Domino.Toolstack.Domains;
using Domino.Toolstack.Scheduling;
using Xunit;

namespace Domino.Toolstack.Tests.Scheduling;

public sealed class CpuSetTests
{
    private static readonly CpuSet Host = CpuSet.Range(0, 8);

    [Theory]
    [InlineData("all", "0-7")]
    [InlineData("3", "3")]
    [InlineData("0-3,^1", "0,2-3")]
    [InlineData("^0", "1-7")]
    [InlineData("1,3,5-7", "1,3,5-7")]
    [InlineData("nodes:1", "4-7")]
    public void Parses_xl_cpu_lists(string text, string expected)
    {
        var nodes = new Dictionary<int, CpuSet> { [0] = CpuSet.Range(0, 4), [1] = CpuSet.Range(4, 4) };
        Assert.Equal(expected, CpuSet.Parse(text, Host, nodes).ToString());
    }

    [Fact]
    public void Prints_all_for_every_host_cpu() => Assert.Equal("all", CpuSet.Parse("0-7", Host).ToXl(Host));

    [Theory]
    [InlineData("9", "cpu 9 in '9' does not exist (this host has cpus 0-7)")]
    [InlineData("3-1", "cpu range '3-1' in '3-1' runs backwards (write 1-3)")]
    [InlineData("x", "'x' in 'x' is not a cpu number (expected e.g. 0-3,^1, all, or nodes:0)")]
    public void Refuses_bad_lists_with_the_fix(string text, string message) =>
        Assert.Equal(message, Assert.Throws<ToolstackException>(() => CpuSet.Parse(text, Host)).Message);
}
