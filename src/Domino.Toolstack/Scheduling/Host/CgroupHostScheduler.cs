using System.Globalization;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Interop;
using Domino.Toolstack.Scheduling.Credit;
using Domino.Toolstack.Scheduling.Rtds;
using Domino.Vmm.Scheduling;

namespace Domino.Toolstack.Scheduling.Host;

/// <summary>
/// Host enforcement with cgroup v1 and sched_setattr:
/// <list type="bullet">
/// <item>each pool is a cpuset <c>CPUSET/domino/pool&lt;id&gt;</c> holding its domains' vCPU threads;</item>
/// <item>each credit/credit2 domain is a cpu group <c>CPU/domino/&lt;uuid&gt;</c>: weight → cpu.shares,
/// cap → cpu.cfs_quota_us over a 100 ms cpu.cfs_period_us;</item>
/// <item>hard (and balanced soft) affinity is the thread's sched_setaffinity mask, inside the pool's cpuset;</item>
/// <item>rtds vCPU threads are SCHED_DEADLINE (runtime = budget, deadline = period = period; extratime
/// → SCHED_FLAG_RECLAIM) in the root cpu group, where real-time bandwidth is available;</item>
/// <item>arinc653 vCPU threads stay in the root cpu group; the VMM's gate makes them SCHED_FIFO;</item>
/// <item>exclusive pools: the host's other tasks confined to the remaining CPUs by a <see cref="CpusetShield"/>.</item>
/// </list>
/// </summary>
public sealed class CgroupHostScheduler : IHostScheduler
{
    private readonly string _cpusetRoot;
    private readonly string _cpuRoot;
    private readonly Lock _sync = new();
    private readonly Dictionary<int, HostPool> _pools = [];
    // What PrepareProcess wrote to each prepared process's group: a domain that adopts the group with
    // the same values has nothing to write (each write of a cpu controller file takes the kernel's locks).
    private readonly Dictionary<int, (long Shares, long QuotaUs)> _prepared = [];
    /// <summary>rtds vCPU threads asleep on a CPU outside their pool: they get SCHED_DEADLINE once they have run on the pool (<see cref="SweepHost"/>).</summary>
    private readonly Dictionary<(Guid Domain, int Vcpu), (VcpuThread Thread, RtdsParams Rtds, HostPool Pool, string Who)> _pendingDeadline = [];
    private readonly Action<string> _log;
    private Dictionary<int, (long Busy, long Total)> _lastStat = [];
    private HostConfinement? _confinement;

    /// <param name="cpusetMount">The cgroup v1 cpuset mount (default /sys/fs/cgroup/cpuset).</param>
    /// <param name="cpuMount">The cgroup v1 cpu mount (default /sys/fs/cgroup/cpu).</param>
    /// <param name="group">The group holding Domino's pools and domains in each hierarchy.</param>
    /// <param name="shield">Confines the host for exclusive pools (default: the host's, owned by this process).</param>
    public CgroupHostScheduler(string cpusetMount = "/sys/fs/cgroup/cpuset", string cpuMount = "/sys/fs/cgroup/cpu", string group = "domino",
        CpusetShield? shield = null, Action<string>? log = null)
    {
        CpusetMount = cpusetMount;
        CpuMount = cpuMount;
        _cpusetRoot = Path.Combine(cpusetMount, group);
        _cpuRoot = Path.Combine(cpuMount, group);
        _log = log ?? (_ => { });
        Shield = shield ?? new CpusetShield(new CgroupCpusetTree(cpusetMount), CpusetShield.DefaultRecord,
            ShieldOwner.Current(Environment.CurrentDirectory), log: _log);
    }

    public CpusetShield Shield { get; }

    public string Name => "cgroup-v1";
    public string CpusetMount { get; }
    public string CpuMount { get; }

    /// <summary>True when both controllers are mounted as cgroup v1 and writable by us.</summary>
    public static bool Available(string cpusetMount = "/sys/fs/cgroup/cpuset", string cpuMount = "/sys/fs/cgroup/cpu") =>
        Unavailable(cpusetMount, cpuMount) is null;

