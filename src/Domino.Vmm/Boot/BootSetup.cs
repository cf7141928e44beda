using System.Text;
using Domino.Vmm.Hypervisor;
using Domino.Vmm.Memory;

namespace Domino.Vmm.Boot;

/// <summary>The boot CPU's register state at the kernel's entry.</summary>
public readonly record struct BootCpuState(X86Registers Registers, X86SpecialRegisters SpecialRegisters);

/// <summary>Where things were put in guest memory, for reports and tests.</summary>
public sealed record BootInfo(BootProtocol Protocol, ulong Entry, ulong RamdiskAddress, ulong RamdiskSize, string CommandLine, BootCpuState Cpu);

/// <summary>
/// Loads a kernel (and ramdisk, command line) into guest memory and prepares the boot CPU's state
/// for its protocol: PVH (pvh.pandoc), or long mode with boot_params (Linux boot.rst, 64-bit protocol).
/// </summary>
public static class BootSetup
{
    // GDT descriptors: flat 4 GiB segments.
    internal const ulong Code32Descriptor = 0x00CF_9B00_0000_FFFF;
    internal const ulong Code64Descriptor = 0x00AF_9B00_0000_FFFF;
    internal const ulong DataDescriptor = 0x00CF_9300_0000_FFFF;
    internal const ulong TssDescriptor = 0x0000_8B00_0000_0067; // busy TSS, base 0, limit 0x67

    private const ulong CR0_PE = 1, CR0_ET = 1 << 4, CR0_NE = 1 << 5, CR0_PG = 1UL << 31;
    private const ulong CR4_PAE = 1 << 5;
    private const ulong EFER_LME = 1 << 8, EFER_LMA = 1 << 10;

    public static BootInfo Load(KernelImage kernel, GuestMemory memory, MemoryMap map, string commandLine, byte[]? ramdisk, ulong rsdpPaddr)
    {
        var cmdlineBytes = Encoding.ASCII.GetBytes(commandLine);
        if (cmdlineBytes.Length + 1 > kernel.CommandLineLimit)
            throw new KernelFormatException($"{kernel.Path}: command line is {cmdlineBytes.Length} bytes; this kernel accepts at most {kernel.CommandLineLimit - 1}");
        memory.Write(BootLayout.CommandLine, cmdlineBytes);
        memory.Write(BootLayout.CommandLine + (ulong)cmdlineBytes.Length, (byte)0);

        var entry = kernel.Load(memory);
        var (_, kernelEnd) = kernel.Footprint();

        ulong ramdiskAddr = 0, ramdiskSize = 0;
        if (ramdisk is { Length: > 0 })
        {
            ramdiskSize = (ulong)ramdisk.Length;
            var top = Math.Min(map.BelowFourGiBEnd, kernel.RamdiskLimit);
            ramdiskAddr = top >= ramdiskSize ? (top - ramdiskSize) & ~0xFFFUL : 0;
            if (ramdiskAddr < ((kernelEnd + 0xFFF) & ~0xFFFUL))
                throw new KernelFormatException($"ramdisk of {ramdiskSize >> 10} KiB does not fit between the kernel (ends 0x{kernelEnd:x}) and 0x{top:x}; give the guest more memory");
            memory.Write(ramdiskAddr, ramdisk);
        }

        BootCpuState cpu;
        if (kernel.Protocol == BootProtocol.Pvh)
        {
            WriteStartInfo(memory, map, ramdiskAddr, ramdiskSize, rsdpPaddr);
            WriteGdt(memory, Code32Descriptor);
            cpu = PvhCpuState(entry);
        }
        else
        {
            var zp = BootParams.Build(kernel, map, BootLayout.CommandLine, ramdiskAddr, ramdiskSize, rsdpPaddr);
            memory.Write(BootLayout.ZeroPage, zp);
            WriteGdt(memory, Code64Descriptor);
            WriteIdentityPageTables(memory);
            cpu = LongModeCpuState(entry);
        }
        return new BootInfo(kernel.Protocol, entry, ramdiskAddr, ramdiskSize, commandLine, cpu);
    }

