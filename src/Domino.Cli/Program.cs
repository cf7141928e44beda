using Domino.Cli.Commands;

return await CommandLineRoot.Parse(args, "domino", "Domino: a Xen-style virtualization toolstack on Linux KVM", root =>
{
    foreach (var command in CommandTable.For(args.Length > 0 ? args[0] : null)) root.Subcommands.Add(command);
}).InvokeAsync();
