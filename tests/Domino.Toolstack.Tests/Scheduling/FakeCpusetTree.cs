using System.Globalization;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Host;

namespace Domino.Toolstack.Tests.Scheduling;

/// <summary>
/// A cgroup v1 cpuset hierarchy in a temp directory, laid out as the kernel's (a directory per group
/// with cpuset.cpus, cpuset.mems and tasks) and keeping its rules: a thread is in one group's tasks;
/// moving a per-CPU kernel thread is EINVAL, a SCHED_DEADLINE one EBUSY, a gone one ESRCH, into a group
/// without CPUs ENOSPC; a group's CPUs lie within its parent's (EACCES) and contain its children's
/// (EBUSY); a group with tasks or children cannot be removed; moving a thread or changing its group's
/// CPUs resets its affinity to the group's CPUs (cgroup v1). Every group balances load
/// (cpuset.sched_load_balance 1) until told otherwise.
/// </summary>
internal sealed class FakeCpusetTree : ICpusetTree, IDisposable
{
    public const int EACCES = 13, EBUSY = 16, EINVAL = 22, ENOENT = 2, ENOSPC = 28, ESRCH = 3;

    public FakeCpusetTree(string cpus, IEnumerable<int> tasks)
    {
        Mount = Path.Combine(Path.GetTempPath(), "domino-cpuset-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Mount);
        File.WriteAllText(Path.Combine(Mount, "cpuset.cpus"), cpus + "\n");
        File.WriteAllText(Path.Combine(Mount, "cpuset.mems"), "0\n");
        File.WriteAllText(Path.Combine(Mount, "cpuset.sched_load_balance"), "1\n");
        File.WriteAllLines(Path.Combine(Mount, "tasks"), tasks.Select(Inv));
    }

    public string Mount { get; }

    /// <summary>Threads the kernel refuses to move (EINVAL): per-CPU kernel threads.</summary>
    public HashSet<int> PerCpu { get; } = [];

    /// <summary>Threads whose move is refused with EBUSY (SCHED_DEADLINE admission).</summary>
    public HashSet<int> Deadline { get; } = [];

    private string Dir(string group) => group.Length == 0 ? Mount : Path.Combine(Mount, group);

    public bool Exists(string group) => File.Exists(Path.Combine(Dir(group), "cpuset.cpus"));

    public void Create(string group)
    {
        Directory.CreateDirectory(Dir(group));
        foreach (var f in new[] { "cpuset.cpus", "cpuset.mems", "tasks" })
            if (!File.Exists(Path.Combine(Dir(group), f))) File.WriteAllText(Path.Combine(Dir(group), f), "");
        if (!File.Exists(Path.Combine(Dir(group), "cpuset.sched_load_balance"))) File.WriteAllText(Path.Combine(Dir(group), "cpuset.sched_load_balance"), "1\n");
    }

    public bool Remove(string group)
    {
        if (!Directory.Exists(Dir(group))) return true;
        if (Tasks(group).Count > 0 || Directory.GetDirectories(Dir(group)).Length > 0) return false;
        Directory.Delete(Dir(group), recursive: true);
        return true;
    }

    public IReadOnlyList<string> Groups() =>
        [.. Directory.GetDirectories(Mount, "*", SearchOption.AllDirectories)
            .Select(d => Path.GetRelativePath(Mount, d)).Order(StringComparer.Ordinal)];

    public string Read(string group, string file) => File.ReadAllText(Path.Combine(Dir(group), file)).Trim();

    public int Write(string group, string file, string value)
    {
        if (!Exists(group)) return ENOENT;
        if (file == "tasks") return Attach(group, int.Parse(value, CultureInfo.InvariantCulture));
        if (file == "cpuset.cpus" && group.Length > 0)
        {
            var cpus = CpusetShield.ParseList(value);
            if (!cpus.IsSubsetOf(CpusetShield.ParseList(Read(Parent(group), "cpuset.cpus")))) return EACCES;
            foreach (var child in Directory.GetDirectories(Dir(group)))
                if (!CpusetShield.ParseList(Read(Path.GetRelativePath(Mount, child), "cpuset.cpus")).IsSubsetOf(cpus)) return EBUSY;
        }
        File.WriteAllText(Path.Combine(Dir(group), file), value + "\n");
        if (file == "cpuset.cpus") foreach (var t in Tasks(group)) _affinity.Remove(t); // and so do new CPUs for its group
        return 0;
    }

    public IReadOnlyList<int> Tasks(string group)
    {
        var path = Path.Combine(Dir(group), "tasks");
        return File.Exists(path) ? [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => int.Parse(l, CultureInfo.InvariantCulture))] : [];
    }

    public int Attach(string group, int tid)
    {
        if (!Exists(group)) return ENOENT;
        var from = GroupOf(tid);
        if (from is null) return ESRCH;
        if (PerCpu.Contains(tid)) return EINVAL;
        if (Deadline.Contains(tid)) return EBUSY;
        if (Read(group, "cpuset.cpus").Length == 0) return ENOSPC;
        _affinity.Remove(tid); // cgroup v1: the thread now runs on its new group's CPUs
        if (from == group) return 0;
        File.WriteAllLines(Path.Combine(Dir(from), "tasks"), Tasks(from).Where(t => t != tid).Select(Inv));
        File.AppendAllLines(Path.Combine(Dir(group), "tasks"), [Inv(tid)]);
        return 0;
    }

    private readonly Dictionary<int, CpuSet> _affinity = [];

    public CpuSet? Affinity(int tid) => GroupOf(tid) is { } g ? _affinity.GetValueOrDefault(tid) ?? CpusetShield.ParseList(Read(g, "cpuset.cpus")) : null;

    public int SetAffinity(int tid, CpuSet cpus)
    {
        if (GroupOf(tid) is not { } g) return ESRCH;
        var allowed = cpus.Intersect(CpusetShield.ParseList(Read(g, "cpuset.cpus")));
        if (allowed.IsEmpty) return EINVAL;
        _affinity[tid] = allowed;
        return 0;
    }

    public string? GroupOf(int tid) =>
        Tasks("").Contains(tid) ? "" : Groups().FirstOrDefault(g => Tasks(g).Contains(tid));

    /// <summary>A new task, as a fork by a parent in <paramref name="group"/> makes one.</summary>
    public void Spawn(int tid, string group = "") => File.AppendAllLines(Path.Combine(Dir(group), "tasks"), [Inv(tid)]);

    /// <summary>A task that exits.</summary>
    public void Exit(int tid)
    {
        if (GroupOf(tid) is { } g) File.WriteAllLines(Path.Combine(Dir(g), "tasks"), Tasks(g).Where(t => t != tid).Select(Inv));
    }

    /// <summary>A group made by another program (another daemon, a user), with its CPUs.</summary>
    public void MakeGroup(string group, string cpus)
    {
        Create(group);
        File.WriteAllText(Path.Combine(Dir(group), "cpuset.mems"), "0\n");
        File.WriteAllText(Path.Combine(Dir(group), "cpuset.cpus"), cpus + "\n");
    }

    private static string Parent(string group) => Path.GetDirectoryName(group) ?? "";

    private static string Inv(int n) => n.ToString(CultureInfo.InvariantCulture);

    public void Dispose()
    {
        try { Directory.Delete(Mount, recursive: true); } catch (IOException) { }
    }
}
