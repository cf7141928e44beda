using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Interop;
using Domino.Toolstack.Store;
using Domino.Vmm.Scheduling;

namespace Domino.Toolstack.Scheduling.Host;

/// <summary>Which daemon applied a confinement: its process (pid and start time, so a reused pid is not taken for it) and state dir.</summary>
public sealed record ShieldOwner(int Pid, long StartTicks, string StateDir)
{
    /// <summary>This process, for the daemon that owns <paramref name="stateDir"/>.</summary>
    public static ShieldOwner Current(string stateDir) =>
        new(Environment.ProcessId, Libc.ProcessStartTicks(Environment.ProcessId) ?? 0, Path.GetFullPath(stateDir));

    public bool IsAlive => Libc.IsSameProcess(Pid, StartTicks);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"daemon pid {Pid} (state dir {StateDir})");
}

/// <summary>
/// What a sweep did: tasks moved into the host group; tasks the kernel keeps in the root cpuset
/// (per-CPU kernel threads, kthreadd); and other tasks it refused to move, which may still run on the
/// exclusive CPUs (for example SCHED_DEADLINE ones).
/// </summary>
public sealed record ShieldSweep(int Moved, int KernelThreadsLeft, IReadOnlyList<string> Refused);

/// <summary>The confinement as recorded on the host (<c>/run/domino-host.json</c>), so a daemon that crashed can be found out and its confinement re-adopted or undone.</summary>
public sealed class ShieldRecord
{
    public int OwnerPid { get; set; }
    public long OwnerStartTicks { get; set; }
    public string StateDir { get; set; } = "";
    public string Group { get; set; } = "";
    public string HostCpus { get; set; } = "";
    public string ExclusiveCpus { get; set; } = "";
    /// <summary>Threads taken from a cpuset other than the root, and that cpuset: they go back there when the CPUs are given back.</summary>
    public Dictionary<int, string> MovedFrom { get; set; } = [];
    /// <summary>Threads that had pinned themselves narrower than their cpuset, and their own affinity, restored after each move.</summary>
    public Dictionary<int, string> Pinned { get; set; } = [];
    /// <summary>
    /// Cpusets whose load balancing was turned off so that each exclusive pool is a scheduling root
    /// domain of its own ("" is the root), with the cpuset.sched_load_balance each had before.
    /// </summary>
    public Dictionary<string, string> LoadBalance { get; set; } = [];

    [JsonIgnore]
    public ShieldOwner Owner => new(OwnerPid, OwnerStartTicks, StateDir);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(ShieldRecord))]
internal sealed partial class ShieldJson : JsonSerializerContext;

/// <summary>
/// Exclusive CPUs for cpupools, as Xen's pools own their CPUs against dom0: like <c>cset shield</c>,
/// a cpuset group for the host (<c>domino-host</c>) holds every CPU no exclusive pool owns, and every
/// movable task of the root cpuset, and of any other cpuset that reaches an exclusive CPU, is moved
/// into it. Children inherit their parent's cpuset, so what the host starts later stays confined;
/// <see cref="Sweep"/> catches the rest (kernel threads forked later, tasks other tools put back).
/// Per-CPU kernel threads refuse to move (EINVAL) and stay; so does kthreadd, because the per-CPU
/// threads it forks must not start in a cpuset that a later update would re-bind them from. A cgroup
/// v1 move resets a thread's affinity to its new cpuset's CPUs: a thread that had pinned itself
/// narrower gets its own pinning back (within the host's CPUs) after each move, and whole on give-back.
/// <para>
/// The record file names the daemon that applied it. Giving back moves every task of the group to
/// the cpuset it came from (the root, or the recorded one if it still exists) and removes the group.
/// A daemon whose state has no exclusive pool gives back a confinement whose owner is dead; the owner
/// itself, restarted after a crash, re-adopts it.
/// </para>
/// </summary>
public sealed class CpusetShield
{
    public const string DefaultGroup = "domino-host";
    public const string DefaultRecord = "/run/domino-host.json";
    private const int Passes = 8;

