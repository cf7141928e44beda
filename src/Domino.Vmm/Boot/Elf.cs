using System.Buffers.Binary;

namespace Domino.Vmm.Boot;

/// <summary>A PT_LOAD segment: <see cref="FileSize"/> bytes from <see cref="Offset"/> go to guest-physical <see cref="PhysicalAddress"/>.</summary>
public readonly record struct ElfSegment(ulong Offset, ulong VirtualAddress, ulong PhysicalAddress, ulong FileSize, ulong MemorySize);

/// <summary>
/// The parts of an x86 ELF executable a VMM needs: class, entry, PT_LOAD segments and the Xen
/// PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, type 18, name "Xen"). Every offset read from the file
/// is checked against its length.
/// </summary>
public sealed class ElfImage
{
    public const uint PT_LOAD = 1;
    public const uint PT_NOTE = 4;
    public const uint XEN_ELFNOTE_PHYS32_ENTRY = 18;

    private ElfImage(bool is64, ulong entry, List<ElfSegment> segments, ulong? pvhEntry)
    {
        Is64Bit = is64;
        Entry = entry;
        Segments = segments;
        PvhEntry = pvhEntry;
    }

    public bool Is64Bit { get; }

    /// <summary>e_entry as written in the header (may be virtual).</summary>
    public ulong Entry { get; }

    public IReadOnlyList<ElfSegment> Segments { get; }

    /// <summary>The 32-bit physical PVH entry point, when the image carries the Xen note.</summary>
    public ulong? PvhEntry { get; }

    public ulong LowestAddress => Segments.Min(s => s.PhysicalAddress);

    public ulong HighestAddress => Segments.Max(s => s.PhysicalAddress + s.MemorySize);

    public static bool HasElfMagic(ReadOnlySpan<byte> file) =>
        file.Length >= 4 && file[0] == 0x7F && file[1] == (byte)'E' && file[2] == (byte)'L' && file[3] == (byte)'F';

