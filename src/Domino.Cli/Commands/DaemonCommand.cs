using System.CommandLine;
using Domino.Toolstack.Drivers;
using Domino.Toolstack.Store;

namespace Domino.Cli.Commands;

/// <summary><c>domino daemon</c>: runs the daemon in the foreground. Kept apart so client commands never load ASP.NET.</summary>
internal static class DaemonCommand
{
    public static Command Create()
    {
        var stateDir = new Option<string?>("--state-dir") { Description = "State directory (default: DOMINO_STATE_DIR, /run/domino for root, else $XDG_RUNTIME_DIR/domino or ~/.local/state/domino)" };
        var socket = new Option<string?>("--socket") { Description = "API socket (default: DOMINO_SOCKET, else STATE/domino.sock; read-only twin: SOCKET.ro)" };
        var driver = new Option<string?>("--driver") { Description = "Hypervisor driver: vmm, qemu or test (default: DOMINO_DRIVER, else vmm)" };
        var background = new Option<bool>("--background") { Hidden = true };
        var migrateListen = new Option<string?>("--migrate-listen") { Description = "Accept migrating domains and Remus backups on HOST:PORT (e.g. 127.0.0.1:8002)" };
        var command = new Command("daemon", "Run the Domino daemon in the foreground (it owns every domain)") { stateDir, socket, driver, background, migrateListen };
        command.SetAction((parse, ct) => Run(
            DaemonPaths.Resolve(parse.GetValue(stateDir), parse.GetValue(socket)),
            parse.GetValue(driver) ?? Environment.GetEnvironmentVariable("DOMINO_DRIVER") ?? DriverFactory.Default,
            parse.GetValue(background), parse.GetValue(migrateListen), ct));
        return command;
    }

    // A separate method so the JIT only touches the daemon assembly (and ASP.NET) when the daemon runs.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task<int> Run(DaemonPaths paths, string driver, bool background, string? migrateListen, CancellationToken ct)
    {
        try
        {
            return await Daemon.DaemonHost.RunAsync(new Daemon.DaemonOptions { Paths = paths, Driver = driver, Background = background, MigrateListen = migrateListen }, ct).ConfigureAwait(false);
        }
        catch (Toolstack.Domains.ToolstackException e)
        {
            await Console.Error.WriteLineAsync($"domino: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
