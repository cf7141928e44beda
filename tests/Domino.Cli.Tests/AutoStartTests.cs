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
}
