using System.Globalization;

namespace Domino.Config.Specs;

/// <summary>
/// The <c>cpuid=</c> option of xl.cfg(5): libxl syntax (<c>"host,FEATURE=VALUE,..."</c>) or the legacy
/// xend list syntax (<c>[ "LEAF[,SUBLEAF]:eax=...,ecx=..." ]</c>), turned into per-leaf register masks of
/// 32 characters (bit 31 first), each 0, 1, x (default), k (host value) or s (keep across migration).
/// </summary>
internal static class CpuidSpec
{
    public const string Syntax = """
        cpuid = "host,FEATURE=VALUE,..."   VALUE: 0, 1, x (default), k (host), s (keep); a number for multi-bit fields
        cpuid = [ "LEAF[,SUBLEAF]:eax=MASK,ebx=MASK,ecx=MASK,edx=MASK", ... ]   MASK: 32 of 0 1 x k s, bit 31 first
        """;

    /// <summary>One leaf's masks, registers in eax, ebx, ecx, edx order; null registers are left alone.</summary>
    public sealed record Leaf(uint Number, uint? Subleaf, string?[] Registers);

    private readonly record struct Feature(uint Leaf, uint? Subleaf, int Register, int Bit, int Length);

    // CPUID feature names as libxl knows them: NAME LEAF SUBLEAF(- for none) REGISTER BIT [LENGTH].
    private const string FeatureTable = """
        maxleaf 0 - eax 0 32
        stepping 1 - eax 0 4
        model 1 - eax 4 8
        family 1 - eax 8 8
        brandid 1 - ebx 0 8
        clflush 1 - ebx 8 8
        proccount 1 - ebx 16 8
        localapicid 1 - ebx 24 8
        sse3 1 - ecx 0
        pclmulqdq 1 - ecx 1
        dtes64 1 - ecx 2
        monitor 1 - ecx 3
        dscpl 1 - ecx 4
        vmx 1 - ecx 5
        smx 1 - ecx 6
        est 1 - ecx 7
        tm2 1 - ecx 8
        ssse3 1 - ecx 9
        cntxid 1 - ecx 10
        fma 1 - ecx 12
        cmpxchg16 1 - ecx 13
        xtpr 1 - ecx 14
        pdcm 1 - ecx 15
        pcid 1 - ecx 17
        dca 1 - ecx 18
        sse4_1 1 - ecx 19
        sse4.1 1 - ecx 19
        sse4_2 1 - ecx 20
        sse4.2 1 - ecx 20
        x2apic 1 - ecx 21
        movbe 1 - ecx 22
        popcnt 1 - ecx 23
        tsc-deadline 1 - ecx 24
        aes 1 - ecx 25
        xsave 1 - ecx 26
        osxsave 1 - ecx 27
        avx 1 - ecx 28
        f16c 1 - ecx 29
        rdrand 1 - ecx 30
        hypervisor 1 - ecx 31
        fpu 1 - edx 0
        vme 1 - edx 1
        de 1 - edx 2
        pse 1 - edx 3
        tsc 1 - edx 4
        msr 1 - edx 5
        pae 1 - edx 6
        mce 1 - edx 7
        cmpxchg8 1 - edx 8
        apic 1 - edx 9
        sysenter 1 - edx 11
        mtrr 1 - edx 12
        pge 1 - edx 13
        mca 1 - edx 14
        cmov 1 - edx 15
        pat 1 - edx 16
        pse36 1 - edx 17
        psn 1 - edx 18
        clfsh 1 - edx 19
        ds 1 - edx 21
        acpi 1 - edx 22
        mmx 1 - edx 23
        fxsr 1 - edx 24
        sse 1 - edx 25
        sse2 1 - edx 26
        ss 1 - edx 27
        htt 1 - edx 28
        tm 1 - edx 29
        ia64 1 - edx 30
        pbe 1 - edx 31
        arat 6 - eax 2
        fsgsbase 7 0 ebx 0
        tsc_adjust 7 0 ebx 1
        bmi1 7 0 ebx 3
        hle 7 0 ebx 4
        avx2 7 0 ebx 5
        smep 7 0 ebx 7
        bmi2 7 0 ebx 8
        erms 7 0 ebx 9
        invpcid 7 0 ebx 10
        rtm 7 0 ebx 11
        cmt 7 0 ebx 12
        mpx 7 0 ebx 14
        avx512f 7 0 ebx 16
        avx512dq 7 0 ebx 17
        rdseed 7 0 ebx 18
        adx 7 0 ebx 19
        smap 7 0 ebx 20
        avx512-ifma 7 0 ebx 21
        clflushopt 7 0 ebx 23
        clwb 7 0 ebx 24
        proc-trace 7 0 ebx 25
        avx512pf 7 0 ebx 26
        avx512er 7 0 ebx 27
        avx512cd 7 0 ebx 28
        sha 7 0 ebx 29
        avx512bw 7 0 ebx 30
        avx512vl 7 0 ebx 31
        prefetchwt1 7 0 ecx 0
        avx512-vbmi 7 0 ecx 1
        umip 7 0 ecx 2
        pku 7 0 ecx 3
        ospke 7 0 ecx 4
        avx512-vbmi2 7 0 ecx 6
        cet-ss 7 0 ecx 7
        gfni 7 0 ecx 8
        vaes 7 0 ecx 9
        vpclmulqdq 7 0 ecx 10
        avx512-vnni 7 0 ecx 11
        avx512-bitalg 7 0 ecx 12
        avx512-vpopcntdq 7 0 ecx 14
        rdpid 7 0 ecx 22
        cldemote 7 0 ecx 25
        pks 7 0 ecx 31
        avx512-4vnniw 7 0 edx 2
        avx512-4fmaps 7 0 edx 3
        fsrm 7 0 edx 4
        avx512-vp2intersect 7 0 edx 8
        srbds-ctrl 7 0 edx 9
        md-clear 7 0 edx 10
        serialize 7 0 edx 14
        tsxldtrk 7 0 edx 16
        cet-ibt 7 0 edx 20
        avx512-fp16 7 0 edx 23
        ibrsb 7 0 edx 26
        stibp 7 0 edx 27
        l1d-flush 7 0 edx 28
        arch-caps 7 0 edx 29
        core-caps 7 0 edx 30
        ssbd 7 0 edx 31
        avx-vnni 7 1 eax 4
        avx512-bf16 7 1 eax 5
        procpkg 4 0 eax 26 6
        lahfsahf 0x80000001 - ecx 0
        cmplegacy 0x80000001 - ecx 1
        svm 0x80000001 - ecx 2
        extapic 0x80000001 - ecx 3
        altmovcr8 0x80000001 - ecx 4
        abm 0x80000001 - ecx 5
        sse4a 0x80000001 - ecx 6
        misalignsse 0x80000001 - ecx 7
        3dnowprefetch 0x80000001 - ecx 8
        osvw 0x80000001 - ecx 9
        ibs 0x80000001 - ecx 10
        xop 0x80000001 - ecx 11
        skinit 0x80000001 - ecx 12
        wdt 0x80000001 - ecx 13
        lwp 0x80000001 - ecx 15
        fma4 0x80000001 - ecx 16
        nodeid 0x80000001 - ecx 19
        tbm 0x80000001 - ecx 21
        topoext 0x80000001 - ecx 22
        perfctr_core 0x80000001 - ecx 23
        perfctr_nb 0x80000001 - ecx 24
        syscall 0x80000001 - edx 11
        nx 0x80000001 - edx 20
        mmxext 0x80000001 - edx 22
        ffxsr 0x80000001 - edx 25
        page1gb 0x80000001 - edx 26
        rdtscp 0x80000001 - edx 27
        lm 0x80000001 - edx 29
        3dnowext 0x80000001 - edx 30
        3dnow 0x80000001 - edx 31
        invtsc 0x80000007 - edx 8
        clzero 0x80000008 - ebx 0
        wbnoinvd 0x80000008 - ebx 9
        ibpb 0x80000008 - ebx 12
        nc 0x80000008 - ecx 0 8
        apicidsize 0x80000008 - ecx 12 4
        svm_npt 0x8000000a - edx 0
        svm_lbrv 0x8000000a - edx 1
        svm_nrips 0x8000000a - edx 3
        svm_tscrate 0x8000000a - edx 4
        svm_vmcbclean 0x8000000a - edx 5
        svm_decode 0x8000000a - edx 7
        maxhvleaf 0x40000000 - eax 0 8
        """;

