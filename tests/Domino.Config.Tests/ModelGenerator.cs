using Domino.Config.Diagnostics;
using Domino.Config.Model;
using Domino.Config.Specs;

namespace Domino.Config.Tests;

/// <summary>Random valid domain models, built from a seed so FsCheck can report a reproducible case.</summary>
internal static class ModelGenerator
{
    // Characters that stress quoting: quotes, backslashes, '#', ',', '=', control characters, non-ASCII.
    private const string Alphabet = "abcXYZ019 _-./:#,=;[]'\"\\\t\u0001\u00e9\u4e2d";
    private const string PlainAlphabet = "abcdefxyz0123456789_-./";

    public static DomainConfig Create(int seed)
    {
        var r = new Random(seed);
        var c = new DomainConfig
        {
            Type = Pick(r, DomainType.Pv, DomainType.Pvh, DomainType.Hvm),
            Name = Text(r, Alphabet, 1, 12),
        };
        if (c.Type != DomainType.Hvm || r.Next(2) == 0) c.Kernel = "/boot/" + Text(r, PlainAlphabet, 1, 10);
        if (Chance(r)) c.Uuid = new Guid(r.GetItems<byte>([0, 1, 0x7f, 0xff, 0x42], 16));
        if (Chance(r)) c.Pool = Text(r, PlainAlphabet, 1, 8);
        c.Hap = MaybeBool(r);
        c.Oos = MaybeBool(r);
        c.DriverDomain = MaybeBool(r);
        if (Chance(r)) c.SeclabelSsid = Text(r, Alphabet, 1, 10);

        if (Chance(r))
        {
            c.Vcpus = r.Next(1, 9);
            if (Chance(r)) c.MaxVcpus = c.Vcpus + r.Next(0, 4);
        }
        var vcpus = c.MaxVcpus ?? c.Vcpus ?? 1;
        // Without vcpus= a single CPU list applies to no vCPU at all (a warning), so pair them.
        if (c.Vcpus is not null && Chance(r)) c.Cpus = Affinity(r, vcpus);
        if (c.Vcpus is not null && Chance(r)) c.CpusSoft = Affinity(r, vcpus);
        if (Chance(r)) c.Weight = r.Next(1, 65536);
        if (Chance(r)) c.Cap = r.Next(0, 800);

        if (Chance(r))
        {
            c.MemoryMb = r.Next(1, 1 << 20);
            if (Chance(r)) c.MaxMemMb = c.MemoryMb + r.Next(0, 4096);
        }
        if (c.MemoryMb is null && c.Vcpus is null && r.Next(4) == 0)
        {
            // One vCPU per node, so the nodes name every vCPU exactly once.
            var nodes = r.Next(1, 4);
            c.Vcpus = nodes;
            for (var i = 0; i < nodes; i++)
            {
                var node = new VnumaNode { Pnode = r.Next(0, 4), SizeMb = r.Next(16, 4096), Vcpus = i.ToString(System.Globalization.CultureInfo.InvariantCulture) };
                if (Chance(r)) node.Distances.AddRange(Enumerable.Range(0, nodes).Select(j => j == i ? 10 : 20));
                c.Vnuma.Add(node);
            }
            c.MemoryMb = c.Vnuma.Sum(n => n.SizeMb);
        }

        c.OnPoweroff = Pick(r, Enum.GetValues<LifecycleAction>());
        c.OnReboot = Pick(r, Enum.GetValues<LifecycleAction>());
        c.OnWatchdog = Pick(r, Enum.GetValues<LifecycleAction>());
        c.OnCrash = Pick(r, Enum.GetValues<LifecycleAction>());
        c.OnSoftReset = Pick(r, Enum.GetValues<LifecycleAction>());

        if (Chance(r)) c.Ramdisk = Text(r, Alphabet, 1, 20);
        if (Chance(r)) c.Cmdline = Text(r, Alphabet, 0, 30);
        if (Chance(r)) c.Bootloader = Text(r, PlainAlphabet, 1, 10);
        if (Chance(r)) c.BootloaderArgs.AddRange(Strings(r));
        if (c.Type == DomainType.Hvm && Chance(r)) c.Firmware = Pick(r, "uefi", "bios", "ovmf", "/fw/" + Text(r, PlainAlphabet, 1, 5));
        c.Localtime = MaybeBool(r);
        if (Chance(r)) c.RtcTimeoffset = r.Next(-86400, 86400);
        c.DisableMigrate = MaybeBool(r);
        if (Chance(r)) c.TscMode = Pick(r, Enum.GetValues<TscMode>());
        if (Chance(r)) c.MaxGrantFrames = r.Next(1, 256);
        if (Chance(r)) c.MaxMaptrackFrames = r.Next(0, 4096);
        if (Chance(r)) c.EventChannels = r.Next(1, 4096);
        if (Chance(r)) c.BlkdevStart = "xvd" + Text(r, "abcdef", 1, 1);
        if (Chance(r)) c.DeviceModelVersion = Pick(r, "qemu-xen", "qemu-xen-traditional");
        c.DeviceModelStubdomain = MaybeBool(r);
        if (Chance(r)) c.DeviceModelArgs.AddRange(Strings(r));

        var disks = r.Next(0, 4);
        for (var i = 0; i < disks; i++) c.Disks.Add(Disk(r, i));
        var nics = r.Next(0, 3);
        for (var i = 0; i < nics; i++) c.Nics.Add(Nic(r, i));
        var pcis = r.Next(0, 3);
        for (var i = 0; i < pcis; i++) c.PciDevices.Add(Pci(r));
        var vfbs = r.Next(0, 2);
        for (var i = 0; i < vfbs; i++) c.Vfbs.Add(Vfb(r));
        for (var i = r.Next(0, 2); i > 0; i--)
            c.Vkbs.Add(new VkbConfig { Backend = Chance(r) ? "dom0" : null, BackendType = Pick(r, "qemu", "linux"), FeatureAbsPointer = Chance(r), Width = Chance(r) ? (uint)r.Next(1, 4096) : null });
        for (var i = r.Next(0, 2); i > 0; i--)
            c.Vtpms.Add(new VtpmConfig { Backend = "vtpm" + i, Uuid = Chance(r) ? new Guid(r.GetItems<byte>([1, 2, 0xfe], 16)) : null });
        for (var i = r.Next(0, 2); i > 0; i--)
            c.P9s.Add(new P9Config { Tag = "t" + i, Path = "/srv/" + Text(r, PlainAlphabet, 1, 6), SecurityModel = Pick(r, "none", "mapped"), Backend = Chance(r) ? "dom0" : null });
        for (var i = r.Next(0, 2); i > 0; i--) c.PvCalls.Add(new PvCallsConfig { Backend = Chance(r) ? "dom0" : null });
        for (var i = r.Next(0, 3); i > 0; i--)
            c.Channels.Add(Chance(r) ? new ChannelConfig { Name = "ch" + i } : new ChannelConfig { Name = "sock" + i, Connection = "socket", Path = "/run/s" + i });
        for (var i = r.Next(0, 2); i > 0; i--)
            c.UsbControllers.Add(new UsbControllerConfig { Type = Chance(r) ? Pick(r, "auto", "pv", "devicemodel", "qusb") : null, Version = Chance(r) ? r.Next(1, 4) : null, Ports = Chance(r) ? r.Next(1, 32) : null });
        for (var i = r.Next(0, 2); i > 0; i--)
            c.UsbDevicesPassthrough.Add(new UsbDeviceConfig { Type = Chance(r) ? "hostdev" : null, HostBus = r.Next(0, 256), HostAddr = r.Next(0, 256), Controller = Chance(r) ? r.Next(0, 4) : null, Port = Chance(r) ? r.Next(1, 32) : null });
        c.PciPermissive = MaybeBool(r);
        c.PciSeize = MaybeBool(r);

        if (Chance(r)) c.Passthrough = Pick(r, "default", "disabled", "enabled", "sync_pt", "share_pt");
        if (Chance(r)) c.MaxGrantVersion = r.Next(1, 3);
        if (Chance(r)) c.StubdomainMemoryMb = r.Next(1, 512);
        if (Chance(r)) c.DeviceModelUser = "qemu-" + Text(r, PlainAlphabet, 1, 4);
        for (var i = r.Next(0, 3); i > 0; i--) c.IoPorts.Add(new IoPortRange((uint)r.Next(0, 0x8000), (uint)r.Next(1, 16)));
        for (var i = r.Next(0, 3); i > 0; i--) c.Irqs.Add((uint)r.Next(0, 256));
        for (var i = r.Next(0, 3); i > 0; i--) c.IoMem.Add(new IoMemRange((ulong)r.Next(), (ulong)r.Next(1, 64), Chance(r) ? (ulong)r.Next() : null));
        if (c.Type == DomainType.Pv) c.E820Host = MaybeBool(r);
        c.MsrRelaxed = MaybeBool(r);
        if (Chance(r)) c.Altp2m = Pick(r, "disabled", "mixed", "external", "limited");
        if (Chance(r)) c.VmtraceBufKb = r.Next(0, 1024);
        c.Vpmu = MaybeBool(r);

        if (c.Type == DomainType.Hvm) Hvm(r, c);
        c.Acpi = MaybeBool(r);
        if (c.Type == DomainType.Hvm) c.Apic = MaybeBool(r);
        c.NestedHvm = MaybeBool(r);
        return c;
    }

