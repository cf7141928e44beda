using System.Buffers.Binary;

namespace Domino.Toolstack.Drivers;

/// <summary>x86-64 general registers of one vCPU, in the order of Linux's <c>user_regs_struct</c>.</summary>
public sealed record VcpuRegisters
{
    public ulong R15, R14, R13, R12, Rbp, Rbx, R11, R10, R9, R8, Rax, Rcx, Rdx, Rsi, Rdi, OrigRax,
        Rip, Cs, Rflags, Rsp, Ss, FsBase, GsBase, Ds, Es, Fs, Gs;

    public ulong[] ToUserRegs() =>
        [R15, R14, R13, R12, Rbp, Rbx, R11, R10, R9, R8, Rax, Rcx, Rdx, Rsi, Rdi, OrigRax,
         Rip, Cs, Rflags, Rsp, Ss, FsBase, GsBase, Ds, Es, Fs, Gs];
}

/// <summary>One range of guest-physical memory to dump; <paramref name="WriteTo"/> copies its bytes out.</summary>
public sealed record MemoryRegion(ulong GuestPhysical, ulong Size, Action<Stream> WriteTo)
{
    public static MemoryRegion FromBytes(ulong guestPhysical, byte[] bytes) => new(guestPhysical, (ulong)bytes.Length, s => s.Write(bytes));
}

/// <summary>
/// Writes an ELF64 core file (ET_CORE, EM_X86_64) the way crash(8) and gdb read guest dumps: one
/// PT_NOTE holding an NT_PRSTATUS per vCPU, then one PT_LOAD per memory region at its guest-physical address.
/// </summary>
public static class ElfCore
{
    private const int EhdrSize = 64, PhdrSize = 56, PrStatusSize = 336, PrRegOffset = 112;
    private const uint NtPrStatus = 1;

    public static void Write(Stream output, IReadOnlyList<VcpuRegisters> vcpus, IReadOnlyList<MemoryRegion> memory)
    {
        var noteName = "CORE\0\0\0\0"u8; // "CORE" + NUL, padded to 4-byte alignment
        var noteSize = vcpus.Count * (12 + noteName.Length + PrStatusSize);
        var phnum = 1 + memory.Count;
        var noteOffset = (ulong)(EhdrSize + phnum * PhdrSize);
        var dataOffset = Align(noteOffset + (ulong)noteSize, 4096);

        var header = new byte[dataOffset];
        var h = header.AsSpan();
        "\x7f"u8.CopyTo(h); "ELF"u8.CopyTo(h[1..]);
        h[4] = 2; h[5] = 1; h[6] = 1;                          // ELFCLASS64, little endian, EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(h[16..], 4);  // ET_CORE
        BinaryPrimitives.WriteUInt16LittleEndian(h[18..], 62); // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(h[32..], EhdrSize); // e_phoff
        BinaryPrimitives.WriteUInt16LittleEndian(h[52..], EhdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h[54..], PhdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h[56..], (ushort)phnum);

        WritePhdr(h[EhdrSize..], type: 4, flags: 0, noteOffset, 0, (ulong)noteSize, (ulong)noteSize, align: 4); // PT_NOTE
        var offset = dataOffset;
        for (var i = 0; i < memory.Count; i++)
        {
            var size = memory[i].Size;
            WritePhdr(h[(EhdrSize + (i + 1) * PhdrSize)..], type: 1, flags: 7, offset, memory[i].GuestPhysical, size, size, align: 4096);
            offset += size;
        }

        var n = h[(int)noteOffset..];
        for (var v = 0; v < vcpus.Count; v++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(n, 5);                 // namesz: "CORE\0"
            BinaryPrimitives.WriteUInt32LittleEndian(n[4..], PrStatusSize);
            BinaryPrimitives.WriteUInt32LittleEndian(n[8..], NtPrStatus);
            noteName.CopyTo(n[12..]);
            var prstatus = n[(12 + noteName.Length)..];
            BinaryPrimitives.WriteInt32LittleEndian(prstatus[32..], v + 1); // pr_pid: vCPU number + 1, as QEMU's dumps do
            var regs = vcpus[v].ToUserRegs();
            for (var r = 0; r < regs.Length; r++)
                BinaryPrimitives.WriteUInt64LittleEndian(prstatus[(PrRegOffset + r * 8)..], regs[r]);
            n = n[(12 + noteName.Length + PrStatusSize)..];
        }

        output.Write(header);
        foreach (var region in memory) region.WriteTo(output);
    }

    private static void WritePhdr(Span<byte> p, uint type, uint flags, ulong offset, ulong paddr, ulong filesz, ulong memsz, ulong align)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(p, type);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], offset);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], paddr); // p_vaddr: guest-physical too (no paging information)
        BinaryPrimitives.WriteUInt64LittleEndian(p[24..], paddr);
        BinaryPrimitives.WriteUInt64LittleEndian(p[32..], filesz);
        BinaryPrimitives.WriteUInt64LittleEndian(p[40..], memsz);
        BinaryPrimitives.WriteUInt64LittleEndian(p[48..], align);
    }

    private static ulong Align(ulong value, ulong to) => (value + to - 1) / to * to;
}
