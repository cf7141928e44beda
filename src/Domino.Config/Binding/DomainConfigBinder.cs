using Domino.Config.Diagnostics;
using Domino.Config.Model;
using Domino.Config.Specs;
using Domino.Config.Syntax;

namespace Domino.Config.Binding;

/// <summary>
/// Turns parsed xl.cfg settings into a <see cref="DomainConfig"/>: one handler per key of xl.cfg(5),
/// then the cross-key rules. Every problem becomes a diagnostic; binding carries on so all are reported.
/// </summary>
internal sealed partial class DomainConfigBinder
{
    private readonly ValueReader _r;
    private readonly DomainConfig _c = new();
    private string? _root;
    private string? _extra;
    private ConfigSetting? _cmdlineSetting;
    private ConfigSetting? _rootOrExtraSetting;
    private DomainType? _type;
    private DomainType? _builderType;
    private bool _afterSyntaxErrors;
    private string? _fileName;
    private readonly Dictionary<string, ConfigSetting> _seen = new(StringComparer.Ordinal);

    private DomainConfigBinder(DiagnosticBag diagnostics) => _r = new ValueReader(diagnostics);

    /// <param name="afterSyntaxErrors">Skip "X is required" checks: the setting may be in a statement that failed to parse.</param>
    public static DomainConfig Bind(ConfigDocument document, DiagnosticBag diagnostics, bool afterSyntaxErrors = false)
    {
        var binder = new DomainConfigBinder(diagnostics) { _afterSyntaxErrors = afterSyntaxErrors, _fileName = document.FileName };
        foreach (var setting in document.Effective(diagnostics)) binder.BindSetting(setting);
        binder.Finish();
        return binder._c;
    }

    private void BindSetting(ConfigSetting s)
    {
        _seen[s.Key] = s;
        if (Handlers.TryGetValue(s.Key, out var handler))
        {
            handler(this, s);
            return;
        }
        _c.UnknownSettings.Add(s);
        if (NotImplementedKeys.Contains(s.Key))
        {
            _r.Warning(s, $"'{s.Key}' is an xl.cfg option Domino does not implement yet; it is kept but has no effect");
            return;
        }
        var suggestion = Suggest(s.Key);
        _r.Warning(s, suggestion is null
            ? $"unknown setting '{s.Key}' (kept, but not used)"
            : $"unknown setting '{s.Key}' (kept, but not used); did you mean '{suggestion}'?");
    }

    private static readonly Dictionary<string, LifecycleAction> Actions = new(StringComparer.Ordinal)
    {
        ["destroy"] = LifecycleAction.Destroy,
        ["restart"] = LifecycleAction.Restart,
        ["rename-restart"] = LifecycleAction.RenameRestart,
        ["preserve"] = LifecycleAction.Preserve,
        ["coredump-destroy"] = LifecycleAction.CoredumpDestroy,
        ["coredump-restart"] = LifecycleAction.CoredumpRestart,
        ["soft-reset"] = LifecycleAction.SoftReset,
    };

    internal static string ActionName(LifecycleAction a) => Actions.First(kv => kv.Value == a).Key;

    private static readonly Dictionary<string, DomainType> Types = new(StringComparer.Ordinal)
    {
        ["pv"] = DomainType.Pv,
        ["pvh"] = DomainType.Pvh,
        ["hvm"] = DomainType.Hvm,
    };

    internal static readonly Dictionary<string, TscMode> TscModes = new(StringComparer.Ordinal)
    {
        ["default"] = TscMode.Default,
        ["always_emulate"] = TscMode.AlwaysEmulate,
        ["native"] = TscMode.Native,
        ["native_paravirt"] = TscMode.NativeParavirt,
    };

    internal static readonly Dictionary<string, TimerMode> TimerModes = new(StringComparer.Ordinal)
    {
        ["delay_for_missed_ticks"] = TimerMode.DelayForMissedTicks,
        ["no_delay_for_missed_ticks"] = TimerMode.NoDelayForMissedTicks,
        ["no_missed_ticks_pending"] = TimerMode.NoMissedTicksPending,
        ["one_missed_tick_pending"] = TimerMode.OneMissedTickPending,
    };

    internal static readonly Dictionary<string, VgaKind> VgaKinds = new(StringComparer.Ordinal)
    {
        ["cirrus"] = VgaKind.Cirrus,
        ["stdvga"] = VgaKind.Std,
        ["none"] = VgaKind.None,
        ["qxl"] = VgaKind.Qxl,
    };

