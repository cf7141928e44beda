using System.CommandLine;

namespace Domino.Cli.Commands;

/// <summary>
/// Parses a program's arguments the cheap way when it can. System.CommandLine's <see cref="RootCommand"/>
/// brings help, <c>--version</c> and directives, and building its help option reads that option's
/// description through the library's ResourceManager: in <c>perf record</c>, half of what a command's
/// Main spent and a tenth of its whole process (docs/performance.md, "Night changes"). A run that
/// asks for none of them and parses without an error goes without; any other run is parsed again
/// under a full root command, so help, version, errors and suggestions are what the library gives.
/// </summary>
internal static class CommandLineRoot
{
    public static ParseResult Parse(string[] args, string name, string description, Action<Command> addCommands)
    {
        if (!Array.Exists(args, AsksForBuiltIn))
        {
            var plain = new Command(name, description);
            addCommands(plain);
            var result = plain.Parse(args);
            if (result.Errors.Count == 0) return result;
        }
        var root = new RootCommand(description);
        addCommands(root);
        return root.Parse(args);
    }

    /// <summary>The help option's aliases, the version option, or a directive such as <c>[diagram]</c>.</summary>
    private static bool AsksForBuiltIn(string arg) =>
        arg is "-h" or "/h" or "--help" or "-?" or "/?" or "--version" || arg.StartsWith('[');
}
