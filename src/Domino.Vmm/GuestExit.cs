using System.Text;
using Domino.Vmm.Hypervisor;

namespace Domino.Vmm;

/// <summary>How a guest ended.</summary>
public enum VmExitReason
{
    /// <summary>The guest powered off: debug-exit port, ACPI S5 or a KVM shutdown system event.</summary>
    Poweroff,
    /// <summary>The guest asked to reset: i8042 0xFE, ACPI reset, triple fault, KVM reset event.</summary>
    Reboot,
    /// <summary>The guest (or its emulation) failed: KVM internal error, entry failure, unhandled exit, device fault.</summary>
    Crash,
    /// <summary>The host stopped the VM (timeout, Ctrl-C, Dispose) before the guest ended.</summary>
    Stopped,
}

/// <summary>The register state of one vCPU at the moment it stopped.</summary>
public sealed record VcpuSnapshot(int VcpuId, X86Registers Registers, X86SpecialRegisters SpecialRegisters)
{
    /// <summary>Up to 16 instruction bytes at rip, when they could be found in guest RAM.</summary>
    public byte[]? CodeAtRip { get; init; }

    /// <summary>A human-readable dump: instruction and stack pointers, control registers, segments, general registers.</summary>
    public string Format()
    {
        var r = Registers;
        var s = SpecialRegisters;
        var b = new StringBuilder();
        b.AppendLine($"vCPU {VcpuId}:");
        b.AppendLine($"  rip {r.Rip:x16}  rsp {r.Rsp:x16}  rflags {r.Rflags:x8}");
        b.AppendLine($"  cr0 {s.Cr0:x16}  cr2 {s.Cr2:x16}  cr3 {s.Cr3:x16}  cr4 {s.Cr4:x16}  efer {s.Efer:x}");
        b.AppendLine($"  cs {s.Cs.Selector:x4} base {s.Cs.Base:x} l={s.Cs.L} db={s.Cs.Db}  ds {s.Ds.Selector:x4} base {s.Ds.Base:x}  " +
                     $"ss {s.Ss.Selector:x4} base {s.Ss.Base:x}  fs base {s.Fs.Base:x}  gs base {s.Gs.Base:x}  tr {s.Tr.Selector:x4}");
        b.AppendLine($"  gdt {s.GdtBase:x}/{s.GdtLimit:x}  idt {s.IdtBase:x}/{s.IdtLimit:x}");
        b.AppendLine($"  rax {r.Rax:x16}  rbx {r.Rbx:x16}  rcx {r.Rcx:x16}  rdx {r.Rdx:x16}");
        b.AppendLine($"  rsi {r.Rsi:x16}  rdi {r.Rdi:x16}  rbp {r.Rbp:x16}  r8  {r.R8:x16}");
        b.AppendLine($"  r9  {r.R9:x16}  r10 {r.R10:x16}  r11 {r.R11:x16}  r12 {r.R12:x16}");
        b.Append($"  r13 {r.R13:x16}  r14 {r.R14:x16}  r15 {r.R15:x16}");
        if (CodeAtRip is { Length: > 0 } code) b.Append("\n  code at rip: " + string.Join(' ', code.Select(x => x.ToString("x2"))));
        return b.ToString();
    }
}

/// <summary>The end of a guest: the reason, a one-line detail, and for crashes and triple faults the stopped vCPU's registers.</summary>
public sealed record GuestExit(VmExitReason Reason, string Detail, VcpuSnapshot? Vcpu = null)
{
    public override string ToString() => Vcpu is null ? $"{Reason}: {Detail}" : $"{Reason}: {Detail}\n{Vcpu.Format()}";
}
