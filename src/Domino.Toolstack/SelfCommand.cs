using System.Diagnostics;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack;

/// <summary>
/// How to start this same program again (the daemon, a VMM process): its own executable, or the
/// dotnet host followed by the entry assembly when it was started as <c>dotnet domino.dll</c>.
/// </summary>
public sealed record SelfCommand(string FileName, IReadOnlyList<string> Prefix)
{
    /// <summary>Names the program that runs the daemon's VMM processes, overriding <see cref="VmmHost"/>'s choice.</summary>
    public const string VmmHostVariable = "DOMINO_VMM_HOST";

    public static SelfCommand Current()
    {
        var path = Environment.ProcessPath ?? throw new ToolstackException(ErrorKind.Failed, "cannot find the domino executable to start another process");
        // Started as `dotnet domino.dll`, the first argument the runtime reports is the assembly's path.
        if (Path.GetFileNameWithoutExtension(path) == "dotnet" && Environment.GetCommandLineArgs() is [{ Length: > 0 } assembly, ..])
            return new SelfCommand(path, [assembly]);
        return new SelfCommand(path, []);
    }

    /// <summary>
    /// What runs <c>vmm-host</c>, the daemon's per-domain VMM processes: <paramref name="chosen"/>
    /// (<c>$DOMINO_VMM_HOST</c>) when set, a path or <c>self</c> for this program; otherwise
    /// <c>domino-vmm</c> (the VMM compiled ahead of time; docs/vmm.md) when it sits beside this
    /// program's executable; otherwise this program.
    /// </summary>
    public static SelfCommand VmmHost(string? chosen)
    {
        if (chosen == "self") return Current();
        if (!string.IsNullOrEmpty(chosen))
        {
            if (!File.Exists(chosen)) throw new ToolstackException(ErrorKind.Invalid, $"{VmmHostVariable}={chosen}: no such file (give the path of a domino-vmm executable, or 'self')");
            return new SelfCommand(Path.GetFullPath(chosen), []);
        }
        var self = Current();
        var beside = Path.Combine(Path.GetDirectoryName(self.Prefix.Count > 0 ? self.Prefix[0] : self.FileName) ?? ".", "domino-vmm");
        return File.Exists(beside) ? new SelfCommand(beside, []) : self;
    }

    /// <summary>The command line: the file, the prefix, then <paramref name="args"/>.</summary>
    public IEnumerable<string> CommandLine(params string[] args) => [FileName, .. Prefix, .. args];

    public ProcessStartInfo StartInfo(params string[] args)
    {
        var psi = new ProcessStartInfo(FileName) { UseShellExecute = false };
        foreach (var a in Prefix.Concat(args)) psi.ArgumentList.Add(a);
        return psi;
    }
}
