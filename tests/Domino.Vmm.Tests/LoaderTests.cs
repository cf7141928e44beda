using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Domino.Vmm.Boot;
using Domino.Vmm.Memory;

namespace Domino.Vmm.Tests;

public class LoaderTests
{
    private static byte[] Code => TestKernels.HelloCode("x\n");

    [Fact]
    public void Elf32_with_4_byte_pvh_note_is_pvh()
    {
        var k = KernelImage.Identify("k", TestKernels.PvhElf32(Code, noteDescSize: 4));
        Assert.Equal(BootProtocol.Pvh, k.Protocol);
        Assert.Equal(TestKernels.LoadAddress, k.Elf!.PvhEntry);
    }

    [Fact]
    public void Elf64_with_8_byte_pvh_note_is_pvh()
    {
        var k = KernelImage.Identify("k", TestKernels.Elf64(Code, withNote: true));
        Assert.Equal(BootProtocol.Pvh, k.Protocol);
        Assert.Equal(TestKernels.LoadAddress, k.Elf!.PvhEntry);
    }

    [Fact]
    public void Elf64_without_note_boots_in_long_mode()
    {
        var k = KernelImage.Identify("k", TestKernels.Elf64(Code));
        Assert.Equal(BootProtocol.Elf64, k.Protocol);
        Assert.Single(k.Elf!.Segments);
    }

    [Fact]
    public void Elf32_without_note_is_refused_by_name()
    {
        var e = Assert.Throws<KernelFormatException>(() => KernelImage.Identify("guest.elf", TestKernels.PvhElf32(Code, withNote: false)));
        Assert.StartsWith("guest.elf: ", e.Message);
        Assert.Contains("PVH", e.Message);
    }

    [Fact]
    public void Random_file_is_refused_with_what_was_expected()
    {
        var e = Assert.Throws<KernelFormatException>(() => KernelImage.Identify("notes.txt", "hello world, not a kernel"u8.ToArray()));
        Assert.Contains("notes.txt: not a bootable kernel", e.Message);
        Assert.Contains("bzImage", e.Message);
    }

