using System.Diagnostics;

namespace Domino.Vmm.Tests;

/// <summary>Finds the repository, the guest kit's built guests (building them with make when needed) and the domino CLI.</summary>
internal static class GuestKit
{
    private static readonly Lazy<string> s_root = new(FindRoot);
    private static readonly Lock s_buildLock = new();
    private static bool s_built;

    public static string Root => s_root.Value;

    /// <summary>Path of guests/build/NAME.elf; skips (or fails under DOMINO_REQUIRE_KVM=1) when it cannot be built.</summary>
    public static string Guest(string name)
    {
        var path = Path.Combine(Root, "guests", "build", name + ".elf");
        if (!File.Exists(path)) Build();
        if (File.Exists(path)) return path;
        var reason = $"NO GUEST: {path} missing (the guest kit does not build '{name}' yet; run make -C guests)";
        if (KvmGate.Required) Assert.Fail(reason);
        Skip.If(true, reason);
        return path;
    }

    private static void Build()
    {
        lock (s_buildLock)
        {
            if (s_built) return;
            s_built = true;
            if (!File.Exists(Path.Combine(Root, "guests", "Makefile"))) return;
            try
            {
                using var make = Process.Start(new ProcessStartInfo("make", ["-s", "-C", Path.Combine(Root, "guests")])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                })!;
                make.StandardOutput.ReadToEnd();
                make.StandardError.ReadToEnd();
                make.WaitForExit();
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // no make: Guest() reports the missing file
            }
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Domino.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException("cannot find the repository root (Domino.slnx) above " + AppContext.BaseDirectory);
    }

    /// <summary>Boots <paramref name="kernel"/> in-process and returns how it ended plus its console output.</summary>
    public static (GuestExit Exit, string Console, VirtualMachine Vm) Boot(string kernel, string cmdline = "", int vcpus = 1, int memoryMiB = 128,
        Stream? input = null, TimeSpan? timeout = null)
    {
        var output = new ConsoleCapture();
        var vm = VirtualMachine.Build(new VmConfig
        {
            KernelPath = kernel,
            CommandLine = cmdline,
            Vcpus = vcpus,
            MemoryMiB = memoryMiB,
            ConsoleOutput = output,
            ConsoleInput = input,
        });
        try
        {
            vm.Start();
            var exit = vm.WaitForExit(timeout ?? TimeSpan.FromSeconds(30));
            return (exit, output.Text, vm);
        }
        finally
        {
            vm.Dispose();
        }
    }
}
