using System.Buffers.Binary;
using Domino.Vmm.Memory;

namespace Domino.Vmm.Boot;

/// <summary>How a kernel is entered.</summary>
public enum BootProtocol
{
    /// <summary>Xen PVH: 32-bit protected mode, paging off, ebx = hvm_start_info.</summary>
    Pvh,
    /// <summary>Plain 64-bit ELF: long mode, identity-mapped 4 GiB, rsi = Linux boot_params.</summary>
    Elf64,
    /// <summary>Linux bzImage via the x86 boot protocol's 64-bit entry (code32_start + 0x200).</summary>
    BzImage,
}

/// <summary>
/// A kernel file identified and checked before any VM exists. <see cref="Identify"/> refuses
/// anything that is not a PVH ELF, a 64-bit ELF or a bzImage with a clear message.
/// </summary>
public sealed class KernelImage
{
    // Linux boot protocol (Documentation/arch/x86/boot.rst) setup header offsets within the file / boot_params.
    internal const int SetupSectsOffset = 0x1F1;
    internal const int BootFlagOffset = 0x1FE;
    internal const int HeaderMagicOffset = 0x202;
    internal const int VersionOffset = 0x206;
    internal const int LoadflagsOffset = 0x211;
    internal const int Code32StartOffset = 0x214;
    internal const int InitrdAddrMaxOffset = 0x22C;
    internal const int KernelAlignmentOffset = 0x230;
    internal const int RelocatableOffset = 0x234;
    internal const int XloadflagsOffset = 0x236;
    internal const int CmdlineSizeOffset = 0x238;
    internal const int PrefAddressOffset = 0x258;
    internal const int InitSizeOffset = 0x260;
    internal const uint HdrSMagic = 0x53726448; // "HdrS"
    internal const ushort XLF_KERNEL_64 = 1;

    private KernelImage(string path, byte[] file, BootProtocol protocol, ElfImage? elf)
    {
        Path = path;
        File = file;
        Protocol = protocol;
        Elf = elf;
    }

    public string Path { get; }

    public BootProtocol Protocol { get; }

    internal byte[] File { get; }

    internal ElfImage? Elf { get; }

    /// <summary>Boot protocol version of a bzImage (e.g. 0x20F), 0 otherwise.</summary>
    public ushort BootProtocolVersion => Protocol == BootProtocol.BzImage ? BinaryPrimitives.ReadUInt16LittleEndian(File.AsSpan(VersionOffset)) : (ushort)0;

    /// <summary>Highest address a ramdisk may end at (bzImage initrd_addr_max), or none.</summary>
    public ulong RamdiskLimit => Protocol == BootProtocol.BzImage
        ? (ulong)BinaryPrimitives.ReadUInt32LittleEndian(File.AsSpan(InitrdAddrMaxOffset)) + 1
        : ulong.MaxValue;

    /// <summary>Longest command line the kernel accepts, including the NUL.</summary>
    public int CommandLineLimit => Protocol == BootProtocol.BzImage && BootProtocolVersion >= 0x206
        ? (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(File.AsSpan(CmdlineSizeOffset)) + 1, (uint)BootLayout.CommandLineCapacity)
        : BootLayout.CommandLineCapacity;

    /// <summary>Reads and identifies <paramref name="path"/>; throws <see cref="KernelFormatException"/> or IO exceptions naming it.</summary>
    public static KernelImage Identify(string path)
    {
        byte[] file;
        try
        {
            file = System.IO.File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KernelFormatException($"{path}: cannot read kernel: {e.Message}");
        }
        return Identify(path, file);
    }