    private static void Hvm(Random r, DomainConfig c)
    {
        if (Chance(r)) c.Bios = Pick(r, Enum.GetValues<BiosType>());
        c.Pae = MaybeBool(r);
        c.AcpiS3 = MaybeBool(r);
        c.AcpiS4 = MaybeBool(r);
        c.Nx = MaybeBool(r);
        c.Hpet = MaybeBool(r);
        c.VptAlign = MaybeBool(r);
        if (Chance(r)) c.TimerMode = Pick(r, Enum.GetValues<TimerMode>());
        if (Chance(r))
        {
            c.Viridian = Chance(r)
                ? new ViridianSetting(Chance(r), [])
                : new ViridianSetting(null, r.GetItems<string>(["base", "freq", "defaults", "!synic", "hcall_ipi", "all"], r.Next(1, 4)).Distinct().ToList());
        }
        if (Chance(r)) c.Cpuid = Chance(r) ? new CpuidPolicy(["host,tm=0,sse3=1"], false) : new CpuidPolicy(["0x00000001:ecx=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0"], true);
        if (Chance(r)) c.MmioHoleMb = r.Next(256, 3841);
        if (Chance(r)) c.ShadowMemoryMb = r.Next(0, 64);
        c.XenPlatformPci = MaybeBool(r);
        if (Chance(r)) c.Boot = Text(r, "acdn", 1, 4);
        if (Chance(r))
        {
            c.Serial.AddRange(Strings(r, 1));
            c.SerialIsList = c.Serial.Count != 1 || Chance(r);
        }
        if (Chance(r)) c.Vga = Pick(r, Enum.GetValues<VgaKind>());
        if (Chance(r)) c.VideoRamMb = r.Next(1, 64);
        c.Vnc = MaybeBool(r);
        if (Chance(r)) c.VncListen = "127.0.0." + r.Next(1, 255);
        if (Chance(r)) c.VncPasswd = Text(r, Alphabet, 0, 8);
        if (Chance(r)) c.VncDisplay = r.Next(0, 100);
        c.VncUnused = MaybeBool(r);
        c.Sdl = MaybeBool(r);
        c.OpenGl = MaybeBool(r);
        if (Chance(r)) c.Keymap = Pick(r, "en-us", "de", "fr");
        c.NoGraphic = MaybeBool(r);
        c.Usb = MaybeBool(r);
        if (Chance(r)) c.UsbVersion = r.Next(1, 4);
        if (Chance(r))
        {
            c.UsbDevices.AddRange(Strings(r, 1));
            c.UsbDevicesIsList = c.UsbDevices.Count != 1 || Chance(r);
        }
        if (Chance(r)) c.SoundHw = Pick(r, "hda", "ac97", "sb16");
        c.GfxPassthru = MaybeBool(r);
        if (Chance(r)) c.SmbiosFirmware = "/fw/smbios.bin";
        if (Chance(r)) c.AcpiFirmware = "/fw/acpi.bin";
        if (Chance(r)) c.HdType = Pick(r, "ide", "ahci");
        if (Chance(r)) c.VendorDevice = Pick(r, "none", "xenserver");
        if (Chance(r)) c.RdmMemBoundaryMb = r.Next(0, 4096);
        c.Spice = MaybeBool(r);
        if (Chance(r)) c.SpicePort = r.Next(1, 65536);
        if (Chance(r)) c.SpiceTlsPort = r.Next(1, 65536);
        if (Chance(r)) c.SpiceHost = "0.0.0.0";
        c.SpiceDisableTicketing = MaybeBool(r);
        if (Chance(r)) c.SpicePasswd = Text(r, Alphabet, 0, 6);
        c.SpiceAgentMouse = MaybeBool(r);
        c.SpiceVdagent = MaybeBool(r);
        c.SpiceClipboardSharing = MaybeBool(r);
        if (Chance(r)) c.SpiceUsbRedirection = r.Next(0, 5);
        if (Chance(r)) c.SpiceImageCompression = Pick(r, "auto_glz", "quic", "off");
        if (Chance(r)) c.SpiceStreamingVideo = Pick(r, "filter", "all", "off");
    }

