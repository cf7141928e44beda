using Domino.Vmm.Devices;

namespace Domino.Vmm.Tests;

/// <summary>Lifecycle, console input, unclaimed accesses and device faults, with hand-assembled kernels.</summary>
[Collection(KvmGuestsCollection.Name)]
public class VmBehaviourTests
{
    private static readonly byte[] PowerOff = [0xB0, 0x00, 0xE6, 0xF4, 0xF4];

    private static string Kernel(byte[] code, string name) => TestKernels.ToTempFile(TestKernels.PvhElf32(code), name);

    /// <summary>Polls LSR.DR, echoes each byte until 'q', then powers off.</summary>
    private static byte[] EchoCode() =>
    [
        0x66, 0xBA, 0xFD, 0x03, 0xEC, 0xA8, 0x01, 0x74, 0xFB,  // wait: mov dx,0x3fd; in al,dx; test al,1; jz wait
        0x66, 0xBA, 0xF8, 0x03, 0xEC,                          // mov dx,0x3f8; in al,dx
        0x3C, 0x71, 0x74, 0x03, 0xEE, 0xEB, 0xE5,              // cmp al,'q'; je off; out dx,al; jmp wait
        .. PowerOff,
    ];

    [SkippableFact]
    public void Console_input_reaches_the_guest_uart()
    {
        KvmGate.RequireKvm();
        var input = new MemoryStream("hello, guest\nq"u8.ToArray());
        var (exit, console, _) = GuestKit.Boot(Kernel(EchoCode(), "echo.elf"), input: input);
        Assert.Equal("hello, guest\n", console);
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
    }

    [SkippableFact]
    public void Unclaimed_ports_and_mmio_read_all_ones_and_the_guest_carries_on()
    {
        KvmGate.RequireKvm();
        byte[] code =
        [
            0x66, 0xBA, 0x34, 0x12, 0xEC,       // mov dx,0x1234; in al,dx
            0xE6, 0x99,                         // out 0x99,al
            0x66, 0xBA, 0xF8, 0x03, 0xEE,       // mov dx,0x3f8; out dx,al
            0xA1, 0x00, 0x00, 0x00, 0xC0,       // mov eax,[0xC0000000]
            0xA3, 0x04, 0x00, 0x00, 0xC0,       // mov [0xC0000004],eax
            0xEE,                               // out dx,al
            .. PowerOff,
        ];
        var output = new ConsoleCapture();
        var log = new List<string>();
        using var vm = VirtualMachine.Build(new VmConfig { KernelPath = Kernel(code, "hostile.elf"), MemoryMiB = 32, ConsoleOutput = output, Log = m => { lock (log) log.Add(m); } });
        vm.Start();
        var exit = vm.WaitForExit(TimeSpan.FromSeconds(20));
        Assert.Equal(VmExitReason.Poweroff, exit.Reason);
        Assert.Equal("\u00FF\u00FF", output.Text);
        Assert.Equal(1, vm.PioBus.UnknownReads);
        Assert.Equal(1, vm.PioBus.UnknownWrites);
        Assert.Equal(1, vm.MmioBus.UnknownReads);
        Assert.Equal(1, vm.MmioBus.UnknownWrites);
        Assert.Contains(log, l => l.Contains("unclaimed 0x1234"));
    }

    private sealed class ExplodingDevice : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data) => throw new InvalidOperationException("device model bug");
        public void Write(ulong offset, ReadOnlySpan<byte> data) { }
    }

    [SkippableFact]
    public void A_device_exception_crashes_only_the_guest_with_a_register_report()
    {
        KvmGate.RequireKvm();
        byte[] code = [0xA1, 0x00, 0x00, 0x00, 0xD0, .. PowerOff]; // mov eax,[0xD0000000]
        using var vm = VirtualMachine.Build(new VmConfig
        {
            KernelPath = Kernel(code, "fault.elf"),
            MemoryMiB = 32,
            VirtioDevices = [new VirtioMmioDeviceSpec("exploding", (_, _) => new ExplodingDevice())],
        });
        vm.Start();
        var exit = vm.WaitForExit(TimeSpan.FromSeconds(20));
        Assert.Equal(VmExitReason.Crash, exit.Reason);
        Assert.Contains("device model bug", exit.Detail);
        Assert.NotNull(exit.Vcpu);
        Assert.Contains("rip 0000000000100000", exit.Vcpu!.Format());
    }

    [SkippableFact]
    public void Pause_resume_and_stop_a_spinning_guest()
    {
        KvmGate.RequireKvm();
        using var vm = VirtualMachine.Build(new VmConfig { KernelPath = Kernel([0xEB, 0xFE], "spin.elf"), MemoryMiB = 32, Vcpus = 2 });
        Assert.Equal(VmState.Built, vm.State);
        vm.Start();
        Assert.Equal(VmState.Running, vm.State);
        vm.Pause();
        Assert.Equal(VmState.Paused, vm.State);
        Assert.Throws<InvalidOperationException>(vm.Pause);
        vm.Resume();
        Assert.Equal(VmState.Running, vm.State);
        Thread.Sleep(50);
        Assert.False(vm.Exited.IsCompleted);
        var exit = vm.WaitForExit(TimeSpan.FromMilliseconds(200));
        Assert.Equal(VmExitReason.Stopped, exit.Reason);
        Assert.Equal(VmState.Exited, vm.State);
    }
}
