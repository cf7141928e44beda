using System.Globalization;

namespace Domino.Cli.Tests;

/// <summary>Exclusive pools end to end: the built CLI against a daemon of its own with the test driver (in-memory host).</summary>
public sealed class ExclusivePoolCliTests : IClassFixture<DaemonFixture>
{
    private readonly DaemonFixture _d;

    public ExclusivePoolCliTests(DaemonFixture d) => _d = d;

    private string Ok(params string[] args) => _d.Ok(args);

    private string Fails(params string[] args) => _d.Fails(args);

    [SkippableFact]
    public async Task A_pool_made_exclusive_from_its_config_is_listed_refused_where_it_would_strand_the_host_and_shared_again()
    {
        var cpus = Environment.ProcessorCount;
        Skip.If(cpus < 2, "ONE CPU: an exclusive pool needs a CPU of its own besides Pool-0's");
        var last = (cpus - 1).ToString(CultureInfo.InvariantCulture);
        var rest = cpus == 2 ? "0" : $"0-{cpus - 2}";

        Assert.Equal($"name=\"rt\" sched=\"arinc653\" cpus=\"{last}\" exclusive=1\n",
            Ok("cpupool-create", "-n", "name=\"rt\"", "sched=\"arinc653\"", $"cpus=\"{last}\"", "exclusive=1"));
        Assert.Equal("domino: cpupool-create: exclusive: '2' is not 0 or 1", Fails("cpupool-create", "name=\"rt\"", "exclusive=2"));
        Assert.Equal("domino: pool 'Pool-0' cannot be exclusive: it is where the host's processes and the daemon run (as dom0 runs in Xen's Pool-0); make another pool exclusive",
            Fails("cpupool-exclusive", "Pool-0", "1"));

        Ok("cpupool-cpu-remove", "Pool-0", last);
        var config = Path.Combine(_d.StateDir, "rt.cfg");
        await File.WriteAllTextAsync(config, $"name = \"rt\"\nsched = \"arinc653\"\ncpus = [\"{last}\"]\nexclusive = 1   # Domino: the host keeps off these CPUs\n");
        Ok("cpupool-create", "-f", config);
        Assert.Equal($"name=\"Pool-0\" sched=\"credit\" cpus=\"{rest}\"\nname=\"rt\" sched=\"arinc653\" cpus=\"{last}\" exclusive=1\n", Ok("cpupool-list", "-l"));
        Assert.Contains("\"exclusive\":true", await _d.Http.GetStringAsync("cpupools/rt"));
        // xl's table is unchanged by it.
        Assert.Contains($"rt                   1  arinc653       y          0\n", Ok("cpupool-list"));

        // Pool-0 keeps a CPU for the host while rt is exclusive.
        if (cpus > 2) Ok("cpupool-cpu-remove", "Pool-0", $"1-{cpus - 2}");
        Assert.Equal("domino: pool 'Pool-0' must keep at least one CPU while pool 'rt' owns its CPUs exclusively: the host's processes and the daemon run on Pool-0's CPUs (share 'rt' again first with 'domino cpupool-exclusive rt 0')",
            Fails("cpupool-cpu-remove", "Pool-0", "0"));

        Ok("cpupool-exclusive", "rt", "0");
        Assert.Equal($"name=\"rt\" sched=\"arinc653\" cpus=\"{last}\"\n", Ok("cpupool-list", "-l", "rt"));
        Ok("cpupool-cpu-remove", "Pool-0", "0");
        Assert.Equal("domino: pool 'rt' cannot own its CPUs exclusively while Pool-0 has none: the host's processes and the daemon run on Pool-0's CPUs; give it one first with 'domino cpupool-cpu-add Pool-0 CPU'",
            Fails("cpupool-exclusive", "rt", "1"));
        Assert.Equal("domino: cpupool-exclusive: 'maybe' is not 0 or 1", Fails("cpupool-exclusive", "rt", "maybe"));
        Ok("cpupool-cpu-add", "Pool-0", "0");
        Ok("cpupool-exclusive", "rt", "1");
        Ok("cpupool-destroy", "rt");
        Assert.Equal("name=\"Pool-0\" sched=\"credit\" cpus=\"0\"\n", Ok("cpupool-list", "-l"));
    }
}
