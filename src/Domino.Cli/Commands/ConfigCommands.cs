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
