namespace Domino.Vmm.Hypervisor;

/// <summary>
/// A hardware-virtualization backend (Cloud Hypervisor's Hypervisor / Vm / Vcpu split). KVM is the
/// one implementation; the VMM above sees only these interfaces and <see cref="VmExit"/>.
/// </summary>
public interface IHypervisor : IDisposable
{
    IVm CreateVm();
}

/// <summary>One virtual machine of an <see cref="IHypervisor"/>.</summary>
public interface IVm : IDisposable
{
    /// <summary>Architecture pages the backend needs reserved in the guest-physical space (x86: TSS, identity map).</summary>
    void SetupArchitecturalPages();

    /// <summary>Creates the in-kernel interrupt controllers (PIC, IOAPIC, LAPICs) and the PIT.</summary>
    void CreateIrqchipAndPit();

    /// <summary>Maps <paramref name="size"/> bytes of host memory at <paramref name="hostAddress"/> into the guest at <paramref name="gpa"/>.</summary>
    void SetUserMemoryRegion(uint slot, ulong gpa, ulong size, nint hostAddress);

    /// <summary>Drives interrupt line <paramref name="gsi"/>.</summary>
    void SetIrqLine(uint gsi, bool level);

    IVcpu CreateVcpu(int id);
}

/// <summary>One virtual CPU. <see cref="Run"/> is called only from the vCPU's own thread.</summary>
public interface IVcpu : IDisposable
{
    int Id { get; }

    /// <summary>Binds the calling thread as the runner, so <see cref="Kick"/> can interrupt it.</summary>
    void BindToCurrentThread();

    void UnbindThread();

    /// <summary>From any thread: make the current or next <see cref="Run"/> return promptly (as Interrupted).</summary>
    void Kick();

    /// <summary>On the vCPU thread, before checking for requests: forget an earlier kick.</summary>
    void ClearKick();

    VmExit Run();

    X86Registers GetRegisters();

    void SetRegisters(in X86Registers registers);

    X86SpecialRegisters GetSpecialRegisters();

    void SetSpecialRegisters(in X86SpecialRegisters registers);

    /// <summary>x87/SSE reset state.</summary>
    void InitializeFpu();

    /// <summary>CPUID as the host supports it, with this vCPU's APIC ID and <paramref name="vcpuCount"/> logical CPUs.</summary>
    void SetCpuid(int vcpuCount);

    /// <summary>LAPIC LINT0 = ExtINT, LINT1 = NMI.</summary>
    void SetupLapicLints();

    /// <summary>An application processor: held in wait-for-SIPI until the guest starts it with INIT-SIPI-SIPI.</summary>
    void WaitForStartupIpi();

    /// <summary>Queues a non-maskable interrupt for this vCPU's next entry. Called on the vCPU's own thread.</summary>
    void InjectNmi();
}
