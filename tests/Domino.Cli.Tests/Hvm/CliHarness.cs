using System.Diagnostics;
using System.Text;
using Xunit;

namespace Domino.Cli.Tests.Hvm;

/// <summary>
/// Decides whether tests needing QEMU can run. Without qemu-system-x86_64 they are skipped loudly
/// ("NO qemu-system-x86_64: ..."), or fail when DOMINO_REQUIRE_QEMU=1 or DOMINO_REQUIRE_KVM=1 (CI).
/// </summary>
internal static class QemuGate
{
    public static bool Required =>
        Environment.GetEnvironmentVariable("DOMINO_REQUIRE_QEMU") == "1" || Environment.GetEnvironmentVariable("DOMINO_REQUIRE_KVM") == "1";

    public static string? Binary =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "qemu-system-x86_64")).FirstOrDefault(File.Exists);

    public static void RequireQemu()
    {
        if (Binary is not null) return;
        const string reason = "NO qemu-system-x86_64: not on PATH (scripts/setup installs qemu-system-x86)";
        if (Required) Assert.Fail($"{reason} (DOMINO_REQUIRE_QEMU=1 makes this a failure)");
        Skip.If(true, reason);
    }

    /// <summary>Fails (or skips loudly) when something the test needs could not be built.</summary>
    public static void RequireBuilt(bool ok, string what)
    {
        if (ok) return;
        if (Required) Assert.Fail($"NO {what} (DOMINO_REQUIRE_QEMU=1 makes this a failure)");
        Skip.If(true, $"NO {what}");
    }
}

/// <summary>Runs the real <c>domino</c> CLI (built next to the tests) against a private daemon and state directory.</summary>
internal sealed class CliHarness : IDisposable
{
    public CliHarness(string driver)
    {
        // Unix socket paths are short (108 bytes): keep the state directory near the root.
        StateDir = Directory.CreateTempSubdirectory("dq-").FullName;
        Driver = driver;
    }

    public string StateDir { get; }
    public string Driver { get; }
    public static string Domino => Path.Combine(AppContext.BaseDirectory, "domino");

    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Domino.slnx"))) return d.FullName;
            throw new InvalidOperationException("cannot find the repository root (Domino.slnx) above the test assembly");
        }
    }

    public ProcessStartInfo StartInfo(params string[] args)
    {
        var psi = new ProcessStartInfo(Domino)
        {
            WorkingDirectory = RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOMINO_STATE_DIR"] = StateDir;
        psi.Environment["DOMINO_DRIVER"] = Driver;
        psi.Environment.Remove("DOMINO_SOCKET");
        return psi;
    }

    public async Task<(int Exit, string Out, string Err)> Run(TimeSpan timeout, params string[] args)
    {
        using var p = Process.Start(StartInfo(args))!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"domino {string.Join(' ', args)} did not finish within {timeout.TotalSeconds} s");
        }
        return (p.ExitCode, await stdout, await stderr);
    }

    public Task<(int Exit, string Out, string Err)> Run(params string[] args) => Run(TimeSpan.FromSeconds(60), args);

    public string DaemonLog => File.Exists(Path.Combine(StateDir, "logs", "daemon.log")) ? File.ReadAllText(Path.Combine(StateDir, "logs", "daemon.log")) : "";

    public void Dispose()
    {
        // Domains first (their QEMUs outlive a daemon by design), then the daemon.
        try
        {
            var list = Run(TimeSpan.FromSeconds(20), "list").GetAwaiter().GetResult();
            foreach (var line in list.Out.Split('\n').Skip(1).Where(l => l.Length > 0))
                Run(TimeSpan.FromSeconds(20), "destroy", line.Split(' ', 2)[0]).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException) { }
        var pidFile = Path.Combine(StateDir, "daemon.pid");
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
        try { Directory.Delete(StateDir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>An attached <c>domino console</c>: its output accumulates; input is written to its stdin.</summary>
internal sealed class ConsoleSession : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Task _pump;

    public ConsoleSession(CliHarness cli, string domain)
    {
        _process = Process.Start(cli.StartInfo("console", domain))!;
        _pump = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = await _process.StandardOutput.ReadAsync(buffer)) > 0)
                lock (_output) _output.Append(buffer, 0, n);
        });
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    public Task Type(string text)
    {
        _process.StandardInput.Write(text);
        return _process.StandardInput.FlushAsync();
    }

    /// <summary>Waits until <paramref name="text"/> appears after <paramref name="from"/>; returns the index just past it.</summary>
    public async Task<int> WaitFor(string text, TimeSpan timeout, int from = 0)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var output = Output;
            var i = output.IndexOf(text, Math.Min(from, output.Length), StringComparison.Ordinal);
            if (i >= 0) return i + text.Length;
            if (_process.HasExited && _pump.IsCompleted) break;
            await Task.Delay(50);
        }
        throw new TimeoutException($"'{text}' did not appear on the console within {timeout.TotalSeconds} s; console so far:\n{Tail(Output)}");
    }

    public async Task WaitForExit(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    private static string Tail(string s) => s.Length > 3000 ? s[^3000..] : s;

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
