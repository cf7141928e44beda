using Xunit;

namespace Domino.Cli.Tests;

public sealed class AutoStartTests : IDisposable
{
    private readonly DominoRunner _d = new();

    public void Dispose() => _d.Dispose();

    [Fact]
    public void A_client_command_starts_a_detached_daemon_when_none_answers()
    {
        var r = _d.Run("list");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("Name", r.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_d.StateDir, "logs", "daemon.log")));
        var pid = int.Parse(File.ReadAllText(Path.Combine(_d.StateDir, "daemon.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Toolstack.Interop.Libc.ProcessExists(pid));
        // Its own session: not killed with the client's process group or terminal.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        Assert.Equal(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), fields[3]); // session id == pid
        Assert.Equal(0, _d.Run("create", "-q", _d.Config("web")).ExitCode);
        Assert.Contains("web", _d.Run("list").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_c_with_no_daemon_starts_one_and_shows_the_console_from_its_first_byte()
    {
        // With a daemon running, create -c asks for its console connection before reading the config;
        // with none, it reads the config, starts the daemon, then creates.
        var r = _d.Run("create", "-q", "-c", _d.Config("hello", "cmdline = \"test.on_boot=poweroff\""));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("test guest hello (domid 1) booting", r.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_d.StateDir, "daemon.pid")));

        var bad = _d.Run("create", "-q", "-c", _d.Config("bad", "memory = \"lots\""));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("bad.cfg:", bad.Stderr, StringComparison.Ordinal);
        var again = _d.Run("create", "-q", "-c", _d.Config("again", "cmdline = \"test.on_boot=poweroff\""));
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("again: poweroff", again.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Started_as_dotnet_domino_dll_it_starts_the_daemon_the_same_way()
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "domino.dll"));
        psi.ArgumentList.Add("list");
        _d.Environment(psi);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {await stderr}");
        Assert.StartsWith("Name", await stdout, StringComparison.Ordinal);
        var pid = int.Parse(File.ReadAllText(Path.Combine(_d.StateDir, "daemon.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        Assert.Equal([Path.Combine(AppContext.BaseDirectory, "domino.dll"), "daemon"], cmdline[1..3]);
    }
}
