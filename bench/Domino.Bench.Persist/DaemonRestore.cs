using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

/// <summary>
/// `domino restore -v` of a 128 MiB counter through a daemon (vmm driver), the way a user runs it:
/// the CLI as published (ReadyToRun, `.build/cli/domino`, built by `./domino`), a daemon in a
/// temporary state dir, the state file saved by `domino save`. Times the CLI's wall clock and reads
/// the daemon's and the VMM process's own figures from the -v output, with the daemon keeping a
/// spare VMM process (which restores into its VM shell) and with spares off, alternating.
/// </summary>
internal static partial class DaemonRestore
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    public static void Run(string root, int runs)
    {
        var cli = Path.Combine(root, ".build", "cli", "domino");
        Exec(Path.Combine(root, "domino"), ["--help"], null); // rebuilds the published CLI and the guests when stale
        using var spare = new Daemon(cli, spare: true);
        using var fresh = new Daemon(cli, spare: false);
        var kernel = Path.Combine(root, "guests", "build", "counter.elf");
        var file = spare.SaveCounter(kernel);
        var samples = new Dictionary<bool, List<Sample>> { [true] = [], [false] = [] };
        var list = new List<double>();
        try
        {
            for (var i = 0; i < runs; i++)
            {
                list.Add(spare.Time(["list"]).WallMs);
                foreach (var daemon in new[] { spare, fresh })
                {
                    daemon.WaitForSpare(); // as between restores in real use: the next spare has warmed up
                    samples[daemon.Spare].Add(daemon.Restore(file));
                    daemon.Destroy("counter");
                }
            }
        }
        finally
        {
            File.Delete(file);
        }
        foreach (var withSpare in new[] { true, false })
        {
            var s = samples[withSpare];
            var inShell = s.Count(x => x.InShell);
            Console.WriteLine($"restore through the daemon, counter 128 MiB, {(withSpare ? "daemon keeps a spare VMM process" : "DOMINO_VMM_SPARE=0")}, " +
                $"{s.Count} runs ({inShell} in a VM shell), median [min–max]:");
            Console.WriteLine($"  {"VMM process's steps",-40}");
            foreach (var step in s[0].Steps.Keys)
                Console.WriteLine($"    {step,-38} {Stats(s.Select(x => x.Steps.GetValueOrDefault(step)).ToList())}");
            Console.WriteLine($"  {"VMM restore total",-40} {Stats(s.Select(x => x.VmmMs).ToList())}");
            Console.WriteLine($"  {"daemon: request → VMM serving",-40} {Stats(s.Select(x => x.DaemonMs).ToList())}");
            Console.WriteLine($"  {"CLI wall clock, domino restore -v",-40} {Stats(s.Select(x => x.WallMs).ToList())}");
        }
        Console.WriteLine($"  {"CLI wall clock, domino list (the floor)",-40} {Stats(list)}");
    }

    private sealed record Sample(double WallMs, double DaemonMs, double VmmMs, bool InShell, Dictionary<string, double> Steps);

    [GeneratedRegex(@"^  (\S.*?)\s+(\d+\.\d+) ms$", RegexOptions.Multiline)]
    private static partial Regex StepLine();

    [GeneratedRegex(@"zero pages skipped, (\d+\.\d+) ms")]
    private static partial Regex DaemonLine();

    private static string Stats(List<double> v)
    {
        var s = v.Order().ToList();
        return $"{s[s.Count / 2],8:0.000} ms [{s[0]:0.000}–{s[^1]:0.000}]";
    }

    private static (double WallMs, string Stdout) Exec(string exe, string[] args, Dictionary<string, string>? env)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? []) psi.Environment[k] = v;
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {exe}");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(Limit)) throw new TimeoutException($"{exe} {string.Join(' ', args)} did not finish");
        var wall = clock.Elapsed.TotalMilliseconds;
        if (p.ExitCode != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} exited {p.ExitCode}: {stdout}{stderr.Result}");
        return (wall, stdout);
    }

    /// <summary>A daemon with the vmm driver in a temporary state dir, started by the CLI's auto-start.</summary>
    private sealed class Daemon : IDisposable
    {
        private readonly string _cli;
        private readonly string _dir = Directory.CreateTempSubdirectory("domino-bench-").FullName;
        private readonly Dictionary<string, string> _env;

        public Daemon(string cli, bool spare)
        {
            _cli = cli;
            Spare = spare;
            _env = new()
            {
                ["DOMINO_STATE_DIR"] = _dir,
                ["DOMINO_SOCKET"] = Path.Combine(_dir, "domino.sock"),
                ["DOMINO_DRIVER"] = "vmm",
                ["DOMINO_VMM_SPARE"] = spare ? "1" : "0",
            };
            Time(["list"]);
        }

        public bool Spare { get; }

        public (double WallMs, string Stdout) Time(string[] args) => Exec(_cli, args, _env);

        /// <summary>Creates the counter (128 MiB), lets it count, saves it; returns the state file.</summary>
        public string SaveCounter(string kernel)
        {
            var cfg = Path.Combine(_dir, "counter.cfg");
            File.WriteAllText(cfg, $"name = \"counter\"\ntype = \"pvh\"\nkernel = \"{kernel}\"\nmemory = 128\ncmdline = \"every=20000000\"\n");
            Time(["create", "-q", cfg]);
            var deadline = DateTime.UtcNow + Limit;
            while (Regex.Matches(Time(["dmesg", "counter"]).Stdout, "counter: ").Count < 2)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException("the counter did not count");
                Thread.Sleep(50);
            }
            var file = Path.Combine(Path.GetTempPath(), $"domino-bench-counter-{Environment.ProcessId}.save");
            Time(["save", "counter", file]);
            return file;
        }

        public Sample Restore(string file)
        {
            var (wall, stdout) = Time(["restore", "-v", file]);
            var steps = StepLine().Matches(stdout).ToDictionary(m => m.Groups[1].Value, m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
            var total = steps.Remove("restore total", out var t) ? t : double.NaN;
            var daemon = DaemonLine().Match(stdout) is { Success: true } d ? double.Parse(d.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
            return new Sample(wall, daemon, total, stdout.Contains("in a VM shell made ahead", StringComparison.Ordinal), steps);
        }

        public void Destroy(string name) => Time(["destroy", name]);

        /// <summary>Waits until an idle spare of this daemon blocks reading its stdin, i.e. has warmed up and made its shell.</summary>
        public void WaitForSpare()
        {
            if (!Spare) return;
            var deadline = DateTime.UtcNow + Limit;
            while (DateTime.UtcNow < deadline)
            {
                foreach (var pid in SparePids())
                {
                    var wchan = Read($"/proc/{pid}/wchan");
                    if (wchan.EndsWith("pipe_read", StringComparison.Ordinal) || wchan == "pipe_wait") return;
                }
                Thread.Sleep(20);
            }
            throw new TimeoutException("the daemon's spare VMM process did not become ready");
        }

        private IEnumerable<int> SparePids()
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
                var cmdline = Read(Path.Combine(dir, "cmdline"));
                if (cmdline.Contains("vmm-host\0--spare\0", StringComparison.Ordinal) && cmdline.Contains(_dir, StringComparison.Ordinal)) yield return pid;
            }
        }

        private static string Read(string path)
        {
            try { return File.ReadAllText(path).Trim(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
        }

        public void Dispose()
        {
            var pidFile = Path.Combine(_dir, "daemon.pid");
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
            {
                try
                {
                    using var daemon = Process.GetProcessById(pid);
                    daemon.Kill(); // the daemon's idle spare sees its stdin close and ends
                    daemon.WaitForExit(5000);
                }
                catch (ArgumentException) { }
            }
            foreach (var pf in Directory.Exists(Path.Combine(_dir, "vmm")) ? Directory.GetFiles(Path.Combine(_dir, "vmm"), "*.pid") : [])
            {
                if (!int.TryParse(File.ReadAllText(pf).Split(' ')[0], out var vmm)) continue;
                try
                {
                    using var p = Process.GetProcessById(vmm);
                    p.Kill();
                }
                catch (ArgumentException) { }
            }
            try { Directory.Delete(_dir, recursive: true); }
            catch (IOException) { }
        }
    }
}
