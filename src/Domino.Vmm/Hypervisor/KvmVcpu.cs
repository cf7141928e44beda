using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Domino.Vmm.Interop;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Hypervisor;

/// <summary>
/// One KVM vCPU. <see cref="Run"/> is called only from the vCPU's own thread; <see cref="Kick"/>
/// may be called from any thread to make a running or about-to-run KVM_RUN return promptly.
/// </summary>
public sealed partial class KvmVcpu : IVcpu
{
    private readonly SafeFd _fd;
    private readonly SafeMmap _run;
    private readonly Lock _kickLock = new();
    private nuint _thread; // pthread of the thread calling Run, 0 when none
    private bool _interrupted; // the last KVM_RUN returned EINTR: a kick signal may be pending in the thread

    internal KvmVcpu(KvmVm vm, int id, SafeFd fd, SafeMmap run)
    {
        Vm = vm;
        Id = id;
        _fd = fd;
        _run = run;
    }

    public KvmVm Vm { get; }

    public int Id { get; }

    // SAFETY: _run maps KVM_GET_VCPU_MMAP_SIZE bytes (a page or more, so the head and the 256-byte
    // union fit) and stays mapped until Dispose, which runs only after the vCPU thread has ended.
    private unsafe kvm_run* RunPage => (kvm_run*)_run.Address;

    /// <summary>
    /// Binds the calling thread as this vCPU's runner so that <see cref="Kick"/> can signal it. The kick
    /// signal is blocked in the thread and unblocked only inside KVM_RUN (KVM_SET_SIGNAL_MASK; api.rst:
    /// "any unblocked signal received ... will cause KVM_RUN to return with -EINTR"). A kick that arrives
    /// while the thread is in user space stays pending, and the next KVM_RUN returns at once instead of
    /// entering the guest: no kick is lost, whoever sends it (a window-end timer cannot set immediate_exit).
    /// </summary>
    public void BindToCurrentThread()
    {
        Libc.InstallKickHandler(); // never runs while the signal is blocked; a stray unblocked one must not kill the process
        var runMask = Libc.BlockKickSignal();
        Span<byte> buffer = stackalloc byte[4 + 8];
        BitConverter.TryWriteBytes(buffer, 8u); // kvm_signal_mask.len: the kernel's sigset_t is 64 bits
        BitConverter.TryWriteBytes(buffer[4..], runMask);
        if (Kvm.IoctlBuffer(_fd, Kvm.KVM_SET_SIGNAL_MASK, buffer, "KVM_SET_SIGNAL_MASK", out var errno) < 0)
            throw new KvmException($"KVM_SET_SIGNAL_MASK(vCPU {Id})", errno);
        lock (_kickLock) _thread = Libc.PthreadSelf();
    }

    public void UnbindThread()
    {
        lock (_kickLock) _thread = 0;
    }

    /// <summary>
    /// Makes KVM_RUN return: sets immediate_exit (so a run that has not started yet returns at once)
    /// and signals the vCPU thread (so one in progress returns with EINTR).
    /// </summary>
    public void Kick()
    {
        lock (_kickLock)
        {
            // SAFETY: RunPage is valid while the vCPU exists; a one-byte store the kernel reads on KVM_RUN entry.
            unsafe { Volatile.Write(ref RunPage->immediate_exit, 1); }
            if (_thread != 0) Libc.PthreadKill(_thread, Libc.VcpuKickSignal);
        }
    }

    /// <summary>Clears a pending kick (immediate_exit and the kick signals waiting in the bound thread, which
    /// KVM_RUN leaves pending); the vCPU thread calls this before it looks at its requests.</summary>
    public void ClearKick()
    {
        // SAFETY: RunPage is valid while the vCPU exists; a one-byte store.
        unsafe { Volatile.Write(ref RunPage->immediate_exit, 0); }
        if (!_interrupted) return; // a signal pending now makes the next KVM_RUN return EINTR, and is taken then
        while (Libc.TakeKickSignal(TimeSpan.Zero, out _)) { }
        _interrupted = false;
    }