    /// <summary>hvm_start_info + modlist + memmap (PVH ABI: ebx = start_info paddr).</summary>
    internal static void WriteStartInfo(GuestMemory memory, MemoryMap map, ulong ramdiskAddr, ulong ramdiskSize, ulong rsdpPaddr)
    {
        var e820 = map.E820;
        if (e820.Count > BootLayout.MaxMemmapEntries) throw new InvalidOperationException("memory map too large for the PVH memmap area");
        for (var i = 0; i < e820.Count; i++)
        {
            memory.Write(BootLayout.PvhMemmap + (ulong)(i * 24), new hvm_memmap_table_entry
            {
                addr = e820[i].Address,
                size = e820[i].Size,
                type = (uint)e820[i].Type,
            });
        }
        var info = new hvm_start_info
        {
            magic = hvm_start_info.XEN_HVM_START_MAGIC_VALUE,
            version = 1,
            cmdline_paddr = BootLayout.CommandLine,
            rsdp_paddr = rsdpPaddr,
            memmap_paddr = BootLayout.PvhMemmap,
            memmap_entries = (uint)e820.Count,
        };
        if (ramdiskSize > 0)
        {
            memory.Write(BootLayout.PvhModlist, new hvm_modlist_entry { paddr = ramdiskAddr, size = ramdiskSize });
            info.nr_modules = 1;
            info.modlist_paddr = BootLayout.PvhModlist;
        }
        memory.Write(BootLayout.PvhStartInfo, info);
    }

    /// <summary>GDT: null, null, code (0x10), data (0x18), TSS (0x20, 16 bytes for long mode); an empty IDT.</summary>
    internal static void WriteGdt(GuestMemory memory, ulong codeDescriptor)
    {
        ulong[] gdt = [0, 0, codeDescriptor, DataDescriptor, TssDescriptor, 0];
        for (var i = 0; i < gdt.Length; i++) memory.Write(BootLayout.Gdt + (ulong)(i * 8), gdt[i]);
        memory.Write(BootLayout.Idt, 0UL);
    }

    /// <summary>PML4 → one PDPT → four page directories of 2 MiB pages: guest-physical 0..4 GiB identity-mapped.</summary>
    internal static void WriteIdentityPageTables(GuestMemory memory)
    {
        memory.Fill(BootLayout.Pml4, 0x1000, 0);
        memory.Fill(BootLayout.Pdpt, 0x1000, 0);
        memory.Write(BootLayout.Pml4, BootLayout.Pdpt | 0x3); // present, writable
        for (ulong i = 0; i < 4; i++)
        {
            var pd = BootLayout.PageDirectories + i * 0x1000;
            memory.Write(BootLayout.Pdpt + i * 8, pd | 0x3);
            for (ulong j = 0; j < 512; j++)
                memory.Write(pd + j * 8, ((i * 512 + j) << 21) | 0x83); // present, writable, 2 MiB page
        }
    }

    private static X86SpecialRegisters BaseSegments(ulong codeDescriptor)
    {
        var data = X86Segment.FromDescriptor(BootLayout.DataSelector, DataDescriptor);
        return new X86SpecialRegisters
        {
            Cs = X86Segment.FromDescriptor(BootLayout.CodeSelector, codeDescriptor),
            Ds = data, Es = data, Fs = data, Gs = data, Ss = data,
            Tr = X86Segment.FromDescriptor(BootLayout.TssSelector, TssDescriptor),
            Ldt = new X86Segment { Type = 2, Present = 1, Limit = 0xFFFF, Unusable = 1 },
            GdtBase = BootLayout.Gdt, GdtLimit = 6 * 8 - 1,
            IdtBase = BootLayout.Idt, IdtLimit = 7,
        };
    }

    /// <summary>
    /// PVH ABI (docs/misc/pvh.pandoc): 32-bit protected mode, paging off; CR0 = PE (ET is fixed);
    /// CR4 = 0; cs flat 32-bit code, ds/es/ss flat data; tr a 32-bit TSS base 0 limit 0x67;
    /// EFLAGS with only the reserved bit 1; ebx = hvm_start_info; everything else 0.
    /// </summary>
    public static BootCpuState PvhCpuState(ulong entry)
    {
        var s = BaseSegments(Code32Descriptor);
        s.Cr0 = CR0_PE | CR0_ET;
        var r = new X86Registers { Rip = entry, Rbx = BootLayout.PvhStartInfo, Rflags = 0x2 };
        return new BootCpuState(r, s);
    }

    /// <summary>
    /// Linux 64-bit boot protocol: long mode, paging on with an identity map, __BOOT_CS/__BOOT_DS
    /// flat segments, interrupts off, rsi = boot_params.
    /// </summary>
    public static BootCpuState LongModeCpuState(ulong entry)
    {
        var s = BaseSegments(Code64Descriptor);
        s.Cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
        s.Cr3 = BootLayout.Pml4;
        s.Cr4 = CR4_PAE;
        s.Efer = EFER_LME | EFER_LMA;
        var r = new X86Registers { Rip = entry, Rsi = BootLayout.ZeroPage, Rsp = BootLayout.BootStack, Rbp = BootLayout.BootStack, Rflags = 0x2 };
        return new BootCpuState(r, s);
    }
}