    private readonly ICpusetTree _tree;
    private readonly string _recordPath;
    private readonly ShieldOwner _owner;
    private readonly IReadOnlySet<int> _neverMove;
    private readonly Action<string> _log;
    private readonly Lock _sync = new();
    private readonly HashSet<int> _immovable = [];
    private CpuSet? _exclusive;
    private IReadOnlySet<string> _exempt = new HashSet<string>();

    /// <param name="tree">The cpuset hierarchy.</param>
    /// <param name="recordPath">Where the host-wide record lives (a lock file sits beside it).</param>
    /// <param name="owner">This daemon.</param>
    /// <param name="group">The host group's name below the root cpuset.</param>
    /// <param name="neverMove">Threads never to move (default: kthreadd, when it is pid 2).</param>
    public CpusetShield(ICpusetTree tree, string recordPath, ShieldOwner owner, string group = DefaultGroup,
        IReadOnlySet<int>? neverMove = null, Action<string>? log = null)
    {
        _tree = tree;
        _recordPath = recordPath;
        _owner = owner;
        Group = group;
        _neverMove = neverMove ?? Kthreadd();
        _log = log ?? (_ => { });
    }

    public string Group { get; }

    /// <summary>The record on the host, if any.</summary>
    public ShieldRecord? Record()
    {
        lock (_sync) return Load();
    }

    /// <summary>
    /// Confines the host to <paramref name="hostCpus"/>, leaving <paramref name="exclusiveCpus"/> to the
    /// groups in <paramref name="exempt"/> (the exclusive pools' cpusets). Re-adopts a confinement this
    /// daemon (or a dead one) left; refuses one another running daemon holds.
    /// </summary>
    public ShieldSweep Apply(CpuSet hostCpus, CpuSet exclusiveCpus, IReadOnlySet<string> exempt)
    {
        if (hostCpus.IsEmpty) throw Failed($"the host's processes need at least one CPU outside the exclusive pools (exclusive cpus: {exclusiveCpus})");
        lock (_sync)
        using (HostLock())
        {
            var record = Load();
            if (record is not null && !IsMine(record) && record.Owner.IsAlive)
                throw new ToolstackException(ErrorKind.Conflict,
                    $"the host's processes are already confined to cpus {record.HostCpus} (cpuset {Path.Combine(_tree.Mount, record.Group)}) by another Domino {record.Owner}: make its pools non-exclusive there, or stop that daemon");
            if (record is not null && !IsMine(record))
                _log($"scheduling: taking over the host confinement of {record.Owner}, which is no longer running");
            else if (record is not null && record.OwnerStartTicks != _owner.StartTicks)
                _log($"scheduling: re-adopting the host confinement this state dir's previous {record.Owner} left");
            if (record is not null && record.Group != Group && _tree.Exists(record.Group)) GiveBack(record);
            record = new ShieldRecord
            {
                OwnerPid = _owner.Pid, OwnerStartTicks = _owner.StartTicks, StateDir = _owner.StateDir, Group = Group,
                HostCpus = hostCpus.ToString(), ExclusiveCpus = exclusiveCpus.ToString(),
                MovedFrom = record?.Group == Group ? record.MovedFrom : [],
                Pinned = record?.Group == Group ? record.Pinned : [],
                LoadBalance = record?.Group == Group ? record.LoadBalance : [],
            };
            if (!_tree.Exists(Group))
            {
                _tree.Create(Group);
                Check(_tree.Write(Group, "cpuset.mems", _tree.Read("", "cpuset.mems")), "cpuset.mems", Group);
                _immovable.Clear();
            }
            Check(_tree.Write(Group, "cpuset.cpus", hostCpus.ToString()), "cpuset.cpus", Group);
            // New CPUs for the group re-set its threads' affinity: give the pinned ones theirs back.
            foreach (var tid in _tree.Tasks(Group))
                if (record.Pinned.TryGetValue(tid, out var own) && ParseList(own).Intersect(hostCpus) is { IsEmpty: false } keep)
                    _ = _tree.SetAffinity(tid, keep);
            Save(record);
            _exclusive = exclusiveCpus;
            _exempt = exempt;
            var sweep = SweepLocked(record);
            if (!exclusiveCpus.IsEmpty) Partition(record, exclusiveCpus, exempt);
            return sweep;
        }
    }

