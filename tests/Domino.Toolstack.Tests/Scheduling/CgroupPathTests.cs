using Domino.Toolstack.Scheduling.Host;
using Xunit;

namespace Domino.Toolstack.Tests.Scheduling;

/// <summary>Where /proc/PID/task/TID/cgroup says a thread is, against where a group directory is.</summary>
public sealed class CgroupPathTests
{
    private const string SeparateHierarchies = "9:name=systemd:/\n4:memory:/x\n3:cpuset:/domino/pool0\n1:cpu:/domino/vmm-42\n2:cpuacct:/\n0::/\n";
    private const string CoMounted = "12:cpu,cpuacct:/domino/0b4e2c1a-0000-4000-8000-000000000001\n5:cpuset:/\n0::/user.slice\n";

    [Theory]
    [InlineData(SeparateHierarchies, "cpuset", "/domino/pool0")]
    [InlineData(SeparateHierarchies, "cpu", "/domino/vmm-42")]
    [InlineData(SeparateHierarchies, "cpuacct", "/")]
    [InlineData(CoMounted, "cpu", "/domino/0b4e2c1a-0000-4000-8000-000000000001")]
    [InlineData(CoMounted, "cpuset", "/")]
    public void GroupOf_reads_the_controllers_hierarchy(string file, string controller, string expected) =>
        Assert.Equal(expected, CgroupHostScheduler.GroupOf(file, controller));

    [Fact]
    public void GroupOf_is_null_for_a_controller_not_mounted_as_v1() =>
        Assert.Null(CgroupHostScheduler.GroupOf("0::/user.slice\n", "cpuset"));

    [Theory]
    [InlineData("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu", "/")]
    [InlineData("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu/domino/vmm-42", "/domino/vmm-42")]
    [InlineData("/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/cpuset/domino/pool0", "/domino/pool0")]
    public void GroupPath_is_the_directory_below_its_mount(string mount, string dir, string expected) =>
        Assert.Equal(expected, CgroupHostScheduler.GroupPath(mount, dir));
}
