using System.CommandLine;
using Domino.Toolstack.Drivers.Vmm;

namespace Domino.Cli.Commands;

/// <summary><c>domino vmm-host</c>: the per-domain VMM process the daemon starts (not for people).</summary>
internal static class VmmHostCommand
{
    public static Command Create()
    {
        var stateDir = new Option<string>("--state-dir") { Required = true };
        var uuid = new Option<Guid?>("--uuid") { Description = "The domain to run" };
        var spare = new Option<bool>("--spare") { Description = "Start, warm up, then read the domain's UUID from stdin" };
        var command = new Command("vmm-host", "Run one domain's VMM for the daemon") { stateDir, uuid, spare };
        command.Hidden = true;
        command.Validators.Add(result =>
        {
            if (result.GetValue(spare) == (result.GetValue(uuid) is not null))
                result.AddError("vmm-host needs exactly one of --uuid and --spare");
        });
        command.SetAction(parse => parse.GetValue(spare)
            ? VmmHost.RunSpare(parse.GetValue(stateDir)!)
            : VmmHost.Run(parse.GetValue(stateDir)!, parse.GetValue(uuid)!.Value));
        return command;
    }
}
