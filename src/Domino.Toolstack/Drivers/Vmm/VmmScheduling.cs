using System.Globalization;
using System.Text;
using Domino.Toolstack.Scheduling.Host;
using Domino.Toolstack.Store;
using Domino.Vmm;
using Domino.Vmm.Scheduling;

namespace Domino.Toolstack.Drivers.Vmm;

/// <summary>
/// What the daemon and a VMM process exchange for scheduling, as files in STATE/vmm/ (they outlive
/// either side): <c>UUID.vcpus</c>, written by the VMM, gives each vCPU's host thread
/// (<c>pid tid vcpu</c> per line); <c>UUID.arinc653</c>, written by the daemon, is the gate table the
/// VMM enforces (<c>major_ns epoch_ns</c>, then <c>vcpu cpu offset_ns length_ns</c> per window).
/// The VMM polls the table file and installs a new table at each vCPU's next window wait.
/// </summary>
public static class VmmScheduling
{
    public static string ThreadsFile(StateStore store, Guid uuid) => Path.Combine(store.VmmDir, $"{uuid}.vcpus");
    public static string GateFile(StateStore store, Guid uuid) => Path.Combine(store.VmmDir, $"{uuid}.arinc653");

    /// <summary>Removes both files (the VMM is gone).</summary>
    public static void Forget(StateStore store, Guid uuid)
    {
        foreach (var f in new[] { ThreadsFile(store, uuid), GateFile(store, uuid) })
            try { File.Delete(f); } catch (IOException) { }
    }

    public static void WriteThreads(StateStore store, Guid uuid, int pid, IReadOnlyList<int> tids)
    {
        var sb = new StringBuilder();
        for (var v = 0; v < tids.Count; v++) sb.Append(CultureInfo.InvariantCulture, $"{pid} {tids[v]} {v}\n");
        AtomicFile.Write(ThreadsFile(store, uuid), sb.ToString());
    }

    public static IReadOnlyList<VcpuThread> ReadThreads(StateStore store, Guid uuid)
    {
        try
        {
            return [.. File.ReadAllLines(ThreadsFile(store, uuid)).Select(l => l.Split(' ')).Where(f => f.Length == 3)
                .Select(f => new VcpuThread(int.Parse(f[2], CultureInfo.InvariantCulture), int.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture)))];
        }
        catch (Exception e) when (e is IOException or FormatException) { return []; }
    }

    /// <summary>Publishes (or, with null, withdraws) a domain's gate table.</summary>
    public static void WriteGate(StateStore store, Guid uuid, GateTable? table)
    {
        var path = GateFile(store, uuid);
        if (table is null)
        {
            try { File.Delete(path); } catch (IOException) { }
            return;
        }
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{table.MajorFrameNs} {table.EpochNs}\n");
        foreach (var w in table.Windows) sb.Append(CultureInfo.InvariantCulture, $"{w.Vcpu} {w.Cpu} {w.OffsetNs} {w.LengthNs}\n");
        AtomicFile.Write(path, sb.ToString());
    }

    public static GateTable? ReadGate(string path)
    {
        try
        {
            var lines = File.ReadAllLines(path);
            var head = lines[0].Split(' ');
            var windows = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(' ').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray())
                .Select(f => new GateWindow((int)f[0], (int)f[1], f[2], f[3])).ToList();
            return new GateTable(long.Parse(head[0], CultureInfo.InvariantCulture), long.Parse(head[1], CultureInfo.InvariantCulture), windows);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or ArgumentException) { return null; }
    }

    /// <summary>A gate lead in µs from the environment (the daemon's, which VMM processes inherit), else the default.</summary>
    private static long LeadNs(string variable, long defaultNs) =>
        long.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.None, CultureInfo.InvariantCulture, out var us) ? us * 1000 : defaultNs;

    /// <summary>CPU time all of the VM's vCPU threads have used (schedstat), for the gate report's CPU share.</summary>
    private static long VcpuCpuNs(VirtualMachine vm) =>
        vm.VcpuThreadIds().Sum(tid => Math.Max(0, HostThread.CpuNs(Environment.ProcessId, tid)));

    /// <summary>In the VMM process: publishes the vCPU threads (before the daemon learns the process serves).</summary>
    public static void PublishThreads(VirtualMachine vm, StateStore store, Guid uuid) =>
        WriteThreads(store, uuid, Environment.ProcessId, vm.VcpuThreadIds());

    /// <summary>
    /// In the VMM process: follows the gate table file until <paramref name="ct"/> is cancelled.
    /// Returns the following thread: the caller cancels and joins it before it disposes the VM or the
    /// token's source.
    /// </summary>
    public static Thread FollowGate(VirtualMachine vm, StateStore store, Guid uuid, Action<string> log, CancellationToken ct)
    {
        var path = GateFile(store, uuid);
        var thread = new Thread(() =>
        {
            DateTime seen = default;
            Arinc653Gate? gate = null;
            var nextReport = Environment.TickCount64 + 10_000;
            var lastCollections = GC.CollectionCount(0);
            var (lastCpuNs, lastWallNs) = (VcpuCpuNs(vm), HostThread.MonotonicNs());
            while (!ct.IsCancellationRequested)
            {
                if (gate is not null && Environment.TickCount64 >= nextReport)
                {
                    nextReport = Environment.TickCount64 + 10_000;
                    // A collection stops every vCPU thread that returns to managed code while it runs: count them.
                    var collections = GC.CollectionCount(0);
                    var (cpuNs, wallNs) = (VcpuCpuNs(vm), HostThread.MonotonicNs());
                    var share = (double)(cpuNs - lastCpuNs) / (wallNs - lastWallNs);
                    if (gate.Stats.Take() is { Windows: > 0 } report)
                        log(string.Create(CultureInfo.InvariantCulture, $"arinc653: {report}; {collections - lastCollections} garbage collections; vCPU threads' CPU share {share:0.0000}"));
                    (lastCollections, lastCpuNs, lastWallNs) = (collections, cpuNs, wallNs);
                }
                var stamp = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : default;
                if (stamp != seen)
                {
                    seen = stamp;
                    var table = stamp == default ? null : ReadGate(path);
                    if (table is null)
                    {
                        if (gate is not null) log("arinc653: gate removed; vCPUs run freely");
                        gate = null;
                        vm.SetGate(null);
                    }
                    else if (gate is null)
                    {
                        var kickLead = LeadNs("DOMINO_ARINC653_KICK_LEAD_US", Arinc653Gate.DefaultKickLeadNs);
                        var wakeLead = LeadNs("DOMINO_ARINC653_WAKE_LEAD_US", Arinc653Gate.DefaultWakeLeadNs);
                        gate = new Arinc653Gate(table, kickAtWindowEnd: true, kickLeadNs: kickLead, wakeLeadNs: wakeLead);
                        vm.SetGate(gate);
                        log($"arinc653: gate installed ({table.Windows.Count} window(s) per {table.MajorFrameNs / 1000} µs major frame, kick lead {kickLead / 1000} µs, wake lead {wakeLead / 1000} µs)");
                    }
                    else gate.Replace(table);
                }
                try
                {
                    ct.WaitHandle.WaitOne(50);
                }
                catch (ObjectDisposedException)
                {
                    return; // the host is already past its clean-up: nothing left to follow
                }
            }
        }) { Name = "arinc653-table", IsBackground = true };
        thread.Start();
        return thread;
    }
}