    [Fact]
    public void Segment_outside_the_file_is_refused()
    {
        var elf = TestKernels.Elf64(Code);
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(64 + 32), 0x10_0000); // p_filesz far beyond the file
        var e = Assert.Throws<KernelFormatException>(() => KernelImage.Identify("big.elf", elf));
        Assert.Contains("outside the file", e.Message);
    }

    [Fact]
    public void Program_headers_outside_the_file_are_refused()
    {
        var elf = TestKernels.Elf64(Code);
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(0x20), 0xFFFF_FFFF_0000);
        Assert.Throws<KernelFormatException>(() => KernelImage.Identify("ph.elf", elf));
    }

    [Fact]
    public void Truncated_note_is_ignored_not_overread()
    {
        Span<byte> note = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(note, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(note[4..], 0x1000); // descsz beyond the area
        BinaryPrimitives.WriteUInt32LittleEndian(note[8..], 18);
        "Xen\0"u8.CopyTo(note[12..]);
        Assert.Null(ElfImage.FindPvhNote(note));
    }

    [Fact]
    public void Kernel_that_does_not_fit_is_refused_before_boot()
    {
        var k = KernelImage.Identify("k", TestKernels.Elf64(Code));
        k.CheckFits(MemoryMap.ForSize(8 << 20));
        var low = TestKernels.Elf64(Code);
        BinaryPrimitives.WriteUInt64LittleEndian(low.AsSpan(64 + 24), 0x8000); // p_paddr below 1 MiB
        var e = Assert.Throws<KernelFormatException>(() => KernelImage.Identify("low.elf", low).CheckFits(MemoryMap.ForSize(64 << 20)));
        Assert.Contains("does not fit", e.Message);
    }

    internal static byte[] FakeBzImage(ushort version = 0x20F, ushort xloadflags = 1, int setupSects = 4)
    {
        var file = new byte[(setupSects + 1) * 512 + 4096];
        var s = file.AsSpan();
        s[0x1F1] = (byte)setupSects;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1FE..], 0xAA55);
        s[0x200] = 0xEB; s[0x201] = 0x6A; // jmp to end of header
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x202..], 0x53726448);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x206..], version);
        s[0x211] = 0x01; // LOADED_HIGH
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x214..], 0x100000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x22C..], 0x37FFFFFF);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x230..], 0x200000);
        s[0x234] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x236..], xloadflags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x238..], 2047);
        BinaryPrimitives.WriteUInt64LittleEndian(s[0x258..], 0x1000000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x260..], 0x100000);
        s[(setupSects + 1) * 512] = 0xF4; // payload starts with hlt
        return file;
    }

    [Fact]
    public void BzImage_is_recognised_and_loaded_at_pref_address()
    {
        var k = KernelImage.Identify("vmlinuz", FakeBzImage());
        Assert.Equal(BootProtocol.BzImage, k.Protocol);
        Assert.Equal(0x20F, k.BootProtocolVersion);
        Assert.Equal(2048, k.CommandLineLimit);
        using var ram = GuestRam.Create(MemoryMap.ForSize(64 << 20), null);
        var info = BootSetup.Load(k, ram.Memory, ram.Map, "console=ttyS0", null, BootLayout.Rsdp);
        Assert.Equal(0x1000000UL + 0x200, info.Entry);
        Assert.Equal(0xF4, ram.Memory.Read<byte>(0x1000000));
        var zp = ram.Memory.GetSpan(BootLayout.ZeroPage, BootParams.Size);
        Assert.Equal(0xFF, zp[BootParams.TypeOfLoader]);
        Assert.Equal(BootParams.CanUseHeap | 1, zp[BootParams.Loadflags]);
        Assert.Equal((uint)BootLayout.CommandLine, BinaryPrimitives.ReadUInt32LittleEndian(zp[BootParams.CmdLinePtr..]));
        Assert.Equal(0x53726448u, BinaryPrimitives.ReadUInt32LittleEndian(zp[BootParams.Header..]));
        Assert.Equal(ram.Map.E820.Count, zp[BootParams.E820Entries]);
        Assert.Equal(BootLayout.ZeroPage, info.Cpu.Registers.Rsi);
        Assert.Equal(1, info.Cpu.SpecialRegisters.Cs.L);
    }

    [Theory]
    [InlineData(0x20B, 1, "too old")]
    [InlineData(0x20F, 0, "XLF_KERNEL_64")]
    public void BzImage_without_a_64_bit_entry_is_refused(int version, int xloadflags, string expected)
    {
        var e = Assert.Throws<KernelFormatException>(() => KernelImage.Identify("old-vmlinuz", FakeBzImage((ushort)version, (ushort)xloadflags)));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("old-vmlinuz: ", e.Message);
    }

    [Fact]
    public void Command_line_longer_than_the_kernel_accepts_is_refused()
    {
        var k = KernelImage.Identify("vmlinuz", FakeBzImage());
        using var ram = GuestRam.Create(MemoryMap.ForSize(64 << 20), null);
        var e = Assert.Throws<KernelFormatException>(() => BootSetup.Load(k, ram.Memory, ram.Map, new string('a', 3000), null, 0));
        Assert.Contains("at most 2047", e.Message);
    }

    [Fact]
    public void Pvh_start_info_describes_cmdline_memmap_ramdisk_and_rsdp()
    {
        var k = KernelImage.Identify("k", TestKernels.PvhElf32(Code));
        using var ram = GuestRam.Create(MemoryMap.ForSize(64 << 20), null);
        var initrd = new byte[10000];
        initrd[0] = 0xAB;
        var info = BootSetup.Load(k, ram.Memory, ram.Map, "root=/dev/vda", initrd, BootLayout.Rsdp);
        var si = ram.Memory.Read<hvm_start_info>(BootLayout.PvhStartInfo);
        Assert.Equal(0x336ec578u, si.magic);
        Assert.Equal(1u, si.version);
        Assert.Equal(BootLayout.Rsdp, si.rsdp_paddr);
        Assert.Equal("root=/dev/vda\0", System.Text.Encoding.ASCII.GetString(ram.Memory.GetSpan(si.cmdline_paddr, 14)));
        Assert.Equal((uint)ram.Map.E820.Count, si.memmap_entries);
        for (var i = 0; i < ram.Map.E820.Count; i++)
        {
            var e = ram.Memory.Read<hvm_memmap_table_entry>(si.memmap_paddr + (ulong)(24 * i));
            Assert.Equal(ram.Map.E820[i].Address, e.addr);
            Assert.Equal(ram.Map.E820[i].Size, e.size);
            Assert.Equal((uint)ram.Map.E820[i].Type, e.type);
        }
        Assert.Equal(1u, si.nr_modules);
        var mod = ram.Memory.Read<hvm_modlist_entry>(si.modlist_paddr);
        Assert.Equal(10000UL, mod.size);
        Assert.Equal(0UL, mod.paddr & 0xFFF);
        Assert.Equal(64UL << 20, (mod.paddr + mod.size + 0xFFF) & ~0xFFFUL);
        Assert.Equal(0xAB, ram.Memory.Read<byte>(mod.paddr));
        Assert.Equal(info.RamdiskAddress, mod.paddr);
    }

    [Fact]
    public void Pvh_register_state_follows_the_abi()
    {
        var s = BootSetup.PvhCpuState(0x100000);
        Assert.Equal(BootLayout.PvhStartInfo, s.Registers.Rbx);
        Assert.Equal(0x100000UL, s.Registers.Rip);
        Assert.Equal(0x2UL, s.Registers.Rflags);
        Assert.Equal(0UL, s.Registers.Rax | s.Registers.Rcx | s.Registers.Rdx | s.Registers.Rsi | s.Registers.Rdi | s.Registers.Rsp);
        var sr = s.SpecialRegisters;
        Assert.Equal(1UL, sr.Cr0 & 1);                 // PE
        Assert.Equal(0UL, sr.Cr0 & 0x8000_0000);       // paging off
        Assert.Equal(0UL, sr.Cr4);
        Assert.Equal(0UL, sr.Efer);
        Assert.Equal((0UL, 0xFFFF_FFFFu, (byte)1, (byte)0), (sr.Cs.Base, sr.Cs.Limit, sr.Cs.Db, sr.Cs.L));
        Assert.Equal(0xB, sr.Cs.Type);
        foreach (var d in new[] { sr.Ds, sr.Es, sr.Ss })
        {
            Assert.Equal((0UL, 0xFFFF_FFFFu, (byte)3), (d.Base, d.Limit, d.Type));
        }
        Assert.Equal((0UL, 0x67u, (byte)0xB), (sr.Tr.Base, sr.Tr.Limit, sr.Tr.Type)); // 32-bit busy TSS
    }

    [Fact]
    public void Identity_page_tables_map_4_GiB()
    {
        using var ram = GuestRam.Create(MemoryMap.ForSize(16 << 20), null);
        BootSetup.WriteIdentityPageTables(ram.Memory);
        Assert.Equal(BootLayout.Pdpt | 3, ram.Memory.Read<ulong>(BootLayout.Pml4));
        for (ulong gib = 0; gib < 4; gib++)
        {
            var pd = ram.Memory.Read<ulong>(BootLayout.Pdpt + gib * 8) & ~0xFFFUL;
            Assert.Equal((gib << 30) | 0x83, ram.Memory.Read<ulong>(pd));
            Assert.Equal(((gib << 30) + (511UL << 21)) | 0x83, ram.Memory.Read<ulong>(pd + 511 * 8));
        }
    }

    [Fact]
    public void Page_walker_follows_the_identity_map_and_refuses_holes()
    {
        using var ram = GuestRam.Create(MemoryMap.ForSize(16 << 20), null);
        BootSetup.WriteIdentityPageTables(ram.Memory);
        var s = BootSetup.LongModeCpuState(0x100000).SpecialRegisters;
        Assert.Equal(0x1234_5678UL, GuestPageWalker.Translate(ram.Memory, s, 0x1234_5678));
        Assert.Null(GuestPageWalker.Translate(ram.Memory, s, 0x1_0000_0000)); // beyond the 4 GiB map
        ram.Memory.Write(0x100000, (ushort)0x0B0F);
        var r = new Hypervisor.X86Registers { Rip = 0x100000 };
        Assert.Equal([0x0F, 0x0B], GuestPageWalker.ReadCode(ram.Memory, r, s, 2));
        var flat = BootSetup.PvhCpuState(0x100000).SpecialRegisters;
        Assert.Equal(0x100000UL, GuestPageWalker.Translate(ram.Memory, flat, 0x100000)); // paging off
    }

    [Fact]
    public void Start_info_structs_match_the_xen_abi()
    {
        Assert.Equal(56, Marshal.SizeOf<hvm_start_info>());
        Assert.Equal(32, Marshal.SizeOf<hvm_modlist_entry>());
        Assert.Equal(24, Marshal.SizeOf<hvm_memmap_table_entry>());
        Assert.Equal(8, (int)Marshal.OffsetOf<hvm_start_info>(nameof(hvm_start_info.nr_modules)) - 4);
        Assert.Equal(16, (int)Marshal.OffsetOf<hvm_start_info>(nameof(hvm_start_info.modlist_paddr)));
        Assert.Equal(24, (int)Marshal.OffsetOf<hvm_start_info>(nameof(hvm_start_info.cmdline_paddr)));
        Assert.Equal(32, (int)Marshal.OffsetOf<hvm_start_info>(nameof(hvm_start_info.rsdp_paddr)));
        Assert.Equal(40, (int)Marshal.OffsetOf<hvm_start_info>(nameof(hvm_start_info.memmap_paddr)));
        Assert.Equal(48, (int)Marshal.OffsetOf<hvm_start_info>(nameof(hvm_start_info.memmap_entries)));
        Assert.Equal(16, (int)Marshal.OffsetOf<hvm_memmap_table_entry>(nameof(hvm_memmap_table_entry.type)));
    }
}