    /// <summary>Why this host scheduler cannot run here, naming the fix; null when it can.</summary>
    public static string? Unavailable(string cpusetMount = "/sys/fs/cgroup/cpuset", string cpuMount = "/sys/fs/cgroup/cpu")
    {
        if (Environment.UserName != "root")
            return "the daemon is not root, so it cannot move tasks between cpusets: run 'domino daemon' as root";
        if (!File.Exists(Path.Combine(cpusetMount, "cpuset.cpus")))
            return File.Exists(Path.Combine(Path.GetDirectoryName(cpusetMount) ?? "/", "cgroup.controllers"))
                ? $"this host has cgroup v2 at {Path.GetDirectoryName(cpusetMount)}; Domino enforces pools with the cgroup v1 cpuset controller, and a v2 cpuset partition (cpuset.cpus.partition = isolated) is not implemented: boot with cgroup v1 (systemd.unified_cgroup_hierarchy=0), or keep the pool shared"
                : $"no cgroup v1 cpuset controller at {cpusetMount}: mount one ('mkdir -p {cpusetMount} && mount -t cgroup -o cpuset cpuset {cpusetMount}')";
        if (!File.Exists(Path.Combine(cpuMount, "cpu.shares")))
            return $"no cgroup v1 cpu controller at {cpuMount}: mount one ('mkdir -p {cpuMount} && mount -t cgroup -o cpu cpu {cpuMount}')";
        return null;
    }

    public string PoolDir(int poolId) => Path.Combine(_cpusetRoot, Inv($"pool{poolId}"));
    public string DomainDir(Guid uuid) => Path.Combine(_cpuRoot, uuid.ToString());

    /// <summary>The cpu group a prepared process waits in (<see cref="PrepareProcess"/>); it becomes its domain's group.</summary>
    public string ProcessDir(int pid) => Path.Combine(_cpuRoot, Inv($"vmm-{pid}"));

    public void ApplyPool(HostPool pool)
    {
        lock (_sync)
        {
            EnsureCpusetParent();
            var dir = PoolDir(pool.Id);
            Directory.CreateDirectory(dir);
            // A cpuset needs mems before it can hold tasks; take the parent's.
            Write(dir, "cpuset.mems", Read(_cpusetRoot, "cpuset.mems"), $"pool '{pool.Name}'");
            Write(dir, "cpuset.cpus", pool.Cpus.ToString(), $"pool '{pool.Name}'");
            _pools[pool.Id] = pool;
        }
    }

    public void RemovePool(int poolId)
    {
        lock (_sync)
        {
            _pools.Remove(poolId);
            var dir = PoolDir(poolId);
            if (!Directory.Exists(dir)) return;
            MoveTasks(dir, CpusetMount);
            TryRmdir(dir);
        }
    }

