using System.Text.RegularExpressions;
using Xunit;

namespace Domino.Cli.Tests;

/// <summary>domino save / restore of a real guest through the vmm driver (needs /dev/kvm and the guest kit).</summary>
public sealed partial class VmmSaveRestoreTests : IDisposable
{
    private const long Every = 20_000_000;
    private readonly DominoRunner _d = new("vmm");
    private readonly DominoRunner _b = new("vmm");

    public void Dispose()
    {
        // VMM processes inherit the daemon's output pipes: end them first so the runner's wait for the daemon returns.
        foreach (var runner in new[] { _d, _b })
        {
            var vmm = Path.Combine(runner.StateDir, "vmm");
            foreach (var pf in Directory.Exists(vmm) ? Directory.GetFiles(vmm, "*.pid") : [])
                if (int.TryParse(File.ReadAllText(pf).Split(' ')[0], out var pid) && Toolstack.Interop.Libc.ProcessExists(pid))
                    Toolstack.Interop.Libc.Signal(pid, Toolstack.Interop.Libc.SIGKILL);
        }
        _d.Dispose();
        _b.Dispose();
    }

    private static int FreePort()
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        var port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private void RequireKvm()
    {
        var reason = Unavailable();
        if (reason is not null && Environment.GetEnvironmentVariable("DOMINO_REQUIRE_KVM") == "1") Assert.Fail(reason);
        Skip.If(reason is not null, reason);
    }

    private string CreateCounter(DominoRunner d, int memoryMiB = 128)
    {
        var cfg = Path.Combine(d.StateDir, "counter.cfg");
        File.WriteAllLines(cfg, ["name = \"counter\"", "type = \"pvh\"", $"kernel = \"{CounterElf()}\"", $"memory = {memoryMiB}", $"cmdline = \"every={Every}\""]);
        var create = d.Run("create", "-q", cfg);
        Assert.True(create.ExitCode == 0, create.ToString());
        return cfg;
    }

