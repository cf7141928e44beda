using System.Text;
using Domino.Config.Binding;
using Domino.Config.Diagnostics;
using Domino.Config.Model;
using Domino.Config.Syntax;

namespace Domino.Config;

/// <summary>The outcome of loading a configuration: the model (when it could be built) and every diagnostic.</summary>
public sealed class ConfigLoadResult
{
    internal ConfigLoadResult(DomainConfig? config, IReadOnlyList<Diagnostic> diagnostics, ConfigDocument document)
    {
        Config = config;
        Diagnostics = diagnostics;
        Document = document;
    }

    /// <summary>The domain, or null when there are errors.</summary>
    public DomainConfig? Config { get; }

    public IReadOnlyList<Diagnostic> Diagnostics { get; }

    /// <summary>The statements as parsed, before interpretation.</summary>
    public ConfigDocument Document { get; }

    public bool HasErrors => Diagnostics.Any(d => d.IsError);
}

/// <summary>Entry point for reading xl.cfg(5) files, as `xl create FILE [KEY=VALUE...]` does.</summary>
public static class ConfigFile
{
    /// <summary>What command-line overrides are called in diagnostics.</summary>
    public const string CommandLineSource = "<command line>";

    /// <summary>Reads and parses <paramref name="path"/>; an unreadable file is a diagnostic, not an exception.</summary>
    public static ConfigLoadResult Load(string path, IReadOnlyList<string> extraArgs)
    {
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            var d = new Diagnostic(DiagnosticSeverity.Error, path, 0, 0, null, $"cannot read configuration file: {e.Message}");
            return new ConfigLoadResult(null, [d], new ConfigDocument());
        }
        return Parse(text, path, extraArgs);
    }

    /// <summary>
    /// Parses xl.cfg text. <paramref name="extraArgs"/> are `KEY=VALUE` statements, each parsed like a
    /// line appended to the file, so they override the file's settings (as `xl create` does).
    /// </summary>
    public static ConfigLoadResult Parse(string text, string fileName, IReadOnlyList<string> extraArgs)
    {
        var diagnostics = new DiagnosticBag();
        var document = new ConfigDocument { FileName = fileName };
        ConfigParser.Parse(text, fileName, document, diagnostics);
        for (var i = 0; i < (extraArgs?.Count ?? 0); i++)
            ConfigParser.Parse(extraArgs![i] ?? "", CommandLineSource, document, diagnostics, lineOffset: i);
        var config = DomainConfigBinder.Bind(document, diagnostics, afterSyntaxErrors: diagnostics.HasErrors);
        // Most files have no diagnostics at all: the sort's generic instantiations would cost the JIT more
        // than the whole parse, on every create.
        var ordered = diagnostics.Items.Count < 2 ? [.. diagnostics.Items] : diagnostics.Items
            .Select((d, index) => (d, index))
            .OrderBy(x => x.d.File == CommandLineSource ? 1 : 0)
            .ThenBy(x => x.d.Line)
            .ThenBy(x => x.d.Column)
            .ThenBy(x => x.index)
            .Select(x => x.d)
            .ToList();
        return new ConfigLoadResult(diagnostics.HasErrors ? null : config, ordered, document);
    }
}
