namespace Domino.Bench;

/// <summary>
/// Domino's VMM against QEMU microvm on the same guest ELF, alternating runs in one session:
/// create → first console byte → poweroff wall time, peak RSS, and PIO exit round trips per second.
/// </summary>
internal static class VmmBench
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private static string[] DominoArgs(string guest, string cmdline) =>
        ["vmm", "--kernel", Repo.Guest(guest), "--memory", "64", "--vcpus", "1", "--cmdline", cmdline];

    internal static string[] QemuArgs(string guest, string cmdline) =>
    [
        "-M", "microvm", "-enable-kvm", "-cpu", "host,-arch-capabilities", "-m", "64", "-smp", "1",
        "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", Repo.Guest(guest), "-append", cmdline,
    ];

    public static int Run(int runs, int pioCount)
    {
        Repo.EnsureBuilt();
        var domino = new List<RunResult>();
        var qemu = new List<RunResult>();
        for (var i = 0; i < runs; i++)
        {
            // Alternate which one goes first so neither always meets a warm page cache.
            if (i % 2 == 0)
            {
                domino.Add(Checked("domino", Measure.Run(Repo.Cli, DominoArgs("hello", "bench"), Timeout), "hello: PASS"));
                qemu.Add(Checked("qemu", Measure.Run(Repo.Qemu, QemuArgs("hello", "bench"), Timeout), "hello: PASS"));
            }
            else
            {
                qemu.Add(Checked("qemu", Measure.Run(Repo.Qemu, QemuArgs("hello", "bench"), Timeout), "hello: PASS"));
                domino.Add(Checked("domino", Measure.Run(Repo.Cli, DominoArgs("hello", "bench"), Timeout), "hello: PASS"));
            }
        }

        var dominoExits = ExitRate(c => Measure.Run(Repo.Cli, DominoArgs("pio", $"count={c}"), Timeout), "domino", pioCount);
        var qemuExits = ExitRate(c => Measure.Run(Repo.Qemu, QemuArgs("pio", $"count={c}"), Timeout), "qemu", pioCount);

        Console.WriteLine($"hello.elf, 64 MiB, 1 vCPU, {runs} alternating runs each (medians); pio.elf count={pioCount}");
        Console.WriteLine();
        Console.WriteLine("| metric | Domino | QEMU microvm | Domino/QEMU |");
        Console.WriteLine("|---|---:|---:|---:|");
        Row("create → first console byte (ms)", domino.Select(r => r.FirstByteMs), qemu.Select(r => r.FirstByteMs), "0.0");
        Row("create → poweroff, whole run (ms)", domino.Select(r => r.TotalMs), qemu.Select(r => r.TotalMs), "0.0");
        Row("peak RSS (MiB)", domino.Select(r => r.PeakRssKiB / 1024.0), qemu.Select(r => r.PeakRssKiB / 1024.0), "0.0");
        Console.WriteLine($"| PIO exit round trips per second | {dominoExits:N0} | {qemuExits:N0} | {dominoExits / qemuExits:0.00} |");
        return 0;
    }

    private static void Row(string name, IEnumerable<double> domino, IEnumerable<double> qemu, string format)
    {
        var d = Measure.Median(domino);
        var q = Measure.Median(qemu);
        Console.WriteLine($"| {name} | {d.ToString(format)} | {q.ToString(format)} | {d / q:0.00} |");
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
