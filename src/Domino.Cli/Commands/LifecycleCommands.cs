using System.CommandLine;
using Domino.Cli.Client;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using static Domino.Cli.Commands.CommandHelpers;

namespace Domino.Cli.Commands;

/// <summary>xl's lifecycle commands: destroy, shutdown, reboot, trigger, pause, unpause, rename.</summary>
internal static class LifecycleCommands
{
    public static IEnumerable<Command> All()
    {
        yield return Simple("destroy", "Terminate a domain immediately", (c, id, ct) => c.DeleteAsync($"domains/{Escape(id)}", ToolstackJson.Default.DomainInfo, ct), force: true);
        yield return ShutdownLike("shutdown", "Gracefully shut down a domain (the guest is asked to power off)", reboot: false);
        yield return ShutdownLike("reboot", "Reboot a domain (the guest is asked to reboot)", reboot: true);
        yield return Trigger();
        yield return Simple("pause", "Pause a domain's vCPUs", (c, id, ct) => c.PostAsync($"domains/{Escape(id)}/pause", ToolstackJson.Default.DomainInfo, ct));
        yield return Simple("unpause", "Unpause a paused domain", (c, id, ct) => c.PostAsync($"domains/{Escape(id)}/unpause", ToolstackJson.Default.DomainInfo, ct));
        yield return Rename();
        yield return Inject();
    }

    private static Command Simple(string name, string description, Func<DaemonClient, string, CancellationToken, Task<DomainInfo>> call, bool force = false)
    {
        var domain = DomainArgument();
        var command = new Command(name, description) { domain };
        if (force) command.Options.Add(new Option<bool>("-f") { Description = "Accepted for xl compatibility" });
        command.SetClientAction(async (parse, client, ct) =>
        {
            await call(client, parse.GetValue(domain)!, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command ShutdownLike(string name, string description, bool reboot)
    {
        var domain = new Argument<string?>("domain") { Description = "Domain name, domid or UUID", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("-a", "--all") { Description = $"{(reboot ? "Reboot" : "Shut down")} all domains" };
        var wait = new Option<bool>("-w", "--wait") { Description = "Wait for the domain(s) to complete the operation" };
        var fallback = new Option<bool>("-F") { Description = "Accepted for xl compatibility (no PV drivers to fall back from)" };
        var command = new Command(name, description) { domain, all, wait, fallback };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var id = parse.GetValue(domain);
            var waitFlag = parse.GetValue(wait);
            List<string> targets;
            if (parse.GetValue(all))
            {
                if (id is not null) throw new CliException($"{name}: give a domain or -a, not both");
                var list = await client.GetAsync("domains", ToolstackJson.Default.ListDomainInfo, ct).ConfigureAwait(false);
                targets = [.. list.Where(d => d.State is "running" or "shutting-down").Select(d => d.Name)];
            }
            else targets = [id ?? throw new CliException($"{name}: which domain? (give a name, domid or UUID, or -a for all)")];

            var verb = reboot ? "reboot" : "shutdown";
            await Task.WhenAll(targets.Select(async t =>
            {
                if (waitFlag) await Console.Out.WriteLineAsync($"Waiting for domain {t} to {(reboot ? "reboot" : "shut down")}").ConfigureAwait(false);
                await client.PostAsync($"domains/{Escape(t)}/{verb}{(waitFlag ? "?wait=true" : "")}", ToolstackJson.Default.DomainInfo, ct).ConfigureAwait(false);
                if (waitFlag) await Console.Out.WriteLineAsync($"Domain {t} has {(reboot ? "rebooted" : "shut down")}").ConfigureAwait(false);
            })).ConfigureAwait(false);
            if (waitFlag && targets.Count > 1) await Console.Out.WriteLineAsync("All domains done").ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    /// <summary>xl trigger DOMAIN nmi|reset|init|power|sleep|s3resume [VCPU].</summary>
    private static Command Trigger()
    {
        var domain = DomainArgument();
        var what = new Argument<string>("trigger") { Description = "nmi, reset, init, power, sleep or s3resume (the driver says which it can send)" };
        var vcpu = new Argument<int?>("vcpu") { Description = "The vCPU for nmi and init (default 0)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("trigger", "Send a trigger to a domain: press its power button, pull its reset line, send an NMI") { domain, what, vcpu };
        command.SetClientAction(async (parse, client, ct) =>
        {
            await client.PostAsync($"domains/{Escape(parse.GetValue(domain)!)}/trigger", new TriggerRequest(parse.GetValue(what)!, parse.GetValue(vcpu)),
                ToolstackRequestJson.Default.TriggerRequest, ToolstackJson.Default.DomainInfo, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Rename()
    {
        var domain = DomainArgument();
        var newName = new Argument<string>("new-name") { Description = "The domain's new name" };
        var command = new Command("rename", "Rename a domain") { domain, newName };
        command.SetClientAction(async (parse, client, ct) =>
        {
            await client.PostAsync($"domains/{Escape(parse.GetValue(domain)!)}/rename", new RenameRequest(parse.GetValue(newName)!),
                ToolstackRequestJson.Default.RenameRequest, ToolstackJson.Default.DomainInfo, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    /// <summary>Not an xl command: makes a test-driver guest power off, reboot, crash or trip its watchdog.</summary>
    private static Command Inject()
    {
        var domain = DomainArgument();
        var what = new Argument<string>("event") { Description = "poweroff, reboot, crash, watchdog or soft-reset" };
        var command = new Command("inject", "Make a guest power off, reboot, crash or trip its watchdog (test driver)") { domain, what };
        command.Hidden = true;
        command.SetClientAction(async (parse, client, ct) =>
        {
            var exit = parse.GetValue(what) switch
            {
                "poweroff" => GuestExit.Poweroff,
                "reboot" => GuestExit.Reboot,
                "crash" => GuestExit.Crash,
                "watchdog" => GuestExit.Watchdog,
                "soft-reset" => GuestExit.SoftReset,
                var other => throw new CliException($"unknown guest event '{other}' (expected poweroff, reboot, crash, watchdog or soft-reset)"),
            };
            await client.PostAsync($"domains/{Escape(parse.GetValue(domain)!)}/inject", new InjectRequest(exit),
                ToolstackRequestJson.Default.InjectRequest, ToolstackJson.Default.DomainInfo, ct).ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
