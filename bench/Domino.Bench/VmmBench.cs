namespace Domino.Bench;

/// <summary>
/// Domino's VMM against QEMU microvm on the same guest ELF, in rotating order in one session:
/// create → first console byte → poweroff wall time, peak RSS, and PIO exit round trips per second.
/// The VMM runs in both of its forms: <c>domino-vmm</c> (compiled ahead of time; what <c>./domino vmm</c>
/// runs) and the CLI's <c>domino vmm</c> (ReadyToRun on the .NET runtime).
/// </summary>
internal static class VmmBench
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private static string[] VmmArgs(string guest, string cmdline) =>
        ["--kernel", Repo.Guest(guest), "--memory", "64", "--vcpus", "1", "--cmdline", cmdline];

    /// <summary>One program under test: how to run a guest with it.</summary>
    private sealed record Contender(string Name, Func<string, string, RunResult> Run)
    {
        public List<RunResult> Runs { get; } = [];
    }

    internal static string[] QemuArgs(string guest, string cmdline) =>
    [
        "-M", "microvm", "-enable-kvm", "-cpu", "host,-arch-capabilities", "-m", "64", "-smp", "1",
        "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", Repo.Guest(guest), "-append", cmdline,
    ];

    public static int Run(int runs, int pioCount)
    {
        Repo.EnsureBuilt();
        Contender[] all =
        [
            new("domino-vmm", (g, c) => Measure.Run(Repo.NativeVmm, VmmArgs(g, c), Timeout)),
            new("domino vmm", (g, c) => Measure.Run(Repo.Cli, ["vmm", .. VmmArgs(g, c)], Timeout)),
            new("qemu", (g, c) => Measure.Run(Repo.Qemu, QemuArgs(g, c), Timeout)),
        ];
        for (var i = 0; i < runs; i++)
        {
            // Rotate which one goes first so none always meets a warm or a cold page cache.
            for (var k = 0; k < all.Length; k++)
            {
                var who = all[(i + k) % all.Length];
                who.Runs.Add(Checked(who.Name, who.Run("hello", "bench"), "hello: PASS"));
            }
        }
        var exits = all.Select(who => ExitRate(c => who.Run("pio", $"count={c}"), who.Name, pioCount)).ToArray();

        var (native, cli, qemu) = (all[0], all[1], all[2]);
        Console.WriteLine($"hello.elf, 64 MiB, 1 vCPU, {runs} rotating runs each (medians); pio.elf count={pioCount}");
        Console.WriteLine();
        Console.WriteLine("| metric | domino-vmm | domino vmm (CLI) | QEMU microvm | domino-vmm/QEMU | domino vmm/QEMU |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        Row("create → first console byte (ms)", native, cli, qemu, r => r.FirstByteMs, "0.0");
        Row("create → poweroff, whole run (ms)", native, cli, qemu, r => r.TotalMs, "0.0");
        Row("peak RSS (MiB)", native, cli, qemu, r => r.PeakRssKiB / 1024.0, "0.0");
        Console.WriteLine($"| PIO exit round trips per second | {exits[0]:N0} | {exits[1]:N0} | {exits[2]:N0} | {exits[0] / exits[2]:0.00} | {exits[1] / exits[2]:0.00} |");
        return 0;
    }

    private static void Row(string name, Contender native, Contender cli, Contender qemu, Func<RunResult, double> figure, string format)
    {
        var n = Measure.Median(native.Runs.Select(figure));
        var c = Measure.Median(cli.Runs.Select(figure));
        var q = Measure.Median(qemu.Runs.Select(figure));
        Console.WriteLine($"| {name} | {n.ToString(format)} | {c.ToString(format)} | {q.ToString(format)} | {n / q:0.00} | {c / q:0.00} |");
    }

    /// <summary>Exits per second from the difference between a run with N exits and one with none.</summary>
    private static double ExitRate(Func<int, RunResult> run, string who, int count)
    {
        var baseline = new List<double>();
        var loaded = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            baseline.Add(Checked(who, run(0), "pio: PASS").TotalMs);
            loaded.Add(Checked(who, run(count), "pio: PASS").TotalMs);
        }
        var seconds = (Measure.Median(loaded) - Measure.Median(baseline)) / 1000.0;
        return count / seconds;
    }

    private static RunResult Checked(string who, RunResult result, string expect)
    {
        if (!result.Console.Contains(expect, StringComparison.Ordinal))
            throw new InvalidOperationException($"{who}: guest did not print '{expect}' (exit {result.ExitCode}); console:\n{result.Console}");
        return result;
    }
}
