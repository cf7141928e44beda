using System.CommandLine;
using Domino.Config;
using Domino.Config.Diagnostics;
using Domino.Config.Output;

namespace Domino.Cli.Commands;

/// <summary>
/// `domino config check|convert` and the dry-run half of `domino create`: the commands that read
/// xl.cfg(5) files without touching any domain.
/// </summary>
internal static class ConfigCommands
{
    /// <summary>`domino config ...`.</summary>
    public static Command Create()
    {
        var config = new Command("config", "Check and convert xl.cfg(5) domain configuration files");
        config.Subcommands.Add(CheckCommand());
        config.Subcommands.Add(ConvertCommand());
        return config;
    }

    private static Command CheckCommand()
    {
        var files = new Argument<string[]>("FILE") { Arity = ArgumentArity.OneOrMore, Description = "Configuration files to check" };
        var check = new Command("check", "Report every error and warning in each file; exit 1 if any has errors") { files };
        check.SetAction(parseResult =>
        {
            var err = parseResult.InvocationConfiguration.Error;
            var failed = false;
            foreach (var file in parseResult.GetValue(files) ?? [])
            {
                var result = ConfigFile.Load(file, []);
                Print(err, result.Diagnostics);
                failed |= result.HasErrors;
            }
            return failed ? 1 : 0;
        });
        return check;
    }

    private static Command ConvertCommand()
    {
        var to = new Option<string>("--to") { Description = "Output format: json (libxl JSON, as `xl -N create` prints) or xl (xl.cfg)", Required = true };
        to.AcceptOnlyFromAmong("json", "xl");
        var file = new Argument<string>("FILE") { Description = "Configuration file (xl.cfg, or libxl JSON with --to xl)" };
        var convert = new Command("convert", "Print a configuration in another format") { to, file };
        convert.SetAction(parseResult =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var err = parseResult.InvocationConfiguration.Error;
            var path = parseResult.GetValue(file)!;
            var config = LooksLikeJson(path) ? ReadJson(path, err) : ReadXl(path, [], err);
            if (config is null) return 1;
            output.Write(parseResult.GetValue(to) == "json" ? LibxlJson.Serialize(config) : XlFormatter.Format(config));
            return 0;
        });
        return convert;
    }

    /// <summary>`domino create [-n] [-f FILE | FILE] [KEY=VALUE...]`, as `xl create` takes them.</summary>
    public static Command CreateDomainCommand()
    {
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "Only parse the configuration and print the libxl JSON the domain would be built from" };
        var configFile = new Option<string?>("--defconfig", "-f") { Description = "Configuration file (instead of the first argument)" };
        var args = new Argument<string[]>("FILE KEY=VALUE") { Arity = ArgumentArity.ZeroOrMore, Description = "Configuration file, then settings that override it" };
        var create = new Command("create", "Create a domain from an xl.cfg(5) file") { dryRun, configFile, args };
        create.SetAction(parseResult =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var err = parseResult.InvocationConfiguration.Error;
            var rest = (parseResult.GetValue(args) ?? []).ToList();
            var path = parseResult.GetValue(configFile);
            if (path is null)
            {
                if (rest.Count == 0 || rest[0].Contains('=', StringComparison.Ordinal))
                {
                    err.WriteLine("domino create: no configuration file given (usage: domino create -n FILE [KEY=VALUE...] or -f FILE)");
                    return 1;
                }
                path = rest[0];
                rest.RemoveAt(0);
            }
            if (!parseResult.GetValue(dryRun))
            {
                err.WriteLine("domino create: creating domains is not available yet; use -n to check the configuration and print its libxl JSON");
                return 1;
            }
            var config = ReadXl(path, rest, err);
            if (config is null) return 1;
            output.Write(LibxlJson.Serialize(config));
            return 0;
        });
        return create;
    }

    private static Domino.Config.Model.DomainConfig? ReadXl(string path, IReadOnlyList<string> extra, TextWriter err)
    {
        var result = ConfigFile.Load(path, extra);
        Print(err, result.Diagnostics);
        return result.Config;
    }

    private static Domino.Config.Model.DomainConfig? ReadJson(string path, TextWriter err)
    {
        try
        {
            return LibxlJson.Deserialize(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or System.Text.Json.JsonException)
        {
            err.WriteLine($"{path}: error: {e.Message}");
            return null;
        }
    }

    private static bool LooksLikeJson(string path)
    {
        try
        {
            return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                || File.ReadAllText(path).TrimStart().StartsWith('{');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void Print(TextWriter err, IEnumerable<Diagnostic> diagnostics)
    {
        foreach (var d in diagnostics) err.WriteLine(d.ToString());
    }
}
