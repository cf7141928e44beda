using System.CommandLine;
using Domino.Cli.Client;
using Domino.Config;
using Domino.Config.Model;
using Domino.Config.Output;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using static Domino.Cli.Commands.CommandHelpers;

namespace Domino.Cli.Commands;

/// <summary><c>domino create</c> and <c>domino config-update</c>: the commands that read an xl.cfg and send it to the daemon.</summary>
internal static class CreateCommands
{
    /// <summary><c>create [-c] [-p] [-n] [-q] [-f FILE | FILE] [KEY=VALUE...]</c>, as xl create takes them.</summary>
    public static Command Create()
    {
        var console = new Option<bool>("-c") { Description = "Attach to the domain's console once it is created" };
        var paused = new Option<bool>("-p") { Description = "Leave the domain paused after creating it" };
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "Only parse the configuration and print the libxl JSON the domain would be built from" };
        var quiet = new Option<bool>("-q", "--quiet") { Description = "Do not print 'Parsing config from ...'" };
        var file = new Option<string?>("--defconfig", "-f") { Description = "Configuration file (instead of the first argument)" };
        var args = new Argument<string[]>("FILE KEY=VALUE") { Arity = ArgumentArity.ZeroOrMore, Description = "Configuration file, then settings that override it" };
        var command = new Command("create", "Create a domain from an xl.cfg(5) file") { console, paused, dryRun, quiet, file, args };
        command.SetAction(async (parse, ct) =>
        {
            var (path, extra) = SplitArgs(parse.GetValue(file), parse.GetValue(args) ?? []);
            if (path is null)
            {
                await Console.Error.WriteLineAsync("domino: create: no configuration file given (usage: domino create [-c] [-p] [-n] FILE [KEY=VALUE...] or -f FILE)").ConfigureAwait(false);
                return 1;
            }
            if (!parse.GetValue(quiet) && !parse.GetValue(dryRun)) await Console.Error.WriteLineAsync($"Parsing config from {path}").ConfigureAwait(false);
            // create -c asks a running daemon for the console connection first: the daemon sets it up
            // while this process reads the config. Bad input closes it unused, and the daemon lets it go.
            var begun = parse.GetValue(console) && !parse.GetValue(dryRun) ? DaemonClient.TryBeginCreateWithConsole() : null;
            try { return await CreateAsync(parse, path, extra, begun, ct).ConfigureAwait(false); }
            finally { begun?.Dispose(); }
        });
        return command;

        async Task<int> CreateAsync(ParseResult parse, string path, List<string> extra, DaemonHttp.Connection? begun, CancellationToken ct)
        {
            var config = Load(path, extra);
            if (config is null) return 1;
            if (!parse.GetValue(dryRun)) config.Uuid ??= Guid.NewGuid(); // one uuid for the stored config and the domain
            var json = LibxlJson.Serialize(config);
            if (parse.GetValue(dryRun))
            {
                await Console.Out.WriteAsync(json).ConfigureAwait(false);
                return 0;
            }

            DomainSpec spec;
            try { spec = DomainSpecMapping.ToSpec(config, p => ResolvePath(p, path)); }
            catch (ToolstackException e)
            {
                await Console.Error.WriteLineAsync($"{path}: error: {e.Message}").ConfigureAwait(false);
                return 1;
            }
            var request = SpecRequestWriter.Write(new CreateDomainRequest { Spec = spec, Config = json, Paused = parse.GetValue(paused) });
            if (begun is not null)
            {
                try
                {
                    // The same connection, now the console's (disposed by the caller either way).
                    await DaemonClient.FinishCreateWithConsoleAsync(begun, request, ct).ConfigureAwait(false);
                    return ConsoleCommand.Run(begun, ct);
                }
                catch (Exception e) when (e is CliException or IOException or System.Text.Json.JsonException)
                {
                    await Console.Error.WriteLineAsync($"domino: {e.Message}").ConfigureAwait(false);
                    return 1;
                }
            }
            return await RunClient(async (client, token) =>
            {
                if (!parse.GetValue(console))
                {
                    await client.PostAsync("domains", request, token).ConfigureAwait(false);
                    return 0;
                }
                // One request: the console shows the guest's output from its first byte, even a guest that
                // prints and powers off at once.
                using var connection = await client.CreateWithConsoleAsync(request, token).ConfigureAwait(false);
                return ConsoleCommand.Run(connection, token);
            }, ct).ConfigureAwait(false);
        }
    }

    /// <summary><c>config-update DOMAIN [FILE] [KEY=VALUE...]</c>: the new config applies at the domain's next restart.</summary>
    public static Command ConfigUpdate()
    {
        var domain = DomainArgument();
        var file = new Option<string?>("--defconfig", "-f") { Description = "Configuration file (instead of the second argument)" };
        var args = new Argument<string[]>("FILE KEY=VALUE") { Arity = ArgumentArity.ZeroOrMore, Description = "Configuration file, then settings that override it" };
        var command = new Command("config-update", "Replace a domain's saved configuration (takes effect at its next restart)") { domain, file, args };
        command.SetAction(async (parse, ct) =>
        {
            var (path, extra) = SplitArgs(parse.GetValue(file), parse.GetValue(args) ?? []);
            if (path is null)
            {
                await Console.Error.WriteLineAsync("domino: config-update: no configuration file given").ConfigureAwait(false);
                return 1;
            }
            var config = Load(path, extra);
            if (config is null) return 1;
            var spec = DomainSpecMapping.ToSpec(config, p => ResolvePath(p, path));
            return await RunClient(async (client, token) =>
            {
                await client.PostAsync($"domains/{Escape(parse.GetValue(domain)!)}/config",
                    SpecRequestWriter.Write(new ConfigUpdateRequest { Spec = spec, Config = LibxlJson.Serialize(config) }), token).ConfigureAwait(false);
                return 0;
            }, ct).ConfigureAwait(false);
        });
        return command;
    }

    private static (string? Path, List<string> Extra) SplitArgs(string? file, string[] args)
    {
        var rest = args.ToList();
        if (file is null && rest.Count > 0 && !rest[0].Contains('=', StringComparison.Ordinal))
        {
            file = rest[0];
            rest.RemoveAt(0);
        }
        return (file, rest);
    }

    private static DomainConfig? Load(string path, IReadOnlyList<string> extra)
    {
        var result = ConfigFile.Load(path, extra);
        foreach (var d in result.Diagnostics) Console.Error.WriteLine(d.ToString());
        return result.HasErrors ? null : result.Config;
    }

    /// <summary>Relative paths are taken from the current directory as xl does, else from the config file's directory.</summary>
    private static string ResolvePath(string p, string configPath)
    {
        if (Path.IsPathRooted(p)) return p;
        var fromCwd = Path.GetFullPath(p);
        if (File.Exists(fromCwd)) return fromCwd;
        var fromConfig = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(configPath)) ?? ".", p));
        return File.Exists(fromConfig) ? fromConfig : fromCwd;
    }

    private static async Task<int> RunClient(Func<DaemonClient, CancellationToken, Task<int>> action, CancellationToken ct)
    {
        try
        {
            using var client = await DaemonClient.ConnectAsync(ct).ConfigureAwait(false);
            return await action(client, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is CliException or IOException or System.Text.Json.JsonException or System.Net.WebSockets.WebSocketException)
        {
            await Console.Error.WriteLineAsync($"domino: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
