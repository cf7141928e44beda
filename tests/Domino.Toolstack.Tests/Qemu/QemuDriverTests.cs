using Domino.Toolstack.Domains;
using Domino.Toolstack.Drivers.Qemu;
using Xunit;

namespace Domino.Toolstack.Tests.Qemu;

public sealed class QemuDriverTests
{
    [Theory]
    [InlineData("all", 4, new[] { 0, 1, 2, 3 })]
    [InlineData("1", 4, new[] { 1 })]
    [InlineData("0-3,^1", 4, new[] { 0, 2, 3 })]
    [InlineData("all,^0-1", 4, new[] { 2, 3 })]
    [InlineData(" 2 , 0 ", 4, new[] { 0, 2 })]
    public void Vcpu_pin_cpu_lists_resolve_against_the_host(string text, int hostCpus, int[] expected) =>
        Assert.Equal(expected, QemuDriver.ParseCpuList(text, hostCpus));

    [Theory]
    [InlineData("5", "outside the host's CPUs 0-3")]
    [InlineData("3-1", "outside the host's CPUs 0-3")]
    [InlineData("nodes:0", "expected all, N, N-M or ^N")]
    [InlineData("0,^0", "selects no CPU")]
    public void Bad_cpu_lists_are_refused_with_the_reason(string text, string message)
    {
        var e = Assert.Throws<ToolstackException>(() => QemuDriver.ParseCpuList(text, 4));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