    public static KernelImage Identify(string name, byte[] file)
    {
        if (ElfImage.HasElfMagic(file))
        {
            var elf = ElfImage.Parse(file, name);
            if (elf.PvhEntry is not null) return new KernelImage(name, file, BootProtocol.Pvh, elf);
            if (elf.Is64Bit) return new KernelImage(name, file, BootProtocol.Elf64, elf);
            throw new KernelFormatException($"{name}: 32-bit ELF without a Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, type 18): " +
                "Domino boots PVH ELFs, 64-bit ELFs and bzImages");
        }
        if (file.Length > 0x270 && BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(HeaderMagicOffset)) == HdrSMagic)
        {
            var version = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(VersionOffset));
            if (version < 0x20C)
                throw new KernelFormatException($"{name}: bzImage boot protocol {version >> 8}.{version & 0xFF:d2} is too old: the 64-bit entry needs 2.12 or later");
            var xloadflags = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(XloadflagsOffset));
            if ((xloadflags & XLF_KERNEL_64) == 0)
                throw new KernelFormatException($"{name}: bzImage has no 64-bit entry point (XLF_KERNEL_64 not set in xloadflags)");
            if ((file[LoadflagsOffset] & 1) == 0)
                throw new KernelFormatException($"{name}: bzImage is not loaded high (zImage); only bzImages are supported");
            var setupBytes = SetupSize(file);
            if (setupBytes >= file.Length)
                throw new KernelFormatException($"{name}: bzImage is truncated: setup_sects says {setupBytes} bytes of setup, file has {file.Length}");
            return new KernelImage(name, file, BootProtocol.BzImage, null);
        }
        throw new KernelFormatException($"{name}: not a bootable kernel: expected an ELF with a Xen PVH note (type 18), " +
            "a 64-bit ELF (vmlinux) or a Linux bzImage (\"HdrS\" at 0x202)");
    }

    internal static int SetupSize(ReadOnlySpan<byte> file)
    {
        var sects = file[SetupSectsOffset] == 0 ? 4 : file[SetupSectsOffset];
        return (sects + 1) * 512;
    }

    /// <summary>Guest-physical range the kernel will occupy, to check it fits before building the VM.</summary>
    public (ulong Start, ulong End) Footprint()
    {
        if (Elf is not null) return (Elf.LowestAddress, Elf.HighestAddress);
        var start = BzImageLoadAddress();
        var payload = (ulong)(File.Length - SetupSize(File));
        var initSize = BinaryPrimitives.ReadUInt32LittleEndian(File.AsSpan(InitSizeOffset));
        return (start, start + Math.Max(payload, initSize));
    }

    /// <summary>Checks the kernel fits in RAM above 1 MiB below the MMIO hole.</summary>
    public void CheckFits(MemoryMap map)
    {
        var (start, end) = Footprint();
        if (start < BootLayout.KernelStart || end > map.BelowFourGiBEnd)
            throw new KernelFormatException($"{Path}: kernel occupies 0x{start:x}-0x{end:x}, which does not fit in guest RAM " +
                $"0x{BootLayout.KernelStart:x}-0x{map.BelowFourGiBEnd:x} ({map.Size >> 20} MiB); give the guest more memory");
    }

    private ulong BzImageLoadAddress()
    {
        var pref = BinaryPrimitives.ReadUInt64LittleEndian(File.AsSpan(PrefAddressOffset));
        return pref >= BootLayout.KernelStart ? pref : BootLayout.KernelStart;
    }

    /// <summary>Copies the kernel into guest RAM and returns the entry point.</summary>
    internal ulong Load(GuestMemory memory)
    {
        if (Elf is not null)
        {
            foreach (var s in Elf.Segments)
            {
                memory.Write(s.PhysicalAddress, File.AsSpan((int)s.Offset, (int)s.FileSize));
                var bss = s.MemorySize - s.FileSize;
                if (bss > 0) memory.Fill(s.PhysicalAddress + s.FileSize, checked((int)bss), 0);
            }
            return Protocol == BootProtocol.Pvh ? Elf.PvhEntry!.Value : Elf.PhysicalEntry();
        }
        var load = BzImageLoadAddress();
        memory.Write(load, File.AsSpan(SetupSize(File)));
        return load + 0x200; // 64-bit entry: startup_64 is 0x200 past the 32-bit entry
    }

    /// <summary>The bzImage setup header bytes to copy into boot_params (0x1F1 up to the end the jump at 0x200 names).</summary>
    internal ReadOnlySpan<byte> SetupHeader()
    {
        var end = Math.Min(0x202 + File[0x201], 0x290);
        return File.AsSpan(SetupSectsOffset, end - SetupSectsOffset);
    }

    internal ulong BzImageCode32Start => BzImageLoadAddress();
}
