using System.Buffers.Binary;
using System.Text;

namespace Domino.Vmm.Tests;

/// <summary>Tiny hand-assembled kernels, so the boot paths are testable without the guest kit.</summary>
internal static class TestKernels
{
    public const ulong LoadAddress = 0x100000;

    /// <summary>
    /// Prints <paramref name="message"/> on COM1 and writes 0 to the debug-exit port. The same bytes
    /// run in 32-bit protected mode and in 64-bit mode:
    /// mov dx,0x3f8; mov esi,msg; l: lodsb; test al,al; jz d; out dx,al; jmp l; d: mov al,0; out 0xf4,al; hlt.
    /// </summary>
    public static byte[] HelloCode(string message, ulong loadAddress = LoadAddress)
    {
        var msgAddr = (uint)loadAddress + 22;
        var code = new List<byte> { 0x66, 0xBA, 0xF8, 0x03, 0xBE };
        code.AddRange(BitConverter.GetBytes(msgAddr));
        code.AddRange([0xAC, 0x84, 0xC0, 0x74, 0x03, 0xEE, 0xEB, 0xF8, 0xB0, 0x00, 0xE6, 0xF4, 0xF4]);
        code.AddRange(Encoding.ASCII.GetBytes(message));
        code.Add(0);
        return [.. code];
    }

    /// <summary>
    /// SMP bring-up in miniature: the BSP copies a real-mode trampoline to 0x8000, software-enables
    /// its LAPIC, broadcasts INIT-SIPI-SIPI (vector 8) to all other CPUs, waits until
    /// <paramref name="vcpus"/>-1 of them have done `lock inc word [0x7000]`, prints the CPU count
    /// as a digit and a newline, and powers off.
    /// </summary>
    public static byte[] SmpCode(int vcpus)
    {
        const uint tramp = (uint)LoadAddress + 87;
        var code = new List<byte> { 0xBE };
        code.AddRange(BitConverter.GetBytes(tramp));                                     // mov esi, trampoline
        code.AddRange([0xBF, 0x00, 0x80, 0x00, 0x00]);                                   // mov edi, 0x8000
        code.AddRange([0xB9, 9, 0, 0, 0]);                                               // mov ecx, 9
        code.AddRange([0xF3, 0xA4]);                                                     // rep movsb
        code.AddRange([0xC7, 0x05, 0xF0, 0x00, 0xE0, 0xFE, 0xFF, 0x01, 0x00, 0x00]);     // SVR = 0x1FF
        code.AddRange([0xC7, 0x05, 0x00, 0x03, 0xE0, 0xFE, 0x00, 0x45, 0x0C, 0x00]);     // ICR: INIT, all but self
        code.AddRange([0xC7, 0x05, 0x00, 0x03, 0xE0, 0xFE, 0x08, 0x46, 0x0C, 0x00]);     // ICR: SIPI 0x8000
        code.AddRange([0xC7, 0x05, 0x00, 0x03, 0xE0, 0xFE, 0x08, 0x46, 0x0C, 0x00]);     // ICR: SIPI again
        code.AddRange([0x66, 0x83, 0x3D, 0x00, 0x70, 0x00, 0x00, (byte)(vcpus - 1)]);   // cmp word [0x7000], N-1
        code.AddRange([0x75, 0xF6]);                                                     // jne cmp
        code.AddRange([0x66, 0xBA, 0xF8, 0x03]);                                         // mov dx, 0x3f8
        code.AddRange([0xA0, 0x00, 0x70, 0x00, 0x00]);                                   // mov al, [0x7000]
        code.AddRange([0x04, 0x31, 0xEE, 0xB0, 0x0A, 0xEE]);                             // add al,'1'; out; '\n'; out
        code.AddRange([0xB0, 0x00, 0xE6, 0xF4, 0xF4]);                                   // power off
        if (code.Count != 87) throw new InvalidOperationException($"SMP code is {code.Count} bytes, expected 87");
        code.AddRange([0xF0, 0xFF, 0x06, 0x00, 0x70, 0xFA, 0xF4, 0xEB, 0xFC]);           // AP (real mode): lock inc word [0x7000]; cli; hlt; jmp
        return [.. code];
    }