    /// <summary>Runs the guest until the next exit the VMM must see.</summary>
    public VmExit Run()
    {
        var r = Libc.Ioctl(_fd, Kvm.KVM_RUN, 0, out var errno);
        if (r < 0)
        {
            if (errno is Libc.EINTR or Libc.EAGAIN)
            {
                _interrupted = true;
                return new VmExit { Kind = VmExitKind.Interrupted, RawReason = Kvm.KVM_EXIT_INTR };
            }
            if (errno is Libc.EFAULT or Libc.EHWPOISON) return DecodeMemoryFault();
            throw new KvmException($"KVM_RUN(vCPU {Id})", errno);
        }
        return DecodeExit();
    }

    /// <summary>
    /// After KVM_RUN failed with EFAULT or EHWPOISON: KVM could not map guest memory to host memory,
    /// e.g. the guest touched a page of its memory slot whose host memory is PROT_NONE (past the RAM
    /// of a guest in a VM shell). KVM_EXIT_MEMORY_FAULT gives the range where KVM reports it (api.rst:
    /// for other exits exit_reason is stale then); otherwise the address is <see cref="VmExit.UnknownAddress"/>.
    /// </summary>
    // SAFETY: reads the run page KVM just filled (valid per RunPage); the union holds at least the 24-byte memory_fault struct.
    private unsafe VmExit DecodeMemoryFault()
    {
        var run = RunPage;
        if (run->exit_reason != Kvm.KVM_EXIT_MEMORY_FAULT)
            return new VmExit { Kind = VmExitKind.MemoryFault, Address = VmExit.UnknownAddress, RawReason = run->exit_reason };
        var fault = *(kvm_run_memory_fault*)((byte*)run + kvm_run.UnionOffset);
        return new VmExit
        {
            Kind = VmExitKind.MemoryFault,
            Address = fault.gpa,
            Size = (int)Math.Min(fault.size, int.MaxValue),
            Count = 1,
            RawReason = run->exit_reason,
        };
    }

    // SAFETY: reads the run page KVM just filled (valid per RunPage); every data span handed out is
    // bounds-checked against the mapping or is the fixed 8-byte MMIO buffer, and lives only until the next run.
    private unsafe VmExit DecodeExit()
    {
        var run = RunPage;
        var union = (byte*)run + kvm_run.UnionOffset;
        switch (run->exit_reason)
        {
            case Kvm.KVM_EXIT_IO:
            {
                var io = *(kvm_run_io*)union;
                var length = (ulong)io.size * io.count;
                if (io.size is not (1 or 2 or 4) || io.data_offset + length > _run.Length)
                    return new VmExit { Kind = VmExitKind.Unknown, RawReason = run->exit_reason };
                // SAFETY: the range [data_offset, data_offset+length) was just checked to lie inside the mapping.
                var data = new Span<byte>((byte*)run + io.data_offset, (int)length);
                return new VmExit
                {
                    Kind = io.direction == Kvm.KVM_EXIT_IO_OUT ? VmExitKind.IoOut : VmExitKind.IoIn,
                    Address = io.port,
                    Size = io.size,
                    Count = (int)io.count,
                    Data = data,
                    RawReason = run->exit_reason,
                };
            }
            case Kvm.KVM_EXIT_MMIO:
            {
                var mmio = (kvm_run_mmio*)union;
                var len = (int)Math.Min(mmio->len, 8u);
                return new VmExit
                {
                    Kind = mmio->is_write != 0 ? VmExitKind.MmioWrite : VmExitKind.MmioRead,
                    Address = mmio->phys_addr,
                    Size = len,
                    Count = 1,
                    // SAFETY: data is the 8-byte array inside the mapped union; len is clamped to 8.
                    Data = new Span<byte>(mmio->data, len),
                    RawReason = run->exit_reason,
                };
            }
            case Kvm.KVM_EXIT_HLT:
                return new VmExit { Kind = VmExitKind.Hlt, RawReason = run->exit_reason };
            case Kvm.KVM_EXIT_SHUTDOWN:
                return new VmExit { Kind = VmExitKind.Shutdown, RawReason = run->exit_reason };
            case Kvm.KVM_EXIT_INTR:
                return new VmExit { Kind = VmExitKind.Interrupted, RawReason = run->exit_reason };
            case Kvm.KVM_EXIT_FAIL_ENTRY:
            {
                var fail = (kvm_run_fail_entry*)union;
                return new VmExit { Kind = VmExitKind.FailEntry, Address = fail->hardware_entry_failure_reason, RawReason = run->exit_reason };
            }
            case Kvm.KVM_EXIT_INTERNAL_ERROR:
            {
                var ie = (kvm_run_internal*)union;
                var n = (int)Math.Min(ie->ndata, 16u);
                var details = new ulong[n];
                for (var i = 0; i < n; i++) details[i] = ie->data[i];
                return new VmExit { Kind = VmExitKind.InternalError, Suberror = ie->suberror, Details = details, RawReason = run->exit_reason };
            }
            case Kvm.KVM_EXIT_SYSTEM_EVENT:
            {
                var se = (kvm_run_system_event*)union;
                var n = (int)Math.Min(se->ndata, 16u);
                var details = new ulong[n];
                for (var i = 0; i < n; i++) details[i] = se->data[i];
                var type = se->type is >= 1 and <= 3 ? (SystemEventType)se->type : SystemEventType.None;
                return new VmExit { Kind = VmExitKind.SystemEvent, EventType = type, Suberror = se->type, Details = details, RawReason = run->exit_reason };
            }
            default:
                return new VmExit { Kind = VmExitKind.Unknown, RawReason = run->exit_reason };
        }
    }

