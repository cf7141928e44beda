using System.CommandLine;
using Domino.Cli.Commands;

return VmmCommand.Configure(new RootCommand(VmmCommand.Description), "domino-vmm").Parse(args).Invoke();
