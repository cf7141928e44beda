using System.Globalization;
using System.Text;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Scheduling;

/// <summary>
/// A set of host CPUs, parsed from and printed in xl's CPU-list syntax (xl.cfg(5) "cpus"):
/// <c>all</c>, <c>3</c>, <c>0-3</c>, <c>0-3,^1</c>, <c>nodes:0</c>. Printed compactly: <c>0-2,5</c>.
/// </summary>
public sealed class CpuSet : IEquatable<CpuSet>
{
    private readonly int[] _cpus;

    public CpuSet(IEnumerable<int> cpus) => _cpus = [.. cpus.Distinct().Order()];

    public static CpuSet Empty { get; } = new([]);

    public static CpuSet Range(int first, int count) => new(Enumerable.Range(first, count));

    public IReadOnlyList<int> Cpus => _cpus;
    public int Count => _cpus.Length;
    public bool IsEmpty => _cpus.Length == 0;
    public bool Contains(int cpu) => Array.BinarySearch(_cpus, cpu) >= 0;

    public CpuSet Intersect(CpuSet other) => new(_cpus.Where(other.Contains));
    public CpuSet Union(CpuSet other) => new(_cpus.Concat(other._cpus));
    public CpuSet Except(CpuSet other) => new(_cpus.Where(c => !other.Contains(c)));
    public bool IsSubsetOf(CpuSet other) => _cpus.All(other.Contains);

    /// <summary>
    /// Parses xl's syntax against a host with CPUs <paramref name="host"/>. <paramref name="nodes"/>
    /// maps NUMA node numbers to their CPUs (for <c>nodes:N</c>). Errors name the text and the fix.
    /// </summary>
    public static CpuSet Parse(string text, CpuSet host, IReadOnlyDictionary<int, CpuSet>? nodes = null)
    {
        var t = text.Trim();
        if (t is "all" or "") return t == "" ? Empty : host;
        var include = new SortedSet<int>();
        var exclude = new SortedSet<int>();
        var anyPositive = false;
        foreach (var raw in t.Split(',', StringSplitOptions.TrimEntries))
        {
            var item = raw;
            var negate = item.StartsWith('^');
            if (negate) item = item[1..];
            IEnumerable<int> cpus;
            if (item.StartsWith("nodes:", StringComparison.Ordinal) || item.StartsWith("node:", StringComparison.Ordinal))
            {
                var spec = item[(item.IndexOf(':') + 1)..];
                var list = new List<int>();
                foreach (var node in ParseRange(spec, text, "node"))
                {
                    if (nodes is null || !nodes.TryGetValue(node, out var set))
                        throw Invalid($"NUMA node {node} does not exist (this host has node(s) {(nodes is null ? "0" : string.Join(",", nodes.Keys.Order()))})");
                    list.AddRange(set.Cpus);
                }
                cpus = list;
            }
            else if (item == "all") cpus = host.Cpus;
            else cpus = ParseRange(item, text, "cpu");
            foreach (var cpu in cpus)
            {
                if (!host.Contains(cpu)) throw Invalid($"cpu {cpu} in '{text}' does not exist (this host has cpus {host})");
                (negate ? exclude : include).Add(cpu);
            }
            if (!negate) anyPositive = true;
        }
        // xl: a list of only exclusions ("^1") means all CPUs but those.
        var basis = anyPositive ? include : new SortedSet<int>(host.Cpus);
        basis.ExceptWith(exclude);
        return new CpuSet(basis);
    }

    private static IEnumerable<int> ParseRange(string item, string whole, string what)
    {
        var dash = item.IndexOf('-');
        if (dash < 0) return [Number(item)];
        var a = Number(item[..dash]);
        var b = Number(item[(dash + 1)..]);
        if (b < a) throw Invalid($"{what} range '{item}' in '{whole}' runs backwards (write {b}-{a})");
        return Enumerable.Range(a, b - a + 1);

        int Number(string s) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw Invalid($"'{s}' in '{whole}' is not a {what} number (expected e.g. 0-3,^1, all, or nodes:0)");
    }

    private static ToolstackException Invalid(string message) => new(ErrorKind.Invalid, message);

    /// <summary>Compact xl form: <c>0-2,5</c>; <c>all</c> when it is every CPU of <paramref name="host"/>.</summary>
    public string ToXl(CpuSet host) => Equals(host) && !IsEmpty ? "all" : IsEmpty ? "none" : ToString();

    public override string ToString()
    {
        if (_cpus.Length == 0) return "";
        var sb = new StringBuilder();
        for (var i = 0; i < _cpus.Length; i++)
        {
            var start = _cpus[i];
            while (i + 1 < _cpus.Length && _cpus[i + 1] == _cpus[i] + 1) i++;
            if (sb.Length > 0) sb.Append(',');
            sb.Append(CultureInfo.InvariantCulture, $"{start}");
            if (_cpus[i] != start) sb.Append(CultureInfo.InvariantCulture, $"-{_cpus[i]}");
        }
        return sb.ToString();
    }

    public bool Equals(CpuSet? other) => other is not null && _cpus.AsSpan().SequenceEqual(other._cpus);
    public override bool Equals(object? obj) => Equals(obj as CpuSet);
    public override int GetHashCode() => _cpus.Aggregate(17, (h, c) => h * 31 + c);
}
