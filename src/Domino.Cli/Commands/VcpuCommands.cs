using System.CommandLine;
using System.Globalization;
using System.Text;
using Domino.Cli.Client;
using Domino.Toolstack.Api;
using static Domino.Cli.Commands.CommandHelpers;

namespace Domino.Cli.Commands;

/// <summary>xl's vCPU commands: vcpu-list, vcpu-pin (hard and soft affinity), vcpu-set.</summary>
internal static class VcpuCommands
{
    public static IEnumerable<Command> All()
    {
        yield return VcpuList();
        yield return VcpuPin();
        yield return VcpuSet();
    }

    private static Command VcpuList()
    {
        var domains = new Argument<string[]>("domain") { Description = "Domains (default: all)", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("vcpu-list", "List each vCPU: the CPU it runs on, its state, time and affinity") { domains };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var wanted = parse.GetValue(domains) ?? [];
            var names = wanted.Length > 0 ? wanted
                : [.. (await client.GetAsync("domains", ToolstackJson.Default.ListDomainInfo, ct).ConfigureAwait(false))
                    .Where(d => d.State is "running" or "paused" or "shutting-down").Select(d => d.Name)];
            var sb = new StringBuilder(Inv($"{"Name",-32} {"ID",5} {"VCPU",5} {"CPU",5} {"State",5} {"Time(s)",9} Affinity (Hard / Soft)\n"));
            foreach (var name in names)
            {
                var d = await client.GetAsync($"domains/{Escape(name)}", ToolstackJson.Default.DomainInfo, ct).ConfigureAwait(false);
                var vcpus = await client.GetAsync($"domains/{Escape(name)}/vcpus", ToolstackJson.Default.ListVcpuInfo, ct).ConfigureAwait(false);
                foreach (var v in vcpus)
                {
                    var cpu = v.Cpu < 0 ? "-" : v.Cpu.ToString(CultureInfo.InvariantCulture);
                    sb.Append(Inv($"{d.Name,-32} {d.DomId,5} {v.Vcpu,5} {cpu,5} {v.State,5} {v.Time,9:0.0} {v.Hard} / {v.Soft}\n"));
                }
            }
            await Console.Out.WriteAsync(sb.ToString()).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command VcpuPin()
    {
        var domain = DomainArgument();
        var vcpu = new Argument<string>("vcpu") { Description = "vCPU number, or all" };
        var hard = new Argument<string>("cpus-hard") { Description = "Hard affinity: a CPU list (0-3,^1), all, or - to leave it" };
        var soft = new Argument<string?>("cpus-soft") { Description = "Soft affinity: a CPU list, all, or - to leave it", Arity = ArgumentArity.ZeroOrOne };
        var force = new Option<bool>("-f", "--force") { Description = "Accepted for xl compatibility" };
        var command = new Command("vcpu-pin", "Set a vCPU's hard and soft CPU affinity") { domain, vcpu, hard, soft, force };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var v = parse.GetValue(vcpu)!;
            int number;
            if (v == "all") number = -1;
            else if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out number))
                throw new CliException($"invalid vcpu '{v}' (expected a number or all)");
            static string? Affinity(string? s) => s is null or "-" ? null : s;
            await client.PostAsync($"domains/{Escape(parse.GetValue(domain)!)}/vcpu-pin",
                new VcpuPinRequest(number, Affinity(parse.GetValue(hard)), Affinity(parse.GetValue(soft))),
                ToolstackRequestJson.Default.VcpuPinRequest, ToolstackJson.Default.DomainInfo, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command VcpuSet()
    {
        var domain = DomainArgument();
        var count = new Argument<int>("vcpu-count") { Description = "Number of vCPUs to have online" };
        var command = new Command("vcpu-set", "Set the number of online vCPUs (up to maxvcpus)") { domain, count };
        command.SetClientAction(async (parse, client, ct) =>
        {
            await client.PostAsync($"domains/{Escape(parse.GetValue(domain)!)}/vcpus", new VcpuSetRequest(parse.GetValue(count)),
                ToolstackRequestJson.Default.VcpuSetRequest, ToolstackJson.Default.DomainInfo, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
