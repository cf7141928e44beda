using Domino.Config.Diagnostics;
using Domino.Config.Model;
using Domino.Config.Syntax;
using Xunit;

namespace Domino.Config.Tests;

/// <summary>The xl.cfg(5) surface syntax: statements, strings, numbers, lists, comments, overrides.</summary>
public class ParserTests
{
    private const string Base = "name = \"g\"\ntype = \"pvh\"\nkernel = \"/k\"\n";

    private static ConfigLoadResult Parse(string text, params string[] extra) => ConfigFile.Parse(text, "t.cfg", extra);

    private static DomainConfig Valid(string text, params string[] extra)
    {
        var r = Parse(text, extra);
        Assert.False(r.HasErrors, string.Join("\n", r.Diagnostics));
        return r.Config!;
    }

    [Fact]
    public void Single_and_double_quoted_strings_and_escapes()
    {
        var c = Valid(Base + "extra = 'single \\n is literal'\nbootloader = \"tab\\there \\\"q\\\" \\\\ \\r\u0001\"\n");
        Assert.Equal("single \\n is literal", c.Cmdline);
        Assert.Equal("tab\there \"q\" \\ \r\u0001", c.Bootloader);
    }

    [Theory]
    [InlineData("extra = \"a\\x41\"", "t.cfg:4:11: error: escape sequence '\\x' is not understood by xl (write the character itself; only \\n \\t \\r \\\\ \\\" \\' work)")]
    [InlineData("extra = \"a\\101\"", "t.cfg:4:11: error: escape sequence '\\1' is not understood by xl (write the character itself; only \\n \\t \\r \\\\ \\\" \\' work)")]
    [InlineData("rtc_timeoffset = -5", "t.cfg:4:18: error: xl.cfg numbers have no sign: quote it, as in \"-5\"")]
    public void Constructs_xl_cannot_read_are_errors(string line, string expected)
    {
        Assert.Equal([expected], Parse(Base + line + "\n").Diagnostics.Select(d => d.ToString()));
    }

    [Fact]
    public void A_quoted_negative_number_is_a_number()
    {
        Assert.Equal(-3600, Valid(Base + "rtc_timeoffset = \"-3600\"\n").RtcTimeoffset);
    }

    [Fact]
    public void Semicolons_separate_statements_and_comments_end_lines()
    {
        var c = Valid("name = \"g\"; type = \"pvh\" ; kernel = \"/k\" # the kernel\n# memory = 99\nmemory = 48;\n");
        Assert.Equal(48, c.MemoryMb);
        Assert.Equal(DomainType.Pvh, c.Type);
    }

    [Fact]
    public void Lists_span_lines_and_take_a_trailing_comma()
    {
        var c = Valid(Base + "disk = [\n  \"/a,raw,xvda,w\",  # first\n\n  \"/b,raw,xvdb,w\",\n]\n");
        Assert.Equal(["xvda", "xvdb"], c.Disks.Select(d => d.Vdev));
    }

    [Fact]
    public void Numbers_may_be_hex_or_quoted()
    {
        var c = Valid(Base + "memory = 0x40\nvcpus = \"2\"\n");
        Assert.Equal(64, c.MemoryMb);
        Assert.Equal(2, c.Vcpus);
    }

    [Fact]
    public void Later_settings_override_earlier_ones_and_plus_equals_appends()
    {
        var c = Valid(Base + "memory = 32\nmemory = 64\ndisk = [\"/a,raw,xvda,w\"]\ndisk += [\"/b,raw,xvdb,w\"]\n");
        Assert.Equal(64, c.MemoryMb);
        Assert.Equal(2, c.Disks.Count);
    }

    [Fact]
    public void Command_line_settings_override_the_file()
    {
        var c = Valid(Base + "memory = 32\nname = \"file\"\n", "memory=256", "name=\"cli\"");
        Assert.Equal(256, c.MemoryMb);
        Assert.Equal("cli", c.Name);
    }

    [Fact]
    public void Command_line_errors_name_the_argument()
    {
        var r = Parse(Base, "memory=128", "vcpus=two");
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal("<command line>:2:7: error: expected a value but found bare word 'two' (quote strings: \"two\")", d.ToString());
    }

    [Fact]
    public void Every_value_keeps_its_line_and_column()
    {
        var r = Parse("name = \"g\"\n  vif = [ \"bridge=br0\",\n          'mac=00:16:3e:00:00:01' ]\n");
        var vif = r.Document.Settings.Single(s => s.Key == "vif");
        Assert.Equal(new SourcePosition(2, 3), vif.Position);
        var items = ((ConfigList)vif.Value).Items;
        Assert.Equal(new SourcePosition(2, 11), items[0].Position);
        Assert.Equal(new SourcePosition(3, 11), items[1].Position);
    }

    [Fact]
    public void Nested_lists_are_values()
    {
        var r = Parse("x = [ [ \"a\", 1 ], [ ] ]\n");
        var list = Assert.IsType<ConfigList>(r.Document.Settings[0].Value);
        Assert.Equal(2, list.Items.Count);
        Assert.Equal("[ [ \"a\", 1 ], [] ]", list.ToSource());
    }

    [Fact]
    public void Unknown_keys_are_kept_with_a_warning_and_written_back()
    {
        var r = Parse(Base + "frobnicate = [ \"a\", 2 ]\n");
        Assert.False(r.HasErrors);
        var w = Assert.Single(r.Diagnostics);
        Assert.Equal(DiagnosticSeverity.Warning, w.Severity);
        Assert.Equal("frobnicate", w.Key);
        Assert.Contains("frobnicate = [\n    \"a\",\n    2,\n]", Output.XlFormatter.Format(r.Config!), StringComparison.Ordinal);
    }