    private static DiskConfig Disk(Random r, int index)
    {
        var target = Chance(r) ? "" : "/srv/" + Text(r, PlainAlphabet + ",=:", 1, 12);
        var cdrom = r.Next(4) == 0;
        return new DiskConfig
        {
            Target = target,
            Vdev = "xvd" + (char)('a' + index),
            Format = target.Length == 0 ? DiskFormat.Empty : Pick(r, DiskFormat.Raw, DiskFormat.Qcow, DiskFormat.Qcow2, DiskFormat.Vhd, DiskFormat.Qed),
            DeviceType = cdrom ? DiskDeviceType.Cdrom : DiskDeviceType.Disk,
            Access = cdrom ? DiskAccess.ReadOnly : Pick(r, DiskAccess.ReadOnly, DiskAccess.ReadWrite),
            BackendType = Chance(r) ? Pick(r, Enum.GetValues<DiskBackendType>()) : null,
            Backend = Chance(r) ? "dom" + r.Next(1, 9) : null,
            Script = Chance(r) ? "block-" + Text(r, "abc", 1, 4) : null,
            DirectIoSafe = Chance(r),
            Discard = MaybeBool(r),
            Specification = Chance(r) ? Pick(r, "xen", "virtio") : null,
            Colo = Chance(r),
            ColoPort = Chance(r) ? r.Next(1, 65536) : null,
        };
    }

