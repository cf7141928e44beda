using System.CommandLine;
using System.Runtime.InteropServices;
using Domino.Vmm;
using Domino.Vmm.Boot;
using Domino.Vmm.Hypervisor;
using Domino.Vmm.Interop;

namespace Domino.Cli.Commands;

/// <summary>
/// `domino vmm`: runs one guest in the foreground on Domino's own VMM, console on stdin/stdout
/// (like `firecracker --no-api`). Exit status: 0 poweroff, 3 reboot, 4 crash, 1 VMM or usage error.
/// The same options and action make the root command of `domino-vmm`, the VMM compiled ahead of time
/// into a native executable (src/Domino.Vmm.Native), which this file is also compiled into.
/// </summary>
internal static class VmmCommand
{
    public const int ExitPoweroff = 0, ExitError = 1, ExitReboot = 3, ExitCrash = 4;

    public const string Description = "Run one guest in the foreground on Domino's VMM (console on stdin/stdout)";

    public static Command Create() => Configure(new Command("vmm", Description), "domino vmm");

    /// <summary>Adds the VMM's options and action to <paramref name="command"/>; <paramref name="name"/> prefixes its messages.</summary>
    public static Command Configure(Command command, string name)
    {
        var kernel = new Option<FileInfo>("--kernel") { Description = "Kernel: PVH ELF, 64-bit ELF (vmlinux) or bzImage", Required = true };
        var ramdisk = new Option<FileInfo?>("--ramdisk") { Description = "Initial ramdisk (PVH module / initrd)" };
        var cmdline = new Option<string>("--cmdline") { Description = "Kernel command line", DefaultValueFactory = _ => "" };
        var memory = new Option<int>("--memory") { Description = "Guest memory in MiB", DefaultValueFactory = _ => 256 };
        var vcpus = new Option<int>("--vcpus") { Description = "Number of vCPUs", DefaultValueFactory = _ => 1 };
        var disks = new Option<string[]>("--disk") { Description = "Disk image FILE[,ro] (repeatable)", AllowMultipleArgumentsPerToken = false };
        var virtioConsole = new Option<bool>("--virtio-console") { Description = "Add a virtio console (hvc0); console input goes to it" };
        foreach (var option in new Option[] { kernel, ramdisk, cmdline, memory, vcpus, disks, virtioConsole }) command.Options.Add(option);
        command.SetAction(parse => Run(
            name,
            parse.GetValue(kernel)!.FullName,
            parse.GetValue(ramdisk)?.FullName,
            parse.GetValue(cmdline) ?? "",
            parse.GetValue(memory),
            parse.GetValue(vcpus),
            parse.GetValue(disks) ?? [],
            parse.GetValue(virtioConsole)));
        return command;
    }

    private static int Run(string name, string kernel, string? ramdisk, string cmdline, int memoryMiB, int vcpus, string[] diskSpecs, bool virtioConsole)
    {
        var stderr = Console.Error;
        try
        {
            var disks = diskSpecs.Select(ParseDisk).ToList();
            var stdout = Console.OpenStandardOutput();
            // Raw-ish console when stdin is a terminal (keys reach the guest as typed, the guest echoes);
            // otherwise stdin is streamed as it is. Restored on exit.
            using var terminal = HostTerminal.EnterRawMode();
            var config = new VmConfig
            {
                KernelPath = kernel,
                RamdiskPath = ramdisk,
                CommandLine = cmdline,
                MemoryMiB = memoryMiB,
                Vcpus = vcpus,
                Disks = disks,
                VirtioConsole = virtioConsole,
                ConsoleInput = terminal?.Input ?? Console.OpenStandardInput(),
                ConsoleOutput = stdout,
                Log = Environment.GetEnvironmentVariable("DOMINO_VMM_LOG") == "1" ? m => stderr.WriteLine($"{name}: {m}") : null,
            };
            using var vm = VirtualMachine.Build(config);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
            {
                ctx.Cancel = true;
                vm.Stop("interrupted (SIGINT)");
            });
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true;
                vm.Stop("terminated (SIGTERM)");
            });
            vm.Start();
            var exit = vm.Exited.GetAwaiter().GetResult();
            stdout.Flush();
            switch (exit.Reason)
            {
                case VmExitReason.Poweroff:
                    stderr.WriteLine($"{name}: guest powered off: {exit.Detail}");
                    return ExitPoweroff;
                case VmExitReason.Reboot:
                    stderr.WriteLine($"{name}: guest rebooted: {exit.Detail}");
                    if (exit.Vcpu is not null) stderr.WriteLine(exit.Vcpu.Format());
                    return ExitReboot;
                case VmExitReason.Crash:
                    stderr.WriteLine($"{name}: guest crashed: {exit.Detail}");
                    if (exit.Vcpu is not null) stderr.WriteLine(exit.Vcpu.Format());
                    return ExitCrash;
                default:
                    stderr.WriteLine($"{name}: {exit.Detail}");
                    return ExitError;
            }
        }
        catch (Exception e) when (e is VmConfigException or KernelFormatException or HypervisorUnavailableException or KvmException)
        {
            stderr.WriteLine($"{name}: {e.Message}");
            return ExitError;
        }
    }

    private static DiskConfig ParseDisk(string spec)
    {
        var parts = spec.Split(',');
        if (parts.Length > 2 || parts[0].Length == 0 || (parts.Length == 2 && parts[1] is not ("ro" or "rw")))
            throw new VmConfigException($"--disk {spec}: expected FILE[,ro]");
        return new DiskConfig(parts[0], parts.Length == 2 && parts[1] == "ro");
    }
}
