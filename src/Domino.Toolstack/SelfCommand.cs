using System.Diagnostics;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack;

/// <summary>
/// How to start this same program again (the daemon, a VMM process): its own executable, or the
/// dotnet host followed by the entry assembly when it was started as <c>dotnet domino.dll</c>.
/// </summary>
public sealed record SelfCommand(string FileName, IReadOnlyList<string> Prefix)
{
    public static SelfCommand Current()
    {
        var path = Environment.ProcessPath ?? throw new ToolstackException(ErrorKind.Failed, "cannot find the domino executable to start another process");
        if (Path.GetFileNameWithoutExtension(path) == "dotnet" && System.Reflection.Assembly.GetEntryAssembly()?.Location is { Length: > 0 } assembly)
            return new SelfCommand(path, [assembly]);
        return new SelfCommand(path, []);
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