    public X86Registers GetRegisters()
    {
        kvm_regs r = default;
        Kvm.Ioctl(_fd, Kvm.KVM_GET_REGS, ref r, "KVM_GET_REGS");
        return new X86Registers
        {
            Rax = r.rax, Rbx = r.rbx, Rcx = r.rcx, Rdx = r.rdx, Rsi = r.rsi, Rdi = r.rdi, Rsp = r.rsp, Rbp = r.rbp,
            R8 = r.r8, R9 = r.r9, R10 = r.r10, R11 = r.r11, R12 = r.r12, R13 = r.r13, R14 = r.r14, R15 = r.r15,
            Rip = r.rip, Rflags = r.rflags,
        };
    }

    public void SetRegisters(in X86Registers x)
    {
        var r = new kvm_regs
        {
            rax = x.Rax, rbx = x.Rbx, rcx = x.Rcx, rdx = x.Rdx, rsi = x.Rsi, rdi = x.Rdi, rsp = x.Rsp, rbp = x.Rbp,
            r8 = x.R8, r9 = x.R9, r10 = x.R10, r11 = x.R11, r12 = x.R12, r13 = x.R13, r14 = x.R14, r15 = x.R15,
            rip = x.Rip, rflags = x.Rflags,
        };
        Kvm.Ioctl(_fd, Kvm.KVM_SET_REGS, ref r, "KVM_SET_REGS");
    }

    public X86SpecialRegisters GetSpecialRegisters()
    {
        kvm_sregs s = default;
        Kvm.Ioctl(_fd, Kvm.KVM_GET_SREGS, ref s, "KVM_GET_SREGS");
        return new X86SpecialRegisters
        {
            Cs = FromKvm(s.cs), Ds = FromKvm(s.ds), Es = FromKvm(s.es), Fs = FromKvm(s.fs),
            Gs = FromKvm(s.gs), Ss = FromKvm(s.ss), Tr = FromKvm(s.tr), Ldt = FromKvm(s.ldt),
            GdtBase = s.gdt.@base, GdtLimit = s.gdt.limit, IdtBase = s.idt.@base, IdtLimit = s.idt.limit,
            Cr0 = s.cr0, Cr2 = s.cr2, Cr3 = s.cr3, Cr4 = s.cr4, Cr8 = s.cr8, Efer = s.efer, ApicBase = s.apic_base,
        };
    }