    /// <summary>
    /// Makes each exempt group (an exclusive pool's cpuset) a scheduling root domain of its own, as a
    /// Xen pool schedules only its own CPUs. With cgroup v1 the kernel builds root domains from the
    /// cpusets that balance load, once the root does not, merging those whose CPUs overlap; so load
    /// balancing is turned off in the root and in every other cpuset that reaches an exclusive CPU (the
    /// pools' parent, and any other tool's), while the exempt groups and the host group keep it.
    /// Their tasks were moved to the host group already. SCHED_DEADLINE admits a thread only if its
    /// CPUs span its root domain, so this is what lets an rtds pool smaller than the host run. What
    /// each cpuset had is recorded and put back on give-back.
    /// </summary>
    private void Partition(ShieldRecord record, CpuSet exclusive, IReadOnlySet<string> exempt)
    {
        var groups = new List<string> { "" };
        foreach (var g in _tree.Groups())
        {
            if (g == Group || exempt.Contains(g)) continue;
            try { if (!ParseList(_tree.Read(g, "cpuset.cpus")).Intersect(exclusive).IsEmpty) groups.Add(g); }
            catch (IOException) { } // removed meanwhile
        }
        var changed = new List<string>();
        foreach (var g in groups)
        {
            string now;
            try { now = _tree.Read(g, "cpuset.sched_load_balance"); }
            catch (IOException) { continue; } // removed meanwhile, or a kernel without the file
            if (now == "0") continue;
            if (_tree.Write(g, "cpuset.sched_load_balance", "0") is var err and not 0)
            {
                _log($"scheduling: cannot turn off load balancing in {Show(g)} ({HostThread.Describe(err)}): exclusive pools share a scheduling root domain with the host, and rtds in them is refused");
                continue;
            }
            record.LoadBalance.TryAdd(g, now);
            changed.Add(g);
        }
        if (changed.Count == 0) return;
        Save(record);
        _log($"scheduling: load balancing off in {string.Join(", ", changed.Select(Show))}: each exclusive pool is a scheduling root domain of its own");
    }

    /// <summary>Moves tasks that reached the exclusive CPUs since the last sweep (nothing when not applied).</summary>
    public ShieldSweep Sweep()
    {
        lock (_sync)
        {
            if (_exclusive is null) return new(0, 0, []);
            using var _ = HostLock();
            var record = Load();
            if (record is null || !IsMine(record))
            {
                _exclusive = null; // someone undid it by hand, or took it over: not ours to restore
                _log($"scheduling: the host confinement was removed or taken over ({(record is null ? "no record" : record.Owner.ToString())}); exclusive pools are shared with the host until their next change");
                return new(0, 0, []);
            }
            var sweep = SweepLocked(record);
            if (!_exclusive.IsEmpty) Partition(record, _exclusive, _exempt); // cpusets made since, by anyone
            return sweep;
        }
    }

    /// <summary>
    /// Gives the host its CPUs back: if this daemon applied the confinement, or its owner is dead (a
    /// crash); one another running daemon holds is left alone. Safe to call when there is none.
    /// </summary>
    public void Release()
    {
        lock (_sync)
        using (HostLock())
        {
            _exclusive = null;
            var record = Load();
            if (record is null)
            {
                // No record but the group exists (record file lost): a confinement nobody owns.
                if (_tree.Exists(Group)) GiveBack(new ShieldRecord { Group = Group });
                return;
            }
            if (!IsMine(record) && record.Owner.IsAlive) return;
            if (!IsMine(record)) _log($"scheduling: giving the host back the CPUs {record.Owner} left confined (that daemon is no longer running)");
            GiveBack(record);
        }
    }

