using System.CommandLine;

namespace Domino.Cli.Commands;

/// <summary>Every top-level `domino` subcommand, in the order `domino --help` lists them.</summary>
internal static class CommandTable
{
    public static IEnumerable<Command> All()
    {
        yield return CreateCommands.Create();
        yield return CreateCommands.ConfigUpdate();
        foreach (var c in QueryCommands.All()) yield return c;
        foreach (var c in LifecycleCommands.All()) yield return c;
        yield return ConsoleCommand.Create();
        foreach (var c in VcpuCommands.All()) yield return c;
        foreach (var c in SchedulingCommands.All()) yield return c;
        foreach (var c in MemoryCommands.All()) yield return c;
        foreach (var c in MigrationCommands.All()) yield return c;
        yield return ConfigCommands.Create();
        yield return DaemonCommand.Create();
        yield return VmmCommand.Create();
        yield return InitramfsCommand.Create();
        yield return VmmHostCommand.Create();
    }
}
