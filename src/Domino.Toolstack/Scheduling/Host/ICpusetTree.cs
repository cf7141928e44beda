using System.Globalization;
using Domino.Toolstack.Interop;
using Domino.Vmm.Scheduling;

namespace Domino.Toolstack.Scheduling.Host;

/// <summary>
/// A cgroup v1 cpuset hierarchy, and its threads' CPU affinity, as <see cref="CpusetShield"/> uses them.
/// Groups are paths relative to the mount, "" being the root cpuset. Every implementation keeps the
/// kernel's rules: a thread is in exactly one group; moving a per-CPU kernel thread fails with EINVAL;
/// a group that holds tasks or children cannot be removed; a group's CPUs lie within its parent's;
/// and (cgroup v1) moving a thread, or changing its group's CPUs, resets its affinity to the group's
/// CPUs, so a thread's own pinning is lost unless the mover puts it back.
/// </summary>
public interface ICpusetTree
{
    /// <summary>Where the hierarchy is mounted (for messages).</summary>
    string Mount { get; }

    bool Exists(string group);

    /// <summary>Creates a group (its cpus and mems start empty, as the kernel's do).</summary>
    void Create(string group);

    /// <summary>Removes an empty group; false if it still holds tasks or children.</summary>
    bool Remove(string group);

    /// <summary>Every group below the root, parents before their children.</summary>
    IReadOnlyList<string> Groups();

    /// <summary>A cpuset file's value (cpuset.cpus, cpuset.mems), trimmed.</summary>
    string Read(string group, string file);

    /// <summary>Writes a cpuset file; 0 or the errno the kernel answered.</summary>
    int Write(string group, string file, string value);

    /// <summary>The thread ids in one group (its tasks file).</summary>
    IReadOnlyList<int> Tasks(string group);

    /// <summary>Moves one thread into <paramref name="group"/>; 0 or an errno (ESRCH: gone; EINVAL: a per-CPU kernel thread).</summary>
    int Attach(string group, int tid);

    /// <summary>The group a thread is in now, or null if it has exited.</summary>
    string? GroupOf(int tid);

    /// <summary>The CPUs a thread may run on (sched_getaffinity), or null if it has exited.</summary>
    CpuSet? Affinity(int tid);

    /// <summary>Pins a thread (sched_setaffinity, within its group's CPUs); 0 or an errno.</summary>
    int SetAffinity(int tid, CpuSet cpus);
}

/// <summary>The host's cgroup v1 cpuset hierarchy (default /sys/fs/cgroup/cpuset).</summary>
public sealed class CgroupCpusetTree(string mount = "/sys/fs/cgroup/cpuset") : ICpusetTree
{
    public string Mount { get; } = mount;

    private string Dir(string group) => group.Length == 0 ? Mount : Path.Combine(Mount, group);

    public bool Exists(string group) => File.Exists(Path.Combine(Dir(group), "cpuset.cpus"));

    public void Create(string group) => Directory.CreateDirectory(Dir(group));

    public bool Remove(string group)
    {
        try
        {
            if (Directory.Exists(Dir(group))) Directory.Delete(Dir(group));
            return true;
        }
        catch (IOException) { return false; }
    }

    public IReadOnlyList<string> Groups()
    {
        var result = new List<string>();
        Walk("");
        return result;

        void Walk(string group)
        {
            string[] children;
            try { children = Directory.GetDirectories(Dir(group)); }
            catch (IOException) { return; }
            foreach (var child in children.Order(StringComparer.Ordinal))
            {
                var g = group.Length == 0 ? Path.GetFileName(child) : $"{group}/{Path.GetFileName(child)}";
                result.Add(g);
                Walk(g);
            }
        }
    }

    public string Read(string group, string file) => File.ReadAllText(Path.Combine(Dir(group), file)).Trim();

    public int Write(string group, string file, string value) => Libc.WriteFile(Path.Combine(Dir(group), file), value);

    public IReadOnlyList<int> Tasks(string group)
    {
        try
        {
            return [.. File.ReadAllLines(Path.Combine(Dir(group), "tasks"))
                .Select(l => int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : -1).Where(t => t > 0)];
        }
        catch (IOException) { return []; }
    }

    public int Attach(string group, int tid) => Write(group, "tasks", tid.ToString(CultureInfo.InvariantCulture));

    public string? GroupOf(int tid)
    {
        // proc(5) /proc/PID/cpuset: the cpuset's path from the mount, "/" for the root. A tid works as a PID here.
        try { return File.ReadAllText($"/proc/{tid}/cpuset").Trim().TrimStart('/'); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    public CpuSet? Affinity(int tid) => HostThread.GetAffinity(tid) is { Length: > 0 } cpus ? new CpuSet(cpus) : null;

    public int SetAffinity(int tid, CpuSet cpus) => HostThread.SetAffinity(tid, [.. cpus.Cpus]);
}
