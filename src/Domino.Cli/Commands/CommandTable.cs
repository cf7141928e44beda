using System.CommandLine;

namespace Domino.Cli.Commands;

/// <summary>
/// Every top-level `domino` subcommand, in the order `domino --help` lists them. Each command is
/// built on demand: a run of `domino NAME ...` builds only NAME's command, so the start path pays
/// for one command's options (and loads only the assemblies it needs), not the whole tree.
/// </summary>
internal static class CommandTable
{
    /// <summary>A factory and the names of the commands it yields, in the order it yields them.</summary>
    private sealed record Group(string[] Names, Func<IEnumerable<Command>> Build);

    private static readonly Group[] Groups =
    [
        new(["create"], () => [CreateCommands.Create()]),
        new(["config-update"], () => [CreateCommands.ConfigUpdate()]),
        new(["list", "domid", "domname", "uptime", "info", "dmesg", "events"], QueryCommands.All),
        new(["destroy", "shutdown", "reboot", "trigger", "pause", "unpause", "rename", "inject"], LifecycleCommands.All),
        new(["console"], () => [ConsoleCommand.Create()]),
        new(["vcpu-list", "vcpu-pin", "vcpu-set"], VcpuCommands.All),
        new(["cpupool-create", "cpupool-list", "cpupool-destroy", "cpupool-rename", "cpupool-cpu-add",
             "cpupool-cpu-remove", "cpupool-migrate", "cpupool-numa-split", "cpupool-exclusive", "sched-credit", "sched-credit2",
             "sched-rtds", "sched-arinc653"], SchedulingCommands.All),
        new(["mem-set", "mem-max"], MemoryCommands.All),
        new(["save", "restore", "migrate", "remus"], MigrationCommands.All),
        new(["config"], () => [ConfigCommands.Create()]),
        new(["daemon"], () => [DaemonCommand.Create()]),
        new(["vmm"], () => [VmmCommand.Create()]),
        new(["initramfs"], () => [InitramfsCommand.Create()]),
        new(["vmm-host"], () => [VmmHostCommand.Create()]),
    ];

    /// <summary>The names of every command, without building any.</summary>
    public static IEnumerable<string> Names => Groups.SelectMany(g => g.Names);

    /// <summary>Builds every command (for `domino --help`, usage errors and suggestions).</summary>
    public static IEnumerable<Command> All() => Groups.SelectMany(g => g.Build());

    /// <summary>
    /// The commands a run whose first argument is <paramref name="first"/> needs: that one command
    /// when it is a known name (a group's factories are lazy, so later commands of the group are
    /// never built), otherwise all of them, so help, typos and suggestions work as before.
    /// </summary>
    public static IEnumerable<Command> For(string? first)
    {
        var group = first is null ? null : Array.Find(Groups, g => g.Names.Contains(first, StringComparer.Ordinal));
        return group is null ? All() : group.Build().Where(c => c.Name == first).Take(1);
    }
}