    internal static readonly Dictionary<string, BiosType> BiosTypes = new(StringComparer.Ordinal)
    {
        ["rombios"] = BiosType.Rombios,
        ["seabios"] = BiosType.Seabios,
        ["ovmf"] = BiosType.Ovmf,
    };

    internal static readonly string[] ViridianGroups =
    [
        "base", "freq", "time_ref_count", "reference_tsc", "hcall_remote_tlb_flush", "apic_assist",
        "crash_ctl", "synic", "stimer", "hcall_ipi", "ex_processor_masks", "no_vp_limit", "cpu_hotplug",
        "all", "defaults",
    ];

    private delegate void Handler(DomainConfigBinder b, ConfigSetting s);

    private static readonly Dictionary<string, Handler> Handlers = new(StringComparer.Ordinal)
    {
        // Selecting the guest type.
        ["type"] = (b, s) => b._type = b._r.Enum(s, Types, "guest type"),
        ["builder"] = (b, s) =>
        {
            var v = b._r.String(s);
            if (v == "hvm") b._builderType = DomainType.Hvm;
            else if (v == "generic") b._builderType = DomainType.Pv;
            else if (v is not null) b._r.Error(s.Value, s.Key, $"unknown builder '{v}' (expected hvm or generic; prefer type=\"hvm\" or type=\"pv\")");
        },
        ["pvh"] = (b, s) =>
        {
            if (b._r.Bool(s) == true) b._builderType = DomainType.Pvh;
        },

        // General options.
        ["name"] = (b, s) => b._c.Name = b._r.String(s),
        ["uuid"] = (b, s) =>
        {
            var v = b._r.String(s);
            if (v is null) return;
            if (Guid.TryParseExact(v, "D", out var g)) b._c.Uuid = g;
            else b._r.Error(s.Value, s.Key, $"invalid uuid '{v}' (expected 8-4-4-4-12 hex digits, e.g. 12345678-1234-5678-9abc-123456789abc)");
        },
        ["pool"] = (b, s) => b._c.Pool = b._r.String(s),
        ["hap"] = (b, s) => b._c.Hap = b._r.Bool(s),
        ["oos"] = (b, s) => b._c.Oos = b._r.Bool(s),
        ["seclabel"] = (b, s) => b._c.SeclabelSsid = b._r.String(s),
        ["init_seclabel"] = (b, s) => b._c.InitSeclabel = b._r.String(s),
        ["driver_domain"] = (b, s) => b._c.DriverDomain = b._r.Bool(s),

        // CPU allocation.
        ["vcpus"] = (b, s) => b._c.Vcpus = b._r.Int(s, 1, 4096, "a number of vCPUs"),
        ["maxvcpus"] = (b, s) => b._c.MaxVcpus = b._r.Int(s, 1, 4096, "a number of vCPUs"),
        ["cpus"] = (b, s) => b._c.Cpus = b.Affinity(s),
        ["cpus_soft"] = (b, s) => b._c.CpusSoft = b.Affinity(s),
        ["cpu_weight"] = (b, s) => b._c.Weight = b._r.Int(s, 1, 65535, "a credit-scheduler weight"),
        ["cap"] = (b, s) => b._c.Cap = b._r.Int(s, 0, int.MaxValue, "a CPU cap in percent of one pCPU (0 = no cap)"),

        // Memory allocation.
        ["memory"] = (b, s) => b._c.MemoryMb = b._r.Integer(s, 1, 1L << 32, "a number of MiB"),
        ["maxmem"] = (b, s) => b._c.MaxMemMb = b._r.Integer(s, 1, 1L << 32, "a number of MiB"),
        ["vnuma"] = (b, s) => b.Vnuma(s),

        // Event actions.
        ["on_poweroff"] = (b, s) => b._c.OnPoweroff = b.Action(s) ?? b._c.OnPoweroff,
        ["on_reboot"] = (b, s) => b._c.OnReboot = b.Action(s) ?? b._c.OnReboot,
        ["on_watchdog"] = (b, s) => b._c.OnWatchdog = b.Action(s) ?? b._c.OnWatchdog,
        ["on_crash"] = (b, s) => b._c.OnCrash = b.Action(s) ?? b._c.OnCrash,
        ["on_soft_reset"] = (b, s) => b._c.OnSoftReset = b.Action(s) ?? b._c.OnSoftReset,

        // Direct kernel boot.
        ["kernel"] = (b, s) => b._c.Kernel = b._r.String(s),
        ["ramdisk"] = (b, s) => b._c.Ramdisk = b._r.String(s),
        ["cmdline"] = (b, s) =>
        {
            b._cmdlineSetting = s;
            b._c.Cmdline = b._r.String(s);
        },
        ["root"] = (b, s) =>
        {
            b._rootOrExtraSetting ??= s;
            b._root = b._r.String(s);
        },
        ["extra"] = (b, s) =>
        {
            b._rootOrExtraSetting ??= s;
            b._extra = b._r.String(s);
        },

        // Non-direct boot.
        ["bootloader"] = (b, s) => b._c.Bootloader = b._r.String(s),
        ["bootloader_args"] = (b, s) => b._c.BootloaderArgs.AddRange(b._r.Strings(s)),
        ["firmware"] = (b, s) => b._c.Firmware = b._r.String(s),

        // Other options.
        ["localtime"] = (b, s) => b._c.Localtime = b._r.Bool(s),
        ["rtc_timeoffset"] = (b, s) => b._c.RtcTimeoffset = b._r.Integer(s, int.MinValue, int.MaxValue, "an offset in seconds"),
        ["disable_migrate"] = (b, s) => b._c.DisableMigrate = b._r.Bool(s),
        ["tsc_mode"] = (b, s) => b._c.TscMode = b._r.Enum(s, TscModes, "TSC mode"),
        ["max_grant_frames"] = (b, s) => b._c.MaxGrantFrames = b._r.Integer(s, 1, uint.MaxValue, "a number of grant frames"),
        ["max_maptrack_frames"] = (b, s) => b._c.MaxMaptrackFrames = b._r.Integer(s, 0, uint.MaxValue, "a number of maptrack frames"),
        ["max_event_channels"] = (b, s) => b._c.EventChannels = b._r.Integer(s, 1, uint.MaxValue, "a number of event channels"),
        ["blkdev_start"] = (b, s) => b._c.BlkdevStart = b._r.String(s),
        ["device_model_version"] = (b, s) =>
        {
            var v = b._r.String(s);
            if (v is "qemu-xen" or "qemu-xen-traditional") b._c.DeviceModelVersion = v;
            else if (v is not null) b._r.Error(s.Value, s.Key, $"unknown device_model_version '{v}' (expected qemu-xen or qemu-xen-traditional)");
        },
        ["device_model_stubdomain_override"] = (b, s) => b._c.DeviceModelStubdomain = b._r.Bool(s),
        ["device_model_override"] = (b, s) => b._c.DeviceModelOverride = b._r.String(s),
        ["device_model_args"] = (b, s) => b._c.DeviceModelArgs.AddRange(b._r.Strings(s)),
        ["device_model_args_pv"] = (b, s) => b._c.DeviceModelArgsPv.AddRange(b._r.Strings(s)),
        ["device_model_args_hvm"] = (b, s) => b._c.DeviceModelArgsHvm.AddRange(b._r.Strings(s)),

        // Devices.
        ["disk"] = (b, s) => b.Devices(s, DiskSpec.Parse, b._c.Disks),
        ["vif"] = (b, s) => b.Devices(s, NicSpec.Parse, b._c.Nics),
        ["pci"] = (b, s) => b.Devices(s, PciSpec.Parse, b._c.PciDevices),
        ["vfb"] = (b, s) => b.Devices(s, VfbSpec.Parse, b._c.Vfbs),
        ["vkb"] = (b, s) => b.Devices(s, VkbSpec.Parse, b._c.Vkbs),
        ["vtpm"] = (b, s) => b.Devices(s, VtpmSpec.Parse, b._c.Vtpms),
        ["p9"] = (b, s) => b.Devices(s, P9Spec.Parse, b._c.P9s),
        ["pvcalls"] = (b, s) => b.Devices(s, PvCallsSpec.Parse, b._c.PvCalls),
        ["channel"] = (b, s) => b.Devices(s, ChannelSpec.Parse, b._c.Channels),
        ["usbctrl"] = (b, s) => b.Devices(s, UsbCtrlSpec.Parse, b._c.UsbControllers),
        ["usbdev"] = (b, s) => b.Devices(s, UsbDevSpec.Parse, b._c.UsbDevicesPassthrough),
        ["pci_permissive"] = (b, s) => b._c.PciPermissive = b._r.Bool(s),
        ["pci_msitranslate"] = (b, s) => b._c.PciMsiTranslate = b._r.Bool(s),
        ["pci_seize"] = (b, s) => b._c.PciSeize = b._r.Bool(s),
        ["pci_power_mgmt"] = (b, s) => b._c.PciPowerMgmt = b._r.Bool(s),

        // HVM guest options.
        ["bios"] = (b, s) => b._c.Bios = b._r.Enum(s, BiosTypes, "BIOS"),
        ["pae"] = (b, s) => b._c.Pae = b._r.Bool(s),
        ["acpi"] = (b, s) => b._c.Acpi = b._r.Bool(s),
        ["acpi_s3"] = (b, s) => b._c.AcpiS3 = b._r.Bool(s),
        ["acpi_s4"] = (b, s) => b._c.AcpiS4 = b._r.Bool(s),
        ["acpi_laptop_slate"] = (b, s) => b._c.AcpiLaptopSlate = b._r.Bool(s),
        ["apic"] = (b, s) => b._c.Apic = b._r.Bool(s),
        ["nx"] = (b, s) => b._c.Nx = b._r.Bool(s),
        ["hpet"] = (b, s) => b._c.Hpet = b._r.Bool(s),
        ["vpt_align"] = (b, s) => b._c.VptAlign = b._r.Bool(s),
        ["nestedhvm"] = (b, s) => b._c.NestedHvm = b._r.Bool(s),
        ["timer_mode"] = (b, s) => b._c.TimerMode = b._r.Enum(s, TimerModes, "timer mode"),
        ["viridian"] = (b, s) => b._c.Viridian = b.Viridian(s),
        ["cpuid"] = (b, s) => b._c.Cpuid = b.Cpuid(s),
        ["mmio_hole"] = (b, s) => b._c.MmioHoleMb = b._r.Integer(s, 256, 3840, "the MMIO hole size in MiB"),
        ["shadow_memory"] = (b, s) => b._c.ShadowMemoryMb = b._r.Integer(s, 0, 1L << 32, "a number of MiB"),
        ["xen_platform_pci"] = (b, s) => b._c.XenPlatformPci = b._r.Bool(s),
        ["boot"] = (b, s) =>
        {
            var v = b._r.String(s);
            if (v is null) return;
            if (v.Length > 0 && v.All(ch => ch is 'a' or 'c' or 'd' or 'n')) b._c.Boot = v;
            else b._r.Error(s.Value, s.Key, $"invalid boot order '{v}' (expected letters from a (floppy), c (hard disk), d (CD-ROM), n (network), e.g. \"cd\")");
        },
        ["serial"] = (b, s) =>
        {
            b._c.Serial.AddRange(b._r.Strings(s));
            b._c.SerialIsList = s.Value is ConfigList;
        },
        ["vga"] = (b, s) => b._c.Vga = b._r.Enum(s, VgaKinds, "VGA card"),
        ["stdvga"] = (b, s) =>
        {
            if (b._r.Bool(s) is { } std && b._c.Vga is null) b._c.Vga = std ? VgaKind.Std : VgaKind.Cirrus;
        },
        ["videoram"] = (b, s) => b._c.VideoRamMb = b._r.Integer(s, 1, 1L << 20, "a number of MiB"),
        ["vnc"] = (b, s) => b._c.Vnc = b._r.Bool(s),
        ["vnclisten"] = (b, s) => b._c.VncListen = b._r.String(s),
        ["vncpasswd"] = (b, s) => b._c.VncPasswd = b._r.String(s),
        ["vncdisplay"] = (b, s) => b._c.VncDisplay = b._r.Int(s, 0, 65535 - 5900, "a VNC display number"),
        ["vncunused"] = (b, s) => b._c.VncUnused = b._r.Bool(s),
        ["sdl"] = (b, s) => b._c.Sdl = b._r.Bool(s),
        ["opengl"] = (b, s) => b._c.OpenGl = b._r.Bool(s),
        ["keymap"] = (b, s) => b._c.Keymap = b._r.String(s),
        ["nographic"] = (b, s) => b._c.NoGraphic = b._r.Bool(s),
        ["usb"] = (b, s) => b._c.Usb = b._r.Bool(s),
        ["usbversion"] = (b, s) => b._c.UsbVersion = b._r.Int(s, 1, 3, "a USB version"),
        ["usbdevice"] = (b, s) =>
        {
            b._c.UsbDevices.AddRange(b._r.Strings(s));
            b._c.UsbDevicesIsList = s.Value is ConfigList;
        },
        ["soundhw"] = (b, s) => b._c.SoundHw = b._r.String(s),
        ["gfx_passthru"] = (b, s) => b._c.GfxPassthru = b._r.Bool(s),

        // Less common options.
        ["passthrough"] = (b, s) => b._c.Passthrough = b.OneOf(s, "default", "disabled", "enabled", "sync_pt", "share_pt"),
        ["max_grant_version"] = (b, s) => b._c.MaxGrantVersion = b._r.Int(s, 1, 2, "a grant table version"),
        ["stubdomain_memory"] = (b, s) => b._c.StubdomainMemoryMb = b._r.Integer(s, 1, 1L << 20, "a number of MiB"),
        ["device_model_user"] = (b, s) => b._c.DeviceModelUser = b._r.String(s),
        ["ioports"] = (b, s) => b.IoPorts(s),
        ["irqs"] = (b, s) => b.Irqs(s),
        ["iomem"] = (b, s) => b.IoMem(s),
        ["e820_host"] = (b, s) => b._c.E820Host = b._r.Bool(s),
        ["msr_relaxed"] = (b, s) => b._c.MsrRelaxed = b._r.Bool(s),
        ["altp2m"] = (b, s) => b._c.Altp2m = b.OneOf(s, "disabled", "mixed", "external", "limited"),
        ["vmtrace_buf_kb"] = (b, s) => b._c.VmtraceBufKb = b._r.Int(s, 0, int.MaxValue, "a trace buffer size in KiB"),
        ["vpmu"] = (b, s) => b._c.Vpmu = b._r.Bool(s),
        ["smbios_firmware"] = (b, s) => b._c.SmbiosFirmware = b._r.String(s),
        ["acpi_firmware"] = (b, s) => b._c.AcpiFirmware = b._r.String(s),
        ["hdtype"] = (b, s) => b._c.HdType = b.OneOf(s, "ide", "ahci"),
        ["vendor_device"] = (b, s) => b._c.VendorDevice = b.OneOf(s, "none", "xenserver"),
        ["rdm_mem_boundary"] = (b, s) => b._c.RdmMemBoundaryMb = b._r.Integer(s, 0, 1L << 32, "a number of MiB"),
        ["spice"] = (b, s) => b._c.Spice = b._r.Bool(s),
        ["spiceport"] = (b, s) => b._c.SpicePort = b._r.Int(s, 1, 65535, "a TCP port"),
        ["spicetls_port"] = (b, s) => b._c.SpiceTlsPort = b._r.Int(s, 1, 65535, "a TCP port"),
        ["spicehost"] = (b, s) => b._c.SpiceHost = b._r.String(s),
        ["spicedisable_ticketing"] = (b, s) => b._c.SpiceDisableTicketing = b._r.Bool(s),
        ["spicepasswd"] = (b, s) => b._c.SpicePasswd = b._r.String(s),
        ["spiceagent_mouse"] = (b, s) => b._c.SpiceAgentMouse = b._r.Bool(s),
        ["spicevdagent"] = (b, s) => b._c.SpiceVdagent = b._r.Bool(s),
        ["spice_clipboard_sharing"] = (b, s) => b._c.SpiceClipboardSharing = b._r.Bool(s),
        ["spiceusbredirection"] = (b, s) => b._c.SpiceUsbRedirection = b._r.Int(s, 0, 16, "a number of USB redirection channels"),
        ["spice_image_compression"] = (b, s) => b._c.SpiceImageCompression = b.OneOf(s, "auto_glz", "auto_lz", "quic", "glz", "lz", "off"),
        ["spice_streaming_video"] = (b, s) => b._c.SpiceStreamingVideo = b.OneOf(s, "filter", "all", "off"),
    };