    public void ApplyDomain(HostDomain domain)
    {
        lock (_sync)
        {
            var policy = IHostScheduler.PolicyFor(domain.Pool.Scheduler);
            string? group = null;
            if (domain.CpuGroup is { } values)
            {
                EnsureCpuParent();
                group = DomainDir(domain.Uuid);
                // A domain started in a prepared process takes that process's group, threads and all.
                (long, long)? adopted = null;
                if (!Directory.Exists(group) && domain.Vcpus.FirstOrDefault(v => v.Thread is not null)?.Thread is { } first
                    && Directory.Exists(ProcessDir(first.Pid)))
                {
                    try
                    {
                        Directory.Move(ProcessDir(first.Pid), group);
                        if (_prepared.Remove(first.Pid, out var prepared)) adopted = prepared;
                    }
                    catch (IOException e) { _log($"scheduling: adopting {ProcessDir(first.Pid)} for domain '{domain.Name}': {e.Message}"); }
                }
                if (adopted != values)
                {
                    Directory.CreateDirectory(group);
                    var what = $"domain '{domain.Name}'";
                    Write(group, "cpu.shares", Inv($"{values.Shares}"), what);
                    Write(group, "cpu.cfs_period_us", Inv($"{CreditParams.CfsPeriodUs}"), what);
                    Write(group, "cpu.cfs_quota_us", Inv($"{values.QuotaUs}"), what);
                }
            }
            foreach (var v in domain.Vcpus)
            {
                if (v.Thread is not { } t || !Directory.Exists($"/proc/{t.Pid}/task/{t.Tid}")) continue; // gone: nothing to place
                var who = $"domain '{domain.Name}' vcpu {v.Vcpu} (thread {t.Tid})";
                void Deadline(RtdsParams r)
                {
                    _pendingDeadline.Remove((domain.Uuid, v.Vcpu));
                    if (TrySetDeadline(t, r, domain.Pool, who)) return;
                    // SCHED_DEADLINE is checked against the root domain of the CPU the thread last ran
                    // on, and a sleeping thread (a paused vCPU) only moves to its new CPUs when it next
                    // wakes: it gets its reservation once it has run there.
                    _pendingDeadline[(domain.Uuid, v.Vcpu)] = (t, r, domain.Pool, who);
                    _log(Inv($"scheduling: {who} is asleep on cpu {HostThread.LastCpu(t.Pid, t.Tid)}, outside pool '{domain.Pool.Name}': it gets SCHED_DEADLINE when it has run on cpus {domain.Pool.Cpus}"));
                }
                // A SCHED_DEADLINE thread already in its pool's groups and pinned to the pool takes new
                // parameters in place. Leaving SCHED_DEADLINE first would keep its old bandwidth reserved
                // until its 0-lag time, and on a pool of one CPU the new reservation would not fit beside it.
                if (policy == ThreadPolicy.Deadline && HostThread.GetPolicy(t.Tid) == HostThread.SchedDeadline
                    && InGroup(CpusetMount, "cpuset", PoolDir(domain.Pool.Id), t) && InGroup(CpuMount, "cpu", group ?? CpuMount, t)
                    && HostThread.GetAffinity(t.Tid).Order().SequenceEqual(domain.Pool.Cpus.Cpus.Order()))
                {
                    Deadline(v.Rtds!);
                    continue;
                }
                // Leave any real-time policy first: a SCHED_DEADLINE thread cannot be re-pinned or moved into a CFS group.
                if (policy != ThreadPolicy.Deadline) Check(HostThread.SetFair(t.Tid), who, "return to SCHED_OTHER");
                if (!WriteTask(CpusetMount, "cpuset", PoolDir(domain.Pool.Id), t, who) || !WriteTask(CpuMount, "cpu", group ?? CpuMount, t, who)) continue;
                if (policy == ThreadPolicy.Deadline)
                {
                    // SCHED_DEADLINE admission: the thread's mask must span its root domain, so pin before the policy.
                    Check(HostThread.SetFair(t.Tid), who, "return to SCHED_OTHER");
                    Check(HostThread.SetAffinity(t.Tid, [.. domain.Pool.Cpus.Cpus]), who, "pin to the pool");
                    Deadline(v.Rtds!);
                }
                else Check(HostThread.SetAffinity(t.Tid, [.. v.Mask.Cpus]), who, $"pin to cpus {v.Mask}");
            }
            if (group is null) TryRmdir(DomainDir(domain.Uuid));
        }
    }

    /// <summary>
    /// Sets SCHED_DEADLINE on a thread already pinned to its pool. False when the kernel refuses it
    /// only because the thread last ran outside the pool (it sleeps there); any other refusal throws.
    /// </summary>
    private static bool TrySetDeadline(VcpuThread t, RtdsParams r, HostPool pool, string who)
    {
        var err = HostThread.SetDeadline(t.Tid, r.BudgetUs * 1000L, r.PeriodUs * 1000L, r.Extratime);
        if (err == HostThread.EPERM && HostThread.LastCpu(t.Pid, t.Tid) is var last and >= 0 && !pool.Cpus.Cpus.Contains(last))
            return false;
        if (err == HostThread.EPERM)
            throw new ToolstackException(ErrorKind.Failed,
                $"{who}: SCHED_DEADLINE refused (EPERM): its pool '{pool.Name}' (cpus {pool.Cpus}) is not a scheduling root domain of its own on this host; make the pool exclusive ('domino cpupool-exclusive {pool.Name} 1'), which gives it one, or give the rtds pool all host CPUs (docs/scheduling.md, 'RTDS')");
        if (err == HostThread.EBUSY)
            throw new ToolstackException(ErrorKind.Failed,
                $"{who}: SCHED_DEADLINE admission control refused budget {r.BudgetUs} µs / period {r.PeriodUs} µs: the pool's reserved bandwidth would exceed the kernel's limit (/proc/sys/kernel/sched_rt_runtime_us); lower budgets with 'domino sched-rtds'");
        Check(err, who, "set SCHED_DEADLINE");
        return true;
    }

