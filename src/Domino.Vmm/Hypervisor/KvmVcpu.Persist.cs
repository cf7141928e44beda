using System.Buffers.Binary;
using Domino.Vmm.Interop;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Hypervisor;

/// <summary>
/// Everything KVM holds for one vCPU, as the kernel's own structs (kept as bytes so a snapshot
/// restores exactly what was read). <see cref="Xsave"/> is empty when the host has no XSAVE;
/// <see cref="Fpu"/> is then the legacy kvm_fpu.
/// </summary>
public sealed class KvmVcpuState
{
    public required byte[] Regs { get; init; }
    public required byte[] Sregs { get; init; }
    public required byte[] Xsave { get; init; }
    public required byte[] Fpu { get; init; }
    public required byte[] Xcrs { get; init; }
    public required byte[] Events { get; init; }
    public required byte[] DebugRegs { get; init; }
    public required byte[] Lapic { get; init; }
    public required uint MpState { get; init; }
    public required (uint Index, ulong Value)[] Msrs { get; init; }

    /// <summary>The guest's instruction pointer, for reports.</summary>
    public ulong Rip => BinaryPrimitives.ReadUInt64LittleEndian(Regs.AsSpan(16 * 8));
}

public sealed partial class KvmVcpu : ISnapshotVcpu
{
    /// <summary>
    /// Reads the vCPU's whole state. The vCPU must be out of KVM_RUN with any I/O it exited for
    /// completed (see <see cref="CompletePendingIo"/>), as api.rst requires before saving.
    /// </summary>
    public KvmVcpuState SaveState()
    {
        var hv = Vm.Hypervisor;
        kvm_regs regs = default;
        Kvm.Ioctl(_fd, Kvm.KVM_GET_REGS, ref regs, "KVM_GET_REGS");
        kvm_sregs sregs = default;
        Kvm.Ioctl(_fd, Kvm.KVM_GET_SREGS, ref sregs, "KVM_GET_SREGS");
        var xsaveSize = hv.XsaveSize;
        var xsave = Array.Empty<byte>();
        var fpu = Array.Empty<byte>();
        if (xsaveSize > 0)
        {
            xsave = new byte[xsaveSize];
            var request = xsaveSize > kvm_xsave.Size ? KvmPersist.KVM_GET_XSAVE2 : KvmPersist.KVM_GET_XSAVE;
            if (Kvm.IoctlBuffer(_fd, request, xsave, "KVM_GET_XSAVE", out var errno) < 0) throw new KvmException($"KVM_GET_XSAVE(vCPU {Id})", errno);
        }
        else
        {
            kvm_fpu f = default;
            Kvm.Ioctl(_fd, Kvm.KVM_GET_FPU, ref f, "KVM_GET_FPU");
            fpu = Blob.From(f);
        }
        var xcrs = Array.Empty<byte>();
        if (hv.HasCapability(KvmPersist.KVM_CAP_XCRS))
        {
            kvm_xcrs x = default;
            Kvm.Ioctl(_fd, KvmPersist.KVM_GET_XCRS, ref x, "KVM_GET_XCRS");
            xcrs = Blob.From(x);
        }
        kvm_vcpu_events events = default;
        Kvm.Ioctl(_fd, KvmPersist.KVM_GET_VCPU_EVENTS, ref events, "KVM_GET_VCPU_EVENTS");
        kvm_debugregs debug = default;
        Kvm.Ioctl(_fd, KvmPersist.KVM_GET_DEBUGREGS, ref debug, "KVM_GET_DEBUGREGS");
        kvm_lapic_state lapic = default;
        Kvm.Ioctl(_fd, Kvm.KVM_GET_LAPIC, ref lapic, "KVM_GET_LAPIC");
        return new KvmVcpuState
        {
            Regs = Blob.From(regs),
            Sregs = Blob.From(sregs),
            Xsave = xsave,
            Fpu = fpu,
            Xcrs = xcrs,
            Events = Blob.From(events),
            DebugRegs = Blob.From(debug),
            Lapic = Blob.From(lapic),
            MpState = GetMpState(),
            Msrs = ReadMsrs(hv.GetMsrIndexList()),
        };
    }

