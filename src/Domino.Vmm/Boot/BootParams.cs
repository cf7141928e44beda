using System.Buffers.Binary;
using Domino.Vmm.Memory;

namespace Domino.Vmm.Boot;

/// <summary>
/// The Linux "zero page" (struct boot_params, arch/x86/include/uapi/asm/bootparam.h), built in a
/// 4 KiB buffer at the offsets the kernel defines.
/// </summary>
public static class BootParams
{
    public const int Size = 4096;
    public const int AcpiRsdpAddr = 0x070;
    public const int E820Entries = 0x1E8;
    public const int SetupHeader = 0x1F1;
    public const int BootFlag = 0x1FE;
    public const int Header = 0x202;
    public const int TypeOfLoader = 0x210;
    public const int Loadflags = 0x211;
    public const int RamdiskImage = 0x218;
    public const int RamdiskSize = 0x21C;
    public const int HeapEndPtr = 0x224;
    public const int CmdLinePtr = 0x228;
    public const int KernelAlignment = 0x230;
    public const int ExtRamdiskImage = 0x0C0;
    public const int ExtRamdiskSize = 0x0C4;
    public const int ExtCmdLinePtr = 0x0C8;
    public const int E820Table = 0x2D0;
    public const int E820MaxEntries = 128;
    public const int E820EntrySize = 20; // packed: u64 addr, u64 size, u32 type

    public const byte LoaderUndefined = 0xFF;
    public const byte CanUseHeap = 0x80;

    /// <summary>Builds boot_params for a bzImage (its setup header copied in) or a plain ELF64 kernel (a synthetic header).</summary>
    public static byte[] Build(KernelImage kernel, MemoryMap map, ulong cmdlinePaddr, ulong ramdiskPaddr, ulong ramdiskSize, ulong rsdpPaddr)
    {
        var zp = new byte[Size];
        var s = zp.AsSpan();
        if (kernel.Protocol == BootProtocol.BzImage)
        {
            kernel.SetupHeader().CopyTo(s[SetupHeader..]);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(s[BootFlag..], 0xAA55);
            BinaryPrimitives.WriteUInt32LittleEndian(s[Header..], KernelImage.HdrSMagic);
            BinaryPrimitives.WriteUInt32LittleEndian(s[KernelAlignment..], 0x0100_0000);
        }
        s[TypeOfLoader] = LoaderUndefined;
        s[Loadflags] |= CanUseHeap;
        BinaryPrimitives.WriteUInt16LittleEndian(s[HeapEndPtr..], 0xFE00);
        BinaryPrimitives.WriteUInt32LittleEndian(s[CmdLinePtr..], (uint)cmdlinePaddr);
        BinaryPrimitives.WriteUInt32LittleEndian(s[ExtCmdLinePtr..], (uint)(cmdlinePaddr >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(s[RamdiskImage..], (uint)ramdiskPaddr);
        BinaryPrimitives.WriteUInt32LittleEndian(s[RamdiskSize..], (uint)ramdiskSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[ExtRamdiskImage..], (uint)(ramdiskPaddr >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(s[ExtRamdiskSize..], (uint)(ramdiskSize >> 32));
        BinaryPrimitives.WriteUInt64LittleEndian(s[AcpiRsdpAddr..], rsdpPaddr);

        var entries = map.E820;
        if (entries.Count > E820MaxEntries) throw new InvalidOperationException("memory map has too many entries for boot_params");
        s[E820Entries] = (byte)entries.Count;
        for (var i = 0; i < entries.Count; i++)
        {
            var e = s.Slice(E820Table + i * E820EntrySize, E820EntrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(e, entries[i].Address);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], entries[i].Size);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], (uint)entries[i].Type);
        }
        return zp;
    }
}