    public void PrepareProcess(int pid, HostPool pool, (long Shares, long QuotaUs)? cpuGroup)
    {
        string cpusetDir, cpuDir;
        lock (_sync)
        {
            // Groups of prepared processes that are gone (a spare discarded, or a daemon that died).
            if (Directory.Exists(_cpuRoot))
                foreach (var stale in Directory.EnumerateDirectories(_cpuRoot, "vmm-*"))
                    if (int.TryParse(Path.GetFileName(stale)[4..], NumberStyles.None, CultureInfo.InvariantCulture, out var p) && !Directory.Exists($"/proc/{p}"))
                    {
                        TryRmdir(stale);
                        _prepared.Remove(p);
                    }
            RemoveDeadDomainGroups();
            cpusetDir = PoolDir(pool.Id);
            if (!Directory.Exists(cpusetDir)) return;
            cpuDir = CpuMount;
            if (cpuGroup is { } values)
            {
                EnsureCpuParent();
                cpuDir = ProcessDir(pid);
                Directory.CreateDirectory(cpuDir);
                var what = $"VMM process {pid}";
                Write(cpuDir, "cpu.shares", Inv($"{values.Shares}"), what);
                Write(cpuDir, "cpu.cfs_period_us", Inv($"{CreditParams.CfsPeriodUs}"), what);
                Write(cpuDir, "cpu.cfs_quota_us", Inv($"{values.QuotaUs}"), what);
                _prepared[pid] = values;
            }
        }
        // The moves themselves wait on the kernel, outside the lock: ApplyDomain must not wait behind them.
        foreach (var dir in new[] { cpusetDir, cpuDir })
        {
            var errno = Libc.WriteFile(Path.Combine(dir, "cgroup.procs"), Inv($"{pid}"));
            if (errno != 0 && Directory.Exists($"/proc/{pid}")) _log($"scheduling: cannot move VMM process {pid} into {dir}: {HostThread.Describe(errno)}");
        }
    }

    public void RemoveDomain(Guid uuid)
    {
        lock (_sync)
        {
            foreach (var key in _pendingDeadline.Keys.Where(k => k.Domain == uuid).ToList()) _pendingDeadline.Remove(key);
            var dir = DomainDir(uuid);
            if (!Directory.Exists(dir)) return;
            MoveTasks(dir, CpuMount);
            TryRmdir(dir);
        }
    }

    public void ConfineHost(HostConfinement? confinement)
    {
        lock (_sync)
        {
            if (confinement is null)
            {
                _confinement = null;
                Shield.Release();
                return;
            }
            if (!File.Exists(Path.Combine(CpusetMount, "cpuset.cpus")))
                throw new ToolstackException(ErrorKind.Failed, $"exclusive cpus: {Unavailable(CpusetMount, CpuMount)}");
            var exempt = confinement.ExclusivePools.Select(p => Path.GetRelativePath(CpusetMount, PoolDir(p.Id))).ToHashSet();
            var sweep = Shield.Apply(confinement.HostCpus, confinement.ExclusiveCpus, exempt);
            _confinement = confinement;
            _log(Inv($"scheduling: host confined to cpus {confinement.HostCpus}, exclusive cpus {confinement.ExclusiveCpus}: {sweep.Moved} task(s) moved, {sweep.KernelThreadsLeft} per-CPU kernel thread(s) stay, {sweep.Refused.Count} refused"));
        }
    }

    public void SweepHost()
    {
        lock (_sync)
        {
            foreach (var (key, p) in _pendingDeadline.ToList())
            {
                try
                {
                    if (!Directory.Exists($"/proc/{p.Thread.Pid}/task/{p.Thread.Tid}") || TrySetDeadline(p.Thread, p.Rtds, p.Pool, p.Who))
                        _pendingDeadline.Remove(key);
                }
                catch (ToolstackException e)
                {
                    _pendingDeadline.Remove(key);
                    _log($"scheduling: {e.Message}");
                }
            }
            if (_confinement is null) return;
            // Another writer (a second Domino daemon shares these group names) may have widened a pool
            // onto an exclusive CPU: put the pools back as this daemon has them, then sweep.
            foreach (var pool in _pools.Values)
            {
                var dir = PoolDir(pool.Id);
                string now;
                try { now = Read(dir, "cpuset.cpus"); }
                catch (IOException) { continue; }
                if (CpusetShield.ParseList(now).Equals(pool.Cpus)) continue;
                _log($"scheduling: {dir} had cpus '{now}', not pool '{pool.Name}''s {pool.Cpus}: restored");
                try { Write(dir, "cpuset.cpus", pool.Cpus.ToString(), $"pool '{pool.Name}'"); }
                catch (ToolstackException e) { _log($"scheduling: {e.Message}"); }
            }
            Shield.Sweep();
        }
    }

