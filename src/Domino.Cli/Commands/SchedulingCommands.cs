using System.CommandLine;
using System.Globalization;
using System.Text;
using Domino.Cli.Client;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Api;
using Domino.Toolstack.Scheduling.Arinc653;
using static Domino.Cli.Commands.CommandHelpers;

namespace Domino.Cli.Commands;

/// <summary>xl's CPU pool and scheduler commands, plus sched-arinc653 (Xen has only a library call for it).</summary>
internal static class SchedulingCommands
{
    private static SchedulingJson J => SchedulingJson.Default;

    public static IEnumerable<Command> All()
    {
        yield return PoolCreate();
        yield return PoolList();
        yield return PoolSimple("cpupool-destroy", "Destroy a CPU pool (it must have no domains)", (c, p, ct) => c.DeleteAsync($"cpupools/{Escape(p)}", J.PoolInfo, ct));
        yield return PoolRename();
        yield return PoolCpus("cpupool-cpu-add", "Add CPUs (or node:N) to a CPU pool; they must be in no other pool", "add");
        yield return PoolCpus("cpupool-cpu-remove", "Remove CPUs from a CPU pool, leaving them free", "remove");
        yield return PoolMigrate();
        yield return PoolSimple("cpupool-numa-split", "Split Pool-0 into one pool per NUMA node", (c, _, ct) => c.PostAsync("cpupools/numa-split", J.ListPoolInfo, ct), takesPool: false);
        yield return PoolExclusive();
        yield return SchedCredit(SchedulerKind.Credit);
        yield return SchedCredit(SchedulerKind.Credit2);
        yield return SchedRtds();
        yield return SchedArinc653();
    }

    // ---- pools -----------------------------------------------------------------------------------

