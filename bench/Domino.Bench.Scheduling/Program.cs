using System.Globalization;
using Domino.Bench.Scheduling;

// Measures Domino's scheduling enforcement on this host: credit weights and caps (cgroup v1 cpu),
// RTDS budgets (SCHED_DEADLINE), soft affinity (the balancer) and ARINC653 window-start jitter (the VMM's gate), with host threads
// that burn CPU in a user-mode loop the way a compute guest's vCPU thread does.
var seconds = 3.0;
var cpu = Environment.ProcessorCount - 1;
string? only = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--cpu": cpu = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--only": only = args[++i]; break;
        default:
            Console.Error.WriteLine($"usage: bench [--seconds S] [--cpu N] [--only credit|cap|rtds|rtds-pool|soft|arinc653|floor]  (unknown '{args[i]}')");
            return 2;
    }
}
if (only is not "floor" && !Domino.Toolstack.Scheduling.Host.CgroupHostScheduler.Available())
{
    Console.Error.WriteLine("bench: needs root and cgroup v1 cpu and cpuset controllers under /sys/fs/cgroup (see docs/scheduling.md)");
    return 2;
}

var bench = new SchedulingBench(seconds, cpu);
Console.WriteLine($"# Domino scheduling benchmark: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} CPUs, measuring on cpu {cpu}, {seconds:0.#} s per run");
Console.WriteLine($"# load average at start: {File.ReadAllText("/proc/loadavg").Trim()}");
Console.WriteLine("# workload: host threads running a user-mode integer loop (as a compute guest's vCPU thread does in ring 3)");
Console.WriteLine();
var failed = false;
if (only is null or "floor") HostFloor.Run(cpu, seconds);
if (only is null or "credit") failed |= !bench.Credit();
if (only is null or "cap") failed |= !bench.Cap();
if (only is null or "rtds") failed |= !bench.Rtds();
if (only is null or "rtds-pool") failed |= !bench.RtdsPool();
if (only is null or "soft") failed |= !bench.Soft();
if (only is null or "arinc653") failed |= !bench.Arinc653();
Console.WriteLine($"# load average at end: {File.ReadAllText("/proc/loadavg").Trim()}");
return failed ? 1 : 0;
