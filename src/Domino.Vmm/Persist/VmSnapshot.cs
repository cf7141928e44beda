using System.Buffers.Binary;
using Domino.Vmm.Hypervisor;

namespace Domino.Vmm.Persist;

/// <summary>
/// The snapshot tree of one VM without its memory: config, CPU fingerprint, in-kernel chips, one
/// state per vCPU and one section per device. The same encoding is the body of a state file and
/// the device/vCPU record of a migration or Remus checkpoint stream.
/// </summary>
public sealed class VmSnapshot
{
    public required SavedVmConfig Config { get; init; }
    public required CpuFingerprint Cpu { get; init; }
    public required KvmVmChipState Chips { get; init; }
    public required IReadOnlyList<KvmVcpuState> Vcpus { get; init; }
    public required IReadOnlyList<(string Id, byte[] State)> Devices { get; init; }

    /// <summary>Opaque bytes the toolstack keeps with the guest (its domain record); empty when none.</summary>
    public byte[] Toolstack { get; init; } = [];

    // Section tags, four ASCII characters read as a little-endian u32.
    internal const uint TagConfig = 0x464E4F43;  // "CONF"
    internal const uint TagCpu = 0x46555043;     // "CPUF"
    internal const uint TagChips = 0x50494843;   // "CHIP"
    internal const uint TagVcpu = 0x55504356;    // "VCPU"
    internal const uint TagDevice = 0x20564544;  // "DEV "
    internal const uint TagToolstack = 0x4C4F4F54; // "TOOL"
    internal const uint TagEnd = 0x20444E45;     // "END "

    public VmSnapshot WithToolstack(byte[] toolstack) =>
        new() { Config = Config, Cpu = Cpu, Chips = Chips, Vcpus = Vcpus, Devices = Devices, Toolstack = toolstack };

    /// <summary>Sections, each {u32 tag, u32 length, u32 CRC-32C of the body, body}, ending with END.</summary>
    public byte[] Encode()
    {
        var sections = new SectionWriter();
        sections.Add(TagConfig, Config.ToJson());
        var cpu = new PersistWriter();
        Cpu.Save(cpu);
        sections.Add(TagCpu, cpu.ToArray());
        var chips = new PersistWriter();
        chips.Bytes(Chips.PicMaster); chips.Bytes(Chips.PicSlave); chips.Bytes(Chips.Ioapic); chips.Bytes(Chips.Pit); chips.U64(Chips.Clock);
        sections.Add(TagChips, chips.ToArray());
        for (var i = 0; i < Vcpus.Count; i++)
        {
            var v = Vcpus[i];
            var w = new PersistWriter();
            w.I32(i);
            w.Bytes(v.Regs); w.Bytes(v.Sregs); w.Bytes(v.Xsave); w.Bytes(v.Fpu); w.Bytes(v.Xcrs);
            w.Bytes(v.Events); w.Bytes(v.DebugRegs); w.Bytes(v.Lapic); w.U32(v.MpState);
            w.I32(v.Msrs.Length);
            foreach (var (index, value) in v.Msrs) { w.U32(index); w.U64(value); }
            sections.Add(TagVcpu, w.ToArray());
        }
        foreach (var (id, state) in Devices)
        {
            var w = new PersistWriter();
            w.String(id);
            w.Bytes(state);
            sections.Add(TagDevice, w.ToArray());
        }
        if (Toolstack.Length > 0) sections.Add(TagToolstack, Toolstack);
        sections.Add(TagEnd, []);
        return sections.ToArray();
    }

