using System.CommandLine;
using Domino.Cli.Commands;

var root = new RootCommand("Domino: a Xen-style virtualization toolstack on Linux KVM");
foreach (var command in CommandTable.All()) root.Subcommands.Add(command);
return await root.Parse(args).InvokeAsync();
