namespace Domino.Config.Output;

/// <summary>
/// What xl looks up on the host while building a domain: "all" in a CPU list means every bit of the
/// host's CPU bitmap, and "nodes:N" means the CPUs of NUMA node N.
/// </summary>
public sealed record HostInfo(int CpuCount, IReadOnlyList<int> NodeOfCpu)
{
    /// <summary>This machine: every CPU in node 0 (Domino does not read the NUMA topology yet).</summary>
    public static HostInfo Current { get; } = new(Environment.ProcessorCount, Enumerable.Repeat(0, Environment.ProcessorCount).ToArray());

    /// <summary>libxl sizes CPU bitmaps in whole bytes, so "all" covers the CPU count rounded up to 8.</summary>
    public int CpuBitmapBits => Math.Max(8, (CpuCount + 7) / 8 * 8);

    public int NodeOf(int cpu) => cpu < NodeOfCpu.Count ? NodeOfCpu[cpu] : -1;
}
