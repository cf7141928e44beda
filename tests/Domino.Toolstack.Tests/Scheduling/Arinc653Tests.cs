using Domino.Toolstack.Domains;
using Domino.Toolstack.Scheduling;
using Domino.Toolstack.Scheduling.Arinc653;
using Xunit;

namespace Domino.Toolstack.Tests.Scheduling;

public sealed class Arinc653Tests
{
    private const long Ms = 1_000_000;

    private static IReadOnlyList<PartitionTask> Example => PartitionTask.ParseSet("a:5:1,b:6:2,c:10:3");

    [Fact]
    public void Plans_the_5_6_10_example_into_a_30ms_major_frame_meeting_every_deadline()
    {
        var plan = Arinc653Planner.Plan(Example);
        Assert.True(plan.Ok, plan.Failure);
        var s = plan.Schedule!;
        Assert.Equal(30 * Ms, s.MajorFrameNs);
        Assert.Empty(Arinc653Validator.Validate(s));
        Assert.Null(Arinc653Checker.Check(s, Example));
        // Each partition gets exactly its utilisation of the major frame.
        var windows = s.Windows().ToList();
        Assert.Equal(6 * Ms, windows.Where(w => w.Domain == "a").Sum(w => w.LengthNs));
        Assert.Equal(10 * Ms, windows.Where(w => w.Domain == "b").Sum(w => w.LengthNs));
        Assert.Equal(9 * Ms, windows.Where(w => w.Domain == "c").Sum(w => w.LengthNs));
        // Adjacent slices are merged: no two neighbouring frames belong to the same partition.
        var frames = s.Cpus.Single().Frames;
        for (var i = 1; i < frames.Count; i++) Assert.NotEqual((frames[i - 1].Domain, frames[i - 1].Vcpu), (frames[i].Domain, frames[i].Vcpu));
    }

    [Fact]
    public void Plan_round_trips_through_the_text_form_and_still_checks()
    {
        var s = Arinc653Planner.Plan(Example).Schedule!;
        var text = ScheduleText.Format(s, "example");
        var back = ScheduleText.Parse(text);
        Assert.Equal(s.MajorFrameNs, back.MajorFrameNs);
        Assert.Equal(s.Cpus.Single().Frames, back.Cpus.Single().Frames);
        Assert.Null(Arinc653Checker.Check(back, Example));
    }

    [Fact]
    public void Refuses_a_task_set_over_utilisation_one_and_says_so()
    {
        var plan = Arinc653Planner.Plan(PartitionTask.ParseSet("a:5:3,b:10:5"));
        Assert.False(plan.Ok);
        Assert.Contains("total utilisation 1.1 exceeds the 1 CPU", plan.Failure);
        Assert.Contains("a 3 ms/5 ms = 0.6", plan.Failure);
    }

    [Fact]
    public void Names_the_partition_job_and_time_of_a_missed_deadline()
    {
        // Utilisation 0.9 but b's constrained deadline (2 ms) cannot be met when a runs first.
        var tasks = PartitionTask.ParseSet("a 4ms 2ms 2ms\nb 4ms 1ms 2ms\nc 20ms 2ms");
        var plan = Arinc653Planner.Plan(tasks);
        Assert.False(plan.Ok);
        Assert.Contains("partition 'b' misses a deadline", plan.Failure);
        Assert.Contains("job 1 (released at 0 ms, deadline 2 ms)", plan.Failure);
    }

    [Fact]
    public void Plans_across_cpus_when_one_is_not_enough()
    {
        var tasks = PartitionTask.ParseSet("a:10:6,b:10:6,c:5:1");
        Assert.False(Arinc653Planner.Plan(tasks, [0]).Ok);
        var plan = Arinc653Planner.Plan(tasks, [0, 1]);
        Assert.True(plan.Ok, plan.Failure);
        Assert.Equal(2, plan.Schedule!.Cpus.Count);
        Assert.Null(Arinc653Checker.Check(plan.Schedule, tasks));
    }

