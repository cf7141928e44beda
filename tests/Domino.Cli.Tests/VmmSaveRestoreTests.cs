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

    private string CreateCounter(DominoRunner d)
    {
        var cfg = Path.Combine(d.StateDir, "counter.cfg");
        File.WriteAllLines(cfg, ["name = \"counter\"", "type = \"pvh\"", $"kernel = \"{CounterElf()}\"", "memory = 128", $"cmdline = \"every={Every}\""]);
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
        var migrate = _d.Run("migrate", "-v", "counter", $"127.0.0.1:{port}");
        Assert.True(migrate.ExitCode == 0, migrate.ToString() + _d.DaemonLog + _b.DaemonLog);
        Assert.Contains("downtime", migrate.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("counter", _d.Run("list").Stdout, StringComparison.Ordinal);
        Assert.Contains("r-----", _b.Run("list", "counter").Stdout, StringComparison.Ordinal);
        var after = WaitForCounts(_b, "counter", 1);
        Assert.True(after[0] > before[^1] && after[0] < before[^1] + 200 * Every, $"after {after[0]}, before {before[^1]}");
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
        var pid = int.Parse(File.ReadAllText(Directory.GetFiles(Path.Combine(_d.StateDir, "vmm"), "*.pid").Single()).Split(' ')[0]);
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
    public void Counter_saved_and_restored_through_the_daemon_counts_on()
    {
        var reason = Unavailable();
        if (reason is not null && Environment.GetEnvironmentVariable("DOMINO_REQUIRE_KVM") == "1") Assert.Fail(reason);
        Skip.If(reason is not null, reason);
        _d.StartDaemon();
        var cfg = Path.Combine(_d.StateDir, "counter.cfg");
        File.WriteAllLines(cfg, ["name = \"counter\"", "type = \"pvh\"", $"kernel = \"{CounterElf()}\"", "memory = 128", $"cmdline = \"every={Every}\""]);
        var create = _d.Run("create", "-q", cfg);
        Assert.True(create.ExitCode == 0, create.ToString());
        var before = WaitForCounts("counter", 2);

        var file = Path.Combine(_d.StateDir, "counter.save");
        var save = _d.Run("save", "-v", "counter", file);
        Assert.True(save.ExitCode == 0, save.ToString() + _d.DaemonLog);
        Assert.Contains("zero pages skipped", save.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("counter", _d.Run("list").Stdout, StringComparison.Ordinal);

        var restore = _d.Run("restore", "-v", file);
        Assert.True(restore.ExitCode == 0, restore.ToString() + _d.DaemonLog);
        var after = WaitForCounts("counter", 1);
        // It carries on from where it was: past the last count seen, and nowhere near a fresh start.
        Assert.True(after[0] > before[^1], $"after restore {after[0]}, before save {before[^1]}");
        Assert.Equal(0, after[0] % Every);
        Assert.True(after[0] < before[^1] + 200 * Every, $"after restore {after[0]}, before save {before[^1]}");
        Assert.Equal(0, _d.Run("destroy", "counter").ExitCode);
    }
}