    /// <summary>Sets segment, table and control state; the interrupt bitmap and APIC base are kept as KVM has them.</summary>
    public void SetSpecialRegisters(in X86SpecialRegisters x)
    {
        kvm_sregs s = default;
        Kvm.Ioctl(_fd, Kvm.KVM_GET_SREGS, ref s, "KVM_GET_SREGS");
        s.cs = ToKvm(x.Cs); s.ds = ToKvm(x.Ds); s.es = ToKvm(x.Es); s.fs = ToKvm(x.Fs);
        s.gs = ToKvm(x.Gs); s.ss = ToKvm(x.Ss); s.tr = ToKvm(x.Tr); s.ldt = ToKvm(x.Ldt);
        s.gdt.@base = x.GdtBase; s.gdt.limit = x.GdtLimit;
        s.idt.@base = x.IdtBase; s.idt.limit = x.IdtLimit;
        s.cr0 = x.Cr0; s.cr2 = x.Cr2; s.cr3 = x.Cr3; s.cr4 = x.Cr4; s.cr8 = x.Cr8; s.efer = x.Efer;
        Kvm.Ioctl(_fd, Kvm.KVM_SET_SREGS, ref s, "KVM_SET_SREGS");
    }

    /// <summary>Reset state of the x87/SSE unit: FCW 0x37f, MXCSR 0x1f80 (as after FNINIT/power-on).</summary>
    public void InitializeFpu()
    {
        var fpu = new kvm_fpu { fcw = 0x37f, mxcsr = 0x1f80 };
        Kvm.Ioctl(_fd, Kvm.KVM_SET_FPU, ref fpu, "KVM_SET_FPU");
    }

    /// <summary>
    /// Programs CPUID from the host's supported leaves, giving this vCPU its own APIC ID
    /// (leaf 1 EBX[31:24]; leaves 0xB and 0x1F EDX = x2APIC ID) and the logical-CPU count.
    /// </summary>
    public void SetCpuid(int vcpuCount)
    {
        var entries = Vm.Hypervisor.GetSupportedCpuid();
        for (var i = 0; i < entries.Length; i++)
        {
            ref var e = ref entries[i];
            switch (e.function)
            {
                case 1:
                    e.ebx = (e.ebx & 0x0000FFFF) | ((uint)Id << 24) | ((uint)Math.Min(vcpuCount, 255) << 16);
                    if (vcpuCount > 1) e.edx |= 1u << 28; // HTT: the count in EBX[23:16] is valid
                    e.ecx |= 1u << 31; // running under a hypervisor
                    break;
                case 0xB:
                case 0x1F:
                    e.edx = (uint)Id;
                    break;
            }
        }
        var buffer = new byte[8 + entries.Length * Unsafe.SizeOf<kvm_cpuid_entry2>()];
        BitConverter.TryWriteBytes(buffer.AsSpan(0, 4), (uint)entries.Length);
        MemoryMarshal.AsBytes(entries.AsSpan()).CopyTo(buffer.AsSpan(8));
        if (Kvm.IoctlBuffer(_fd, Kvm.KVM_SET_CPUID2, buffer, "KVM_SET_CPUID2", out var errno) < 0)
            throw new KvmException($"KVM_SET_CPUID2(vCPU {Id})", errno);
    }

    /// <summary>LAPIC LINT0 = ExtINT (the 8259 PIC's output) and LINT1 = NMI, as firmware leaves them.</summary>
    public void SetupLapicLints()
    {
        kvm_lapic_state lapic = default;
        Kvm.Ioctl(_fd, Kvm.KVM_GET_LAPIC, ref lapic, "KVM_GET_LAPIC");
        const int Lint0 = 0x350, Lint1 = 0x360;
        const uint ExtInt = 7, Nmi = 4;
        // SAFETY: the span covers exactly the local struct's 1024-byte register page; both offsets + 4 are inside it.
        unsafe
        {
            var regs = new Span<byte>(lapic.regs, 1024);
            SetDeliveryMode(regs.Slice(Lint0, 4), ExtInt);
            SetDeliveryMode(regs.Slice(Lint1, 4), Nmi);
        }
        Kvm.Ioctl(_fd, Kvm.KVM_SET_LAPIC, ref lapic, "KVM_SET_LAPIC");

        static void SetDeliveryMode(Span<byte> reg, uint mode)
        {
            var v = BitConverter.ToUInt32(reg);
            v = (v & ~0x700u) | (mode << 8);
            BitConverter.TryWriteBytes(reg, v);
        }
    }