    /// <summary>Options xl.cfg(5) documents that Domino does not model yet: kept and round-tripped, with a warning.</summary>
    private static readonly HashSet<string> NotImplementedKeys = new(StringComparer.Ordinal)
    {
        "vdispl", "vsnd", "rdm", "dtdev", "vuart",
        "gic_version", "tee", "altp2mhvm", "smbios", "ms_vm_genid", "numa_placement", "device_model_stubdomain_seclabel",
        "stubdomain_kernel", "stubdomain_ramdisk", "stubdomain_cmdline", "bootloader_restrict", "bootloader_user",
        "device_tree", "dm_restrict", "pvshim", "pvshim_path", "pvshim_cmdline", "pvshim_extra", "mca_caps", "sve",
        "virtio", "gfx_passthru_kind", "keymap_file", "suppress_vmport", "xendbg", "nomigrate", "acpi_s3_override",
        "pirq", "trap_unmapped_accesses",
    };

    private static string? Suggest(string key)
    {
        var best = Handlers.Keys.Concat(NotImplementedKeys)
            .Select(k => (Key: k, Distance: EditDistance(key, k)))
            .OrderBy(x => x.Distance)
            .ThenBy(x => x.Key, StringComparer.Ordinal)
            .FirstOrDefault();
        var allowed = key.Length <= 4 ? 1 : 2 + key.Length / 8;
        return best.Key is not null && best.Distance <= allowed ? best.Key : null;
    }

    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
