using System.CommandLine;

namespace Domino.Cli.Commands;

/// <summary>Every top-level `domino` subcommand, in the order `domino --help` lists them.</summary>
internal static class CommandTable
{
    public static IEnumerable<Command> All()
    {
        yield return ConfigCommands.CreateDomainCommand();
        yield return ConfigCommands.Create();
        yield return VmmCommand.Create();
    }
}
