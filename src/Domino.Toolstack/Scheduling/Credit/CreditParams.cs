using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Scheduling.Credit;

/// <summary>
/// credit and credit2 domain parameters (xl sched-credit, xl.cfg cpu_weight and cap) and their mapping
/// onto a cgroup v1 cpu group: the weight becomes cpu.shares, the cap CFS bandwidth.
/// </summary>
public static class CreditParams
{
    public const int DefaultWeight = 256;
    public const int MinWeight = 1;
    public const int MaxWeight = 65535;

    /// <summary>CFS bandwidth period Domino uses for caps: 100 ms, the kernel's default.</summary>
    public const long CfsPeriodUs = 100_000;

    /// <summary>credit's pool defaults: a 30 ms time slice, 1000 µs rate limit (sched_credit.c).</summary>
    public const int DefaultTsliceMs = 30;
    public const int DefaultRatelimitUs = 1000;

    public static void ValidateWeight(int weight, string domain)
    {
        if (weight is < MinWeight or > MaxWeight)
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{domain}': weight {weight} is outside {MinWeight}..{MaxWeight} (the default is {DefaultWeight})");
    }

    /// <summary>A cap is a percentage of one CPU; 0 means none; it cannot exceed the domain's vCPUs × 100.</summary>
    public static void ValidateCap(int cap, int vcpus, string domain)
    {
        if (cap < 0 || cap > vcpus * 100)
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{domain}': cap {cap} is outside 0..{vcpus * 100} (% of one CPU for {vcpus} vCPU(s); 0 = no cap)");
    }

    public static void ValidateTslice(int ms)
    {
        if (ms is < 1 or > 1000) throw new ToolstackException(ErrorKind.Invalid, $"tslice {ms} ms is outside 1..1000 ms");
    }

    public static void ValidateRatelimit(int us)
    {
        if (us != 0 && us is < 100 or > 500_000) throw new ToolstackException(ErrorKind.Invalid, $"ratelimit {us} µs is outside 100..500000 µs (0 turns it off)");
    }

    /// <summary>Weight 256 ↔ 1024 shares, the CFS default, so an untouched domain weighs what an untouched cgroup does.</summary>
    public static long Shares(int weight) => Math.Max(2L, weight * 4L);

    /// <summary>cpu.cfs_quota_us for a cap: cap% of one CPU per period; -1 (unlimited) for no cap.</summary>
    public static long QuotaUs(int cap) => cap == 0 ? -1 : Math.Max(1000L, cap * CfsPeriodUs / 100);
}
