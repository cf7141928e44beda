using System.Globalization;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Arinc653;
using Domino.Toolstack.Scheduling.Host;
using Domino.Vmm.Scheduling;

namespace Domino.Bench.Scheduling;

/// <summary>
/// Each scenario builds pools and domains through the real <see cref="SchedulingService"/> and
/// <see cref="CgroupHostScheduler"/> (in a cgroup of its own, domino-bench), places busy host threads
/// as the domains' vCPUs, and measures the CPU time each thread gets (schedstat).
/// </summary>
internal sealed class SchedulingBench(double seconds, int cpu)
{
    private const double Tolerance = 0.05;

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private sealed class Run : IDisposable
    {
        private readonly Dictionary<Guid, List<VcpuThread>> _threads = [];
        private readonly List<BusyThread> _busy = [];
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "domino-bench-" + Guid.NewGuid().ToString("N")[..8]);

        public Run(SchedulerKind pool0, long groupShares)
        {
            Directory.CreateDirectory(_dir);
            Host = new CgroupHostScheduler(group: "domino-bench") { GroupShares = groupShares };
            Service = new SchedulingService(_dir, Host, defaultScheduler: pool0, log: m => Console.Error.WriteLine(m));
            Service.Threads = uuid => _threads.TryGetValue(uuid, out var t) ? t : [];
        }

        public CgroupHostScheduler Host { get; }
        public SchedulingService Service { get; }
        public List<Guid> Domains { get; } = [];

        public BusyThread Domain(string name, string? pool, string sched, Func<BusyThread, bool>? body = null)
        {
            var uuid = Guid.NewGuid();
            var t = new BusyThread(name, body);
            _busy.Add(t);
            _threads[uuid] = [new VcpuThread(0, Environment.ProcessId, t.Tid)];
            var config = "{\"c_info\":{\"name\":\"" + name + "\"" + (pool is null ? "" : ",\"pool_name\":\"" + pool + "\"") + "},\"b_info\":{\"sched_params\":{" + sched + "}}}";
            Service.Started(uuid, Domains.Count + 1, new DomainSpec { Name = name, Vcpus = 1 }, config);
            Domains.Add(uuid);
            t.Uuid = uuid;
            return t;
        }