    [Fact]
    public void Root_and_extra_combine_into_the_command_line_like_xl()
    {
        Assert.Equal("root=/dev/xvda1 ro console=hvc0", Valid(Base + "root = \"/dev/xvda1 ro\"\nextra = \"console=hvc0\"\n").Cmdline);
        Assert.Equal("root=/dev/xvda1", Valid(Base + "root = \"/dev/xvda1\"\n").Cmdline);
        Assert.Equal("quiet", Valid(Base + "extra = \"quiet\"\n").Cmdline);
        Assert.Equal("only", Valid(Base + "cmdline = \"only\"\nroot = \"/dev/x\"\n").Cmdline);
    }

    [Theory]
    [InlineData("type = \"hvm\"", DomainType.Hvm)]
    [InlineData("builder = \"hvm\"", DomainType.Hvm)]
    [InlineData("builder = \"generic\"", DomainType.Pv)]
    [InlineData("pvh = 1", DomainType.Pvh)]
    [InlineData("", DomainType.Pv)]
    public void Guest_type_comes_from_type_or_the_legacy_keys(string line, DomainType expected)
    {
        var c = Valid("name = \"g\"\nkernel = \"/k\"\n" + line + "\n");
        Assert.Equal(expected, c.Type);
    }

    [Theory]
    [InlineData("\"all\"", false, 1)]
    [InlineData("\"0-3,5,^1\"", false, 1)]
    [InlineData("\"nodes:0-1,^node:1\"", false, 1)]
    [InlineData("[ \"0\", \"1-2\", \"all\" ]", true, 3)]
    public void Cpu_lists_accept_every_syntax(string value, bool perVcpu, int sets)
    {
        var c = Valid(Base + "vcpus = 3\ncpus = " + value + "\n");
        Assert.Equal(perVcpu, c.Cpus!.PerVcpu);
        Assert.Equal(sets, c.Cpus.Sets.Count);
    }

    [Theory]
    [InlineData("destroy", LifecycleAction.Destroy)]
    [InlineData("restart", LifecycleAction.Restart)]
    [InlineData("rename-restart", LifecycleAction.RenameRestart)]
    [InlineData("preserve", LifecycleAction.Preserve)]
    [InlineData("coredump-destroy", LifecycleAction.CoredumpDestroy)]
    [InlineData("coredump-restart", LifecycleAction.CoredumpRestart)]
    [InlineData("soft-reset", LifecycleAction.SoftReset)]
    public void All_seven_lifecycle_actions_parse_for_every_event(string name, LifecycleAction action)
    {
        var c = Valid(Base + string.Concat(new[] { "on_poweroff", "on_reboot", "on_watchdog", "on_crash", "on_soft_reset" }.Select(k => $"{k} = \"{name}\"\n")));
        Assert.All(new[] { c.OnPoweroff, c.OnReboot, c.OnWatchdog, c.OnCrash, c.OnSoftReset }, a => Assert.Equal(action, a));
    }

    [Fact]
    public void Xen_defaults_apply_when_keys_are_absent()
    {
        var c = Valid(Base);
        Assert.Equal(LifecycleAction.Destroy, c.OnPoweroff);
        Assert.Equal(LifecycleAction.Restart, c.OnReboot);
        Assert.Equal(LifecycleAction.Destroy, c.OnWatchdog);
        Assert.Equal(LifecycleAction.Destroy, c.OnCrash);
        Assert.Equal(LifecycleAction.SoftReset, c.OnSoftReset);
        Assert.Null(c.MemoryMb);
        Assert.Empty(c.Disks);
    }

    [Fact]
    public void Disk_target_swallows_the_rest_of_the_spec()
    {
        var d = Assert.Single(Valid(Base + "disk = [ \"vdev=xvda,target=/srv/a,b=c.img\" ]\n").Disks);
        Assert.Equal("/srv/a,b=c.img", d.Target);
        Assert.Equal(DiskFormat.Raw, d.Format);
        Assert.Equal(DiskAccess.ReadWrite, d.Access);
    }

    [Fact]
    public void A_cdrom_is_read_only_and_an_empty_one_has_format_empty()
    {
        var d = Assert.Single(Valid(Base + "disk = [ \",,hdc:cdrom,w\" ]\n").Disks);
        Assert.Equal(DiskDeviceType.Cdrom, d.DeviceType);
        Assert.Equal(DiskAccess.ReadOnly, d.Access);
        Assert.Equal(DiskFormat.Empty, d.Format);
        Assert.Equal("hdc", d.Vdev);
    }

    [Fact]
    public void Vif_rate_is_converted_to_a_credit_per_interval()
    {
        var n = Assert.Single(Valid(Base + "vif = [ \"rate=10MB/s\", \"rate=8Mb/s@20ms\" ]\n").Nics.Take(1));
        Assert.Equal(500_000UL, n.Rate!.BytesPerInterval);
        Assert.Equal(50_000U, n.Rate.IntervalMicroseconds);
    }

    [Fact]
    public void Pci_bdf_with_virtual_slot_and_options()
    {
        var p = Assert.Single(Valid(Base + "pci = [ \"0001:0a:1f.*@3,seize=1,rdm_policy=relaxed\" ]\n").PciDevices);
        Assert.Equal((1, 0x0a, 0x1f, (int?)null, (int?)3), (p.Domain, p.Bus, p.Device, p.Function, p.VSlot));
        Assert.True(p.Seize);
        Assert.Equal(RdmPolicy.Relaxed, p.RdmPolicy);
    }
}