    public void SetMask(VcpuThread thread, CpuSet mask)
    {
        var err = HostThread.SetAffinity(thread.Tid, [.. mask.Cpus]);
        if (err != 0 && err != HostThread.ESRCH)
            throw new ToolstackException(ErrorKind.Failed, $"vcpu {thread.Vcpu} (thread {thread.Tid}): cannot pin to cpus {mask}: {HostThread.Describe(err)}");
    }

    /// <summary>Idle fractions from /proc/stat since the previous call (idle + iowait over all time).</summary>
    public IReadOnlyDictionary<int, double> CpuIdle()
    {
        var now = new Dictionary<int, (long Busy, long Total)>();
        foreach (var line in File.ReadLines("/proc/stat"))
        {
            if (!line.StartsWith("cpu", StringComparison.Ordinal) || line.Length < 4 || !char.IsAsciiDigit(line[3])) continue;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var values = f.Skip(1).Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            var idle = values[3] + (values.Length > 4 ? values[4] : 0);
            now[int.Parse(f[0].AsSpan(3), CultureInfo.InvariantCulture)] = (values.Sum() - idle, values.Sum());
        }
        Dictionary<int, (long Busy, long Total)> last;
        lock (_sync) (last, _lastStat) = (_lastStat, now);
        var result = new Dictionary<int, double>();
        foreach (var (cpu, (busy, total)) in now)
        {
            var (b0, t0) = last.GetValueOrDefault(cpu);
            var dt = total - t0;
            result[cpu] = dt <= 0 ? 0 : 1.0 - (double)(busy - b0) / dt;
        }
        return result;
    }

    private readonly Dictionary<int, (long WaitNs, long At)> _lastWait = [];

