namespace Domino.Config.Output;

/// <summary>
/// What xl looks up on the host while building a domain: "all" in a CPU list means every bit of the
/// host's CPU bitmap, and "nodes:N" means the CPUs of NUMA node N.
/// </summary>
public sealed record HostInfo(int CpuCount, IReadOnlyList<int> NodeOfCpu)
{
    /// <summary>This machine, with its NUMA topology from sysfs (every CPU in node 0 when that is unavailable).</summary>
    public static HostInfo Current { get; } = Detect();

    /// <summary>
    /// The host's CPU count: one past the highest online CPU (sysfs). Not Environment.ProcessorCount,
    /// which counts only the CPUs this process may run on: a daemon confined to Pool-0's CPUs by an
    /// exclusive pool still manages every CPU of the host.
    /// </summary>
    public static int OnlineCpus()
    {
        try
        {
            var last = File.ReadAllText("/sys/devices/system/cpu/online").Trim().Split(',', '-')
                .Select(s => int.TryParse(s, out var n) ? n : -1).Max();
            if (last >= 0) return last + 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return Environment.ProcessorCount;
    }

    private static HostInfo Detect()
    {
        var count = OnlineCpus();
        var nodeOf = new int[count];
        try
        {
            foreach (var dir in Directory.EnumerateDirectories("/sys/devices/system/node", "node*"))
            {
                if (!int.TryParse(Path.GetFileName(dir)[4..], out var node)) continue;
                var list = File.ReadAllText(Path.Combine(dir, "cpulist")).Trim();
                foreach (var range in list.Split(',', StringSplitOptions.RemoveEmptyEntries))
                {
                    var ends = range.Split('-');
                    if (!int.TryParse(ends[0], out var first) || !int.TryParse(ends[^1], out var last)) continue;
                    for (var cpu = first; cpu <= last && cpu < count; cpu++) nodeOf[cpu] = node;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No sysfs NUMA information: a single node.
        }
        return new HostInfo(count, nodeOf);
    }

    /// <summary>libxl sizes CPU bitmaps in whole bytes, so "all" covers the CPU count rounded up to 8.</summary>
    public int CpuBitmapBits => Math.Max(8, (CpuCount + 7) / 8 * 8);

    public int NodeOf(int cpu) => cpu < NodeOfCpu.Count ? NodeOfCpu[cpu] : -1;
}
