using System.Text.RegularExpressions;
using Xunit;

namespace Domino.Cli.Tests;

/// <summary>domino save / restore of a real guest through the vmm driver (needs /dev/kvm and the guest kit).</summary>
public sealed partial class VmmSaveRestoreTests : IDisposable
{
    private const long Every = 20_000_000;
    private readonly DominoRunner _d = new("vmm");

    public void Dispose() => _d.Dispose();

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

    private List<long> WaitForCounts(string domain, int count, long above = 0)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var counts = Counts(_d.Run("dmesg", domain).Stdout).Where(c => c > above).ToList();
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
