using System.Diagnostics;
using System.Globalization;

namespace Domino.Bench;

/// <summary>
/// The toolstack's create path against a cold QEMU microvm on the same guest, alternating in one
/// session: `domino create -q -c` → first console byte with the daemon warm (with its spare VMM
/// process, and with spares turned off), the client's own floor (`domino list` on the warm daemon),
/// and the memory a running guest adds (PSS and RSS of its VMM process against the QEMU process).
/// The client is the CLI compiled ahead of time, as `./domino` runs it; the same CLI on the .NET
/// runtime gets rows of its own. Every timed command is started directly, as a shell would start it;
/// `/bin/echo`'s first byte shows what starting and reading a process costs the measurement itself.
/// </summary>
internal static class ToolstackBench
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    public static int Run(int runs)
    {
        Repo.EnsureBuilt();
        using var spare = new BenchDaemon(spare: true);
        using var fresh = new BenchDaemon(spare: false);
        var withSpare = new List<double>();
        var runtimeWithSpare = new List<double>();
        var withoutSpare = new List<double>();
        var qemu = new List<double>();
        var list = new List<double>();
        var runtimeList = new List<double>();
        var floor = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            floor.Add(Checked("echo", Measure.Run("/bin/echo", ["hello"], Timeout, peakRss: false), "hello").FirstByteMs);
            list.Add(Checked("domino list", Measure.Run(Repo.AotCli, ["list"], Timeout, spare.Env, peakRss: false), "Name").TotalMs);
            runtimeList.Add(Checked("domino list (runtime CLI)", Measure.Run(Repo.Cli, ["list"], Timeout, spare.Env, peakRss: false), "Name").TotalMs);
            // Let the daemon's next spare finish warming up, as it would between creates in real use.
            spare.WaitForSpare();
            withSpare.Add(Checked("domino (spare)", spare.Create(Repo.AotCli, "hello", 2 * i), "hello: PASS").FirstByteMs);
            spare.WaitForSpare();
            runtimeWithSpare.Add(Checked("domino (spare, runtime CLI)", spare.Create(Repo.Cli, "hello", 2 * i + 1), "hello: PASS").FirstByteMs);
            withoutSpare.Add(Checked("domino (no spare)", fresh.Create(Repo.AotCli, "hello", i), "hello: PASS").FirstByteMs);
            qemu.Add(Checked("qemu", Measure.Run(Repo.Qemu, VmmBench.QemuArgs("hello", "bench"), Timeout, peakRss: false), "hello: PASS").FirstByteMs);
        }

        spare.WaitForSpare();
        var (dPss, dRss) = spare.RunningGuestMemory("counter");
        var (qPss, qRss) = QemuMemory("counter");

        Console.WriteLine($"hello.elf, 64 MiB, 1 vCPU, {runs} alternating runs each (medians; min in brackets); load average {LoadAverage()}; state dirs under {Path.GetDirectoryName(spare.Dir)}");
        Console.WriteLine();
        Console.WriteLine("| metric | Domino | QEMU microvm (cold) | Domino/QEMU |");
        Console.WriteLine("|---|---:|---:|---:|");
        Row("create -c → first console byte, daemon warm, spare VMM (ms)", withSpare, qemu);
        Row("the same with the CLI on the .NET runtime (ms)", runtimeWithSpare, qemu);
        Row("create -c → first console byte, daemon warm, no spare (ms)", withoutSpare, qemu);
        Console.WriteLine($"| `domino list`, daemon warm: the client's own floor (ms) | {Measure.Median(list):0.0} [{list.Min():0.0}] | | |");
        Console.WriteLine($"| `domino list` with the CLI on the .NET runtime (ms) | {Measure.Median(runtimeList):0.0} [{runtimeList.Min():0.0}] | | |");
        Console.WriteLine($"| `/bin/echo`'s first byte: the measurement's own floor (ms) | {Measure.Median(floor):0.0} [{floor.Min():0.0}] | | |");
        Console.WriteLine($"| PSS per running guest, counter.elf (MiB) | {dPss / 1024.0:0.0} | {qPss / 1024.0:0.0} | {(double)dPss / qPss:0.00} |");
        Console.WriteLine($"| RSS per running guest, counter.elf (MiB) | {dRss / 1024.0:0.0} | {qRss / 1024.0:0.0} | {(double)dRss / qRss:0.00} |");
        return 0;
    }

    private static void Row(string name, List<double> domino, List<double> qemu)
    {
        var d = Measure.Median(domino);
        var q = Measure.Median(qemu);
        Console.WriteLine($"| {name} | {d:0.0} [{domino.Min():0.0}] | {q:0.0} [{qemu.Min():0.0}] | {d / q:0.00} |");
    }

    private static (long PssKiB, long RssKiB) QemuMemory(string guest)
    {
        var psi = new ProcessStartInfo(Repo.Qemu) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var a in VmmBench.QemuArgs(guest, "")) psi.ArgumentList.Add(a);
        using var q = Process.Start(psi) ?? throw new InvalidOperationException("cannot start qemu");
        _ = q.StandardOutput.ReadToEndAsync();
        Thread.Sleep(2000);
        var m = Smaps(q.Id);
        q.Kill();
        q.WaitForExit();
        return m;
    }

    internal static (long PssKiB, long RssKiB) Smaps(int pid)
    {
        long pss = 0, rss = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f[0] == "Pss:") pss = long.Parse(f[1], CultureInfo.InvariantCulture);
            if (f[0] == "Rss:") rss = long.Parse(f[1], CultureInfo.InvariantCulture);
        }
        return (pss, rss);
    }

    private static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    private static RunResult Checked(string who, RunResult result, string expect)
    {
        if (!result.Console.Contains(expect, StringComparison.Ordinal))
            throw new InvalidOperationException($"{who}: did not print '{expect}' (exit {result.ExitCode}); output:\n{result.Console}");
        return result;
    }

    /// <summary>A daemon with the vmm driver in a temporary state dir, started by the CLI's auto-start.</summary>
    private sealed class BenchDaemon : IDisposable
    {
        private readonly string _dir = StateDir();

        /// <summary>
        /// A fresh state dir on a tmpfs where there is one (/dev/shm): the daemon's default, /run/domino,
        /// is a tmpfs on a systemd host, and the create path makes its records, launch, pid and log
        /// files there. On a disk file system each of those creates can wait for the journal.
        /// </summary>
        private static string StateDir()
        {
            const string shm = "/dev/shm";
            if (!Directory.Exists(shm)) return Directory.CreateTempSubdirectory("domino-bench-").FullName;
            var dir = Path.Combine(shm, $"domino-bench-{Guid.NewGuid():N}");
            Directory.CreateDirectory(dir);
            return dir;
        }

        public BenchDaemon(bool spare)
        {
            Env = new Dictionary<string, string>
            {
                ["DOMINO_STATE_DIR"] = _dir,
                ["DOMINO_SOCKET"] = Path.Combine(_dir, "domino.sock"),
                ["DOMINO_DRIVER"] = "vmm",
                ["DOMINO_VMM_SPARE"] = spare ? "1" : "0",
            };
            Checked("domino list", Measure.Run(Repo.AotCli, ["list"], Timeout, Env), "Name");
        }

        public Dictionary<string, string> Env { get; }

        public string Dir => _dir;

        /// <summary>`create -q -c` of a fresh copy of <paramref name="guest"/> with the client <paramref name="cli"/>.</summary>
        public RunResult Create(string cli, string guest, int run)
        {
            var cfg = Path.Combine(_dir, $"{guest}{run}.cfg");
            File.WriteAllText(cfg, $"name = \"{guest}{run}\"\ntype = \"pvh\"\nkernel = \"{Repo.Guest(guest)}\"\nmemory = 64\n");
            return Measure.Run(cli, ["create", "-q", "-c", cfg], Timeout, Env, peakRss: false);
        }

        /// <summary>Waits (up to 30 s) until an idle spare VMM process of this daemon has finished warming up.</summary>
        public void WaitForSpare()
        {
            if (Env["DOMINO_VMM_SPARE"] == "0") return;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (DateTime.UtcNow < deadline)
            {
                // An idle spare blocks reading its stdin once warm: wchan (anon_)pipe_read.
                foreach (var pid in SparePids())
                    if (Wchan(pid).EndsWith("pipe_read", StringComparison.Ordinal) || Wchan(pid) == "pipe_wait") return;
                Thread.Sleep(20);
            }
            throw new TimeoutException("the daemon's spare VMM process did not become ready within 30 s");
        }

        private IEnumerable<int> SparePids()
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
                string cmdline;
                try { cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")); }
                catch (IOException) { continue; }
                catch (UnauthorizedAccessException) { continue; }
                if (cmdline.Contains("vmm-host\0--spare\0", StringComparison.Ordinal) && cmdline.Contains(_dir, StringComparison.Ordinal))
                    yield return pid;
            }
        }

        private static string Wchan(int pid)
        {
            try { return File.ReadAllText($"/proc/{pid}/wchan").Trim(); }
            catch (IOException) { return ""; }
        }

        public (long PssKiB, long RssKiB) RunningGuestMemory(string guest)
        {
            var cfg = Path.Combine(_dir, $"{guest}.cfg");
            File.WriteAllText(cfg, $"name = \"{guest}\"\ntype = \"pvh\"\nkernel = \"{Repo.Guest(guest)}\"\nmemory = 64\n");
            Measure.Run(Repo.AotCli, ["create", "-q", cfg], Timeout, Env);
            Thread.Sleep(2000);
            var pidFile = Directory.EnumerateFiles(Path.Combine(_dir, "vmm"), "*.pid").Single();
            var pid = int.Parse(File.ReadAllText(pidFile).Split(' ')[0], CultureInfo.InvariantCulture);
            var m = Smaps(pid);
            Measure.Run(Repo.AotCli, ["destroy", guest], Timeout, Env);
            return m;
        }

        public void Dispose()
        {
            var pidFile = Path.Combine(_dir, "daemon.pid");
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
            {
                try
                {
                    using var daemon = Process.GetProcessById(pid);
                    daemon.Kill();
                    daemon.WaitForExit(5000);
                }
                catch (ArgumentException) { }
            }
            try { Directory.Delete(_dir, recursive: true); }
            catch (IOException) { }
        }
    }
}
