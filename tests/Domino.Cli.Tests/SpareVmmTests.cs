using System.Globalization;
using Domino.Toolstack.Interop;

namespace Domino.Cli.Tests;

/// <summary>
/// The vmm driver keeps one warmed-up VMM process ready: a create hands it the domain instead of
/// starting a runtime, a new spare follows, and an idle spare never outlives its daemon.
/// </summary>
public sealed class SpareVmmTests : IDisposable
{
    private readonly DominoRunner _d = new("vmm");

    public void Dispose() => _d.Dispose();

    private List<int> Spares() => _d.SparePids();

    [SkippableFact]
    public void A_create_is_served_by_the_spare_and_a_new_spare_follows()
    {
        Kvm.Require();
        _d.StartDaemon();
        TestDriverEndToEndTests.WaitFor(() => Spares().Count == 1, 60);
        var spare = Spares().Single();

        var cfg = _d.Config("count", $"kernel = \"{Kvm.Guest("counter")}\"");
        var r = _d.Run("create", "-q", cfg);
        Assert.True(r.ExitCode == 0, r.ToString());
        var pid = _d.VmmPid();
        Assert.Equal(spare, pid);
        TestDriverEndToEndTests.WaitFor(() => _d.Run("dmesg", "count").Stdout.Contains("counter:", StringComparison.Ordinal));
        // The spare had a VM shell ready for any guest: the domain was booted in it.
        Assert.Contains("built in the VM shell made ahead", _d.VmmLog(), StringComparison.Ordinal);

        // The adopted process keeps its command line; the new spare is the other one.
        TestDriverEndToEndTests.WaitFor(() => Spares().Any(p => p != spare), 60);
        Assert.Equal(0, _d.Run("destroy", "count").ExitCode);
        TestDriverEndToEndTests.WaitFor(() => !Libc.ProcessExists(pid));
    }