    /// <summary>Reads one model-specific register (KVM_GET_MSRS with a single entry).</summary>
    public ulong GetMsr(uint index)
    {
        var buffer = MsrBuffer(index, 0);
        var n = Kvm.IoctlBuffer(_fd, Kvm.KVM_GET_MSRS, buffer, "KVM_GET_MSRS", out var errno);
        if (n < 0) throw new KvmException($"KVM_GET_MSRS(0x{index:x})", errno);
        if (n != 1) throw new KvmException($"KVM_GET_MSRS: MSR 0x{index:x} is not supported by this KVM");
        return BitConverter.ToUInt64(buffer, 16);
    }

    /// <summary>Writes one model-specific register (KVM_SET_MSRS with a single entry).</summary>
    public void SetMsr(uint index, ulong value)
    {
        var buffer = MsrBuffer(index, value);
        var n = Kvm.IoctlBuffer(_fd, Kvm.KVM_SET_MSRS, buffer, "KVM_SET_MSRS", out var errno);
        if (n < 0) throw new KvmException($"KVM_SET_MSRS(0x{index:x})", errno);
        if (n != 1) throw new KvmException($"KVM_SET_MSRS: MSR 0x{index:x} was refused by this KVM");
    }

    /// <summary>kvm_msrs { nmsrs = 1 } followed by one kvm_msr_entry.</summary>
    private static byte[] MsrBuffer(uint index, ulong value)
    {
        var buffer = new byte[8 + Unsafe.SizeOf<kvm_msr_entry>()];
        BitConverter.TryWriteBytes(buffer.AsSpan(0, 4), 1u);
        BitConverter.TryWriteBytes(buffer.AsSpan(8, 4), index);
        BitConverter.TryWriteBytes(buffer.AsSpan(16, 8), value);
        return buffer;
    }

    /// <summary>KVM_MP_STATE_UNINITIALIZED: the in-kernel LAPIC keeps the vCPU out of the guest until INIT and SIPI arrive.</summary>
    public void WaitForStartupIpi() => SetMpState(Kvm.KVM_MP_STATE_UNINITIALIZED);

    /// <summary>KVM_NMI: the in-kernel LAPIC delivers an NMI on the next KVM_RUN (vCPU ioctls run on the vCPU's thread).</summary>
    public void InjectNmi() => Kvm.Ioctl(_fd, Kvm.KVM_NMI, 0, $"KVM_NMI(vCPU {Id})");

    public uint GetMpState()
    {
        kvm_mp_state s = default;
        Kvm.Ioctl(_fd, Kvm.KVM_GET_MP_STATE, ref s, "KVM_GET_MP_STATE");
        return s.mp_state;
    }

    public void SetMpState(uint state)
    {
        var s = new kvm_mp_state { mp_state = state };
        Kvm.Ioctl(_fd, Kvm.KVM_SET_MP_STATE, ref s, "KVM_SET_MP_STATE");
    }

    public void Dispose()
    {
        _run.Dispose();
        _fd.Dispose();
    }

    private static X86Segment FromKvm(in kvm_segment s) => new()
    {
        Base = s.@base, Limit = s.limit, Selector = s.selector, Type = s.type, Present = s.present, Dpl = s.dpl,
        Db = s.db, S = s.s, L = s.l, G = s.g, Avl = s.avl, Unusable = s.unusable,
    };

    private static kvm_segment ToKvm(in X86Segment s) => new()
    {
        @base = s.Base, limit = s.Limit, selector = s.Selector, type = s.Type, present = s.Present, dpl = s.Dpl,
        db = s.Db, s = s.S, l = s.L, g = s.G, avl = s.Avl, unusable = s.Unusable,
    };
}
