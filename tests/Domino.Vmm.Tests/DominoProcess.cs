using Domino.Testing;
using System.Diagnostics;

namespace Domino.Vmm.Tests;

/// <summary>Runs the built `domino` CLI as a child process.</summary>
internal static class DominoProcess
{
    public static string CliDll
    {
        get
        {
            // Same configuration as this test assembly: .../bin/<Configuration>/net10.0/
            var config = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            return Path.Combine(GuestKit.Root, "src", "Domino.Cli", "bin", config, "net10.0", "domino.dll");
        }
    }

    public static (int ExitCode, string Stdout, string Stderr) Run(string stdin, TimeSpan timeout, params string[] args) =>
        Run("dotnet", [CliDll, .. args], stdin, timeout);

    /// <summary>Runs the foreground VMM with <paramref name="vmmArgs"/>: <c>domino vmm ARGS</c> or <c>domino-vmm ARGS</c>.</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunVmm(VmmProgram program, string stdin, TimeSpan timeout, params string[] vmmArgs) =>
        program == VmmProgram.Native ? Run(NativeBuild.Vmm, vmmArgs, stdin, timeout) : Run(stdin, timeout, ["vmm", .. vmmArgs]);

    /// <summary>Runs <paramref name="program"/> itself with <paramref name="args"/>.</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunProgram(string program, string stdin, TimeSpan timeout, params string[] args) =>
        Run(program, args, stdin, timeout);

    private static (int ExitCode, string Stdout, string Stderr) Run(string program, string[] args, string stdin, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            Assert.Fail($"{program} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds} s; stderr: {stderr.Result}");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