    /// <summary>Decodes and checks every section; any damage is a <see cref="SnapshotException"/> naming the section.</summary>
    public static VmSnapshot Decode(ReadOnlyMemory<byte> data)
    {
        SavedVmConfig? config = null;
        CpuFingerprint? cpu = null;
        KvmVmChipState? chips = null;
        var vcpus = new List<KvmVcpuState>();
        var devices = new List<(string, byte[])>();
        var ended = false;
        var toolstack = Array.Empty<byte>();
        foreach (var (tag, body) in SectionWriter.Read(data))
        {
            if (ended) throw new SnapshotException("state sections continue after END");
            switch (tag)
            {
                case TagConfig:
                    config = SavedVmConfig.FromJson(body.Span);
                    break;
                case TagCpu:
                {
                    var r = new PersistReader(body, "CPU fingerprint section");
                    cpu = CpuFingerprint.Load(r);
                    r.End();
                    break;
                }
                case TagChips:
                {
                    var r = new PersistReader(body, "irqchip/PIT/clock section");
                    chips = new KvmVmChipState { PicMaster = r.Bytes(), PicSlave = r.Bytes(), Ioapic = r.Bytes(), Pit = r.Bytes(), Clock = r.U64() };
                    r.End();
                    break;
                }
                case TagVcpu:
                {
                    var r = new PersistReader(body, $"vCPU {vcpus.Count} section");
                    var index = r.I32();
                    if (index != vcpus.Count) throw new SnapshotException($"vCPU section {vcpus.Count} claims to be vCPU {index}");
                    var regs = r.Bytes(); var sregs = r.Bytes(); var xsave = r.Bytes(); var fpu = r.Bytes(); var xcrs = r.Bytes();
                    var events = r.Bytes(); var debug = r.Bytes(); var lapic = r.Bytes(); var mp = r.U32();
                    var n = r.I32();
                    if (n is < 0 or > 65536) throw new SnapshotException($"vCPU {index}: {n} MSRs is not plausible");
                    var msrs = new (uint, ulong)[n];
                    for (var i = 0; i < n; i++) msrs[i] = (r.U32(), r.U64());
                    r.End();
                    vcpus.Add(new KvmVcpuState
                    {
                        Regs = regs, Sregs = sregs, Xsave = xsave, Fpu = fpu, Xcrs = xcrs, Events = events,
                        DebugRegs = debug, Lapic = lapic, MpState = mp, Msrs = msrs,
                    });
                    break;
                }
                case TagDevice:
                {
                    var r = new PersistReader(body, $"device section {devices.Count}");
                    devices.Add((r.String(), r.Bytes()));
                    r.End();
                    break;
                }
                case TagToolstack:
                    toolstack = body.ToArray();
                    break;
                case TagEnd:
                    ended = true;
                    break;
                default:
                    throw new SnapshotException($"unknown state section '{SectionWriter.TagName(tag)}' (written by a newer Domino?)");
            }
        }
        if (!ended) throw new SnapshotException("state sections end without an END section (truncated)");
        if (config is null || cpu is null || chips is null) throw new SnapshotException("state lacks its config, CPU or irqchip section");
        if (vcpus.Count != config.Vcpus) throw new SnapshotException($"state holds {vcpus.Count} vCPU sections, the config says {config.Vcpus}");
        return new VmSnapshot { Config = config, Cpu = cpu, Chips = chips, Vcpus = vcpus, Devices = devices, Toolstack = toolstack };
    }
}

/// <summary>Writes and reads the {tag, length, CRC-32C, body} section framing.</summary>
internal sealed class SectionWriter
{
    private readonly MemoryStream _out = new();

    public void Add(uint tag, ReadOnlySpan<byte> body)
    {
        Span<byte> head = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(head, tag);
        BinaryPrimitives.WriteUInt32LittleEndian(head[4..], (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(head[8..], Crc32C.Compute(body));
        _out.Write(head);
        _out.Write(body);
    }

    public byte[] ToArray() => _out.ToArray();

    public static IEnumerable<(uint Tag, ReadOnlyMemory<byte> Body)> Read(ReadOnlyMemory<byte> data)
    {
        var pos = 0;
        while (pos < data.Length)
        {
            if (data.Length - pos < 12) throw new SnapshotException($"state truncated inside a section header at offset {pos}");
            var head = data.Span.Slice(pos, 12);
            var tag = BinaryPrimitives.ReadUInt32LittleEndian(head);
            var length = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(head[8..]);
            pos += 12;
            if (length > data.Length - pos) throw new SnapshotException($"section '{TagName(tag)}' claims {length} bytes, only {data.Length - pos} remain (truncated)");
            var body = data.Slice(pos, (int)length);
            var actual = Crc32C.Compute(body.Span);
            if (actual != crc) throw new SnapshotException($"section '{TagName(tag)}' is corrupt: CRC-32C 0x{actual:x8}, recorded 0x{crc:x8}");
            pos += (int)length;
            yield return (tag, body);
        }
    }

    public static string TagName(uint tag)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, tag);
        foreach (var c in b) if (c is < 0x20 or > 0x7e) return $"0x{tag:x8}";
        return System.Text.Encoding.ASCII.GetString(b).TrimEnd();
    }
}