    private static NicConfig Nic(Random r, int index) => new()
    {
        Mac = Chance(r) ? string.Join(":", new[] { (r.Next(0, 128) * 2).ToString("x2", System.Globalization.CultureInfo.InvariantCulture) }
            .Concat(Enumerable.Range(0, 5).Select(_ => r.Next(256).ToString("x2", System.Globalization.CultureInfo.InvariantCulture)))) : null,
        Bridge = Chance(r) ? "xenbr" + index : null,
        Ip = Chance(r) ? $"10.0.0.{r.Next(1, 255)}" : null,
        Model = Chance(r) ? Pick(r, "e1000", "rtl8139") : null,
        Type = Chance(r) ? Pick(r, NicType.Vif, NicType.Ioemu) : null,
        VifName = Chance(r) ? "vif" + index : null,
        Script = Chance(r) ? "vif-bridge" : null,
        Backend = Chance(r) ? "netdom" : null,
        Mtu = Chance(r) ? r.Next(68, 9001) : null,
        Rate = Chance(r) && NicSpec.ParseRate($"{r.Next(1, 1000)}{Pick(r, "B", "KB", "MB", "b", "Kb", "Mb", "Gb")}/s{(Chance(r) ? "@" + r.Next(1, 100) + "ms" : "")}", out var rate, out _) ? rate : null,
        GatewayDev = Chance(r) ? "eth0" : null,
        Devid = Chance(r) ? index : null,
        Trusted = MaybeBool(r),
    };