    /// <summary>Parses <paramref name="file"/>; throws <see cref="KernelFormatException"/> naming <paramref name="name"/>.</summary>
    public static ElfImage Parse(ReadOnlySpan<byte> file, string name)
    {
        if (!HasElfMagic(file)) throw Bad(name, "no ELF magic");
        if (file.Length < 0x34) throw Bad(name, "truncated ELF header");
        var cls = file[4];
        if (cls is not (1 or 2)) throw Bad(name, $"unknown ELF class {cls}");
        if (file[5] != 1) throw Bad(name, "not little-endian");
        var is64 = cls == 2;
        var machine = BinaryPrimitives.ReadUInt16LittleEndian(file[0x12..]);
        if (machine is not (3 or 0x3E)) throw Bad(name, $"machine {machine} is not x86 (expected EM_386 or EM_X86_64)");
        if (is64 && file.Length < 0x40) throw Bad(name, "truncated ELF64 header");

        ulong entry, phoff;
        int phentsize, phnum;
        if (is64)
        {
            entry = BinaryPrimitives.ReadUInt64LittleEndian(file[0x18..]);
            phoff = BinaryPrimitives.ReadUInt64LittleEndian(file[0x20..]);
            phentsize = BinaryPrimitives.ReadUInt16LittleEndian(file[0x36..]);
            phnum = BinaryPrimitives.ReadUInt16LittleEndian(file[0x38..]);
            if (phentsize < 56) throw Bad(name, $"program header size {phentsize} is too small");
        }
        else
        {
            entry = BinaryPrimitives.ReadUInt32LittleEndian(file[0x18..]);
            phoff = BinaryPrimitives.ReadUInt32LittleEndian(file[0x1C..]);
            phentsize = BinaryPrimitives.ReadUInt16LittleEndian(file[0x2A..]);
            phnum = BinaryPrimitives.ReadUInt16LittleEndian(file[0x2C..]);
            if (phentsize < 32) throw Bad(name, $"program header size {phentsize} is too small");
        }
        if (phnum == 0) throw Bad(name, "no program headers");
        if (phoff > (ulong)file.Length || (ulong)phentsize * (ulong)phnum > (ulong)file.Length - phoff)
            throw Bad(name, "program headers lie outside the file");

        var segments = new List<ElfSegment>();
        ulong? pvhEntry = null;
        for (var i = 0; i < phnum; i++)
        {
            var ph = file.Slice((int)phoff + i * phentsize, phentsize);
            uint type;
            ulong offset, vaddr, paddr, filesz, memsz;
            if (is64)
            {
                type = BinaryPrimitives.ReadUInt32LittleEndian(ph);
                offset = BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
                vaddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[16..]);
                paddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[24..]);
                filesz = BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
                memsz = BinaryPrimitives.ReadUInt64LittleEndian(ph[40..]);
            }
            else
            {
                type = BinaryPrimitives.ReadUInt32LittleEndian(ph);
                offset = BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]);
                vaddr = BinaryPrimitives.ReadUInt32LittleEndian(ph[8..]);
                paddr = BinaryPrimitives.ReadUInt32LittleEndian(ph[12..]);
                filesz = BinaryPrimitives.ReadUInt32LittleEndian(ph[16..]);
                memsz = BinaryPrimitives.ReadUInt32LittleEndian(ph[20..]);
            }
            if (type is not (PT_LOAD or PT_NOTE)) continue;
            if (offset > (ulong)file.Length || filesz > (ulong)file.Length - offset)
                throw Bad(name, $"segment {i} (offset 0x{offset:x}, size 0x{filesz:x}) lies outside the file");
            if (type == PT_LOAD)
            {
                if (filesz > memsz) throw Bad(name, $"segment {i} has a file size larger than its memory size");
                if (memsz == 0) continue;
                if (paddr + memsz < paddr) throw Bad(name, $"segment {i} wraps around the address space");
                segments.Add(new ElfSegment(offset, vaddr, paddr, filesz, memsz));
            }
            else
            {
                pvhEntry ??= FindPvhNote(file.Slice((int)offset, (int)filesz));
            }
        }
        if (segments.Count == 0) throw Bad(name, "no loadable (PT_LOAD) segments");
        return new ElfImage(is64, entry, segments, pvhEntry);
    }

    /// <summary>Scans an ELF note area for Xen's PHYS32_ENTRY note; its descriptor is a 32- or 64-bit address.</summary>
    internal static ulong? FindPvhNote(ReadOnlySpan<byte> notes)
    {
        var pos = 0;
        while (notes.Length - pos >= 12)
        {
            var namesz = BinaryPrimitives.ReadUInt32LittleEndian(notes[pos..]);
            var descsz = BinaryPrimitives.ReadUInt32LittleEndian(notes[(pos + 4)..]);
            var type = BinaryPrimitives.ReadUInt32LittleEndian(notes[(pos + 8)..]);
            var nameStart = (long)pos + 12;
            var descStart = nameStart + Align4(namesz);
            var next = descStart + Align4(descsz);
            if (next > notes.Length || next <= pos) return null;
            var noteName = notes.Slice((int)nameStart, (int)namesz);
            if (type == XEN_ELFNOTE_PHYS32_ENTRY && noteName.Length >= 3 && noteName[..3].SequenceEqual("Xen"u8))
            {
                var desc = notes.Slice((int)descStart, (int)descsz);
                if (desc.Length >= 8) return BinaryPrimitives.ReadUInt64LittleEndian(desc);
                if (desc.Length >= 4) return BinaryPrimitives.ReadUInt32LittleEndian(desc);
                return null;
            }
            pos = (int)next;
        }
        return null;
    }

    /// <summary>Translates <see cref="Entry"/> to a physical address when it is a virtual address inside a segment.</summary>
    public ulong PhysicalEntry()
    {
        foreach (var s in Segments)
        {
            if (Entry >= s.PhysicalAddress && Entry < s.PhysicalAddress + s.MemorySize) return Entry;
        }
        foreach (var s in Segments)
        {
            if (Entry >= s.VirtualAddress && Entry < s.VirtualAddress + s.MemorySize) return Entry - s.VirtualAddress + s.PhysicalAddress;
        }
        return Entry;
    }

    private static long Align4(uint n) => ((long)n + 3) & ~3L;

    private static KernelFormatException Bad(string name, string why) =>
        new($"{name}: malformed ELF kernel: {why}");
}
