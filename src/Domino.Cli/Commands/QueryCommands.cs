using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Domino.Cli.Client;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Events;
using static Domino.Cli.Commands.CommandHelpers;

namespace Domino.Cli.Commands;

/// <summary>xl's read-only commands: list, domid, domname, uptime, info, dmesg; and domino's event stream.</summary>
internal static class QueryCommands
{
    public static IEnumerable<Command> All()
    {
        yield return List();
        yield return DomId();
        yield return DomName();
        yield return Uptime();
        yield return Info();
        yield return Dmesg();
        yield return Events();
    }

    private static Command List()
    {
        var domains = new Argument<string[]>("domain") { Description = "Domains to list (default: all)", Arity = ArgumentArity.ZeroOrMore };
        var longFormat = new Option<bool>("-l", "--long") { Description = "Print each domain's configuration as libxl JSON" };
        var verbose = new Option<bool>("-v", "--verbose") { Description = "Also print each domain's UUID and state reason" };
        var command = new Command("list", "List domains: Name ID Mem VCPUs State Time(s)") { domains, longFormat, verbose };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var wanted = parse.GetValue(domains) ?? [];
            if (parse.GetValue(longFormat))
            {
                var details = await client.GetAsync("domains/details", ToolstackJson.Default.ListDomainDetail, ct).ConfigureAwait(false);
                await Console.Out.WriteLineAsync(FormatLong(Filter(details, d => d.Info, wanted))).ConfigureAwait(false);
                return 0;
            }
            var list = DomainInfoReader.ReadList(await client.GetBytesAsync("domains", ct).ConfigureAwait(false));
            await Console.Out.WriteAsync(FormatList(Filter(list, d => d, wanted), parse.GetValue(verbose))).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static List<T> Filter<T>(IEnumerable<T> items, Func<T, DomainInfo> info, string[] wanted)
    {
        var all = items.ToList();
        if (wanted.Length == 0) return all;
        var result = new List<T>();
        foreach (var w in wanted)
        {
            var match = all.FirstOrDefault(x => Matches(info(x), w));
            if (match is null) throw new CliException($"domain '{w}' does not exist");
            result.Add(match);
        }
        return result;
    }

    private static bool Matches(DomainInfo d, string id) =>
        d.Name == id || d.DomId.ToString(CultureInfo.InvariantCulture) == id || d.Uuid.ToString() == id;

    /// <summary>xl list's table: header <c>%-40s %5s %5s %5s\tState\tTime(s)</c>, rows <c>%-40s %5d %5lu %5d     %s  %8.1f</c>.</summary>
    public static string FormatList(IEnumerable<DomainInfo> domains, bool verbose)
    {
        var sb = new StringBuilder();
        sb.Append(Inv($"{"Name",-40} {"ID",5} {"Mem",5} {"VCPUs",5}\tState\tTime(s)"));
        if (verbose) sb.Append(Inv($"\t{"UUID",-36}\tReason"));
        sb.Append('\n');
        foreach (var d in domains)
        {
            sb.Append(Inv($"{d.Name,-40} {d.DomId,5} {d.MemoryMb,5} {d.Vcpus,5}     {d.Flags}  {d.CpuTime,8:0.0}"));
            if (verbose) sb.Append(Inv($"\t{d.Uuid}\t{d.State}: {d.Reason}"));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>xl list -l: a JSON array of {"domid", "config"} with the libxl config of each domain.</summary>
    private static string FormatLong(IEnumerable<DomainDetail> details)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var d in details)
            {
                w.WriteStartObject();
                w.WriteNumber("domid", d.Info.DomId);
                w.WritePropertyName("config");
                if (d.Config is { } config) config.WriteTo(w);
                else w.WriteNullValue();
                if (d.Driver is { } driver)
                {
                    // Domino's addition to xl's format: how the guest runs (driver, accelerator, process, vCPU threads).
                    w.WritePropertyName("driver");
                    JsonSerializer.Serialize(w, driver, ToolstackJson.Default.DriverDetail);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static Command DomId()
    {
        var domain = new Argument<string>("domain-name") { Description = "Domain name" };
        var command = new Command("domid", "Print a domain's numeric id") { domain };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var d = DomainInfoReader.Read(await client.GetBytesAsync($"domains/{Escape(parse.GetValue(domain)!)}", ct).ConfigureAwait(false));
            await Console.Out.WriteLineAsync(d.DomId.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command DomName()
    {
        var domain = new Argument<string>("domain-id") { Description = "Domain id" };
        var command = new Command("domname", "Print a domain's name") { domain };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var d = DomainInfoReader.Read(await client.GetBytesAsync($"domains/{Escape(parse.GetValue(domain)!)}", ct).ConfigureAwait(false));
            await Console.Out.WriteLineAsync(d.Name).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Uptime()
    {
        var domains = new Argument<string[]>("domain") { Description = "Domains (default: all)", Arity = ArgumentArity.ZeroOrMore };
        var shortFormat = new Option<bool>("-s") { Description = "Short format: NAME ID UPTIME without the header" };
        var command = new Command("uptime", "Print how long each domain has been running") { domains, shortFormat };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var list = Filter(DomainInfoReader.ReadList(await client.GetBytesAsync("domains", ct).ConfigureAwait(false)), d => d, parse.GetValue(domains) ?? []);
            var sb = new StringBuilder();
            if (!parse.GetValue(shortFormat)) sb.Append(Inv($"{"Name",-32} {"ID",5} Uptime\n"));
            foreach (var d in list)
            {
                var up = d.StartedAt is { } s ? DateTimeOffset.UtcNow - s : TimeSpan.Zero;
                var text = up.Days > 0 ? Inv($"{up.Days} day{(up.Days == 1 ? "" : "s")}, {up.Hours}:{up.Minutes:00}:{up.Seconds:00}") : Inv($"{up.Hours}:{up.Minutes:00}:{up.Seconds:00}");
                sb.Append(Inv($"{d.Name,-32} {d.DomId,5} {text}\n"));
            }
            await Console.Out.WriteAsync(sb.ToString()).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Info()
    {
        var command = new Command("info", "Print information about the host and the daemon");
        command.SetClientAction(async (parse, client, ct) =>
        {
            var i = await client.GetAsync("info", ToolstackJson.Default.HostInfo, ct).ConfigureAwait(false);
            var rows = new (string, string)[]
            {
                ("host", i.Hostname),
                ("release", i.Kernel),
                ("machine", System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()),
                ("nr_cpus", i.NrCpus.ToString(CultureInfo.InvariantCulture)),
                ("total_memory", i.TotalMemoryMb.ToString(CultureInfo.InvariantCulture)),
                ("free_memory", i.FreeMemoryMb.ToString(CultureInfo.InvariantCulture)),
                ("virt_caps", i.Kvm ? "hvm (kvm)" : "none (no /dev/kvm)"),
                ("domino_version", i.Version),
                ("domino_driver", i.Driver),
                ("domino_state_dir", i.StateDir),
                ("domino_daemon_pid", i.DaemonPid.ToString(CultureInfo.InvariantCulture)),
                ("domino_daemon_uptime", i.DaemonUptime.ToString("0.0", CultureInfo.InvariantCulture)),
                ("nr_domains", i.Domains.ToString(CultureInfo.InvariantCulture)),
            };
            var sb = new StringBuilder();
            foreach (var (k, v) in rows) sb.Append(Inv($"{k,-23}: {v}\n"));
            await Console.Out.WriteAsync(sb.ToString()).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Dmesg()
    {
        var domain = DomainArgument();
        var command = new Command("dmesg", "Print a domain's recent console output (the daemon keeps a ring of it)") { domain };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var bytes = await client.GetBytesAsync($"domains/{Escape(parse.GetValue(domain)!)}/console/history", ct).ConfigureAwait(false);
            using var stdout = Console.OpenStandardOutput();
            await stdout.WriteAsync(bytes, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Events()
    {
        var domain = new Argument<string?>("domain") { Description = "Only this domain's events", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<bool>("--json") { Description = "Print the raw JSON lines" };
        var count = new Option<int?>("-n", "--count") { Description = "Exit after this many events" };
        var command = new Command("events", "Follow domain events: created, state changes with reasons, destroyed") { domain, json, count };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var left = parse.GetValue(count) ?? -1;
            if (left == 0) return 0;
            await foreach (var line in client.EventLinesAsync(parse.GetValue(domain), ct).ConfigureAwait(false))
            {
                await Console.Out.WriteLineAsync(parse.GetValue(json) ? line : Describe(line)).ConfigureAwait(false);
                await Console.Out.FlushAsync(ct).ConfigureAwait(false);
                if (--left == 0) break;
            }
            return 0;
        });
        return command;
    }

    private static string Describe(string line)
    {
        var e = JsonSerializer.Deserialize(line, ToolstackJson.Default.DomainEvent);
        if (e is null) return line;
        var kind = JsonSerializer.Serialize(e.Kind, ToolstackJson.Default.DomainEventKind).Trim('"');
        return Inv($"{e.Time.ToLocalTime():yyyy-MM-dd HH:mm:ss.fff} {kind,-13} {e.Domain} (domid {e.DomId}) {e.State}: {e.Reason}{(e.Detail is null ? "" : $" [{e.Detail}]")}");
    }
}
