using Domino.Testing;
using System.Diagnostics;
using System.Text;

namespace Domino.Cli.Tests;

/// <summary>The real <c>domino</c> binary run against one daemon in a temporary state dir and socket.</summary>
public sealed class DominoRunner : IDisposable
{
    /// <param name="driver">The daemon's driver.</param>
    /// <param name="nativeVmm">With the vmm driver: run VMM processes with the native domino-vmm, as
    /// ./domino does (default), or with this test build's own <c>domino vmm-host</c>.</param>
    public DominoRunner(string driver = "test", bool nativeVmm = true)
    {
        // Short path: Unix socket paths are limited to 107 bytes.
        StateDir = Path.Combine("/tmp", "dmn-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(StateDir);
        Driver = driver;
        if (driver == "vmm") ExtraEnvironment["DOMINO_VMM_HOST"] = nativeVmm ? NativeBuild.Vmm : "self";
    }

    public string StateDir { get; }
    public string Driver { get; }
    public string Socket => Path.Combine(StateDir, "domino.sock");
    public static string Binary => Path.Combine(AppContext.BaseDirectory, "domino");

    public Process? Daemon { get; private set; }

    /// <summary>More environment for the daemon and every command this runner starts.</summary>
    public Dictionary<string, string> ExtraEnvironment { get; } = [];

    public void Environment(ProcessStartInfo psi)
    {
        psi.Environment["DOMINO_STATE_DIR"] = StateDir;
        psi.Environment.Remove("DOMINO_SOCKET");
        psi.Environment["DOMINO_DRIVER"] = Driver;
        foreach (var (k, v) in ExtraEnvironment) psi.Environment[k] = v;
    }

    /// <summary>Starts <c>domino daemon</c> as a child and waits until its socket answers.</summary>
    public void StartDaemon(params string[] extraArgs)
    {
        var psi = new ProcessStartInfo(Binary) { ArgumentList = { "daemon" }, RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in extraArgs) psi.ArgumentList.Add(a);
        Environment(psi);
        var log = new StringBuilder();
        Daemon = Process.Start(psi)!;
        Daemon.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        Daemon.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        Daemon.BeginErrorReadLine();
        Daemon.BeginOutputReadLine();
        DaemonLog = log;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90); // generous: a loaded 2-core machine starts ASP.NET slowly
        while (DateTime.UtcNow < deadline)
        {
            if (Daemon.HasExited) throw new InvalidOperationException($"daemon exited with {Daemon.ExitCode}: {log}");
            if (File.Exists(Socket))
            {
                using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                try { s.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(Socket)); return; }
                catch (System.Net.Sockets.SocketException) { }
            }
            Thread.Sleep(20);
        }
        KillDaemon(); // the test's constructor fails, so Dispose will not run
        throw new TimeoutException($"daemon did not answer on {Socket}: {log}");
    }

    public StringBuilder? DaemonLog { get; private set; }

    public void KillDaemon()
    {
        if (Daemon is { HasExited: false }) Daemon.Kill();
        Daemon?.WaitForExit(10_000);
        Daemon = null;
    }

    public void StopDaemon()
    {
        if (Daemon is { HasExited: false })
        {
            Toolstack.Interop.Libc.Signal(Daemon.Id, Toolstack.Interop.Libc.SIGTERM);
            if (!Daemon.WaitForExit(10_000)) Daemon.Kill();
        }
        Daemon = null;
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    public Result Run(params string[] args) => RunAsync(args).GetAwaiter().GetResult();

    /// <summary>Runs a command with <c>.build/aot/domino</c>, the CLI compiled ahead of time, as <c>./domino</c> does.</summary>
    public Result RunAot(params string[] args) => RunAsync(args, program: NativeBuild.Cli).GetAwaiter().GetResult();

    public async Task<Result> RunAsync(string[] args, TimeSpan? timeout = null, string? stdin = null, string? program = null)
    {
        var psi = new ProcessStartInfo(program ?? Binary) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Environment(psi);
        using var p = Process.Start(psi)!;
        if (stdin is not null) await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"domino {string.Join(' ', args)} did not finish: {await stdout} {await stderr}");
        }
        return new Result(p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Pids of this daemon's processes started as spares (command line <c>vmm-host --spare --state-dir DIR</c>).</summary>
    public List<int> SparePids()
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (args.Contains("vmm-host") && args.Contains("--spare") && args.Contains(StateDir)) found.Add(pid);
            }
            catch (IOException) { }
        }
        return found;
    }

    /// <summary>The pid of the only VMM process holding a domain (<c>vmm/UUID.pid</c>: pid, then start time).</summary>
    public int VmmPid()
    {
        var pidFile = Assert.Single(Directory.GetFiles(Path.Combine(StateDir, "vmm"), "*.pid"));
        return int.Parse(File.ReadAllText(pidFile).Split(' ')[0].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The VMM process log of the only domain this daemon has run (logs/vmm-UUID.log).</summary>
    public string VmmLog() => File.ReadAllText(Directory.GetFiles(Path.Combine(StateDir, "logs"), "vmm-*.log").Single());

    /// <summary>Writes an xl.cfg into the state dir and returns its path.</summary>
    public string Config(string name, params string[] lines)
    {
        var path = Path.Combine(StateDir, $"{name}.cfg");
        File.WriteAllLines(path, [$"name = \"{name}\"", "type = \"pvh\"", "kernel = \"/boot/test-kernel\"", "memory = 64", .. lines]);
        return path;
    }

    public void Dispose()
    {
        KillDaemon();
        // A daemon started by a client (auto-start) is not our child: stop it by its recorded pid.
        var pidFile = Path.Combine(StateDir, "daemon.pid");
        if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) && pid != System.Environment.ProcessId)
        {
            if (Toolstack.Interop.Libc.ProcessExists(pid)) Toolstack.Interop.Libc.Signal(pid, Toolstack.Interop.Libc.SIGKILL);
        }
        foreach (var pf in Directory.Exists(Path.Combine(StateDir, "vmm")) ? Directory.GetFiles(Path.Combine(StateDir, "vmm"), "*.pid") : [])
            if (int.TryParse(File.ReadAllText(pf).Split(' ')[0].Trim(), out var vmmPid) && Toolstack.Interop.Libc.ProcessExists(vmmPid))
                Toolstack.Interop.Libc.Signal(vmmPid, Toolstack.Interop.Libc.SIGKILL);
        // Domains whose VMM was killed here never had their cpu cgroup removed by a daemon: remove the
        // empty ones (rmdir of a cgroup fails while it holds a task, so a live domain's group stays).
        foreach (var dir in Directory.Exists(Path.Combine(StateDir, "domains")) ? Directory.GetDirectories(Path.Combine(StateDir, "domains")) : [])
            if (Guid.TryParse(Path.GetFileName(dir), out var uuid))
                try { Directory.Delete(Path.Combine("/sys/fs/cgroup/cpu/domino", uuid.ToString())); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        // So are the cpu groups the daemon made for its spare VMM processes (vmm-PID), once those are gone.
        foreach (var dir in Directory.Exists("/sys/fs/cgroup/cpu/domino") ? Directory.GetDirectories("/sys/fs/cgroup/cpu/domino", "vmm-*") : [])
            if (int.TryParse(Path.GetFileName(dir)[4..], out var sparePid) && !Toolstack.Interop.Libc.ProcessExists(sparePid))
                try { Directory.Delete(dir); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        var crashed = UnhandledExceptionsInLogs();
        try { Directory.Delete(StateDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        if (crashed.Length > 0) throw new Xunit.Sdk.XunitException($"a Domino process died of an unhandled exception:\n{crashed}");
    }

    /// <summary>The daemon's and VMM processes' logs (their stderr goes there too) must never show a .NET crash.</summary>
    private string UnhandledExceptionsInLogs()
    {
        var logs = Path.Combine(StateDir, "logs");
        if (!Directory.Exists(logs)) return "";
        var found = new System.Text.StringBuilder();
        foreach (var log in Directory.GetFiles(logs, "*.log"))
        {
            var text = File.ReadAllText(log);
            var at = text.IndexOf("Unhandled exception.", StringComparison.Ordinal);
            if (at >= 0) found.AppendLine($"{Path.GetFileName(log)}: {text[at..Math.Min(text.Length, at + 600)]}");
        }
        return found.ToString();
    }
}
