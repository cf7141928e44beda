using System.Globalization;
using Domino.Config.Model;

namespace Domino.Config.Specs;

/// <summary>The CPU-list syntax of xl.cfg(5) <c>cpus=</c> and <c>cpus_soft=</c>.</summary>
internal static class CpuSetSpec
{
    public const string Syntax = """
        cpus = "LIST" | [ "LIST", "LIST", ... ] (one LIST per vCPU), where LIST is comma-separated:
          all           every physical CPU
          N | N-M       CPU N, CPUs N to M
          nodes:N[-M]   every CPU of NUMA node(s) N..M (also node:N)
          ^ITEM         exclude ITEM, e.g. "0-7,^3" or "nodes:0,^2"
        """;

    // A sanity bound: no host has more CPUs, and it keeps bitmaps small.
    private const int MaxCpu = 4095;

    public static CpuSet? Parse(SpecSource source)
    {
        var errors = source.Diagnostics.Items.Count(d => d.IsError);
        var items = new List<CpuSetItem>();
        var text = source.Text;
        if (text.Trim().Length == 0)
        {
            source.Error(0, $"empty CPU list for {source.Key} (expected e.g. \"all\", \"0-3,^1\" or \"nodes:0\")");
            return null;
        }
        foreach (var token in SpecTokenizer.Split(text))
        {
            var item = token.Text.Trim();
            var exclude = item.StartsWith('^');
            if (exclude) item = item[1..];
            var nodes = false;
            if (item.StartsWith("nodes:", StringComparison.Ordinal)) (nodes, item) = (true, item[6..]);
            else if (item.StartsWith("node:", StringComparison.Ordinal)) (nodes, item) = (true, item[5..]);
            if (item == "all")
            {
                items.Add(new CpuSetItem(exclude, nodes, true, 0, 0));
                continue;
            }
            var dash = item.IndexOf('-', StringComparison.Ordinal);
            var firstText = dash < 0 ? item : item[..dash];
            var lastText = dash < 0 ? item : item[(dash + 1)..];
            if (!int.TryParse(firstText, NumberStyles.None, CultureInfo.InvariantCulture, out var first)
                || !int.TryParse(lastText, NumberStyles.None, CultureInfo.InvariantCulture, out var last)
                || first > MaxCpu || last > MaxCpu)
            {
                source.Error(token.Offset, $"invalid CPU list item '{token.Text}' in {source.Key} (expected all, N, N-M or nodes:N-M, optionally prefixed with ^, numbers up to {MaxCpu})");
                continue;
            }
            if (last < first)
            {
                source.Error(token.Offset, $"CPU range '{token.Text}' in {source.Key} runs backwards (write {last}-{first})");
                continue;
            }
            items.Add(new CpuSetItem(exclude, nodes, false, first, last));
        }
        return source.Diagnostics.Items.Count(d => d.IsError) == errors ? new CpuSet(text, items) : null;
    }

    /// <summary>
    /// The physical CPUs a set selects on a host with <paramref name="hostCpus"/> CPUs, whose NUMA node
    /// <paramref name="nodeOfCpu"/> reports (xl evaluates "all" and "nodes:" against the host).
    /// </summary>
    public static SortedSet<int> Resolve(CpuSet set, int hostCpus, Func<int, int> nodeOfCpu)
    {
        var result = new SortedSet<int>();
        foreach (var item in set.Items)
        {
            IEnumerable<int> cpus;
            if (item.All) cpus = Enumerable.Range(0, hostCpus);
            else if (item.Nodes) cpus = Enumerable.Range(0, hostCpus).Where(c => nodeOfCpu(c) >= item.First && nodeOfCpu(c) <= item.Last);
            else cpus = Enumerable.Range(item.First, item.Last - item.First + 1);
            foreach (var c in cpus)
            {
                if (item.Exclude) result.Remove(c);
                else result.Add(c);
            }
        }
        return result;
    }
}
