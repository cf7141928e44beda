using System.CommandLine;
using Domino.Cli.Commands;

var root = new RootCommand("Domino: a Xen-style virtualization toolstack on Linux KVM");
foreach (var command in CommandTable.For(args.Length > 0 ? args[0] : null)) root.Subcommands.Add(command);
return await root.Parse(args).InvokeAsync();
