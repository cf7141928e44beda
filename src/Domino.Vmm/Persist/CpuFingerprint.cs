using Domino.Vmm.Hypervisor;

namespace Domino.Vmm.Persist;

/// <summary>
/// The CPU features a guest may have seen and come to rely on: vendor, family/model/stepping and
/// the feature words of the CPUID leaves KVM offers. A snapshot resumes only on a host whose
/// fingerprint is equal — a guest that found AVX-512 must not wake up where it is missing.
/// </summary>
public sealed record CpuFingerprint(string Vendor, IReadOnlyList<(string Name, uint Value)> Words)
{
    /// <summary>CPUID leaf, sub-leaf and register of every word compared.</summary>
    private static readonly (string Name, uint Function, uint Index, char Reg, uint Mask)[] s_words =
    [
        ("leaf 1 EAX (family/model/stepping)", 1, 0, 'a', 0x0FFF_3FFF),
        ("leaf 1 ECX", 1, 0, 'c', ~(1u << 27)), // OSXSAVE follows the guest's CR4, not the CPU
        ("leaf 1 EDX", 1, 0, 'd', 0xFFFF_FFFF),
        ("leaf 7.0 EBX", 7, 0, 'b', 0xFFFF_FFFF),
        ("leaf 7.0 ECX", 7, 0, 'c', ~(1u << 4)), // OSPKE, likewise
        ("leaf 7.0 EDX", 7, 0, 'd', 0xFFFF_FFFF),
        ("leaf 0xD.0 EAX (XSAVE components)", 0xD, 0, 'a', 0xFFFF_FFFF),
        ("leaf 0xD.1 EAX (XSAVE extensions)", 0xD, 1, 'a', 0xFFFF_FFFF),
        ("leaf 0x80000001 ECX", 0x8000_0001, 0, 'c', 0xFFFF_FFFF),
        ("leaf 0x80000001 EDX", 0x8000_0001, 0, 'd', 0xFFFF_FFFF),
    ];

    public static CpuFingerprint Of(ISnapshotHypervisor kvm) => FromLeaves(kvm.GetCpuFeatureLeaves());

    public static CpuFingerprint FromLeaves(IReadOnlyList<CpuidLeaf> leaves)
    {
        uint Get(uint function, uint index, char reg)
        {
            foreach (var l in leaves)
            {
                if (l.Function != function || l.Index != index) continue;
                return reg switch { 'a' => l.Eax, 'b' => l.Ebx, 'c' => l.Ecx, _ => l.Edx };
            }
            return 0;
        }
        var vendorBytes = new byte[12];
        BitConverter.TryWriteBytes(vendorBytes.AsSpan(0), Get(0, 0, 'b'));
        BitConverter.TryWriteBytes(vendorBytes.AsSpan(4), Get(0, 0, 'd'));
        BitConverter.TryWriteBytes(vendorBytes.AsSpan(8), Get(0, 0, 'c'));
        var vendor = System.Text.Encoding.ASCII.GetString(vendorBytes).TrimEnd('\0');
        return new CpuFingerprint(vendor, s_words.Select(w => (w.Name, Get(w.Function, w.Index, w.Reg) & w.Mask)).ToArray());
    }

    /// <summary>CRC-32C of the encoded fingerprint: a short value for headers and reports.</summary>
    public uint Hash
    {
        get
        {
            var w = new PersistWriter();
            Save(w);
            return Crc32C.Compute(w.ToArray());
        }
    }

    /// <summary>Null when a guest saved on <paramref name="saved"/> may run here, else what differs.</summary>
    public string? Incompatibility(CpuFingerprint saved)
    {
        if (saved.Vendor != Vendor) return $"saved on a {saved.Vendor} CPU, this host is {Vendor}";
        var here = Words.ToDictionary(w => w.Name, w => w.Value);
        foreach (var (name, value) in saved.Words)
        {
            if (!here.TryGetValue(name, out var mine)) return $"saved CPU feature word '{name}' is unknown to this Domino";
            if (mine != value)
            {
                var missing = value & ~mine;
                var extra = mine & ~value;
                return $"CPUID {name} differs: saved 0x{value:x8}, this host 0x{mine:x8}" +
                    (missing != 0 ? $" (features the guest saw but this host lacks: bits 0x{missing:x8})" : $" (bits 0x{extra:x8} only here)");
            }
        }
        return null;
    }

    public void Save(PersistWriter w)
    {
        w.String(Vendor);
        w.I32(Words.Count);
        foreach (var (name, value) in Words) { w.String(name); w.U32(value); }
    }

    public static CpuFingerprint Load(PersistReader r)
    {
        var vendor = r.String();
        var n = r.I32();
        if (n is < 0 or > 1024) throw new SnapshotException($"CPU fingerprint: {n} feature words is not plausible");
        var words = new (string, uint)[n];
        for (var i = 0; i < n; i++) words[i] = (r.String(), r.U32());
        return new CpuFingerprint(vendor, words);
    }
}
