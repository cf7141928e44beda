using Xunit;

namespace Domino.Cli.Tests;

/// <summary>The scheduling commands end to end: the built CLI against a real daemon with the test driver.</summary>
public sealed class SchedulingCliTests : IClassFixture<DaemonFixture>
{
    private readonly DaemonFixture _d;

    public SchedulingCliTests(DaemonFixture d) => _d = d;

    private string Ok(params string[] args) => _d.Ok(args);

    private string Fails(params string[] args) => _d.Fails(args);

    [Fact]
    public async Task Pools_credit_rtds_affinity_and_arinc653_through_the_daemon()
    {
        var cpus = Environment.ProcessorCount;
        Assert.Equal(
            "Name               CPUs   Sched     Active   Domain count\n" +
            $"Pool-0             {cpus,3}    credit       y          0\n", Ok("cpupool-list"));

        // Free the last CPU, give it to an rtds pool, and check the one-pool-per-CPU rule.
        var last = (cpus - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Ok("cpupool-cpu-remove", "Pool-0", last);
        Ok("cpupool-create", "name=\"rt\"", "sched=\"rtds\"", $"cpus=\"{last}\"");
        Assert.Equal($"domino: cpu {last} belongs to pool 'rt' (a CPU is in at most one pool): free it first with 'domino cpupool-cpu-remove rt {last}'",
            Fails("cpupool-create", "name=\"other\"", $"cpus=\"{last}\""));
        Assert.Contains($"rt                 {last}\n", Ok("cpupool-list", "-c"));

        await _d.CreateDomain("web", schedParams: "\"weight\":512");
        await _d.CreateDomain("ctl", pool: "rt");

        Ok("sched-credit", "-d", "web", "-c", "25");
        Assert.Equal(
            "Cpupool Pool-0: tslice=30ms ratelimit=1000us migration-delay=0us\n" +
            "Name                                ID Weight  Cap\n" +
            "web                                  1    512   25\n", Ok("sched-credit"));
        Assert.Equal("domino: domain 'web': weight 0 is outside 1..65535 (the default is 256)", Fails("sched-credit", "-d", "web", "-w", "0"));
        Assert.Equal("domino: pool 'rt' runs rtds, not credit: use 'domino sched-rtds -d ctl' or move the domain with 'domino cpupool-migrate ctl POOL'",
            Fails("sched-credit", "-d", "ctl", "-w", "512"));
        Assert.Equal("domino: domain 'nosuch' does not exist", Fails("sched-credit", "-d", "nosuch", "-w", "512"));

        Ok("sched-rtds", "-d", "ctl", "-v", "1", "-p", "2000", "-b", "500", "-e", "0");
        Assert.Equal(
            "Cpupool rt: sched=RTDS\n" +
            "Name                                ID VCPU    Period    Budget  Extratime\n" +
            "ctl                                  2    0     10000      4000        yes\n" +
            "ctl                                  2    1      2000       500         no\n", Ok("sched-rtds", "-v", "all"));
        Assert.Equal("domino: domain 'ctl' vcpu 0: budget 20000 µs exceeds period 10000 µs (budget ≤ period)", Fails("sched-rtds", "-d", "ctl", "-b", "20000"));
        Assert.Equal("domino: domain 'ctl' has no vcpu 9 (it has 2: 0-1, or all)", Fails("sched-rtds", "-d", "ctl", "-v", "9", "-p", "100", "-b", "50"));

        Ok("vcpu-pin", "web", "1", "all", "0");
        var list = Ok("vcpu-list", "web");
        Assert.Contains("Affinity (Hard / Soft)", list);
        Assert.Matches(@"web\s+1\s+1\s+\S+\s+\S+\s+\S+ all / 0\n", list);
        Assert.Contains($"are not in pool 'Pool-0'", Fails("vcpu-pin", "web", "0", last));

        Assert.Equal("domino: pool 'rt' still has domain(s) ctl: move them with 'domino cpupool-migrate DOMAIN Pool-0' or destroy them first", Fails("cpupool-destroy", "rt"));
        Assert.Equal("domino: pool 'Pool-0' is the default pool and cannot be destroyed", Fails("cpupool-destroy", "Pool-0"));

        // ARINC653: a pool of its own, a planned schedule installed from its text form, read back and checked.
        Ok("cpupool-migrate", "ctl", "Pool-0");
        Ok("cpupool-destroy", "rt");
        Ok("cpupool-create", "name=\"a653\"", "sched=\"arinc653\"", $"cpus=\"{last}\"");
        await _d.CreateDomain("a", vcpus: 1, pool: "a653");
        await _d.CreateDomain("b", vcpus: 1, pool: "a653");
        await _d.CreateDomain("c", vcpus: 1, pool: "a653");
        var plan = Ok("sched-arinc653", "plan", "--cpus", last, "a:5ms:1ms,b:6ms:2ms,c:10ms:3ms");
        Assert.Contains("major_frame 30ms", plan);
        var file = Path.Combine(_d.StateDir, "plan.txt");
        await File.WriteAllTextAsync(file, plan);
        Ok("sched-arinc653", "set", "-p", "a653", "-f", file);
        Assert.Contains("major_frame 30ms", Ok("sched-arinc653", "-p", "a653"));
        Assert.StartsWith("ok: every job of 3 partition(s) meets its deadline", Ok("sched-arinc653", "check", "-p", "a653", "a:5:1,b:6:2,c:10:3"));
        Assert.Contains("refused: cpu 0 minor frame 1 (a vcpu 0): runtime 0ms must be positive",
            Fails("sched-arinc653", "set", "-p", "a653", "-c", last == "0" ? "0" : last, "-m", "10ms", "a:0ms").Replace($"cpu {last} ", "cpu 0 ", StringComparison.Ordinal));
        Assert.Contains("minor frames add up to 12ms, more than the 10ms major frame", Fails("sched-arinc653", "set", "-p", "a653", "-m", "10ms", "a:6ms", "b:6ms"));
        Assert.Equal("domino: pool 'a653' runs arinc653, not rtds: use 'domino sched-arinc653 -p a653'", Fails("sched-rtds", "-c", "a653"));
    }

    [Fact]
    public void Plan_explains_why_no_schedule_exists()
    {
        Assert.Contains("no schedule exists: total utilisation 1.1 exceeds the 1 CPU(s) available", Fails("sched-arinc653", "plan", "a:5:3,b:10:5"));
        var file = Path.Combine(_d.StateDir, "bad.txt");
        File.WriteAllText(file, "major_frame 30ms\n0 a 0 1ms\n0 b 0 2ms\n0 c 0 3ms\n");
        Assert.Equal("domino: partition 'a' job 2 (released at 5 ms, deadline 10 ms) gets 0 ms of window time but needs 1 ms",
            Fails("sched-arinc653", "check", "a:5:1,b:6:2,c:10:3", file));
    }
}