    private static PciDevice Pci(Random r) => new()
    {
        Domain = Chance(r) ? r.Next(0, 0x10000) : 0,
        Bus = r.Next(0, 256),
        Device = r.Next(0, 32),
        Function = Chance(r) ? null : r.Next(0, 8),
        VSlot = Chance(r) ? r.Next(0, 32) : null,
        Permissive = MaybeBool(r),
        MsiTranslate = MaybeBool(r),
        Seize = MaybeBool(r),
        PowerMgmt = MaybeBool(r),
        RdmPolicy = Chance(r) ? Pick(r, RdmPolicy.Strict, RdmPolicy.Relaxed) : null,
    };

    private static VfbConfig Vfb(Random r) => new()
    {
        Vnc = MaybeBool(r),
        VncListen = Chance(r) ? "0.0.0.0" : null,
        VncPasswd = Chance(r) ? Text(r, PlainAlphabet, 1, 6) : null,
        VncDisplay = Chance(r) ? r.Next(0, 50) : null,
        VncUnused = MaybeBool(r),
        Sdl = MaybeBool(r),
        OpenGl = MaybeBool(r),
        Display = Chance(r) ? ":0" : null,
        XAuthority = Chance(r) ? "/root/.Xauthority" : null,
        Keymap = Chance(r) ? "de" : null,
    };

    private static CpuAffinity Affinity(Random r, int vcpus)
    {
        static CpuSet Set(string spec) =>
            CpuSetSpec.Parse(new SpecSource("cpus", spec, "gen", default, false, new DiagnosticBag()))
            ?? throw new InvalidOperationException("generator produced an invalid CPU list: " + spec);
        string Spec() => Pick(r, "all", $"{r.Next(0, 4)}", $"0-{r.Next(1, 8)},^1", "nodes:0", $"{r.Next(0, 2)},{r.Next(2, 4)}-{r.Next(4, 8)}");
        return Chance(r)
            ? new CpuAffinity([Set(Spec())], false)
            : new CpuAffinity(Enumerable.Range(0, r.Next(1, vcpus + 1)).Select(_ => Set(Spec())).ToList(), true);
    }

    private static List<string> Strings(Random r, int min = 0) =>
        Enumerable.Range(0, r.Next(min, 4)).Select(_ => Text(r, Alphabet, 0, 8)).ToList();

    private static string Text(Random r, string alphabet, int min, int max) =>
        new(Enumerable.Range(0, r.Next(min, max + 1)).Select(_ => alphabet[r.Next(alphabet.Length)]).ToArray());

    private static bool Chance(Random r) => r.Next(2) == 0;

    private static bool? MaybeBool(Random r) => r.Next(3) switch { 0 => null, 1 => true, _ => false };

    private static T Pick<T>(Random r, params T[] items) => items[r.Next(items.Length)];
}