    /// <summary>A 32-bit ELF whose only way in is the Xen PVH note.</summary>
    public static byte[] PvhElf32(byte[] code, bool withNote = true, int noteDescSize = 4) =>
        Elf(is64: false, code, withNote, noteDescSize);

    /// <summary>A 64-bit ELF; with <paramref name="withNote"/> false it boots in long mode.</summary>
    public static byte[] Elf64(byte[] code, bool withNote = false) => Elf(is64: true, code, withNote, 8);

    private static byte[] Elf(bool is64, byte[] code, bool withNote, int noteDescSize)
    {
        var ehsize = is64 ? 64 : 52;
        var phentsize = is64 ? 56 : 32;
        var phnum = withNote ? 2 : 1;
        var noteOffset = ehsize + phentsize * phnum;
        var noteSize = 12 + 4 + noteDescSize;
        const int codeOffset = 0x200;
        var file = new byte[codeOffset + code.Length];
        var s = file.AsSpan();
        s[0] = 0x7F; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F';
        s[4] = (byte)(is64 ? 2 : 1); s[5] = 1; s[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x10..], 2); // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x12..], (ushort)(is64 ? 0x3E : 3));
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x14..], 1);
        if (is64)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[0x18..], LoadAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(s[0x20..], (ulong)ehsize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[0x34..], (ushort)ehsize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[0x36..], (ushort)phentsize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[0x38..], (ushort)phnum);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[0x18..], (uint)LoadAddress);
            BinaryPrimitives.WriteUInt32LittleEndian(s[0x1C..], (uint)ehsize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[0x28..], (ushort)ehsize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[0x2A..], (ushort)phentsize);
            BinaryPrimitives.WriteUInt16LittleEndian(s[0x2C..], (ushort)phnum);
        }
        WritePhdr(s.Slice(ehsize, phentsize), is64, type: 1, offset: codeOffset, addr: LoadAddress, filesz: (ulong)code.Length, memsz: (ulong)code.Length + 0x1000);
        if (withNote)
        {
            WritePhdr(s.Slice(ehsize + phentsize, phentsize), is64, type: 4, offset: (ulong)noteOffset, addr: 0, filesz: (ulong)noteSize, memsz: 0);
            var n = s[noteOffset..];
            BinaryPrimitives.WriteUInt32LittleEndian(n, 4);
            BinaryPrimitives.WriteUInt32LittleEndian(n[4..], (uint)noteDescSize);
            BinaryPrimitives.WriteUInt32LittleEndian(n[8..], 18);
            "Xen\0"u8.CopyTo(n[12..]);
            if (noteDescSize == 8) BinaryPrimitives.WriteUInt64LittleEndian(n[16..], LoadAddress);
            else BinaryPrimitives.WriteUInt32LittleEndian(n[16..], (uint)LoadAddress);
        }
        code.CopyTo(file, codeOffset);
        return file;
    }

    private static void WritePhdr(Span<byte> p, bool is64, uint type, ulong offset, ulong addr, ulong filesz, ulong memsz)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(p, type);
        if (is64)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(p[4..], 7);
            BinaryPrimitives.WriteUInt64LittleEndian(p[8..], offset);
            BinaryPrimitives.WriteUInt64LittleEndian(p[16..], addr);
            BinaryPrimitives.WriteUInt64LittleEndian(p[24..], addr);
            BinaryPrimitives.WriteUInt64LittleEndian(p[32..], filesz);
            BinaryPrimitives.WriteUInt64LittleEndian(p[40..], memsz);
            BinaryPrimitives.WriteUInt64LittleEndian(p[48..], 0x1000);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(p[4..], (uint)offset);
            BinaryPrimitives.WriteUInt32LittleEndian(p[8..], (uint)addr);
            BinaryPrimitives.WriteUInt32LittleEndian(p[12..], (uint)addr);
            BinaryPrimitives.WriteUInt32LittleEndian(p[16..], (uint)filesz);
            BinaryPrimitives.WriteUInt32LittleEndian(p[20..], (uint)memsz);
            BinaryPrimitives.WriteUInt32LittleEndian(p[24..], 7);
            BinaryPrimitives.WriteUInt32LittleEndian(p[28..], 0x1000);
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to a fresh temporary file and returns its path.</summary>
    public static string ToTempFile(byte[] bytes, string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "domino-vmm-tests");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"{Guid.NewGuid():N}-{name}");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
