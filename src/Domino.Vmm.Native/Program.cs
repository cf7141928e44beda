using Domino.Cli.Commands;

// `domino-vmm vmm-host ...`: a VMM process of the daemon's; anything else: `domino vmm`'s command.
if (args is ["vmm-host", ..])
    return CommandLineRoot.Parse(args, "domino-vmm", "The daemon's per-domain VMM process (not for people)", root => root.Subcommands.Add(VmmHostCommand.Create())).Invoke();
return CommandLineRoot.Parse(args, "domino-vmm", VmmCommand.Description, root => VmmCommand.Configure(root, "domino-vmm")).Invoke();