    private bool IsMine(ShieldRecord r) => r.OwnerPid == _owner.Pid && r.OwnerStartTicks == _owner.StartTicks
        || r.StateDir == _owner.StateDir && !r.Owner.IsAlive;

    private ShieldSweep SweepLocked(ShieldRecord record)
    {
        var exclusive = _exclusive!;
        var hostCpus = ParseList(record.HostCpus);
        var moved = 0;
        var refused = new Dictionary<int, string>();
        var changed = false;
        var seen = new HashSet<int>();
        for (var pass = 0; pass < Passes; pass++)
        {
            // The root and every other cpuset that reaches an exclusive CPU, except the exclusive pools' own.
            var sources = new List<string> { "" };
            foreach (var g in _tree.Groups())
            {
                if (g == Group || _exempt.Contains(g)) continue;
                string cpus;
                try { cpus = _tree.Read(g, "cpuset.cpus"); }
                catch (IOException) { continue; }
                if (!ParseList(cpus).Intersect(exclusive).IsEmpty) sources.Add(g);
            }
            var n = 0;
            foreach (var source in sources)
            {
                CpuSet sourceCpus;
                try { sourceCpus = ParseList(_tree.Read(source, "cpuset.cpus")); }
                catch (IOException) { continue; } // removed meanwhile
                foreach (var tid in _tree.Tasks(source))
                {
                    seen.Add(tid);
                    if (_neverMove.Contains(tid) || _immovable.Contains(tid)) continue;
                    if (_tree.GroupOf(tid) != source) continue; // moved meanwhile by its owner: leave it there
                    var own = _tree.Affinity(tid);
                    var err = _tree.Attach(Group, tid);
                    if (err == 0)
                    {
                        n++;
                        if (source.Length > 0) { record.MovedFrom[tid] = source; changed = true; }
                        if (own is not null && !own.Equals(sourceCpus))
                        {
                            record.Pinned[tid] = own.ToString();
                            changed = true;
                            if (own.Intersect(hostCpus) is { IsEmpty: false } keep) _ = _tree.SetAffinity(tid, keep);
                        }
                    }
                    else if (err != HostThread.ESRCH)
                    {
                        _immovable.Add(tid);
                        if (err != HostThread.EINVAL) refused[tid] = $"{Describe(tid)} in {Show(source)}: {HostThread.Describe(err)}";
                    }
                }
            }
            moved += n;
            if (n == 0) break;
        }
        if (changed)
        {
            // Forget threads that have exited, so the record does not grow with every process the host ran.
            var inGroup = _tree.Tasks(Group).ToHashSet();
            foreach (var tid in record.MovedFrom.Keys.Concat(record.Pinned.Keys).Where(t => !inGroup.Contains(t)).ToList())
            {
                record.MovedFrom.Remove(tid);
                record.Pinned.Remove(tid);
            }
            Save(record);
        }
        _immovable.IntersectWith(seen); // a thread id that has gone may come back as another task
        var kernelLeft = _tree.Tasks("").Count(t => (_immovable.Contains(t) || _neverMove.Contains(t)) && !refused.ContainsKey(t));
        if (moved > 0) _log(string.Create(CultureInfo.InvariantCulture, $"scheduling: moved {moved} task(s) to the host's cpus {record.HostCpus} ({Path.Combine(_tree.Mount, Group)})"));
        foreach (var r in refused.Values) _log($"scheduling: cannot move {r}: it may still run on exclusive cpus {exclusive}");
        return new(moved, kernelLeft, [.. refused.Values]);
    }

