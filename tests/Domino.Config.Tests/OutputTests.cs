using System.Text.Json;
using Domino.Config.Output;
using Xunit;

namespace Domino.Config.Tests;

/// <summary>Host-dependent and shape details of the libxl JSON and xl.cfg output.</summary>
public class OutputTests
{
    private static JsonElement BuildInfo(string cfg, HostInfo host)
    {
        var config = ConfigFile.Parse(cfg, "t.cfg", []).Config!;
        return JsonDocument.Parse(LibxlJson.Serialize(config, host)).RootElement.GetProperty("b_info");
    }

    [Fact]
    public void Nodes_and_all_are_resolved_against_the_host()
    {
        var host = new HostInfo(4, [0, 0, 1, 1]);
        var b = BuildInfo("name=\"g\"\nkernel=\"/k\"\nvcpus=2\ncpus=[\"nodes:1\", \"all,^node:0\"]\ncpus_soft=\"all\"\n", host);

        Assert.Equal("[[2,3],[2,3,4,5,6,7]]", b.GetProperty("vcpu_hard_affinity").ToString().Replace(" ", "", StringComparison.Ordinal).ReplaceLineEndings(""));
        Assert.Equal(8, b.GetProperty("vcpu_soft_affinity")[0].GetArrayLength());
    }

    [Fact]
    public void The_host_is_looked_up_only_for_a_config_that_names_cpus()
    {
        var lookups = 0;
        HostInfo Host()
        {
            lookups++;
            return new HostInfo(4, [0, 0, 1, 1]);
        }
        LibxlJson.ToJson(ConfigFile.Parse("name=\"g\"\nkernel=\"/k\"\nvcpus=2\n", "t.cfg", []).Config!, Host);
        Assert.Equal(0, lookups);
        LibxlJson.ToJson(ConfigFile.Parse("name=\"g\"\nkernel=\"/k\"\nvcpus=2\ncpus=\"nodes:1\"\n", "t.cfg", []).Config!, Host);
        Assert.Equal(1, lookups);
    }

    [Fact]
    public void Empty_objects_print_as_yajl_does()
    {
        var json = LibxlJson.Serialize(ConfigFile.Parse("name=\"g\"\nkernel=\"/k\"\n", "t.cfg", []).Config!, TestFiles.GoldenHost);
        Assert.Contains("\"sched_params\": {\n\n        },", json, StringComparison.Ordinal);
        Assert.EndsWith("}\n", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Libxl_action_spellings_get_a_hint()
    {
        var d = Assert.Single(ConfigFile.Parse("name=\"g\"\nkernel=\"/k\"\non_reboot=\"restart_rename\"\n", "t.cfg", []).Diagnostics);
        Assert.EndsWith("; did you mean 'rename-restart'?", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Strings_are_quoted_so_they_read_back_verbatim()
    {
        var c = ConfigFile.Parse("name=\"g\"\nkernel=\"/k\"\n", "t.cfg", []).Config!;
        c.Cmdline = "a \"b\" \\c\n\t#d\u0001";
        var again = ConfigFile.Parse(XlFormatter.Format(c), "t.cfg", []).Config!;
        Assert.Equal(c.Cmdline, again.Cmdline);
    }

    [Fact]
    public void Json_reader_rejects_what_libxl_would_not_accept()
    {
        Assert.Throws<FormatException>(() => LibxlJson.Deserialize("{\"c_info\": {\"type\": \"xen\"}}"));
        Assert.Throws<FormatException>(() => LibxlJson.Deserialize("[]"));
        Assert.ThrowsAny<JsonException>(() => LibxlJson.Deserialize("{"));
    }
}
