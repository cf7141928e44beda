using Domino.Toolstack.Drivers.Vmm;
using Xunit;

namespace Domino.Toolstack.Tests;

/// <summary>DOMINO_VMM_SHELL_MIB: how much RAM the spare VMM process's VM shell covers.</summary>
public sealed class SpareShellSettingTests
{
    [Theory]
    [InlineData(null, 3072)]
    [InlineData("", 3072)]
    [InlineData("0", 0)]
    [InlineData("8", 8)]
    [InlineData("1024", 1024)]
    [InlineData("3072", 3072)]
    [InlineData("7", 3072)]
    [InlineData("3073", 3072)]
    [InlineData("-1", 3072)]
    [InlineData("1G", 3072)]
    public void Takes_0_or_8_to_3072_MiB_and_covers_all_RAM_below_the_MMIO_hole_otherwise(string? setting, int expected) =>
        Assert.Equal(expected, VmmHost.ShellMiB(setting));
}