    /// <summary>Every task of the group back where it came from, then the group removed and the record deleted.</summary>
    private void GiveBack(ShieldRecord record)
    {
        // Load balancing first, so that nothing is left unbalanced whatever happens to the moves below.
        foreach (var (g, value) in record.LoadBalance)
            if (_tree.Exists(g) && _tree.Write(g, "cpuset.sched_load_balance", value) is var err and not 0)
                _log($"scheduling: cannot turn load balancing back on in {Show(g)}: {HostThread.Describe(err)}");
        // Tasks forked inside the group, or exiting ones the kernel still lists, can outlast a few quick
        // passes on a busy host: keep passing, with short pauses, for up to two seconds.
        var until = Environment.TickCount64 + 2000;
        for (var pass = 0; _tree.Exists(record.Group) && (pass < Passes || Environment.TickCount64 < until); pass++)
        {
            if (pass >= Passes) Thread.Sleep(5);
            foreach (var tid in _tree.Tasks(record.Group))
            {
                var to = record.MovedFrom.GetValueOrDefault(tid) is { } from && from != record.Group && _tree.Exists(from) ? from : "";
                var err = _tree.Attach(to, tid);
                if (err is not (0 or HostThread.ESRCH) && to.Length > 0) { to = ""; err = _tree.Attach(to, tid); }
                if (err == 0 && record.Pinned.TryGetValue(tid, out var own)
                    && ParseList(own).Intersect(ParseList(_tree.Read(to, "cpuset.cpus"))) is { IsEmpty: false } mask)
                    _ = _tree.SetAffinity(tid, mask);
            }
            if (_tree.Tasks(record.Group).Count == 0 && _tree.Remove(record.Group)) break;
        }
        if (_tree.Exists(record.Group))
        {
            // Tasks keep arriving (forked inside it): widen it to every CPU rather than leave anything confined.
            _ = _tree.Write(record.Group, "cpuset.cpus", _tree.Read("", "cpuset.cpus"));
            _log($"scheduling: {Path.Combine(_tree.Mount, record.Group)} still has tasks; widened to every CPU instead of removed");
            return;
        }
        try { File.Delete(_recordPath); } catch (IOException) { }
        _log($"scheduling: the host has every CPU again ({Show(record.Group)} removed)");
    }

    private ShieldRecord? Load()
    {
        if (!File.Exists(_recordPath)) return null;
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(_recordPath), ShieldJson.Default.ShieldRecord); }
        catch (JsonException) { return null; }
    }

    private void Save(ShieldRecord r)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_recordPath))!);
        AtomicFile.Write(_recordPath, JsonSerializer.SerializeToUtf8Bytes(r, ShieldJson.Default.ShieldRecord));
    }

    /// <summary>One daemon at a time changes the confinement: an exclusive lock on a file beside the record.</summary>
    private FileStream HostLock()
    {
        var path = _recordPath + ".lock";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        for (var i = 0; ; i++)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (i < 200) { Thread.Sleep(10); }
        }
    }

    private void Check(int errno, string file, string group)
    {
        if (errno != 0) throw Failed($"cannot write {Path.Combine(_tree.Mount, group, file)}: {HostThread.Describe(errno)}");
    }

    private string Show(string group) => group.Length == 0 ? $"{_tree.Mount} (root)" : Path.Combine(_tree.Mount, group);

    private static ToolstackException Failed(string message) => new(ErrorKind.Failed, $"exclusive cpus: {message}");

    private static string Describe(int tid)
    {
        try { return string.Create(CultureInfo.InvariantCulture, $"thread {tid} ({File.ReadAllText($"/proc/{tid}/comm").Trim()})"); }
        catch (IOException) { return string.Create(CultureInfo.InvariantCulture, $"thread {tid}"); }
    }

    /// <summary>A kernel CPU list ("0-3,7"; "" for none).</summary>
    internal static CpuSet ParseList(string text)
    {
        var cpus = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-');
            if (dash < 0) { if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var c)) cpus.Add(c); continue; }
            if (int.TryParse(part[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var a)
                && int.TryParse(part[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var b) && b >= a)
                cpus.AddRange(Enumerable.Range(a, b - a + 1));
        }
        return new CpuSet(cpus);
    }

    private static HashSet<int> Kthreadd()
    {
        try { return File.ReadAllText("/proc/2/comm").Trim() == "kthreadd" ? [2] : []; }
        catch (IOException) { return []; }
    }
}
