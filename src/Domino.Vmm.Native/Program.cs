using System.CommandLine;
using Domino.Cli.Commands;

// `domino-vmm vmm-host ...`: a VMM process of the daemon's; anything else: `domino vmm`'s command.
if (args is ["vmm-host", ..])
{
    var daemonSide = new RootCommand("The daemon's per-domain VMM process (not for people)");
    daemonSide.Subcommands.Add(VmmHostCommand.Create());
    return daemonSide.Parse(args).Invoke();
}
return VmmCommand.Configure(new RootCommand(VmmCommand.Description), "domino-vmm").Parse(args).Invoke();
