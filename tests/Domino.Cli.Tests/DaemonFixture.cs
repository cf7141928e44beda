using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.Sockets;

namespace Domino.Cli.Tests;

/// <summary>A real daemon (the built CLI, test driver) in a fresh state dir, and a way to run `domino` against it.</summary>
public sealed class DaemonFixture : IDisposable
{
    private readonly Process _daemon;

    public DaemonFixture()
    {
        StateDir = Path.Combine(Path.GetTempPath(), "domino-cli-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(StateDir);
        var psi = Psi("daemon", "--driver", "test");
        psi.RedirectStandardError = true;
        _daemon = Process.Start(psi)!;
        _daemon.ErrorDataReceived += (_, _) => { };
        _daemon.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!Answers())
        {
            if (_daemon.HasExited || DateTime.UtcNow > deadline) throw new InvalidOperationException("the test daemon did not start");
            Thread.Sleep(50);
        }
        Http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(Socket), ct).ConfigureAwait(false);
                return new NetworkStream(s, ownsSocket: true);
            },
        }) { BaseAddress = new Uri("http://domino/") };
    }

    public string StateDir { get; }
    public string Socket => Path.Combine(StateDir, "domino.sock");
    public HttpClient Http { get; }

    private static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Domino.slnx"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root");
        }
    }

    private static string CliDll
    {
        get
        {
            var config = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            return Path.Combine(Root, "src", "Domino.Cli", "bin", config, "net10.0", "domino.dll");
        }
    }

    private ProcessStartInfo Psi(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOMINO_STATE_DIR"] = StateDir;
        psi.Environment["DOMINO_NO_AUTOSTART"] = "1";
        psi.Environment.Remove("DOMINO_SOCKET");
        return psi;
    }

    private bool Answers()
    {
        if (!File.Exists(Socket)) return false;
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(Socket));
            return true;
        }
        catch (SocketException) { return false; }
    }

    /// <summary>Runs `domino ARGS` against this daemon.</summary>
    public (int Exit, string Out, string Err) Run(params string[] args)
    {
        using var p = Process.Start(Psi(args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"domino {string.Join(' ', args)} did not finish");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs `domino ARGS`, which must succeed; returns its stdout.</summary>
    public string Ok(params string[] args)
    {
        var (exit, stdout, stderr) = Run(args);
        Xunit.Assert.True(exit == 0, $"domino {string.Join(' ', args)} exited {exit}: {stderr}");
        return stdout;
    }

    /// <summary>Runs `domino ARGS`, which must fail with status 1; returns its stderr.</summary>
    public string Fails(params string[] args)
    {
        var (exit, _, stderr) = Run(args);
        Xunit.Assert.True(exit == 1, $"domino {string.Join(' ', args)} exited {exit}, expected 1");
        return stderr.Trim();
    }

    /// <summary>Creates a test-driver domain through the API (libxl JSON carries pool_name and sched_params).</summary>
    public async Task CreateDomain(string name, int vcpus = 2, string? pool = null, string? cpus = null, string schedParams = "")
    {
        var config = "{\"c_info\":{\"name\":\"" + name + "\"" + (pool is null ? "" : ",\"pool_name\":\"" + pool + "\"") + "},\"b_info\":{\"sched_params\":{" + schedParams + "}}}";
        var body = new Dictionary<string, object?>
        {
            ["spec"] = new Dictionary<string, object?> { ["name"] = name, ["vcpus"] = vcpus, ["memory_mb"] = 64, ["kernel"] = "/boot/fake", ["cpus"] = cpus },
            ["config"] = config,
        };
        using var r = await Http.PostAsJsonAsync("domains", body).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException(await r.Content.ReadAsStringAsync().ConfigureAwait(false));
    }

    public void Dispose()
    {
        Http.Dispose();
        try { _daemon.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _daemon.WaitForExit(5000);
        _daemon.Dispose();
        try { Directory.Delete(StateDir, recursive: true); } catch (IOException) { }
    }
}
