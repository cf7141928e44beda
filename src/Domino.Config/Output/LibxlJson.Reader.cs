using System.Globalization;
using System.Text.Json;
using Domino.Config.Binding;
using Domino.Config.Model;
using Domino.Config.Specs;

namespace Domino.Config.Output;

public static partial class LibxlJson
{
    /// <summary>
    /// Reads libxl JSON (as <see cref="Serialize(DomainConfig)"/> or `xl -N create` writes it) back into a model.
    /// Throws <see cref="JsonException"/> for malformed JSON and <see cref="FormatException"/> for values libxl would not accept.
    /// </summary>
    public static DomainConfig Deserialize(string json)
    {
        using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true });
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException("libxl JSON must be an object with c_info and b_info");
        var c = new DomainConfig();

        if (Obj(root, "c_info") is { } ci)
        {
            c.Type = Text(ci, "type") switch
            {
                "hvm" => DomainType.Hvm,
                "pvh" => DomainType.Pvh,
                "pv" or null => DomainType.Pv,
                var t => throw new FormatException($"c_info.type '{t}' is not pv, pvh or hvm"),
            };
            c.Hap = DefBool(ci, "hap");
            c.Oos = DefBool(ci, "oos");
            c.SeclabelSsid = Text(ci, "ssid_label");
            c.Name = Text(ci, "name");
            if (Text(ci, "uuid") is { } uuid) c.Uuid = Guid.ParseExact(uuid, "D");
            c.Pool = Text(ci, "pool_name");
            c.DriverDomain = DefBool(ci, "driver_domain");
        }

        if (Obj(root, "b_info") is { } bi) ReadBuildInfo(c, bi);

        foreach (var d in Items(root, "disks")) c.Disks.Add(ReadDisk(d));
        foreach (var n in Items(root, "nics")) c.Nics.Add(ReadNic(n, c.Nics.Count));
        foreach (var p in Items(root, "pcidevs")) c.PciDevices.Add(ReadPci(p));
        foreach (var v in Items(root, "vfbs")) c.Vfbs.Add(ReadVfb(v));

        c.OnPoweroff = ReadAction(root, "on_poweroff") ?? LifecycleAction.Destroy;
        c.OnReboot = ReadAction(root, "on_reboot") ?? LifecycleAction.Destroy;
        c.OnWatchdog = ReadAction(root, "on_watchdog") ?? LifecycleAction.Destroy;
        c.OnCrash = ReadAction(root, "on_crash") ?? LifecycleAction.Destroy;
        c.OnSoftReset = ReadAction(root, "on_soft_reset") ?? LifecycleAction.Destroy;
        return c;
    }

    private static void ReadBuildInfo(DomainConfig c, JsonElement bi)
    {
        var maxVcpus = Int(bi, "max_vcpus");
        if (Bits(bi, "avail_vcpus") is { } avail)
        {
            c.Vcpus = avail.Count;
            if (maxVcpus is { } m && m != avail.Count) c.MaxVcpus = m;
        }
        else
        {
            c.MaxVcpus = maxVcpus;
        }
        c.Cpus = ReadAffinity(bi, "vcpu_hard_affinity", maxVcpus ?? 0);
        c.CpusSoft = ReadAffinity(bi, "vcpu_soft_affinity", maxVcpus ?? 0);
        if (Text(bi, "tsc_mode") is { } tsc) c.TscMode = DomainConfigBinder.TscModes.TryGetValue(tsc, out var t) ? t : throw new FormatException($"unknown tsc_mode '{tsc}'");
        var target = Long(bi, "target_memkb");
        var max = Long(bi, "max_memkb");
        if (target is { } tk) c.MemoryMb = tk / 1024;
        if (max is { } mk && mk != target) c.MaxMemMb = mk / 1024;
        if (Long(bi, "video_memkb") is { } video) c.VideoRamMb = video / 1024;
        if (Long(bi, "shadow_memkb") is { } shadow) c.ShadowMemoryMb = shadow / 1024;
        c.RtcTimeoffset = Long(bi, "rtc_timeoffset");
        c.InitSeclabel = Text(bi, "exec_ssid_label");
        c.Localtime = DefBool(bi, "localtime");
        c.DisableMigrate = DefBool(bi, "disable_migrate");
        c.BlkdevStart = Text(bi, "blkdev_start");
        foreach (var n in Items(bi, "vnuma_nodes"))
        {
            var node = new VnumaNode
            {
                SizeMb = (Long(n, "memkb") ?? 0) / 1024,
                Pnode = Int(n, "pnode") ?? 0,
                Vcpus = RangeSpec(Bits(n, "vcpus") ?? []),
            };
            foreach (var d in Items(n, "distances")) node.Distances.Add(d.GetInt32());
            c.Vnuma.Add(node);
        }
        c.MaxGrantFrames = Long(bi, "max_grant_frames");
        c.MaxMaptrackFrames = Long(bi, "max_maptrack_frames");
        c.DeviceModelVersion = Text(bi, "device_model_version")?.Replace('_', '-');
        c.DeviceModelStubdomain = DefBool(bi, "device_model_stubdomain");
        c.DeviceModelOverride = Text(bi, "device_model");
        c.DeviceModelArgs.AddRange(Strings(bi, "extra"));
        c.DeviceModelArgsPv.AddRange(Strings(bi, "extra_pv"));
        c.DeviceModelArgsHvm.AddRange(Strings(bi, "extra_hvm"));
        if (Obj(bi, "sched_params") is { } sched)
        {
            c.Weight = Int(sched, "weight");
            c.Cap = Int(sched, "cap");
        }
        c.EventChannels = Long(bi, "event_channels");
        c.Kernel = Text(bi, "kernel");
        c.Cmdline = Text(bi, "cmdline");
        c.Ramdisk = Text(bi, "ramdisk");
        c.Acpi = DefBool(bi, "acpi");
        c.Bootloader = Text(bi, "bootloader");
        c.BootloaderArgs.AddRange(Strings(bi, "bootloader_args"));
        if (Text(bi, "timer_mode") is { } timer) c.TimerMode = DomainConfigBinder.TimerModes.TryGetValue(timer, out var tm) ? tm : throw new FormatException($"unknown timer_mode '{timer}'");
        c.NestedHvm = DefBool(bi, "nested_hvm");
        c.Apic = DefBool(bi, "apic");
        if (Obj(bi, "type.hvm") is { } hvm) ReadHvm(c, hvm);
    }

    private static void ReadHvm(DomainConfig c, JsonElement h)
    {
        c.Firmware = Text(h, "firmware");
        if (Text(h, "bios") is { } bios) c.Bios = DomainConfigBinder.BiosTypes.TryGetValue(bios, out var b) ? b : throw new FormatException($"unknown bios '{bios}'");
        c.Pae = DefBool(h, "pae");
        c.AcpiS3 = DefBool(h, "acpi_s3");
        c.AcpiS4 = DefBool(h, "acpi_s4");
        c.AcpiLaptopSlate = DefBool(h, "acpi_laptop_slate");
        c.Nx = DefBool(h, "nx");
        var viridian = DefBool(h, "viridian");
        var enable = Bits(h, "viridian_enable") ?? [];
        var disable = Bits(h, "viridian_disable") ?? [];
        if (viridian is not null || enable.Count > 0 || disable.Count > 0)
        {
            static string Name(int bit) => bit < ViridianNames.Length ? ViridianNames[bit] : throw new FormatException($"unknown viridian enlightenment bit {bit}");
            // Bits past the named groups only come from "all".
            var all = enable.Any(bit => bit >= ViridianNames.Length);
            var groups = all ? ["all"] : enable.Select(Name).ToList();
            groups.AddRange(disable.Select(i => "!" + Name(i)));
            if (groups.Count > 0 && viridian == true) groups.Insert(0, "defaults");
            c.Viridian = new ViridianSetting(groups.Count > 0 ? null : viridian, groups);
        }
        c.Hpet = DefBool(h, "hpet");
        c.VptAlign = DefBool(h, "vpt_align");
        if (Long(h, "mmio_hole_memkb") is { } hole) c.MmioHoleMb = hole / 1024;
        c.NoGraphic = DefBool(h, "nographic");
        if (Obj(h, "vga") is { } vga && Text(vga, "kind") is { } kind)
            c.Vga = kind switch { "std" => VgaKind.Std, "cirrus" => VgaKind.Cirrus, "none" => VgaKind.None, "qxl" => VgaKind.Qxl, _ => throw new FormatException($"unknown vga kind '{kind}'") };
        if (Obj(h, "vnc") is { } vnc)
        {
            c.Vnc = DefBool(vnc, "enable");
            c.VncListen = Text(vnc, "listen");
            c.VncPasswd = Text(vnc, "passwd");
            c.VncDisplay = Int(vnc, "display");
            c.VncUnused = DefBool(vnc, "findunused");
        }
        c.Keymap = Text(h, "keymap");
        if (Obj(h, "sdl") is { } sdl)
        {
            c.Sdl = DefBool(sdl, "enable");
            c.OpenGl = DefBool(sdl, "opengl");
        }
        c.GfxPassthru = DefBool(h, "gfx_passthru");
        if (Text(h, "serial") is { } serial) c.Serial.Add(serial);
        c.Boot = Text(h, "boot");
        c.Usb = DefBool(h, "usb");
        c.UsbVersion = Int(h, "usbversion");
        if (Text(h, "usbdevice") is { } usbdevice) c.UsbDevices.Add(usbdevice);
        c.SoundHw = Text(h, "soundhw");
        c.XenPlatformPci = DefBool(h, "xen_platform_pci");
        if (Has(h, "usbdevice_list"))
        {
            c.UsbDevices.AddRange(Strings(h, "usbdevice_list"));
            c.UsbDevicesIsList = true;
        }
        if (Has(h, "serial_list"))
        {
            c.Serial.AddRange(Strings(h, "serial_list"));
            c.SerialIsList = true;
        }
    }

    private static DiskConfig ReadDisk(JsonElement d)
    {
        var cdrom = Int(d, "is_cdrom") == 1;
        var format = Text(d, "format") ?? "raw";
        return new DiskConfig
        {
            Backend = Text(d, "backend_domname"),
            Target = Text(d, "pdev_path") ?? "",
            Vdev = Text(d, "vdev") ?? throw new FormatException("disk without vdev"),
            BackendType = Text(d, "backend") switch
            {
                null => null,
                "phy" => DiskBackendType.Phy,
                "tap" => DiskBackendType.Tap,
                "qdisk" => DiskBackendType.Qdisk,
                "standalone" => DiskBackendType.Standalone,
                var b => throw new FormatException($"unknown disk backend '{b}'"),
            },
            Format = Enum.TryParse<DiskFormat>(format, ignoreCase: true, out var f) ? f : throw new FormatException($"unknown disk format '{format}'"),
            Script = Text(d, "script"),
            Access = Int(d, "readwrite") == 1 ? DiskAccess.ReadWrite : DiskAccess.ReadOnly,
            DeviceType = cdrom ? DiskDeviceType.Cdrom : DiskDeviceType.Disk,
            DirectIoSafe = Bool(d, "direct_io_safe"),
            Discard = DefBool(d, "discard_enable"),
            Specification = Text(d, "specification"),
            Colo = DefBool(d, "colo_enable") == true,
            ColoHost = Text(d, "colo_host"),
            ColoPort = Int(d, "colo_port"),
            ColoExport = Text(d, "colo_export"),
            ActiveDisk = Text(d, "active_disk"),
            HiddenDisk = Text(d, "hidden_disk"),
            Trusted = DefBool(d, "trusted"),
        };
    }

    private static NicConfig ReadNic(JsonElement n, int index)
    {
        var devid = Int(n, "devid");
        var bytes = Long(n, "rate_bytes_per_interval");
        var interval = Long(n, "rate_interval_usecs");
        NicRate? rate = null;
        if (bytes is { } b && interval is { } us && us > 0)
        {
            // libxl keeps only the credit; write it back as bytes per second at the same interval.
            var perSecond = (decimal)b * 1_000_000m / us;
            var spec = string.Create(CultureInfo.InvariantCulture, $"{perSecond:0}B/s@{us}us");
            rate = NicSpec.ParseRate(spec, out var parsed, out _) ? parsed : null;
        }
        return new NicConfig
        {
            Backend = Text(n, "backend_domname"),
            Devid = devid == index ? null : devid,
            Mtu = Int(n, "mtu"),
            Model = Text(n, "model"),
            Mac = Text(n, "mac"),
            Ip = Text(n, "ip"),
            Bridge = Text(n, "bridge"),
            VifName = Text(n, "ifname"),
            Script = Text(n, "script"),
            Type = Text(n, "nictype") switch { null => null, "vif_ioemu" => NicType.Ioemu, "vif" => NicType.Vif, var t => throw new FormatException($"unknown nictype '{t}'") },
            Rate = rate,
            GatewayDev = Text(n, "gatewaydev"),
            Trusted = DefBool(n, "trusted"),
        };
    }

    private static PciDevice ReadPci(JsonElement p)
    {
        var vdevfn = Int(p, "vdevfn") ?? 0;
        return new PciDevice
        {
            Function = Long(p, "vfunc_mask") is { } mask && mask != 1 ? null : Int(p, "func") ?? 0,
            Device = Int(p, "dev") ?? 0,
            Bus = Int(p, "bus") ?? 0,
            Domain = Int(p, "domain") ?? 0,
            VSlot = vdevfn != 0 ? vdevfn >> 3 : null,
            MsiTranslate = Bool(p, "msitranslate") ? true : null,
            PowerMgmt = Bool(p, "power_mgmt") ? true : null,
            Permissive = Bool(p, "permissive") ? true : null,
            Seize = Bool(p, "seize") ? true : null,
            RdmPolicy = Text(p, "rdm_policy") switch { null => null, "strict" => RdmPolicy.Strict, "relaxed" => RdmPolicy.Relaxed, var r => throw new FormatException($"unknown rdm_policy '{r}'") },
            Name = Text(p, "name"),
        };
    }

    private static VfbConfig ReadVfb(JsonElement v)
    {
        var vnc = Obj(v, "vnc");
        var sdl = Obj(v, "sdl");
        return new VfbConfig
        {
            Vnc = vnc is { } a ? DefBool(a, "enable") : null,
            VncListen = vnc is { } b ? Text(b, "listen") : null,
            VncPasswd = vnc is { } c ? Text(c, "passwd") : null,
            VncDisplay = vnc is { } d ? Int(d, "display") : null,
            VncUnused = vnc is { } e ? DefBool(e, "findunused") : null,
            Sdl = sdl is { } f ? DefBool(f, "enable") : null,
            OpenGl = sdl is { } g ? DefBool(g, "opengl") : null,
            Display = sdl is { } h ? Text(h, "display") : null,
            XAuthority = sdl is { } i ? Text(i, "xauthority") : null,
            Keymap = Text(v, "keymap"),
        };
    }

    private static CpuAffinity? ReadAffinity(JsonElement bi, string key, int maxVcpus)
    {
        if (!Has(bi, key)) return null;
        var maps = Items(bi, key).Select(m => RangeSpec(m.EnumerateArray().Select(x => x.GetInt32()).ToList())).ToList();
        if (maps.Count == 0) return null;
        var sets = maps.Select(s => new CpuSet(s, ParseItems(s))).ToList();
        // One map repeated for every vCPU is how xl expands a single CPU list.
        if (maps.Count == maxVcpus && maps.Distinct(StringComparer.Ordinal).Count() == 1)
            return new CpuAffinity([sets[0]], PerVcpu: false);
        return new CpuAffinity(sets, PerVcpu: true);
    }

    /// <summary>Bits as the shortest xl CPU list, e.g. [0,1,2,5] → "0-2,5".</summary>
    internal static string RangeSpec(IReadOnlyList<int> bits)
    {
        var sorted = bits.Distinct().Order().ToList();
        var parts = new List<string>();
        for (var i = 0; i < sorted.Count;)
        {
            var j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1) j++;
            parts.Add(i == j
                ? sorted[i].ToString(CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{sorted[i]}-{sorted[j]}"));
            i = j + 1;
        }
        return string.Join(",", parts);
    }

    private static LifecycleAction? ReadAction(JsonElement root, string key) => Text(root, key) switch
    {
        null => null,
        "destroy" => LifecycleAction.Destroy,
        "restart" => LifecycleAction.Restart,
        "restart_rename" => LifecycleAction.RenameRestart,
        "preserve" => LifecycleAction.Preserve,
        "coredump_destroy" => LifecycleAction.CoredumpDestroy,
        "coredump_restart" => LifecycleAction.CoredumpRestart,
        "soft_reset" => LifecycleAction.SoftReset,
        var a => throw new FormatException($"unknown {key} action '{a}'"),
    };

    private static bool Has(JsonElement o, string key) => o.TryGetProperty(key, out _);

    private static JsonElement? Obj(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;

    private static IEnumerable<JsonElement> Items(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : [];

    private static List<int>? Bits(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(x => x.GetInt32()).ToList() : null;

    private static List<string> Strings(JsonElement o, string key) => Items(o, key).Select(x => x.GetString() ?? "").ToList();

    private static string? Text(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Null => null,
            _ => throw new FormatException($"'{key}' must be a string"),
        } : null;

    private static long? Long(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) ? (v.ValueKind == JsonValueKind.Number ? v.GetInt64() : throw new FormatException($"'{key}' must be a number")) : null;

    private static int? Int(JsonElement o, string key) => Long(o, key) is { } l ? checked((int)l) : null;

    private static bool Bool(JsonElement o, string key) => o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.True;

    private static bool? DefBool(JsonElement o, string key) => Text(o, key) switch
    {
        null => null,
        "True" => true,
        "False" => false,
        var s => throw new FormatException($"'{key}' must be \"True\" or \"False\", not '{s}'"),
    };
}