    [Fact]
    public void Checker_names_the_first_job_that_gets_too_little()
    {
        var s = new Arinc653Schedule(30 * Ms, [new CpuFrames(0, [new("a", 0, 1 * Ms), new("b", 0, 2 * Ms), new("c", 0, 3 * Ms)])]);
        var error = Arinc653Checker.Check(s, Example);
        Assert.Equal("partition 'a' job 2 (released at 5 ms, deadline 10 ms) gets 0 ms of window time but needs 1 ms", error);
    }

    [Fact]
    public void Checker_refuses_a_major_frame_that_is_not_a_multiple_of_a_period()
    {
        var s = new Arinc653Schedule(25 * Ms, [new CpuFrames(0, [new("a", 0, 1 * Ms)])]);
        Assert.Contains("not a multiple of partition 'b''s period 6 ms", Arinc653Checker.Check(s, Example));
    }

    [Fact]
    public void Validator_applies_xens_rules()
    {
        Assert.Contains("major frame 0ms must be positive", Arinc653Validator.Validate(new Arinc653Schedule(0, [new CpuFrames(0, [new("a", 0, 1)])])));
        Assert.Contains("a schedule needs at least one minor frame", Arinc653Validator.Validate(new Arinc653Schedule(10 * Ms, [])));
        Assert.Contains(Arinc653Validator.Validate(new Arinc653Schedule(10 * Ms, [new CpuFrames(0, [new("a", 0, 0)])])), e => e.Contains("runtime 0ms must be positive"));
        Assert.Contains(Arinc653Validator.Validate(new Arinc653Schedule(10 * Ms, [new CpuFrames(0, [new("a", 0, 6 * Ms), new("b", 0, 5 * Ms)])])),
            e => e == "cpu 0: minor frames add up to 11ms, more than the 10ms major frame");
        var many = Enumerable.Range(0, 65).Select(i => new MinorFrame("a", 0, Ms)).ToList();
        Assert.Contains(Arinc653Validator.Validate(new Arinc653Schedule(100 * Ms, [new CpuFrames(0, many)])), e => e.Contains("65 minor frames; at most 64"));
        Assert.Empty(Arinc653Validator.Validate(new Arinc653Schedule(100 * Ms, [new CpuFrames(0, many.Take(64).ToList())])));
    }

    [Fact]
    public void Validator_checks_pool_cpus_domains_vcpus_and_double_booking()
    {
        var ctx = new Context("rt", new CpuSet([0, 1]), new Dictionary<string, int> { ["a"] = 1, ["b"] = 2 });
        var s = new Arinc653Schedule(10 * Ms, [
            new CpuFrames(0, [new("a", 0, 5 * Ms), new("x", 0, 1 * Ms), new("b", 3, 1 * Ms)]),
            new CpuFrames(1, [new("a", 0, 2 * Ms)]),
            new CpuFrames(2, [new("b", 0, 1 * Ms)]),
        ]);
        var errors = Arinc653Validator.Validate(s, ctx);
        Assert.Contains(errors, e => e.Contains("domain 'x' is not in pool 'rt'") && e.Contains("cpupool-migrate x rt"));
        Assert.Contains(errors, e => e.Contains("domain 'b' has no vcpu 3 (it has 2)"));
        Assert.Contains(errors, e => e.StartsWith("cpu 2 is not in pool 'rt'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("a vcpu 0 runs on cpu 0 and cpu 1 at once"));
    }

    [Fact]
    public void Task_set_parsing_reports_bad_lines_with_their_place()
    {
        var e = Assert.Throws<ToolstackException>(() => PartitionTask.ParseSet("a 5ms 1ms\nb 5ms 6ms", "set.txt"));
        Assert.Equal("set.txt:2: partition 'b' needs 6ms within 5ms: no schedule can give it that (WCET ≤ deadline)", e.Message);
    }

    private sealed record Context(string PoolName, CpuSet PoolCpus, Dictionary<string, int> Domains) : IArinc653Context
    {
        public int? VcpusOf(string domain) => Domains.TryGetValue(domain, out var n) ? n : null;
    }
}