    /// <summary>From schedstat's second field (time spent on a runqueue waiting), since the previous call.</summary>
    public double WaitFraction(VcpuThread thread)
    {
        long wait;
        try
        {
            var f = File.ReadAllText($"/proc/{thread.Pid}/task/{thread.Tid}/schedstat").Split(' ');
            wait = long.Parse(f[1], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { return 0; }
        var now = HostThread.MonotonicNs();
        (long WaitNs, long At) last;
        lock (_sync)
        {
            last = _lastWait.GetValueOrDefault(thread.Tid, (wait, now));
            _lastWait[thread.Tid] = (wait, now);
        }
        var dt = now - last.At;
        return dt <= 0 ? 0 : Math.Clamp((double)(wait - last.WaitNs) / dt, 0, 1);
    }

    private void EnsureCpusetParent()
    {
        if (Directory.Exists(_cpusetRoot)) return;
        Directory.CreateDirectory(_cpusetRoot);
        Write(_cpusetRoot, "cpuset.mems", Read(CpusetMount, "cpuset.mems"), "the domino cpuset");
        Write(_cpusetRoot, "cpuset.cpus", Read(CpusetMount, "cpuset.cpus"), "the domino cpuset");
    }

    /// <summary>cpu.shares of the group holding every domain's group, against the host's own processes
    /// (null: the kernel default, 1024, like any one host process).</summary>
    public long? GroupShares { get; init; }

    private void EnsureCpuParent()
    {
        Directory.CreateDirectory(_cpuRoot);
        if (GroupShares is { } shares) Write(_cpuRoot, "cpu.shares", Inv($"{shares}"), "the domino cpu group");
    }

    /// <summary>Removes the (empty) parent groups; pools and domains must have been removed first.</summary>
    public void RemoveGroups()
    {
        TryRmdir(_cpuRoot);
        TryRmdir(_cpusetRoot);
    }

    private static string Read(string dir, string file) => File.ReadAllText(Path.Combine(dir, file)).Trim();

    private static void Write(string dir, string file, string value, string what)
    {
        try { File.WriteAllText(Path.Combine(dir, file), value); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ToolstackException(ErrorKind.Failed, $"{what}: cannot write '{value}' to {Path.Combine(dir, file)}: {e.Message}");
        }
    }

    /// <summary>Whether the thread is in <paramref name="dir"/> of <paramref name="controller"/>'s hierarchy.</summary>
    private static bool InGroup(string mount, string controller, string dir, VcpuThread t) =>
        GroupOf(ReadOrEmpty($"/proc/{t.Pid}/task/{t.Tid}/cgroup"), controller) == GroupPath(mount, dir);

    /// <summary>
    /// Moves a thread into a group (<paramref name="dir"/> under <paramref name="mount"/>, the hierarchy of
    /// <paramref name="controller"/>) unless it is there already; false if the thread has exited
    /// meanwhile (a guest that ended at once).
    /// </summary>
    private static bool WriteTask(string mount, string controller, string dir, VcpuThread t, string who)
    {
        if (InGroup(mount, controller, dir, t)) return true;
        try
        {
            File.WriteAllText(Path.Combine(dir, "tasks"), Inv($"{t.Tid}"));
            return true;
        }
        catch (IOException) when (!Directory.Exists($"/proc/{t.Pid}/task/{t.Tid}")) { return false; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ToolstackException(ErrorKind.Failed, $"{who}: cannot move it into {dir}: {e.Message}");
        }
    }

    /// <summary>The group path (as /proc/PID/cgroup shows it, e.g. <c>/domino/pool0</c>) of <paramref name="controller"/>'s hierarchy in a cgroup file; null when absent.</summary>
    public static string? GroupOf(string procCgroup, string controller)
    {
        foreach (var line in procCgroup.Split('\n'))
        {
            // hierarchy-ID:controller-list:path (cgroup v1; v2's line has an empty controller list)
            var parts = line.Split(':', 3);
            if (parts.Length == 3 && parts[1].Split(',').Contains(controller)) return parts[2];
        }
        return null;
    }

    /// <summary>The group path of directory <paramref name="dir"/> in the hierarchy mounted at <paramref name="mount"/>.</summary>
    public static string GroupPath(string mount, string dir)
    {
        var relative = Path.GetRelativePath(mount, dir);
        return relative == "." ? "/" : "/" + relative;
    }

    private static string ReadOrEmpty(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return ""; }
    }

    private static void Check(int errno, string who, string action)
    {
        if (errno == 0 || errno == HostThread.ESRCH) return; // a thread that has exited needs nothing
        throw new ToolstackException(ErrorKind.Failed, $"{who}: cannot {action}: {HostThread.Describe(errno)}");
    }

    /// <summary>Moves any task still in <paramref name="dir"/> to <paramref name="to"/> so the group can go.</summary>
    private static void MoveTasks(string dir, string to)
    {
        try
        {
            foreach (var tid in File.ReadAllLines(Path.Combine(dir, "tasks")).Where(l => l.Length > 0))
                try { File.WriteAllText(Path.Combine(to, "tasks"), tid); } catch (IOException) { }
        }
        catch (IOException) { }
    }

    /// <summary>How old an empty domain group must be before <see cref="RemoveDeadDomainGroups"/> takes it for dead.</summary>
    internal TimeSpan DeadGroupAge { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Removes the cpu groups of domains whose daemon went with them (killed, its state dir gone): a
    /// running or paused domain's group holds its VMM process, so an empty one is dead once it is older
    /// than <see cref="DeadGroupAge"/>; a group another daemon has only just made for its domain is younger.
    /// </summary>
    private void RemoveDeadDomainGroups()
    {
        if (!Directory.Exists(_cpuRoot)) return;
        var before = DateTime.UtcNow - DeadGroupAge;
        foreach (var dir in Directory.EnumerateDirectories(_cpuRoot))
        {
            if (!Guid.TryParse(Path.GetFileName(dir), out _) || Directory.GetLastWriteTimeUtc(dir) > before) continue;
            if (ReadOrEmpty(Path.Combine(dir, "tasks")).Length == 0) TryRmdir(dir);
        }
    }

    private static void TryRmdir(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir); } catch (IOException) { }
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
