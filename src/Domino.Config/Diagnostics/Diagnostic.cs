namespace Domino.Config.Diagnostics;

/// <summary>How serious a configuration problem is: errors stop a domain from being built, warnings do not.</summary>
public enum DiagnosticSeverity
{
    Warning,
    Error,
}

/// <summary>A 1-based line:column in a configuration source (a file, or the `key=value` command-line arguments).</summary>
public readonly record struct SourcePosition(int Line, int Column)
{
    public static readonly SourcePosition Unknown = new(0, 0);

    public SourcePosition Advance(int columns) => this with { Column = Column + columns };

    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>One problem found in a configuration, printed the way compilers print them.</summary>
public sealed record Diagnostic(
    DiagnosticSeverity Severity,
    string File,
    int Line,
    int Column,
    string? Key,
    string Message)
{
    public bool IsError => Severity == DiagnosticSeverity.Error;

    /// <summary>`guest.cfg:12:9: error: unknown action 'restrat' for on_reboot (expected ...)`.</summary>
    public override string ToString()
    {
        var severity = Severity == DiagnosticSeverity.Error ? "error" : "warning";
        return Line > 0 ? $"{File}:{Line}:{Column}: {severity}: {Message}" : $"{File}: {severity}: {Message}";
    }
}

/// <summary>Collects diagnostics for one source, so every problem is reported at once.</summary>
internal sealed class DiagnosticBag
{
    private readonly List<Diagnostic> _items = [];

    public IReadOnlyList<Diagnostic> Items => _items;

    public bool HasErrors => _items.Exists(d => d.IsError);

    public void Error(string file, SourcePosition at, string? key, string message) =>
        _items.Add(new Diagnostic(DiagnosticSeverity.Error, file, at.Line, at.Column, key, message));

    public void Warning(string file, SourcePosition at, string? key, string message) =>
        _items.Add(new Diagnostic(DiagnosticSeverity.Warning, file, at.Line, at.Column, key, message));

    public void AddRange(IEnumerable<Diagnostic> diagnostics) => _items.AddRange(diagnostics);
}
