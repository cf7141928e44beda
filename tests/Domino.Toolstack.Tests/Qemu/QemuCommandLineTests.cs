using Domino.Config;
using Domino.Config.Model;
using Domino.Toolstack.Drivers.Qemu;
using Xunit;

namespace Domino.Toolstack.Tests.Qemu;

/// <summary>
/// QEMU's argv per domain config, against golden files (<c>Qemu/Golden/NAME.cfg</c> → <c>NAME.argv</c>,
/// one argument per line). A config whose name ends in <c>-kvm</c> is built for KVM, the rest for TCG.
/// <c>DOMINO_UPDATE_GOLDEN=1</c> rewrites the .argv files in the source tree (review the diff).
/// </summary>
public sealed class QemuCommandLineTests
{
    private static string GoldenDir => Path.Combine(AppContext.BaseDirectory, "Qemu", "Golden");

    public static TheoryData<string> GoldenConfigs()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(GoldenDir, "*.cfg").Order(StringComparer.Ordinal)) data.Add(Path.GetFileNameWithoutExtension(f));
        return data;
    }

    private static DomainConfig Parse(string text, string name = "test.cfg")
    {
        var result = ConfigFile.Parse(text, name, []);
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        return result.Config!;
    }

    private static QemuLaunchOptions Options(QemuAccelerator accel = QemuAccelerator.Tcg) => new()
    {
        Binary = "/usr/bin/qemu-system-x86_64",
        Accelerator = accel,
        QmpSocket = "/run/domino/qemu/UUID.qmp",
        SerialSocket = "/run/domino/qemu/UUID.serial",
    };

    /// <summary>Disk images in the golden configs "exist" unless their name says otherwise.</summary>
    private static bool FakeExists(string path) => !path.Contains("missing", StringComparison.Ordinal);

    private static IReadOnlyList<string> Build(string text, QemuAccelerator accel = QemuAccelerator.Tcg) =>
        QemuCommandLine.Build(Parse(text), Options(accel), FakeExists);

    [Theory]
    [MemberData(nameof(GoldenConfigs))]
    public void Argv_matches_the_golden_file(string name)
    {
        var config = Parse(File.ReadAllText(Path.Combine(GoldenDir, name + ".cfg")), name + ".cfg");
        var accel = name.EndsWith("-kvm", StringComparison.Ordinal) ? QemuAccelerator.Kvm : QemuAccelerator.Tcg;
        var argv = QemuCommandLine.Build(config, Options(accel), FakeExists);
        var actual = string.Join("\n", argv) + "\n";
        var goldenPath = Path.Combine(GoldenDir, name + ".argv");
        if (Environment.GetEnvironmentVariable("DOMINO_UPDATE_GOLDEN") == "1")
        {
            var source = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../Qemu/Golden", name + ".argv"));
            File.WriteAllText(source, actual);
            return;
        }
        Assert.True(File.Exists(goldenPath), $"no golden file {name}.argv (run with DOMINO_UPDATE_GOLDEN=1 and review it)");
        Assert.Equal(File.ReadAllText(goldenPath), actual);
    }

    [Theory]
    [InlineData("hda", "Ide", 0)]
    [InlineData("hdd", "Ide", 3)]
    [InlineData("xvda", "Ide", 0)]
    [InlineData("xvdc", "Ide", 2)]
    [InlineData("sda", "Ahci", 0)]
    [InlineData("sdf", "Ahci", 5)]
    [InlineData("vdb", "Virtio", 1)]
    [InlineData("xvdaa", "Virtio", 26)]
    public void Vdev_places_the_disk_like_libxl(string vdev, string bus, int index)
    {
        var disk = new DiskConfig { Target = "/x", Vdev = vdev, Specification = vdev == "xvdaa" ? "virtio" : null };
        var (b, i) = QemuCommandLine.PlaceDisk(disk);
        Assert.Equal((bus, index), (b.ToString(), i));
    }

    [Theory]
    [InlineData("pci = [ \"0000:03:00.0\" ]", "qemu driver cannot honour pci=[\"0000:03:00.0\"]: PCI passthrough is not supported")]
    [InlineData("memory = 256\nmaxmem = 512", "qemu driver cannot honour maxmem=512: memory above memory=256 needs populate-on-demand")]
    [InlineData("soundhw = \"hda\"", "qemu driver cannot honour soundhw=\"hda\": emulated sound is not supported")]
    [InlineData("cpus = \"0-1\"", "qemu driver cannot honour cpus=: vCPU pinning is not supported yet")]
    [InlineData("vif = [ \"model=foo\" ]", "vif 0: unknown NIC model 'foo' (expected e1000, e1000e, rtl8139, virtio-net)")]
    [InlineData("disk = [ \"/img/missing.raw,raw,hda,w\" ]", "disk hda: backing file '/img/missing.raw' does not exist")]
    [InlineData("disk = [ \"/img/a.raw,raw,hde,w\" ]", "disk vdev 'hde': IDE has 4 units (hda..hdd)")]
    [InlineData("disk = [ \"/img/a.raw,raw,sdg,w\" ]", "disk vdev 'sdg': the AHCI controller has 6 ports")]
    [InlineData("disk = [ \"/img/a.raw,raw,xvda,w\", \"/img/b.raw,raw,hda,w\" ]", "disks 'xvda' and 'hda' would take the same IDE slot")]
    [InlineData("disk = [ \"/img/a.raw,raw,vda,ro,devtype=cdrom\" ]", "disk vda: a CD-ROM needs an IDE or SATA vdev")]
    [InlineData("disk = [ \"/img/a.raw,raw,hdb,ro\" ]", "disk hdb: an IDE or SATA hard disk cannot be read-only in QEMU")]
    [InlineData("serial = \"vc\"", "serial=\"vc\" is not supported")]
    [InlineData("viridian = 1", "qemu driver cannot honour viridian=: Hyper-V enlightenments need KVM")]
    [InlineData("nestedhvm = 1", "qemu driver cannot honour nestedhvm=1: TCG does not emulate VMX/SVM")]
    [InlineData("usbdevice = \"host:1234:5678\"", "usbdevice=\"host:1234:5678\" is not supported")]
    public void Options_qemu_cannot_honour_are_refused_by_name(string setting, string message)
    {
        var e = Assert.Throws<QemuConfigException>(() => Build($"name = \"bad\"\ntype = \"hvm\"\n{setting}\n"));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_hvm_domains_are_built()
    {
        var e = Assert.Throws<QemuConfigException>(() => Build("name = \"p\"\ntype = \"pvh\"\nkernel = \"/k\"\n"));
        Assert.Contains("runs type=\"hvm\" domains (this one is type=\"pvh\")", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kvm_uses_the_host_cpu_without_arch_capabilities_and_tcg_the_max_model()
    {
        const string cfg = "name = \"a\"\ntype = \"hvm\"\n";
        Assert.Equal("host,-arch-capabilities", After(Build(cfg, QemuAccelerator.Kvm), "-cpu"));
        Assert.Equal("kvm", After(Build(cfg, QemuAccelerator.Kvm), "-accel"));
        Assert.Equal("max", After(Build(cfg), "-cpu"));
        Assert.Equal("tcg", After(Build(cfg), "-accel"));
    }

    [Fact]
    public void Qemu_never_reboots_or_exits_by_itself()
    {
        var argv = Build("name = \"a\"\ntype = \"hvm\"\n");
        Assert.Equal("reboot=shutdown,shutdown=pause,panic=pause", After(argv, "-action"));
        Assert.Contains("-nodefaults", argv);
    }

    [Fact]
    public void Default_macs_are_stable_and_in_xens_oui()
    {
        var uuid = Guid.Parse("6f1a2b3c-0000-4000-8000-000000000001");
        var a = QemuCommandLine.DefaultMac(uuid, "x", 0);
        Assert.StartsWith("00:16:3e:", a, StringComparison.Ordinal);
        Assert.Equal(a, QemuCommandLine.DefaultMac(uuid, "y", 0));
        Assert.NotEqual(a, QemuCommandLine.DefaultMac(uuid, "x", 1));
    }

    [Theory]
    [InlineData("auto", false, false, "Tcg", "is not usable")]
    [InlineData("auto", true, true, "Tcg", "kvm_pvm")]
    [InlineData("auto", true, false, "Kvm", null)]
    [InlineData("tcg", true, false, "Tcg", null)]
    [InlineData(null, true, false, "Kvm", null)]
    public void Accelerator_rule(string? setting, bool kvmOpens, bool pvm, string expected, string? warning)
    {
        var dir = Directory.CreateTempSubdirectory("domino-accel-").FullName;
        try
        {
            var devKvm = Path.Combine(dir, "kvm");
            if (kvmOpens) File.WriteAllText(devKvm, "");
            var modules = Path.Combine(dir, "module");
            Directory.CreateDirectory(Path.Combine(modules, pvm ? "kvm_pvm" : "kvm_amd"));
            var choice = QemuAccelProbe.Decide(setting, devKvm, modules);
            Assert.Equal(expected, choice.Accelerator.ToString());
            if (warning is null) Assert.Null(choice.Warning);
            else Assert.Contains(warning, choice.Warning, StringComparison.Ordinal);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Accelerator_kvm_without_dev_kvm_and_unknown_names_are_refused()
    {
        Assert.Contains("cannot be opened", Assert.Throws<QemuConfigException>(() => QemuAccelProbe.Decide("kvm", "/nonexistent/kvm")).Message, StringComparison.Ordinal);
        Assert.Contains("expected kvm, tcg or auto", Assert.Throws<QemuConfigException>(() => QemuAccelProbe.Decide("hax")).Message, StringComparison.Ordinal);
    }

    private static string After(IReadOnlyList<string> argv, string option) => argv[argv.ToList().IndexOf(option) + 1];
}