    private static Command PoolCreate()
    {
        var file = new Option<string?>("-f", "--defconfig") { Description = "A pool config file (name=, sched=, cpus=, nodes=, and Domino's exclusive=)" };
        var dryRun = new Option<bool>("-n", "--dryrun") { Description = "Print the pool that would be created, create nothing" };
        var vars = new Argument<string[]>("VARIABLE=VALUE") { Description = "Config settings, after the file's (name=\"rt\" sched=\"rtds\" cpus=\"2-3\" exclusive=1)", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("cpupool-create", "Create a CPU pool with its own scheduler") { file, dryRun, vars };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var settings = new Dictionary<string, string>(StringComparer.Ordinal);
            if (parse.GetValue(file) is { } path)
            {
                if (!File.Exists(path)) throw new CliException($"{path}: no such pool config file");
                var lines = await File.ReadAllLinesAsync(path, ct).ConfigureAwait(false);
                for (var i = 0; i < lines.Length; i++) ParseSetting(lines[i], $"{path}:{i + 1}", settings);
            }
            foreach (var v in parse.GetValue(vars) ?? []) ParseSetting(v, "command line", settings);
            var name = settings.GetValueOrDefault("name") ?? throw new CliException("cpupool-create: no name (give name=\"POOL\")");
            var sched = SchedulerKinds.Parse(settings.GetValueOrDefault("sched") ?? "credit");
            var cpus = settings.GetValueOrDefault("cpus") ?? (settings.GetValueOrDefault("nodes") is { } nodes ? $"nodes:{nodes}" : null);
            var exclusive = settings.GetValueOrDefault("exclusive") is { } x && Flag(x, "cpupool-create: exclusive");
            foreach (var key in settings.Keys.Where(k => k is not ("name" or "sched" or "cpus" or "nodes" or "exclusive")))
                throw new CliException($"cpupool-create: unknown setting '{key}' (expected name, sched, cpus, nodes or exclusive)");
            if (parse.GetValue(dryRun))
            {
                await Console.Out.WriteLineAsync(PoolConfig(name, sched, cpus ?? "", exclusive)).ConfigureAwait(false);
                return 0;
            }
            await client.PostAsync("cpupools", new PoolCreateRequest(name, sched, cpus, exclusive), J.PoolCreateRequest, J.PoolInfo, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    /// <summary>A pool as xl's pool config lines (what cpupool-create -n and cpupool-list -l print).</summary>
    private static string PoolConfig(string name, SchedulerKind sched, string cpus, bool exclusive) =>
        $"name=\"{name}\" sched=\"{sched.Word()}\" cpus=\"{cpus}\"" + (exclusive ? " exclusive=1" : "");

    /// <summary>An xl config boolean: 1 or 0 (also true/false, yes/no).</summary>
    private static bool Flag(string value, string what) => value.ToLowerInvariant() switch
    {
        "1" or "true" or "yes" => true,
        "0" or "false" or "no" => false,
        _ => throw new CliException($"{what}: '{value}' is not 0 or 1"),
    };

    /// <summary>xl's pool config syntax: <c>key = "value"</c> or <c>key = ["a", "b"]</c>; # comments.</summary>
    private static void ParseSetting(string line, string where, Dictionary<string, string> into)
    {
        var hash = line.IndexOf('#');
        var t = (hash < 0 ? line : line[..hash]).Trim();
        if (t.Length == 0) return;
        var eq = t.IndexOf('=');
        if (eq <= 0) throw new CliException($"{where}: expected VARIABLE=VALUE, got '{t}'");
        var key = t[..eq].Trim();
        var value = t[(eq + 1)..].Trim();
        if (value.StartsWith('[') && value.EndsWith(']'))
            value = string.Join(",", value[1..^1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Unquote));
        else value = Unquote(value);
        into[key] = value;

        static string Unquote(string s) => s.Length >= 2 && (s[0] == '"' || s[0] == '\'') && s[^1] == s[0] ? s[1..^1] : s;
    }

    private static Command PoolList()
    {
        var cpus = new Option<bool>("-c", "--cpus") { Description = "Show each pool's CPU list" };
        var longForm = new Option<bool>("-l", "--long") { Description = "Show each pool as pool config settings, with Domino's exclusive=1" };
        var pool = new Argument<string?>("pool") { Description = "Only this pool", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("cpupool-list", "List CPU pools") { cpus, longForm, pool };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var pools = await client.GetAsync("cpupools", J.ListPoolInfo, ct).ConfigureAwait(false);
            if (parse.GetValue(pool) is { } only)
            {
                pools = [.. pools.Where(p => p.Name == only || p.Id.ToString(CultureInfo.InvariantCulture) == only)];
                if (pools.Count == 0) throw new CliException($"pool '{only}' does not exist");
            }
            if (parse.GetValue(longForm))
            {
                foreach (var p in pools) await Console.Out.WriteLineAsync(PoolConfig(p.Name, p.Scheduler, p.Cpus, p.Exclusive)).ConfigureAwait(false);
                return 0;
            }
            await Console.Out.WriteAsync(FormatPoolList(pools, parse.GetValue(cpus))).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    /// <summary>xl cpupool-list's table (xl_cpupool.c): name in 19 columns, then the CPU count, scheduler, active flag and domain count.</summary>
    internal static string FormatPoolList(IEnumerable<PoolInfo> pools, bool cpuList)
    {
        var sb = new StringBuilder(Inv($"{"Name",-19}"));
        sb.Append(cpuList ? "CPU list\n" : "CPUs   Sched     Active   Domain count\n");
        foreach (var p in pools)
        {
            sb.Append(Inv($"{p.Name,-19}"));
            sb.Append(cpuList ? p.Cpus : Inv($"{p.CpuCount,3} {p.Scheduler.Word(),9}       y       {p.Domains.Count,4}"));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static Command PoolSimple(string name, string description, Func<DaemonClient, string, CancellationToken, Task> call, bool takesPool = true)
    {
        var pool = new Argument<string>("pool") { Description = "Pool name or id" };
        var command = new Command(name, description);
        if (takesPool) command.Arguments.Add(pool);
        command.SetClientAction(async (parse, client, ct) =>
        {
            await call(client, takesPool ? parse.GetValue(pool)! : "", ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command PoolRename()
    {
        var pool = new Argument<string>("pool") { Description = "Pool name or id" };
        var newName = new Argument<string>("new-name") { Description = "The pool's new name" };
        var command = new Command("cpupool-rename", "Rename a CPU pool") { pool, newName };
        command.SetClientAction(async (parse, client, ct) =>
        {
            await client.PostAsync($"cpupools/{Escape(parse.GetValue(pool)!)}/rename", new PoolRenameRequest(parse.GetValue(newName)!),
                J.PoolRenameRequest, J.PoolInfo, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command PoolCpus(string name, string description, string verb)
    {
        var pool = new Argument<string>("pool") { Description = "Pool name or id" };
        var cpus = new Argument<string>("cpus") { Description = "CPUs: 3, 2-3, 1,3, node:0" };
        var command = new Command(name, description) { pool, cpus };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var list = parse.GetValue(cpus)!;
            if (list.StartsWith("node:", StringComparison.Ordinal)) list = "nodes:" + list[5..];
            await client.PostAsync($"cpupools/{Escape(parse.GetValue(pool)!)}/cpus/{verb}", new PoolCpusRequest(list), J.PoolCpusRequest, J.PoolInfo, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command PoolExclusive()
    {
        var pool = new Argument<string>("pool") { Description = "Pool name or id" };
        var value = new Argument<string>("exclusive") { Description = "1: the host's processes are kept off the pool's CPUs; 0: they share them again" };
        var command = new Command("cpupool-exclusive", "Make a CPU pool own its CPUs against the host's processes (1), or share them again (0)") { pool, value };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var on = Flag(parse.GetValue(value)!, "cpupool-exclusive");
            await client.PostAsync($"cpupools/{Escape(parse.GetValue(pool)!)}/exclusive", new PoolExclusiveRequest(on), J.PoolExclusiveRequest, J.PoolInfo, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command PoolMigrate()
    {
        var domain = DomainArgument();
        var pool = new Argument<string>("pool") { Description = "Target pool name or id" };
        var command = new Command("cpupool-migrate", "Move a domain to another CPU pool") { domain, pool };
        command.SetClientAction(async (parse, client, ct) =>
        {
            await client.PostAsync($"domains/{Escape(parse.GetValue(domain)!)}/cpupool", new PoolMigrateRequest(parse.GetValue(pool)!), J.PoolMigrateRequest, J.PoolInfo, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    // ---- credit, credit2 -------------------------------------------------------------------------

    private static Command SchedCredit(SchedulerKind kind)
    {
        var word = kind.Word();
        var domain = new Option<string?>("-d", "--domain") { Description = "Domain to show or change" };
        var weight = new Option<int?>("-w", "--weight") { Description = "Weight, 1..65535 (default 256): CPU share relative to other domains" };
        var cap = new Option<int?>("-c", "--cap") { Description = "Cap in % of one CPU (0 = none)" };
        var pool = new Option<string?>("-p", "--cpupool") { Description = "Pool to show or change" };
        var schedParam = new Option<bool>("-s", "--schedparam") { Description = "Show or set the pool's parameters" };
        var tslice = new Option<int?>("-t", "--tslice_ms") { Description = "Time slice in ms (credit only; recorded, see docs/scheduling.md)" };
        var ratelimit = new Option<int?>("-r", "--ratelimit_us") { Description = "Rate limit in µs (recorded, see docs/scheduling.md)" };
        var command = new Command($"sched-{word}", $"Show or set {word} scheduler parameters: domain weight and cap, pool time slice and rate limit")
            { domain, weight, cap, pool, schedParam, ratelimit };
        if (kind == SchedulerKind.Credit) command.Options.Add(tslice);
        command.SetClientAction(async (parse, client, ct) =>
        {
            var dom = parse.GetValue(domain);
            var poolName = parse.GetValue(pool);
            var (w, c, t, r, s) = (parse.GetValue(weight), parse.GetValue(cap), kind == SchedulerKind.Credit ? parse.GetValue(tslice) : null, parse.GetValue(ratelimit), parse.GetValue(schedParam));
            if ((poolName is not null || s) && (dom is not null || w is not null || c is not null))
                throw new CliException($"sched-{word}: a pool (-p) or pool parameters (-s) cannot be combined with domain options (-d, -w, -c)");
            if (dom is null && (w is not null || c is not null)) throw new CliException($"sched-{word}: -w and -c need a domain (-d DOMAIN)");
            if (!s && (t is not null || r is not null)) throw new CliException($"sched-{word}: -t and -r set pool parameters: add -s (and -p POOL for a pool other than Pool-0)");

            if (s)
            {
                var target = poolName ?? (await client.GetAsync("cpupools", J.ListPoolInfo, ct).ConfigureAwait(false)).First(p => p.Id == 0).Name;
                CreditPoolInfo info;
                if (t is not null || r is not null)
                    info = await client.PostAsync($"scheduling/{word}/pools/{Escape(target)}", new CreditPoolRequest(t, r), J.CreditPoolRequest, J.CreditPoolInfo, ct).ConfigureAwait(false);
                else info = (await client.GetAsync($"scheduling/{word}?pool={Escape(target)}", J.ListCreditPoolInfo, ct).ConfigureAwait(false)).Single();
                if (t is null && r is null) await Console.Out.WriteLineAsync(PoolLine(kind, info)).ConfigureAwait(false);
                return 0;
            }
            if (dom is not null && (w is not null || c is not null))
            {
                await client.PostAsync($"scheduling/{word}/domains/{Escape(dom)}", new CreditDomainRequest(w, c), J.CreditDomainRequest, J.CreditDomainInfo, ct).ConfigureAwait(false);
                return 0;
            }
            var query = dom is not null ? $"?domain={Escape(dom)}" : poolName is not null ? $"?pool={Escape(poolName)}" : "";
            var pools = await client.GetAsync($"scheduling/{word}{query}", J.ListCreditPoolInfo, ct).ConfigureAwait(false);
            await Console.Out.WriteAsync(FormatCredit(kind, pools)).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static string PoolLine(SchedulerKind kind, CreditPoolInfo p) => kind == SchedulerKind.Credit
        ? Inv($"Cpupool {p.Pool}: tslice={p.TsliceMs}ms ratelimit={p.RatelimitUs}us migration-delay=0us")
        : Inv($"Cpupool {p.Pool}: ratelimit={p.RatelimitUs}us");

    /// <summary>xl sched-credit's listing (xl_sched.c): a line per pool, then Name/ID/Weight/Cap per domain.</summary>
    internal static string FormatCredit(SchedulerKind kind, IEnumerable<CreditPoolInfo> pools)
    {
        var sb = new StringBuilder();
        foreach (var p in pools)
        {
            sb.Append(PoolLine(kind, p)).Append('\n');
            sb.Append(Inv($"{"Name",-33} {"ID",4} {"Weight",6} {"Cap",4}\n"));
            foreach (var d in p.Domains) sb.Append(Inv($"{d.Name,-33} {d.DomId,4} {d.Weight,6} {d.Cap,4}\n"));
        }
        return sb.ToString();
    }

    // ---- RTDS ------------------------------------------------------------------------------------

    private static Command SchedRtds()
    {
        var domain = new Option<string?>("-d", "--domain") { Description = "Domain to show or change" };
        var vcpu = new Option<string[]>("-v", "--vcpuid") { Description = "vCPU number, or all (repeatable)", AllowMultipleArgumentsPerToken = false };
        var period = new Option<int?>("-p", "--period") { Description = "Period in µs (≥ 10; default 10000)" };
        var budget = new Option<int?>("-b", "--budget") { Description = "Budget in µs per period (≥ 10, ≤ period; default 4000)" };
        var extratime = new Option<int?>("-e", "--extratime") { Description = "1: may run beyond its budget when the pool has idle time; 0: never" };
        var pool = new Option<string?>("-c", "--cpupool") { Description = "Pool to show" };
        var command = new Command("sched-rtds", "Show or set RTDS parameters (per-vCPU period, budget, extratime)") { domain, vcpu, period, budget, extratime, pool };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var dom = parse.GetValue(domain);
            var vcpus = parse.GetValue(vcpu) ?? [];
            var (p, b, e) = (parse.GetValue(period), parse.GetValue(budget), parse.GetValue(extratime));
            var setting = p is not null || b is not null || e is not null;
            if (setting && dom is null) throw new CliException("sched-rtds: -p, -b and -e need a domain (-d DOMAIN)");
            if (e is not null and not (0 or 1)) throw new CliException($"sched-rtds: extratime must be 0 or 1 (got {e})");
            if (setting)
            {
                var targets = vcpus.Length == 0 || vcpus.Contains("all") ? [-1] : vcpus.Select(ParseVcpu).ToArray();
                foreach (var v in targets)
                    await client.PostAsync($"scheduling/rtds/domains/{Escape(dom!)}", new RtdsRequest(v, p, b, e is null ? null : e == 1),
                        J.RtdsRequest, J.ListRtdsVcpuInfo, ct).ConfigureAwait(false);
                return 0;
            }
            var query = dom is not null ? $"?domain={Escape(dom)}" : parse.GetValue(pool) is { } pn ? $"?pool={Escape(pn)}" : "";
            var pools = await client.GetAsync($"scheduling/rtds{query}", J.ListRtdsPoolInfo, ct).ConfigureAwait(false);
            int[]? only = vcpus.Length == 0 || vcpus.Contains("all") ? null : vcpus.Select(ParseVcpu).ToArray();
            await Console.Out.WriteAsync(FormatRtds(pools, perVcpu: vcpus.Length > 0, only)).ConfigureAwait(false);
            return 0;
        });
        return command;

        static int ParseVcpu(string s) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n
            : throw new CliException($"sched-rtds: invalid vcpu '{s}' (expected a number or all)");
    }

    /// <summary>xl sched-rtds's listing: per domain (vCPU 0's values) or, with -v, per vCPU.</summary>
    internal static string FormatRtds(IEnumerable<RtdsPoolInfo> pools, bool perVcpu, int[]? only)
    {
        var sb = new StringBuilder();
        foreach (var p in pools)
        {
            sb.Append(Inv($"Cpupool {p.Pool}: sched=RTDS\n"));
            if (perVcpu)
            {
                sb.Append(Inv($"{"Name",-33} {"ID",4} {"VCPU",4} {"Period",9} {"Budget",9} {"Extratime",10}\n"));
                foreach (var v in p.Vcpus.Where(v => only is null || only.Contains(v.Vcpu)))
                    sb.Append(Inv($"{v.Name,-33} {v.DomId,4} {v.Vcpu,4} {v.PeriodUs,9} {v.BudgetUs,9} {(v.Extratime ? "yes" : "no"),10}\n"));
            }
            else
            {
                sb.Append(Inv($"{"Name",-33} {"ID",4} {"Period",9} {"Budget",9} {"Extratime",10}\n"));
                foreach (var v in p.Vcpus.Where(v => v.Vcpu == 0))
                    sb.Append(Inv($"{v.Name,-33} {v.DomId,4} {v.PeriodUs,9} {v.BudgetUs,9} {(v.Extratime ? "yes" : "no"),10}\n"));
            }
        }
        return sb.ToString();
    }

    // ---- ARINC653 --------------------------------------------------------------------------------

    private static Command SchedArinc653()
    {
        var command = new Command("sched-arinc653", "Show, set, plan or check ARINC653 schedules (major frame and minor frames per pool CPU)");
        var showPool = new Option<string?>("-p", "--cpupool") { Description = "Pool to show (default: every arinc653 pool)" };
        command.Options.Add(showPool);
        command.SetClientAction(async (parse, client, ct) =>
        {
            var pools = await client.GetAsync("cpupools", J.ListPoolInfo, ct).ConfigureAwait(false);
            var names = parse.GetValue(showPool) is { } one ? [one] : pools.Where(p => p.Scheduler == SchedulerKind.Arinc653).Select(p => p.Name).ToList();
            foreach (var name in names)
            {
                var info = await client.GetAsync($"cpupools/{Escape(name)}/arinc653", J.Arinc653Info, ct).ConfigureAwait(false);
                await Console.Out.WriteAsync(info.Schedule.IsEmpty
                    ? $"# pool {info.Pool}: no schedule (its vCPUs do not run; set one with 'domino sched-arinc653 set -p {info.Pool} ...')\n"
                    : ScheduleText.Format(info.Schedule, $"pool {info.Pool}")).ConfigureAwait(false);
            }
            return 0;
        });
        command.Subcommands.Add(Arinc653Set());
        command.Subcommands.Add(Arinc653Plan());
        command.Subcommands.Add(Arinc653Check());
        return command;
    }

    private static Command Arinc653Set()
    {
        var pool = new Option<string>("-p", "--cpupool") { Description = "The arinc653 pool", Required = true };
        var file = new Option<string?>("-f", "--file") { Description = "A schedule in the text form 'plan' prints (one list per CPU)" };
        var major = new Option<string?>("-m", "--major-frame") { Description = "Major frame for inline frames, e.g. 30ms" };
        var cpu = new Option<int?>("-c", "--cpu") { Description = "The pool CPU inline frames run on (default: the pool's first)" };
        var frames = new Argument<string[]>("frames") { Description = "Inline minor frames in order: DOMAIN[/VCPU]:RUNTIME or idle:RUNTIME", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("set", "Install a pool's schedule now (validated as Xen does: ≤ 64 frames, runtimes > 0, sum ≤ major frame)") { pool, file, major, cpu, frames };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var poolName = parse.GetValue(pool)!;
            Arinc653Schedule schedule;
            var inline = parse.GetValue(frames) ?? [];
            if (parse.GetValue(file) is { } path)
            {
                if (inline.Length > 0 || parse.GetValue(major) is not null) throw new CliException("sched-arinc653 set: give -f FILE or -m MAJOR FRAMES..., not both");
                schedule = Local(() => ScheduleText.Parse(ReadText(path), path));
            }
            else
            {
                var m = parse.GetValue(major) ?? throw new CliException("sched-arinc653 set: give -f FILE, or -m MAJOR_FRAME and the frames (e.g. -m 30ms web/0:10ms idle:5ms db/0:10ms)");
                var target = parse.GetValue(cpu) ?? FirstCpu((await client.GetAsync($"cpupools/{Escape(poolName)}", J.PoolInfo, ct).ConfigureAwait(false)).Cpus);
                schedule = Local(() => new Arinc653Schedule(Duration.ParseNs(m), [new CpuFrames(target, [.. inline.Select(ScheduleText.ParseFrame)])]));
            }
            await client.PostAsync($"cpupools/{Escape(poolName)}/arinc653", schedule, J.Arinc653Schedule, J.Arinc653Info, ct).ConfigureAwait(false);
            return 0;
        });
        return command;

        static int FirstCpu(string cpus) => int.Parse(cpus.Split(',', '-')[0], CultureInfo.InvariantCulture);
    }

    private static Command Arinc653Plan()
    {
        var tasks = new Argument<string>("tasks") { Description = "A task file (NAME PERIOD WCET [DEADLINE] per line) or inline: a:5ms:1ms,b:6ms:2ms" };
        var cpus = new Option<string?>("--cpus") { Description = "The CPUs to plan for, as a list: 1, 2-3 (default: cpu 0); use the pool's CPUs" };
        var command = new Command("plan", "Synthesise a schedule (major frame = hyperperiod, EDF) or explain why none exists") { tasks, cpus };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                var text = parse.GetValue(tasks)!;
                var set = PartitionTask.ParseSet(File.Exists(text) ? await File.ReadAllTextAsync(text, ct).ConfigureAwait(false) : text, File.Exists(text) ? text : "tasks");
                var plan = Arinc653Planner.Plan(set, ParseCpuList(parse.GetValue(cpus)));
                if (!plan.Ok) throw new ToolstackException(ErrorKind.Invalid, $"no schedule exists: {plan.Failure}");
                var comment = Inv($"planned by EDF over the hyperperiod; utilisation {plan.Utilisation:0.###}\n")
                    + string.Join("\n", set.Select(t => $"partition {t.Label}: period {Duration.Format(t.PeriodNs)}, wcet {Duration.Format(t.WcetNs)}, deadline {Duration.Format(t.DeadlineNs)}"));
                await Console.Out.WriteAsync(ScheduleText.Format(plan.Schedule!, comment)).ConfigureAwait(false);
                return 0;
            }
            catch (ToolstackException e)
            {
                await Console.Error.WriteLineAsync($"domino: {e.Message}").ConfigureAwait(false);
                return 1;
            }
        });
        return command;
    }

    private static Command Arinc653Check()
    {
        var tasks = new Argument<string>("tasks") { Description = "The task set (file or inline, as for plan)" };
        var schedule = new Argument<string?>("schedule") { Description = "A schedule file (default: the pool's, with -p)", Arity = ArgumentArity.ZeroOrOne };
        var pool = new Option<string?>("-p", "--cpupool") { Description = "Check the schedule installed on this pool" };
        var command = new Command("check", "Verify a schedule against a task set; names the first job that misses its deadline") { tasks, schedule, pool };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                var text = parse.GetValue(tasks)!;
                var set = PartitionTask.ParseSet(File.Exists(text) ? await File.ReadAllTextAsync(text, ct).ConfigureAwait(false) : text, File.Exists(text) ? text : "tasks");
                Arinc653Schedule s;
                if (parse.GetValue(schedule) is { } path) s = ScheduleText.Parse(ReadText(path), path);
                else if (parse.GetValue(pool) is { } p)
                {
                    using var client = await DaemonClient.ConnectAsync(ct).ConfigureAwait(false);
                    s = (await client.GetAsync($"cpupools/{Escape(p)}/arinc653", J.Arinc653Info, ct).ConfigureAwait(false)).Schedule;
                }
                else throw new ToolstackException(ErrorKind.Invalid, "sched-arinc653 check: give a schedule file or -p POOL");
                if (Arinc653Checker.Check(s, set) is { } violation) throw new ToolstackException(ErrorKind.Invalid, violation);
                await Console.Out.WriteLineAsync($"ok: every job of {set.Count} partition(s) meets its deadline in the {Duration.Ms(s.MajorFrameNs)} major frame").ConfigureAwait(false);
                return 0;
            }
            catch (Exception e) when (e is ToolstackException or CliException or IOException)
            {
                await Console.Error.WriteLineAsync($"domino: {e.Message}").ConfigureAwait(false);
                return 1;
            }
        });
        return command;
    }

    private static IReadOnlyList<int>? ParseCpuList(string? text) =>
        text is null ? null : CpuSet.Parse(text, CpuSet.Range(0, 1024)).Cpus;

    private static string ReadText(string path) =>
        File.Exists(path) ? File.ReadAllText(path) : throw new ToolstackException(ErrorKind.Invalid, $"{path}: no such schedule file");

    private static T Local<T>(Func<T> parse)
    {
        try { return parse(); }
        catch (ToolstackException e) { throw new CliException(e.Message); }
    }
}
