using System.CommandLine;
using Domino.Toolstack.Interop;

namespace Domino.Cli.Commands;

/// <summary>
/// <c>daemon ...</c> in the CLI compiled ahead of time (<c>.build/aot/domino</c>): the daemon is an
/// ASP.NET Core server, which runs on the .NET runtime, so this replaces the process with the runtime
/// CLI, <c>.build/cli/domino</c> (where <c>./domino</c> publishes it), given the same arguments. A
/// client's auto-start (which runs this program again with <c>daemon --background</c>) goes the same way.
/// </summary>
internal static class DaemonCommand
{
    public static Command Create()
    {
        var command = new Command("daemon", "Run the Domino daemon in the foreground (it owns every domain)")
        {
            TreatUnmatchedTokensAsErrors = false, // every option is the runtime daemon's to parse
        };
        command.SetAction(_ =>
        {
            var daemon = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "cli", "domino"));
            var args = Environment.GetCommandLineArgs()[1..];
            Console.Error.WriteLine($"domino: {Libc.Exec(daemon, args).Message} (the daemon runs on the .NET runtime; ./domino builds it)");
            return 1;
        });
        return command;
    }
}