    [SkippableFact]
    public void Counter_migrates_between_two_daemons_and_counts_on()
    {
        RequireKvm();
        var port = FreePort();
        _d.StartDaemon();
        _b.StartDaemon("--migrate-listen", $"127.0.0.1:{port}");
        CreateCounter(_d);
        var before = WaitForCounts(_d, "counter", 2);
        WaitForSpare(_b);
        var migrate = _d.Run("migrate", "-v", "counter", $"127.0.0.1:{port}");
        Assert.True(migrate.ExitCode == 0, migrate.ToString() + _d.DaemonLog + _b.DaemonLog);
        Assert.Contains("downtime", migrate.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("counter", _d.Run("list").Stdout, StringComparison.Ordinal);
        Assert.Contains("r-----", _b.Run("list", "counter").Stdout, StringComparison.Ordinal);
        var after = WaitForCounts(_b, "counter", 1);
        Assert.True(after[0] > before[^1] && after[0] < before[^1] + 200 * Every, $"after {after[0]}, before {before[^1]}");
        // The target's spare took the incoming domain in its VM shell.
        Assert.Contains("built in the VM shell made ahead", _b.VmmLog(), StringComparison.Ordinal);
    }

    /// <summary>Waits until the daemon has a spare VMM process (one is started after each create that used the last).</summary>
    private static void WaitForSpare(DominoRunner d) => TestDriverEndToEndTests.WaitFor(() => d.SparePids().Count == 1, 60);

    /// <summary>
    /// Pauses the counter domain, takes its console so far, saves it to a file and checks it is gone;
    /// returns the file and the console.
    /// </summary>
    private (string File, string Console) Save(DominoRunner d)
    {
        Assert.Equal(0, d.Run("pause", "counter").ExitCode);
        var console = d.Run("dmesg", "counter").Stdout;
        var file = Path.Combine(d.StateDir, "counter.save");
        var save = d.Run("save", "-v", "counter", file);
        Assert.True(save.ExitCode == 0, save.ToString() + d.DaemonLog);
        Assert.Contains("zero pages skipped", save.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("counter", d.Run("list").Stdout, StringComparison.Ordinal);
        return (file, console);
    }

    [GeneratedRegex(@"counter: (\d+)\n")]
    private static partial Regex WholeCounterLine();

    /// <summary>
    /// Waits for the restored domain to print <paramref name="more"/> counts, then checks its console
    /// continues the one saved with it, one step at a time: no restart, no repeat, nothing lost
    /// (a line cut by the pause is finished by the restored guest).
    /// </summary>
    private void AssertCountsOn(string saved, int more = 2)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        string after;
        while (WholeCounterLine().Matches(after = _d.Run("dmesg", "counter").Stdout).Count < more)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"the restored counter printed too little: {after}");
            Thread.Sleep(100);
        }
        var before = WholeCounterLine().Matches(saved).Count;
        var values = WholeCounterLine().Matches(saved + after).Select(m => long.Parse(m.Groups[1].Value)).ToList();
        Assert.True(values.Count >= before + more, $"{values.Count} counts: {saved}|{after}");
        for (var i = 1; i < values.Count; i++)
            Assert.True(values[i] == values[i - 1] + Every, $"count {i} is {values[i]} after {values[i - 1]}: {string.Join(", ", values)}");
    }

    /// <summary>The restore -v lines of the VMM's own steps: name and milliseconds.</summary>
    private static Dictionary<string, double> VmmSteps(string stdout) =>
        VmmStepLine().Matches(stdout).ToDictionary(m => m.Groups[1].Value.Trim(), m => double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));

    [GeneratedRegex(@"^  (\S.*?)\s+(\d+\.\d+) ms$", RegexOptions.Multiline)]
    private static partial Regex VmmStepLine();

    [SkippableFact]
    public void Without_a_spare_restore_starts_a_VMM_process_that_builds_from_scratch()
    {
        RequireKvm();
        _d.ExtraEnvironment["DOMINO_VMM_SPARE"] = "0";
        _d.StartDaemon();
        CreateCounter(_d);
        WaitForCounts("counter", 2);
        var (file, saved) = Save(_d);
        var restore = _d.Run("restore", "-v", file);
        Assert.True(restore.ExitCode == 0, restore.ToString() + _d.DaemonLog);
        Assert.Contains("VMM restore steps (KVM objects made from scratch", restore.Stdout, StringComparison.Ordinal);
        var steps = VmmSteps(restore.Stdout);
        Assert.Contains("KVM_CREATE_VM", steps.Keys);
        Assert.DoesNotContain("take VM shell", steps.Keys);
        Assert.True(steps["restore total"] > 0, restore.Stdout);
        AssertCountsOn(saved);
        Assert.Equal(0, _d.Run("destroy", "counter").ExitCode);
    }

    [SkippableFact]
    public void A_domain_with_RAM_above_4_GiB_is_restored_from_scratch_by_the_spare_and_counts_on()
    {
        RequireKvm();
        _d.StartDaemon();
        CreateCounter(_d, memoryMiB: 3200); // 128 MiB above 4 GiB: no VM shell for any guest fits it
        WaitForCounts("counter", 2);
        var (file, saved) = Save(_d);
        WaitForSpare(_d);
        var spare = _d.SparePids().Single();
        var restore = _d.Run("restore", "-v", file);
        Assert.True(restore.ExitCode == 0, restore.ToString() + _d.DaemonLog);
        Assert.Contains("VMM restore steps (KVM objects made from scratch", restore.Stdout, StringComparison.Ordinal);
        Assert.Contains("KVM_CREATE_VM", VmmSteps(restore.Stdout).Keys);
        var pid = _d.VmmPid();
        Assert.Equal(spare, pid); // the spare process served it, without its shell
        AssertCountsOn(saved);
        Assert.Equal(0, _d.Run("destroy", "counter").ExitCode);
    }

    [SkippableFact]
    public void Remus_backup_takes_over_when_the_primary_vmm_is_killed_without_repeating_console_output()
    {
        RequireKvm();
        var port = FreePort();
        _d.StartDaemon();
        _b.StartDaemon("--migrate-listen", $"127.0.0.1:{port}");
        CreateCounter(_d);
        WaitForCounts(_d, "counter", 1);
        var remus = _d.Run("remus", "-i", "100", "counter", $"127.0.0.1:{port}");
        Assert.True(remus.ExitCode == 0, remus.ToString());
        Thread.Sleep(1500);
        var shown = WaitForCounts(_d, "counter", 3);
        var pid = _d.VmmPid();
        Toolstack.Interop.Libc.Signal(pid, Toolstack.Interop.Libc.SIGKILL);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!_b.Run("list", "counter").Stdout.Contains("r-----", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("backup did not take over: " + _b.DaemonLog);
            Thread.Sleep(100);
        }
        var after = WaitForCounts(_b, "counter", 1);
        // The backup resumes from the last acknowledged checkpoint: its first line follows the last
        // line the primary was allowed to show, with nothing shown twice and nothing skipped.
        Assert.True(after[0] > shown[^1] - Every, $"after {after[0]}, primary showed up to {shown[^1]}");
    }

    [GeneratedRegex(@"counter: (\d+)")]
    private static partial Regex CounterLine();

    private static List<long> Counts(string text) => [.. CounterLine().Matches(text).Select(m => long.Parse(m.Groups[1].Value))];

    private static string? Unavailable()
    {
        try { using var _ = File.Open("/dev/kvm", FileMode.Open, FileAccess.ReadWrite); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return $"NO /dev/kvm: {e.Message}"; }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var counter = Path.Combine(dir.FullName, "guests", "build", "counter.elf");
            if (File.Exists(Path.Combine(dir.FullName, "Domino.slnx"))) return File.Exists(counter) ? null : $"NO GUEST: {counter} (run make -C guests)";
        }
        return "NO GUEST: repository root not found";
    }

    private static string CounterElf()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Domino.slnx"))) return Path.Combine(dir.FullName, "guests", "build", "counter.elf");
        throw new InvalidOperationException("no repository root");
    }

    private List<long> WaitForCounts(string domain, int count, long above = 0) => WaitForCounts(_d, domain, count, above);

    private static List<long> WaitForCounts(DominoRunner d, string domain, int count, long above = 0)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var counts = Counts(d.Run("dmesg", domain).Stdout).Where(c => c > above).ToList();
            if (counts.Count >= count) return counts;
            if (DateTime.UtcNow > deadline) Assert.Fail($"{domain} printed {counts.Count} of {count} counts above {above}");
            Thread.Sleep(100);
        }
    }

    [SkippableFact]
    public void Counter_saved_and_restored_through_the_daemon_restores_in_the_spares_VM_shell_and_counts_on()
    {
        RequireKvm();
        _d.StartDaemon();
        CreateCounter(_d);
        WaitForCounts("counter", 2);
        var (file, saved) = Save(_d);

        WaitForSpare(_d);
        var spare = _d.SparePids().Single();
        var restore = _d.Run("restore", "-v", file);
        Assert.True(restore.ExitCode == 0, restore.ToString() + _d.DaemonLog);
        // The spare took the domain and restored it into the VM shell it had ready: the kernel's part
        // (KVM_CREATE_VM, irqchip, memory slot) was done before the restore was asked for.
        var pid = _d.VmmPid();
        Assert.Equal(spare, pid);
        Assert.Contains("VMM restore steps (in a VM shell made ahead by the spare VMM process)", restore.Stdout, StringComparison.Ordinal);
        var steps = VmmSteps(restore.Stdout);
        Assert.Contains("take VM shell", steps.Keys);
        Assert.Contains("open + check state file", steps.Keys);
        Assert.DoesNotContain("KVM_CREATE_VM", steps.Keys);
        Assert.True(steps["restore total"] > 0 && steps["restore total"] >= steps["take VM shell"], restore.Stdout);

        // It carries on from the next count after the last one seen: no restart, nothing lost.
        AssertCountsOn(saved);
        Assert.Equal(0, _d.Run("destroy", "counter").ExitCode);
    }
}