        public void Dispose()
        {
            foreach (var t in _busy) t.Stop();
            foreach (var t in _busy) t.Join();
            foreach (var d in Domains) Service.Released(d);
            foreach (var p in Service.Pools().Where(p => p.Id != 0)) Service.DestroyPool(p.Name);
            Host.RemovePool(0);
            Host.RemoveGroups();
            Service.Dispose();
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>CPU time each thread gets over the measuring window, as a fraction of one CPU.</summary>
    private Dictionary<BusyThread, double> Measure(params BusyThread[] threads) => Measure(null, threads);

    private Dictionary<BusyThread, double> Measure(Action? measuring, params BusyThread[] threads)
    {
        Thread.Sleep(500); // settle: CFS groups and bandwidth periods reach their steady state, code is jitted
        measuring?.Invoke();
        var start = threads.ToDictionary(t => t, t => t.CpuNs);
        var t0 = HostThread.MonotonicNs();
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        var wall = HostThread.MonotonicNs() - t0;
        return threads.ToDictionary(t => t, t => (double)(t.CpuNs - start[t]) / wall);
    }

    private static bool Verdict(string what, double measured, double expected)
    {
        var error = Math.Abs(measured / expected - 1);
        var ok = error <= Tolerance;
        Console.WriteLine(Inv($"| {what} | {expected:0.###} | {measured:0.###} | {error * 100:0.0} % | {(ok ? "pass" : "FAIL")} |"));
        return ok;
    }

    private static void Header(string title)
    {
        Console.WriteLine($"## {title}");
        Console.WriteLine("| measurement | expected | measured | error | within 5 % |");
        Console.WriteLine("|---|---|---|---|---|");
    }

    /// <summary>Two busy domains, weights 512 and 256, alone in a credit pool of one CPU: 2:1.</summary>
    public bool Credit()
    {
        Header("credit: weights 512 vs 256 on one CPU (cpu.shares 2048 vs 1024)");
        using var run = new Run(SchedulerKind.Credit, groupShares: 1024);
        run.Service.RemoveCpus(SchedulingService.DefaultPool, Inv($"{cpu}"));
        run.Service.CreatePool("bench", SchedulerKind.Credit, Inv($"{cpu}"));
        var a = run.Domain("heavy", "bench", "\"weight\":512");
        var b = run.Domain("light", "bench", "\"weight\":256");
        var m = Measure(a, b);
        Console.WriteLine(Inv($"| CPU share heavy / light (of cpu {cpu}: {m[a]:0.###} / {m[b]:0.###}) | 2 | {m[a] / m[b]:0.###} | {Math.Abs(m[a] / m[b] / 2 - 1) * 100:0.0} % | {(Math.Abs(m[a] / m[b] / 2 - 1) <= Tolerance ? "pass" : "FAIL")} |"));
        Console.WriteLine();
        return Math.Abs(m[a] / m[b] / 2 - 1) <= Tolerance;
    }

    /// <summary>One busy domain with cap 25 in a pool of one CPU: 25 % of that CPU.</summary>
    public bool Cap()
    {
        Header("credit: cap 25 (cfs_quota_us 25000 per 100000)");
        // The domino group outweighs host processes (cpu.shares 262144) so the cap, not host load, is what limits the guest.
        using var run = new Run(SchedulerKind.Credit, groupShares: 262144);
        run.Service.RemoveCpus(SchedulingService.DefaultPool, Inv($"{cpu}"));
        run.Service.CreatePool("bench", SchedulerKind.Credit, Inv($"{cpu}"));
        var c = run.Domain("capped", "bench", "\"cap\":25");
        var m = Measure(c);
        var ok = Verdict("CPU share of the capped domain", m[c], 0.25);
        Console.WriteLine();
        return ok;
    }

    /// <summary>RTDS vCPUs without extratime in Pool-0 running rtds (all CPUs: SCHED_DEADLINE's root domain).</summary>
    public bool Rtds()
    {
        Header("rtds: budget per period without extratime (SCHED_DEADLINE), plus one with extratime");
        using var run = new Run(SchedulerKind.Rtds, groupShares: 1024);
        var r1 = run.Domain("rt-4of10", null, "\"period\":10000,\"budget\":4000,\"extratime\":0");
        var r2 = run.Domain("rt-1of5", null, "\"period\":5000,\"budget\":1000,\"extratime\":0");
        var r3 = run.Domain("rt-2of10-extra", null, "\"period\":10000,\"budget\":2000,\"extratime\":1");
        var m = Measure(r1, r2, r3);
        var ok = Verdict("budget 4000 µs / period 10000 µs", m[r1], 0.4);
        ok &= Verdict("budget 1000 µs / period 5000 µs", m[r2], 0.2);
        Console.WriteLine(Inv($"| budget 2000 µs / period 10000 µs with extratime (reclaims idle time: ≥ budget) | ≥ 0.2 | {m[r3]:0.###} | – | {(m[r3] >= 0.2 * (1 - Tolerance) ? "pass" : "FAIL")} |"));
        Console.WriteLine();
        return ok && m[r3] >= 0.2 * (1 - Tolerance);
    }

    /// <summary>
    /// RTDS vCPUs without extratime in an exclusive rtds pool of one CPU: the host confined to the other
    /// CPUs and the pool a scheduling root domain of its own, so SCHED_DEADLINE admits threads pinned to it.
    /// </summary>
    public bool RtdsPool()
    {
        Header($"rtds: budget per period in an exclusive pool of cpu {cpu} alone (its own scheduling root domain)");
        if (Environment.ProcessorCount < 2)
        {
            Console.WriteLine("SKIPPED: an exclusive pool needs a CPU left for the host");
            return true;
        }
        using var run = new Run(SchedulerKind.Credit, groupShares: 1024);
        run.Service.RemoveCpus(SchedulingService.DefaultPool, Inv($"{cpu}"));
        run.Service.CreatePool("rt", SchedulerKind.Rtds, Inv($"{cpu}"), exclusive: true);
        var r1 = run.Domain("rt-4of10", "rt", "\"period\":10000,\"budget\":4000,\"extratime\":0");
        var r2 = run.Domain("rt-1of5", "rt", "\"period\":5000,\"budget\":1000,\"extratime\":0");
        var m = Measure(r1, r2);
        var ok = Verdict("budget 4000 µs / period 10000 µs", m[r1], 0.4);
        ok &= Verdict("budget 1000 µs / period 5000 µs", m[r2], 0.2);
        Console.WriteLine();
        return ok;
    }

    /// <summary>The share of samples (every 2 ms over the measuring window) in which the thread last ran on one of <paramref name="cpus"/>.</summary>
    private double Residency(BusyThread t, params int[] cpus)
    {
        var on = 0;
        var all = 0;
        var end = HostThread.MonotonicNs() + (long)(seconds * 1e9);
        while (HostThread.MonotonicNs() < end)
        {
            var c = HostThread.LastCpu(Environment.ProcessId, t.Tid);
            if (c >= 0) { all++; if (cpus.Contains(c)) on++; }
            Thread.Sleep(2);
        }
        return all == 0 ? double.NaN : (double)on / all;
    }

    /// <summary>
    /// Soft affinity on real threads in Pool-0 (credit, every CPU) with the daemon's 500 ms balancer: a
    /// busy vCPU with hard affinity "all" and soft affinity {cpu} runs on cpu while it is free; two busy
    /// vCPUs pinned hard to cpu take it, and the balancer widens the soft one to its hard CPUs so that
    /// it runs elsewhere; when they stop, it is confined to cpu again.
    /// </summary>
    public bool Soft()
    {
        Console.WriteLine($"## soft affinity: hard all, soft cpu {cpu}, in a credit Pool-0 of every CPU (balancer every 500 ms)");
        if (Environment.ProcessorCount < 2)
        {
            Console.WriteLine("SKIPPED: soft affinity needs at least two CPUs on the host");
            return true;
        }
        using var run = new Run(SchedulerKind.Credit, groupShares: 1024);
        run.Service.StartBalancer(TimeSpan.FromMilliseconds(500));
        var others = Enumerable.Range(0, Environment.ProcessorCount).Where(c => c != cpu).ToArray();
        var soft = run.Domain("soft", null, "");
        run.Service.Pin(soft.Uuid, "soft", 0, hard: null, soft: Inv($"{cpu}"));
        var hogging = false;
        BusyThread Hog(string name)
        {
            var h = run.Domain(name, null, "", _ => { if (Volatile.Read(ref hogging)) BusyThread.Burn(20_000); else Thread.Sleep(1); return true; });
            run.Service.Pin(h.Uuid, name, 0, hard: Inv($"{cpu}"), soft: null);
            return h;
        }
        var hogs = new[] { Hog("hog1"), Hog("hog2") };

        Console.WriteLine(Inv($"| phase | moved within | soft vCPU on cpu {cpu} | on other CPUs | its CPU share | expected |"));
        Console.WriteLine("|---|---|---|---|---|---|");
        var ok = true;
        // Waits until the vCPU is seen on one of `to` (the balancer acts every 500 ms), settles, then measures.
        void Phase(string what, int[] to, string expected, Func<double, bool> pass)
        {
            var t0 = HostThread.MonotonicNs();
            var seen = false;
            while (!(seen = to.Contains(HostThread.LastCpu(Environment.ProcessId, soft.Tid))) && HostThread.MonotonicNs() - t0 < 3_000_000_000) Thread.Sleep(2);
            var moved = seen ? Inv($"{(HostThread.MonotonicNs() - t0) / 1e6:0} ms") : "not in 3 s";
            Thread.Sleep(500);
            var cpu0 = soft.CpuNs;
            var m0 = HostThread.MonotonicNs();
            var on = Residency(soft, cpu);
            var share = (double)(soft.CpuNs - cpu0) / (HostThread.MonotonicNs() - m0);
            var good = pass(on);
            ok &= good;
            Console.WriteLine(Inv($"| {what} | {moved} | {on:P1} | {1 - on:P1} | {share:0.###} | {expected}: {(good ? "pass" : "FAIL")} |"));
        }
        Phase(Inv($"cpu {cpu} free"), [cpu], Inv($"≥ 95 % on cpu {cpu}"), on => on >= 0.95);
        Volatile.Write(ref hogging, true);
        Phase(Inv($"two vCPUs pinned to cpu {cpu} busy"), others, "≥ 50 % elsewhere (widened to its hard CPUs)", on => on <= 0.5);
        Volatile.Write(ref hogging, false);
        Phase(Inv($"cpu {cpu} free again"), [cpu], Inv($"≥ 95 % on cpu {cpu}"), on => on >= 0.95);
        Console.WriteLine();
        GC.KeepAlive(hogs);
        return ok;
    }

    /// <summary>The 5/6/10 ms example planned into a 30 ms major frame and run through the gate on one CPU.</summary>
    public bool Arinc653()
    {
        var ok = true;
        foreach (var fifo in new[] { 50, 0 })
        {
            Console.WriteLine($"## arinc653: planned 5/6/10 ms partitions (WCET 1/2/3 ms), 30 ms major frame, gate threads {(fifo > 0 ? $"SCHED_FIFO {fifo}" : "SCHED_OTHER (for comparison)")}");
            using var run = new Run(SchedulerKind.Credit, groupShares: 1024);
            run.Service.RemoveCpus(SchedulingService.DefaultPool, Inv($"{cpu}"));
            run.Service.CreatePool("bench", SchedulerKind.Arinc653, Inv($"{cpu}"));
            var tasks = PartitionTask.ParseSet("a:5ms:1ms,b:6ms:2ms,c:10ms:3ms");
            var plan = Arinc653Planner.Plan(tasks, [cpu]);
            var epoch = 0L;
            var gates = new Dictionary<string, Arinc653Gate>();
            var threads = new List<BusyThread>();
            var started = new ManualResetEventSlim();
            foreach (var t in tasks)
            {
                var name = t.Name;
                threads.Add(run.Domain(name, "bench", "", self =>
                {
                    started.Wait();
                    var gate = gates[name];
                    if (!gate.WaitForWindow(0, out var end)) return true;
                    while (HostThread.MonotonicNs() < end && !self.Stopping) BusyThread.Burn(2000);
                    return true;
                }));
            }
            run.Service.SetArinc653("bench", plan.Schedule!);
            epoch = (HostThread.MonotonicNs() / 1_000_000 + 100) * 1_000_000;
            foreach (var (t, uuid) in tasks.Zip(run.Domains))
            {
                gates[t.Name] = new Arinc653Gate(run.Service.GateTableFor(uuid, epoch)!, kickAtWindowEnd: false, fifoPriority: fifo);
            }
            started.Set();
            var m = Measure(() => { foreach (var g in gates.Values) g.Stats.Take(); }, [.. threads]);
            var reports = tasks.ToDictionary(t => t.Name, t => gates[t.Name].Stats.Take());
            var jitter = reports.Values.SelectMany(r => r.StartLateness).Order().ToArray();
            double P(double q) => jitter.Length == 0 ? double.NaN : GateStats.Percentile(jitter, q) / 1000.0;
            Console.WriteLine("| window starts | p50 jitter | p99 jitter | max jitter | p99 ≤ 100 µs |");
            Console.WriteLine("|---|---|---|---|---|");
            var pass = P(0.99) <= 100;
            Console.WriteLine(Inv($"| {jitter.Length} | {P(0.5):0.0} µs | {P(0.99):0.0} µs | {P(1.0):0.0} µs | {(pass ? "pass" : "FAIL")} |"));
            Console.WriteLine();
            Console.WriteLine("| partition | window share of the CPU | measured CPU share | overrun per window | overrun in all |");
            Console.WriteLine("|---|---|---|---|---|");
            foreach (var (t, thread) in tasks.Zip(threads))
            {
                var share = plan.Schedule!.Windows().Where(w => w.Domain == t.Name).Sum(w => w.LengthNs) / (double)plan.Schedule.MajorFrameNs;
                var r = reports[t.Name];
                Console.WriteLine(Inv($"| {t.Name} | {share:0.###} | {m[thread]:0.###} | {GateStats.Summary(r.Overrun)} | {100 * r.OverrunShare:0.00} % |"));
            }
            Console.WriteLine();
            if (fifo > 0) ok &= pass;
        }
        return ok;
    }
}

/// <summary>A host thread standing in for one vCPU: it burns CPU in a user-mode loop until stopped.</summary>
internal sealed class BusyThread
{
    private static long s_sink;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _ready = new();
    private volatile bool _stop;

    /// <param name="body">One turn of the loop (returns false to end); null burns CPU continuously.</param>
    public BusyThread(string name, Func<BusyThread, bool>? body)
    {
        _thread = new Thread(() =>
        {
            Tid = HostThread.CurrentTid();
            _ready.Set();
            while (!_stop)
            {
                if (body is null) Burn(20_000);
                else if (!body(this)) break;
            }
        }) { Name = name, IsBackground = true };
        _thread.Start();
        _ready.Wait();
    }

    public int Tid { get; private set; }
    public Guid Uuid { get; set; }
    public bool Stopping => _stop;
    public long CpuNs => HostThread.CpuNs(Environment.ProcessId, Tid);

    public static void Burn(int iterations)
    {
        var x = Volatile.Read(ref s_sink);
        for (var i = 0; i < iterations; i++) x = x * 6364136223846793005L + 1442695040888963407L;
        Volatile.Write(ref s_sink, x);
    }

    public void Stop() => _stop = true;
    public void Join() => _thread.Join(TimeSpan.FromSeconds(5));
}