    /// <summary>
    /// Writes a saved state back, in the order that keeps each step valid (as Firecracker's
    /// vcpu restore does): MP state, registers, FPU/XSAVE, XCRs, debug registers, LAPIC, MSRs
    /// (after the LAPIC, for the TSC-deadline timer), pending events last.
    /// </summary>
    public void RestoreState(KvmVcpuState s)
    {
        SetMpState(s.MpState);
        var regs = Blob.To<kvm_regs>(s.Regs, "saved kvm_regs");
        var sregs = Blob.To<kvm_sregs>(s.Sregs, "saved kvm_sregs");
        Kvm.Ioctl(_fd, Kvm.KVM_SET_SREGS, ref sregs, "KVM_SET_SREGS");
        Kvm.Ioctl(_fd, Kvm.KVM_SET_REGS, ref regs, "KVM_SET_REGS");
        if (s.Xsave.Length > 0)
        {
            var buffer = s.Xsave;
            if (buffer.Length < kvm_xsave.Size) throw new ArgumentException($"saved XSAVE area is {buffer.Length} bytes, less than kvm_xsave");
            if (Kvm.IoctlBuffer(_fd, KvmPersist.KVM_SET_XSAVE, buffer, "KVM_SET_XSAVE", out var errno) < 0) throw new KvmException($"KVM_SET_XSAVE(vCPU {Id})", errno);
        }
        else
        {
            var fpu = Blob.To<kvm_fpu>(s.Fpu, "saved kvm_fpu");
            Kvm.Ioctl(_fd, Kvm.KVM_SET_FPU, ref fpu, "KVM_SET_FPU");
        }
        if (s.Xcrs.Length > 0)
        {
            var xcrs = Blob.To<kvm_xcrs>(s.Xcrs, "saved kvm_xcrs");
            Kvm.Ioctl(_fd, KvmPersist.KVM_SET_XCRS, ref xcrs, "KVM_SET_XCRS");
        }
        var debug = Blob.To<kvm_debugregs>(s.DebugRegs, "saved kvm_debugregs");
        Kvm.Ioctl(_fd, KvmPersist.KVM_SET_DEBUGREGS, ref debug, "KVM_SET_DEBUGREGS");
        var lapic = Blob.To<kvm_lapic_state>(s.Lapic, "saved kvm_lapic_state");
        Kvm.Ioctl(_fd, Kvm.KVM_SET_LAPIC, ref lapic, "KVM_SET_LAPIC");
        WriteMsrs(s.Msrs);
        var events = Blob.To<kvm_vcpu_events>(s.Events, "saved kvm_vcpu_events");
        Kvm.Ioctl(_fd, KvmPersist.KVM_SET_VCPU_EVENTS, ref events, "KVM_SET_VCPU_EVENTS");
    }

    /// <summary>
    /// Completes an I/O or MMIO exit the VMM has handled but KVM has not yet finished (an IN's data
    /// into RAX, RIP past the instruction): KVM_RUN with immediate_exit set does that and returns
    /// EINTR without entering the guest (api.rst, "immediate_exit"). Called on the vCPU's thread.
    /// </summary>
    public void CompletePendingIo()
    {
        // SAFETY: RunPage is valid while the vCPU exists; a one-byte store the kernel reads on KVM_RUN entry.
        unsafe { Volatile.Write(ref RunPage->immediate_exit, 1); }
        var r = Libc.Ioctl(_fd, Kvm.KVM_RUN, 0, out var errno);
        if (r < 0 && errno is not (Libc.EINTR or Libc.EAGAIN)) throw new KvmException($"KVM_RUN(vCPU {Id}, immediate_exit)", errno);
    }

    /// <summary>Reads every MSR in <paramref name="indices"/> that KVM can read here; the others are skipped.</summary>
    private (uint Index, ulong Value)[] ReadMsrs(uint[] indices)
    {
        var result = new List<(uint, ulong)>(indices.Length);
        var pos = 0;
        while (pos < indices.Length)
        {
            var n = Math.Min(KvmPersist.MaxMsrsPerCall, indices.Length - pos);
            var buffer = MsrBuffer(n, i => (indices[pos + i], 0));
            var r = Kvm.IoctlBuffer(_fd, Kvm.KVM_GET_MSRS, buffer, "KVM_GET_MSRS", out var errno);
            if (r < 0) throw new KvmException($"KVM_GET_MSRS(vCPU {Id})", errno);
            // KVM stops at the first MSR it cannot read and returns how many it read.
            for (var i = 0; i < r; i++) result.Add(MsrAt(buffer, i));
            pos += r < n ? r + 1 : n;
        }
        return result.ToArray();
    }

    private void WriteMsrs((uint Index, ulong Value)[] msrs)
    {
        var pos = 0;
        var refused = new List<uint>();
        while (pos < msrs.Length)
        {
            var n = Math.Min(KvmPersist.MaxMsrsPerCall, msrs.Length - pos);
            var buffer = MsrBuffer(n, i => msrs[pos + i]);
            var r = Kvm.IoctlBuffer(_fd, Kvm.KVM_SET_MSRS, buffer, "KVM_SET_MSRS", out var errno);
            if (r < 0) throw new KvmException($"KVM_SET_MSRS(vCPU {Id})", errno);
            if (r < n) refused.Add(msrs[pos + r].Index);
            pos += r < n ? r + 1 : n;
        }
        RefusedMsrs = refused;
    }

    /// <summary>MSRs the last <see cref="RestoreState"/> could not write (KVM refused them); normally none.</summary>
    public IReadOnlyList<uint> RefusedMsrs { get; private set; } = [];

    private static byte[] MsrBuffer(int n, Func<int, (uint Index, ulong Value)> entry)
    {
        var buffer = new byte[8 + n * 16];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)n);
        for (var i = 0; i < n; i++)
        {
            var (index, value) = entry(i);
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(8 + i * 16), index);
            BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(8 + i * 16 + 8), value);
        }
        return buffer;
    }

    private static (uint, ulong) MsrAt(byte[] buffer, int i) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(8 + i * 16)), BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(8 + i * 16 + 8)));
}