    [SkippableFact]
    public void A_spare_waits_in_pool0_with_a_cpu_group_that_becomes_its_domains()
    {
        var spare = StartWithSpareWhereHostSchedulingRuns();
        // The daemon moves a new spare there in the background, while it warms up.
        TestDriverEndToEndTests.WaitFor(() => Group(spare, "cpu") == $"/domino/vmm-{spare}", 30);
        Assert.Equal("/domino/pool0", Group(spare, "cpuset"));

        Assert.Equal(0, _d.Run("create", "-q", _d.Config("count", $"kernel = \"{Kvm.Guest("counter")}\"")).ExitCode);
        Assert.Equal(spare, _d.VmmPid());
        var uuid = Path.GetFileName(Directory.GetDirectories(Path.Combine(_d.StateDir, "domains")).Single());
        // The spare's group was renamed to the domain's: every thread of the process is in it, vCPU threads included.
        foreach (var task in Directory.GetDirectories($"/proc/{spare}/task"))
        {
            var tid = int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture);
            Assert.Equal($"/domino/{uuid}", Group(spare, "cpu", tid));
            Assert.Equal("/domino/pool0", Group(spare, "cpuset", tid));
        }
        Assert.False(Directory.Exists($"/sys/fs/cgroup/cpu/domino/vmm-{spare}"));
        Assert.Equal(0, _d.Run("destroy", "count").ExitCode);
        Assert.False(Directory.Exists($"/sys/fs/cgroup/cpu/domino/{uuid}"));
    }

    [SkippableFact]
    public void A_spares_cpu_group_takes_the_weight_and_cap_of_the_domain_that_adopts_it()
    {
        var spare = StartWithSpareWhereHostSchedulingRuns();
        TestDriverEndToEndTests.WaitFor(() => Group(spare, "cpu") == $"/domino/vmm-{spare}", 30);
        var prepared = Toolstack.Scheduling.Host.HostDomain.CpuGroupFor(Toolstack.Scheduling.SchedulerKind.Credit, 256, 0)!.Value;
        Assert.Equal($"{prepared.Shares}", CpuFile($"vmm-{spare}", "cpu.shares"));

        // The spare's group was made for a default domain; this one asks for other values, which must be written.
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("heavy", $"kernel = \"{Kvm.Guest("counter")}\"", "cpu_weight = 1024", "cap = 50")).ExitCode);
        Assert.Equal(spare, _d.VmmPid());
        var uuid = Path.GetFileName(Directory.GetDirectories(Path.Combine(_d.StateDir, "domains")).Single());
        var wanted = Toolstack.Scheduling.Host.HostDomain.CpuGroupFor(Toolstack.Scheduling.SchedulerKind.Credit, 1024, 50)!.Value;
        Assert.NotEqual(prepared, wanted);
        Assert.Equal($"{wanted.Shares}", CpuFile(uuid, "cpu.shares"));
        Assert.Equal($"{wanted.QuotaUs}", CpuFile(uuid, "cpu.cfs_quota_us"));
        Assert.Equal(0, _d.Run("destroy", "heavy").ExitCode);

        // The next spare, adopted by a default domain, keeps the values it was prepared with.
        TestDriverEndToEndTests.WaitFor(() => Spares().Count == 1 && Group(Spares()[0], "cpu") == $"/domino/vmm-{Spares()[0]}", 60);
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("plain", $"kernel = \"{Kvm.Guest("counter")}\"")).ExitCode);
        uuid = Path.GetFileName(Directory.GetDirectories(Path.Combine(_d.StateDir, "domains")).Single());
        Assert.Equal($"{prepared.Shares}", CpuFile(uuid, "cpu.shares"));
        Assert.Equal($"{prepared.QuotaUs}", CpuFile(uuid, "cpu.cfs_quota_us"));
        Assert.Equal(0, _d.Run("destroy", "plain").ExitCode);
    }

    private static string CpuFile(string group, string file) => File.ReadAllText($"/sys/fs/cgroup/cpu/domino/{group}/{file}").Trim();

    [SkippableFact]
    public void A_pinned_domains_vcpu_threads_are_pinned_when_create_returns()
    {
        StartWithSpareWhereHostSchedulingRuns();
        var last = (Environment.ProcessorCount - 1).ToString(CultureInfo.InvariantCulture);

        // The guest runs while the create finishes: the daemon must still learn its vCPU threads before
        // it answers, and pin them, with nothing to wait for afterwards.
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("pinned", $"kernel = \"{Kvm.Guest("counter")}\"", "vcpus = 2", $"cpus = \"{last}\"")).ExitCode);
        var pid = _d.VmmPid();
        var uuid = Path.GetFileName(Directory.GetDirectories(Path.Combine(_d.StateDir, "domains")).Single());
        var threads = File.ReadAllLines(Path.Combine(_d.StateDir, "vmm", $"{uuid}.vcpus"));
        Assert.Equal(2, threads.Length);
        foreach (var line in threads)
        {
            var tid = line.Split(' ')[1];
            var status = File.ReadAllLines($"/proc/{pid}/task/{tid}/status");
            Assert.Equal($"Cpus_allowed_list:\t{last}", status.Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)));
        }
        Assert.Equal(0, _d.Run("destroy", "pinned").ExitCode);
    }

    /// <summary>Starts the daemon and returns its spare's pid; skips, saying so, without KVM or host scheduling.</summary>
    private int StartWithSpareWhereHostSchedulingRuns()
    {
        Kvm.Require();
        Skip.IfNot(Toolstack.Scheduling.Host.CgroupHostScheduler.Available(),
            $"NOT RUN: host enforcement needs root and cgroup v1 ({Toolstack.Scheduling.Host.CgroupHostScheduler.Unavailable()})");
        _d.StartDaemon();
        TestDriverEndToEndTests.WaitFor(() => Spares().Count == 1, 60);
        return Spares().Single();
    }

    private static string? Group(int pid, string controller, int? tid = null)
    {
        try
        {
            return Toolstack.Scheduling.Host.CgroupHostScheduler.GroupOf(
                File.ReadAllText(tid is { } t ? $"/proc/{pid}/task/{t}/cgroup" : $"/proc/{pid}/cgroup"), controller);
        }
        catch (IOException) { return null; }
    }

    private string VmmLogs() => string.Join('\n', Directory.GetFiles(Path.Combine(_d.StateDir, "logs"), "vmm-*.log").Select(File.ReadAllText));

    [SkippableFact]
    public void An_idle_spare_ends_with_its_daemon()
    {
        Kvm.Require();
        _d.StartDaemon();
        TestDriverEndToEndTests.WaitFor(() => Spares().Count == 1, 60);
        var spare = Spares().Single();
        _d.KillDaemon(); // SIGKILL: the spare sees its stdin pipe close
        TestDriverEndToEndTests.WaitFor(() => !Libc.ProcessExists(spare), 30);
    }

    [SkippableFact]
    public void DOMINO_VMM_SPARE_0_turns_spares_off_and_creates_still_work()
    {
        Kvm.Require();
        _d.ExtraEnvironment["DOMINO_VMM_SPARE"] = "0";
        _d.StartDaemon();
        var r = _d.Run("create", "-q", "-c", _d.Config("hello", $"kernel = \"{Kvm.Guest("hello")}\""));
        Assert.True(r.ExitCode == 0 && r.Stdout.Contains("hello: PASS", StringComparison.Ordinal), $"{r}\ndaemon log:\n{_d.DaemonLog}\nVMM logs:\n{VmmLogs()}");
        Assert.Empty(Spares());
    }
}
