using System.CommandLine;
using Domino.Cli.Client;
using Domino.Toolstack.Api;
using static Domino.Cli.Commands.CommandHelpers;

namespace Domino.Cli.Commands;

/// <summary>xl's save, restore, migrate and remus.</summary>
internal static class MigrationCommands
{
    public static IEnumerable<Command> All()
    {
        yield return Save();
        yield return Restore();
        yield return Migrate();
        yield return Remus();
    }

    private static Option<bool> Verbose() => new("-v", "--verbose") { Description = "Print figures: bytes, pages written and skipped, time" };

    private static Command Save()
    {
        var domain = DomainArgument();
        var file = new Argument<string>("file") { Description = "State file to write" };
        var checkpoint = new Option<bool>("-c") { Description = "Leave the domain running after the save" };
        var paused = new Option<bool>("-p") { Description = "Leave the domain paused after the save" };
        var verbose = Verbose();
        var command = new Command("save", "Save a domain's state to a file; the domain is destroyed unless -c or -p") { domain, file, checkpoint, paused, verbose };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var path = Path.GetFullPath(parse.GetValue(file)!);
            var id = parse.GetValue(domain)!;
            using var bar = ProgressBar.ForTerminal($"Saving {id}");
            var result = await client.PostOperationAsync($"domains/{Escape(id)}/save",
                new SaveRequest { Path = path, Checkpoint = parse.GetValue(checkpoint), LeavePaused = parse.GetValue(paused) },
                MigrationJson.Default.SaveRequest, bar.Report, ct).ConfigureAwait(false);
            bar.Finish();
            if (parse.GetValue(verbose)) await PrintFiguresAsync("saved", path, result.Persist).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static Command Restore()
    {
        var file = new Argument<string>("file") { Description = "State file written by domino save" };
        var paused = new Option<bool>("-p") { Description = "Leave the restored domain paused" };
        var verbose = Verbose();
        var command = new Command("restore", "Create a domain from a saved state file") { file, paused, verbose };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var path = Path.GetFullPath(parse.GetValue(file)!);
            using var bar = ProgressBar.ForTerminal("Restoring");
            var result = await client.PostOperationAsync("domains/restore", new RestoreRequest { Path = path, Paused = parse.GetValue(paused) },
                MigrationJson.Default.RestoreRequest, bar.Report, ct).ConfigureAwait(false);
            bar.Finish();
            if (parse.GetValue(verbose))
            {
                await Console.Out.WriteLineAsync($"domain {result.Domain?.Name} (domid {result.Domain?.DomId}) {result.Domain?.State}").ConfigureAwait(false);
                await PrintFiguresAsync("restored", path, result.Persist).ConfigureAwait(false);
                await PrintVmmRestoreAsync(result.Persist).ConfigureAwait(false);
            }
            return 0;
        });
        return command;
    }

    private static Command Migrate()
    {
        var domain = DomainArgument();
        var target = new Argument<string>("host") { Description = "Target daemon's migration listener, HOST[:PORT] (default port 8002)" };
        var verbose = Verbose();
        var command = new Command("migrate", "Live-migrate a domain to another daemon (it keeps its name and config)") { domain, target, verbose };
        command.SetClientAction(async (parse, client, ct) =>
        {
            var (host, port) = ParseTarget(parse.GetValue(target)!);
            var id = parse.GetValue(domain)!;
            var result = await client.PostAsync($"domains/{Escape(id)}/migrate", new MigrateRequest { Host = host, Port = port },
                MigrationJson.Default.MigrateRequest, MigrationJson.Default.OperationResult, ct).ConfigureAwait(false);
            var m = result.Migration;
            if (m is not null)
            {
                await Console.Out.WriteLineAsync(Inv($"migration of {id} to {host}:{port} done: downtime {m.DowntimeMs:0.0} ms, total {m.TotalMs:0} ms")).ConfigureAwait(false);
                if (parse.GetValue(verbose))
                {
                    await Console.Out.WriteLineAsync(Inv($"  {m.Rounds} rounds, {m.PagesSent} pages, {m.BytesSent / 1048576.0:0.0} MiB sent; dirty pages per round: {string.Join(' ', m.DirtyPerRound)}")).ConfigureAwait(false);
                    // Absent from the answer of a VMM process started before the figures had steps.
                    if (m.DowntimeSteps is { Count: > 0 } steps)
                        await Console.Out.WriteLineAsync("  downtime: " + string.Join(", ", steps.Select(s => Inv($"{s.Step} {s.Ms:0.0} ms")))).ConfigureAwait(false);
                }
            }
            return 0;
        });
        return command;
    }

    private static Command Remus()
    {
        var domain = DomainArgument();
        var target = new Argument<string>("host") { Description = "Backup daemon's migration listener, HOST[:PORT] (default port 8002)" };
        var interval = new Option<int>("-i") { Description = "Checkpoint interval in milliseconds", DefaultValueFactory = _ => MigrationDefaults.RemusIntervalMs };
        var stop = new Option<bool>("--stop") { Description = "Stop protecting the domain (the backup stands down)" };
        var command = new Command("remus", "Protect a domain with continuous checkpoints to a backup daemon") { domain, target, interval, stop };
        target.Arity = ArgumentArity.ZeroOrOne;
        command.SetClientAction(async (parse, client, ct) =>
        {
            var id = parse.GetValue(domain)!;
            if (parse.GetValue(stop))
            {
                await client.DeleteAsync($"domains/{Escape(id)}/remus", ct).ConfigureAwait(false);
                return 0;
            }
            var (host, port) = ParseTarget(parse.GetValue(target) ?? throw new CliException("remus: which backup? (give HOST[:PORT])"));
            var result = await client.PostAsync($"domains/{Escape(id)}/remus", new MigrateRequest { Host = host, Port = port, IntervalMs = parse.GetValue(interval) },
                MigrationJson.Default.MigrateRequest, MigrationJson.Default.OperationResult, ct).ConfigureAwait(false);
            await Console.Out.WriteLineAsync(result.Message).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    internal static (string Host, int Port) ParseTarget(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon < 0) return (text, MigrationDefaults.Port);
        if (!int.TryParse(text[(colon + 1)..], out var port) || port is < 1 or > 65535)
            throw new CliException($"invalid target '{text}' (expected HOST[:PORT])");
        return (text[..colon], port);
    }

    /// <summary>The VMM process's own restore, step by step, when the driver reports it.</summary>
    private static async Task PrintVmmRestoreAsync(PersistFigures? f)
    {
        if (f?.VmmMs is not { } total) return;
        var how = f.InShell switch
        {
            true => "in a VM shell made ahead by the spare VMM process",
            false => "KVM objects made from scratch (no VM shell the domain fits)",
            null => "",
        };
        await Console.Out.WriteLineAsync($"VMM restore steps{(how.Length > 0 ? $" ({how})" : "")}:").ConfigureAwait(false);
        foreach (var p in f.Phases ?? []) await Console.Out.WriteLineAsync(Inv($"  {p.Step,-40} {p.Ms,8:0.000} ms")).ConfigureAwait(false);
        await Console.Out.WriteLineAsync(Inv($"  {"restore total",-40} {total,8:0.000} ms")).ConfigureAwait(false);
    }

    private static Task PrintFiguresAsync(string verb, string path, PersistFigures? f) =>
        f is null ? Task.CompletedTask : Console.Out.WriteLineAsync(Inv(
            $"{verb} {path}: {f.Bytes / 1048576.0:0.0} MiB, {f.PagesWritten} pages with data, {f.PagesSkipped} zero pages skipped, {f.Ms:0.0} ms{(f.Detail is null ? "" : $" ({f.Detail})")}"));
}

/// <summary>A one-line progress bar on stderr, drawn only when stderr is a terminal.</summary>
internal sealed class ProgressBar : IDisposable
{
    private readonly string _label;
    private readonly bool _enabled;
    private int _shown = -1;

    private ProgressBar(string label, bool enabled)
    {
        _label = label;
        _enabled = enabled;
    }

    public static ProgressBar ForTerminal(string label) => new(label, !Console.IsErrorRedirected);

    public void Report(double fraction)
    {
        if (!_enabled) return;
        var percent = (int)Math.Clamp(fraction * 100, 0, 100);
        if (percent == _shown) return;
        _shown = percent;
        const int Width = 30;
        var filled = percent * Width / 100;
        Console.Error.Write($"\r{_label} [{new string('#', filled)}{new string('-', Width - filled)}] {percent,3}%");
    }

    public void Finish()
    {
        if (!_enabled || _shown < 0) return;
        Report(1.0);
        Console.Error.WriteLine();
        _shown = -1;
    }

    public void Dispose()
    {
        if (_enabled && _shown >= 0) Console.Error.WriteLine();
    }
}
