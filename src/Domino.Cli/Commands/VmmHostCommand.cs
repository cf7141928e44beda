using System.CommandLine;

namespace Domino.Cli.Commands;

/// <summary><c>domino vmm-host</c>: the per-domain VMM process the daemon starts (not for people).</summary>
internal static class VmmHostCommand
{
    public static Command Create()
    {
        var stateDir = new Option<string>("--state-dir") { Required = true };
        var uuid = new Option<Guid>("--uuid") { Required = true };
        var command = new Command("vmm-host", "Run one domain's VMM for the daemon") { stateDir, uuid };
        command.Hidden = true;
        command.SetAction(parse => Toolstack.Drivers.Vmm.VmmHost.Run(parse.GetValue(stateDir)!, parse.GetValue(uuid)));
        return command;
    }
}