    private static readonly string[] RegisterNames = ["eax", "ebx", "ecx", "edx"];

    private static readonly Dictionary<string, Feature> Features = FeatureTable
        .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(line => line.Split(' '))
        .ToDictionary(
            f => f[0],
            f => new Feature(
                ParseNumber(f[1]) ?? 0,
                f[2] == "-" ? null : ParseNumber(f[2]),
                Array.IndexOf(RegisterNames, f[3]),
                int.Parse(f[4], CultureInfo.InvariantCulture),
                f.Length > 5 ? int.Parse(f[5], CultureInfo.InvariantCulture) : 1),
            StringComparer.Ordinal);

    /// <summary>Applies the policy, or returns the first problem, naming the item.</summary>
    public static (List<Leaf>? Leaves, string? Problem) Evaluate(IReadOnlyList<string> items, bool xendSyntax)
    {
        var leaves = new List<Leaf>();
        Leaf Find(uint number, uint? subleaf)
        {
            var leaf = leaves.Find(l => l.Number == number && l.Subleaf == subleaf);
            if (leaf is null)
            {
                leaf = new Leaf(number, subleaf, new string?[4]);
                leaves.Add(leaf);
            }
            return leaf;
        }

        if (xendSyntax)
        {
            foreach (var item in items)
            {
                var problem = ApplyXend(item, Find);
                if (problem is not null) return (null, problem);
            }
            return (leaves, null);
        }

        var parts = items.Count == 1 ? items[0].Split(',') : [];
        if (parts.Length == 0 || parts[0] != "host")
            return (null, "libxl syntax must start with \"host\" (e.g. \"host,tm=0,sse3=0\")");
        foreach (var part in parts.Skip(1))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) return (null, $"'{part}' is not FEATURE=VALUE");
            var name = part[..eq];
            var value = part[(eq + 1)..];
            if (!Features.TryGetValue(name, out var f)) return (null, $"unknown CPUID feature '{name}'");
            char[] bits;
            if (ParseNumber(value) is { } n)
            {
                bits = new char[f.Length];
                for (var i = 0; i < f.Length; i++) bits[f.Length - 1 - i] = ((n >> i) & 1) != 0 ? '1' : '0';
            }
            else if (value is "x" or "k" or "s")
            {
                bits = Enumerable.Repeat(value[0], f.Length).ToArray();
            }
            else
            {
                return (null, $"value '{value}' for CPUID feature '{name}' must be 0, 1, x, k, s or a number");
            }
            var leaf = Find(f.Leaf, f.Subleaf);
            var reg = (leaf.Registers[f.Register] ?? new string('x', 32)).ToCharArray();
            if (name == "family")
            {
                // Family is split into a 4-bit base and an 8-bit extended field (CPUID.1:EAX[11:8], [27:20]).
                var family = ParseNumber(value) ?? 0;
                if (family < 16)
                {
                    Array.Copy(bits, 4, reg, 32 - 4 - f.Bit, 4);
                    "00000000".CopyTo(0, reg, 32 - 8 - 20, 8);
                }
                else
                {
                    "1111".CopyTo(0, reg, 32 - 4 - f.Bit, 4);
                    var ext = family - 15;
                    var extBits = new char[8];
                    for (var i = 0; i < 8; i++) extBits[7 - i] = ((ext >> i) & 1) != 0 ? '1' : '0';
                    extBits[0] = bits[0];
                    Array.Copy(extBits, 0, reg, 32 - 8 - 20, 8);
                }
            }
            else if (name == "model")
            {
                // Model is split into a 4-bit base (EAX[7:4]) and a 4-bit extension (EAX[19:16]).
                Array.Copy(bits, 0, reg, 32 - 4 - 16, 4);
                Array.Copy(bits, 4, reg, 32 - 4 - f.Bit, 4);
            }
            else
            {
                Array.Copy(bits, 0, reg, 32 - f.Length - f.Bit, f.Length);
            }
            leaf.Registers[f.Register] = new string(reg);
        }
        return (leaves, null);
    }

    private static string? ApplyXend(string item, Func<uint, uint?, Leaf> find)
    {
        var colon = item.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0) return $"'{item}' is not LEAF[,SUBLEAF]:REG=MASK,...";
        var head = item[..colon].Split(',');
        var leafNumber = ParseNumber(head[0]);
        uint? subleaf = head.Length > 1 ? ParseNumber(head[1]) : null;
        if (leafNumber is null || head.Length > 2 || (head.Length == 2 && subleaf is null))
            return $"'{item[..colon]}' is not a CPUID leaf number (e.g. 0x00000001 or 0x00000007,0)";
        var leaf = find(leafNumber.Value, subleaf);
        foreach (var assignment in item[(colon + 1)..].Split(','))
        {
            var a = assignment.TrimStart(' ', '\n');
            var eq = a.IndexOf('=', StringComparison.Ordinal);
            var reg = eq < 0 ? -1 : Array.IndexOf(RegisterNames, a[..eq]);
            if (reg < 0) return $"'{a}' must be eax=, ebx=, ecx= or edx= followed by a 32-character mask";
            var mask = a[(eq + 1)..];
            if (mask.Length != 32 || mask.Any(c => c is not ('0' or '1' or 'x' or 'k' or 's')))
                return $"mask '{mask}' for {a[..eq]} must be 32 characters of 0, 1, x, k, s";
            leaf.Registers[reg] = mask;
        }
        return null;
    }

    private static uint? ParseNumber(string text)
    {
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return uint.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var h) ? h : null;
        return uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var d) ? d : null;
    }

    public static string RegisterName(int index) => RegisterNames[index];
}
