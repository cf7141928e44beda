using System.CommandLine;
using Domino.Toolstack.Api;
using static Domino.Cli.Commands.CommandHelpers;

namespace Domino.Cli.Commands;

/// <summary>xl's memory commands. Sizes take a unit suffix b, k, m, g or t; without one they are MiB.</summary>
internal static class MemoryCommands
{
    public static IEnumerable<Command> All()
    {
        yield return Make("mem-set", "Set a domain's memory target (balloon)", "memory");
        yield return Make("mem-max", "Set a domain's maximum memory", "max-memory");
    }

    private static Command Make(string name, string description, string endpoint)
    {
        var domain = DomainArgument();
        var size = new Argument<string>("mem") { Description = "Size with optional unit: 512m, 1g, 262144k (default MiB)" };
        var command = new Command(name, description) { domain, size };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var mb = ParseMemoryMb(parse.GetValue(size)!);
            await client.PostAsync($"domains/{Escape(parse.GetValue(domain)!)}/{endpoint}", new MemoryRequest(mb),
                ToolstackRequestJson.Default.MemoryRequest, ToolstackJson.Default.DomainInfo, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
