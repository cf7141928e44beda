using System.Text.Json.Nodes;
using Domino.Config.Model;
using Domino.Config.Specs;

namespace Domino.Config.Output;

/// <summary>
/// libxl's JSON form of a domain configuration (<c>libxl_domain_config</c>, as `xl -N create` prints it):
/// fields in libxl_types.idl order, fields still at their libxl default left out, defbools as "True"/"False".
/// </summary>
public static partial class LibxlJson
{
    /// <summary>
    /// With this host's CPUs and NUMA nodes, looked up only when the config names CPUs (sysfs reads
    /// that most creates, on the CLI's start path, need not make).
    /// </summary>
    public static string Serialize(DomainConfig config) => YajlJsonWriter.Write(ToJson(config, static () => HostInfo.Current));

    public static string Serialize(DomainConfig config, HostInfo host) => YajlJsonWriter.Write(ToJson(config, () => host));

    internal static JsonObject ToJson(DomainConfig c, Func<HostInfo> host)
    {
        var root = new JsonObject
        {
            ["c_info"] = CreateInfo(c),
            ["b_info"] = BuildInfo(c, host),
        };
        Array(root, "disks", c.Disks.Select(Disk));
        Array(root, "nics", c.Nics.Select((n, i) => Nic(n, i)));
        Array(root, "pcidevs", c.PciDevices.Select(p => Pci(p, c)));
        var vfbs = EffectiveVfbs(c);
        Array(root, "vfbs", vfbs.Select(Vfb));
        // xl gives every PV framebuffer a keyboard.
        Array(root, "vkbs", vfbs.Select((_, i) => new JsonObject { ["devid"] = i })
            .Concat(c.Vkbs.Select((k, i) => Vkb(k, vfbs.Count + i))));
        Array(root, "vtpms", c.Vtpms.Select((v, i) =>
        {
            var o = new JsonObject();
            Str(o, "backend_domname", v.Backend);
            o["devid"] = i;
            if (v.Uuid is { } uuid) o["uuid"] = uuid.ToString("D");
            return o;
        }));
        Array(root, "p9s", c.P9s.Select(p =>
        {
            var o = new JsonObject();
            Str(o, "backend_domname", p.Backend);
            o["tag"] = p.Tag;
            o["path"] = p.Path;
            o["security_model"] = p.SecurityModel;
            return o;
        }));
        Array(root, "pvcallsifs", c.PvCalls.Select((p, i) =>
        {
            var o = new JsonObject();
            Str(o, "backend_domname", p.Backend);
            o["devid"] = i;
            return o;
        }));
        Array(root, "channels", c.Channels.Select((ch, i) =>
        {
            var o = new JsonObject();
            Str(o, "backend_domname", ch.Backend);
            o["devid"] = i;
            o["name"] = ch.Name;
            var connection = new JsonObject();
            if (ch.Connection == "socket") Str(connection, "path", ch.Path);
            o["connection." + ch.Connection] = connection;
            return o;
        }));
        Array(root, "usbctrls", c.UsbControllers.Select((u, i) =>
        {
            var o = new JsonObject();
            if (u.Type is not (null or "auto")) o["type"] = u.Type;
            o["devid"] = i;
            if (u.Version is { } version) o["version"] = version;
            if (u.Ports is { } ports) o["ports"] = ports;
            Str(o, "backend_domname", u.Backend);
            return o;
        }));
        // xl fills in the host address only when the spec says type=hostdev.
        Array(root, "usbdevs", c.UsbDevicesPassthrough.Select(u =>
        {
            var o = new JsonObject();
            if (u.Controller is { } ctrl) o["ctrl"] = ctrl;
            if (u.Port is { } port) o["port"] = port;
            if (u.Type == "hostdev") o["type.hostdev"] = new JsonObject { ["hostbus"] = u.HostBus, ["hostaddr"] = u.HostAddr };
            return o;
        }));
        Action(root, "on_poweroff", c.OnPoweroff);
        Action(root, "on_reboot", c.OnReboot);
        Action(root, "on_watchdog", c.OnWatchdog);
        Action(root, "on_crash", c.OnCrash);
        Action(root, "on_soft_reset", c.OnSoftReset);
        return root;
    }

    /// <summary>
    /// A PV guest with top-level <c>vnc=1</c> and no <c>vfb=</c> list gets one framebuffer from the
    /// top-level display options, as xl does.
    /// </summary>
    internal static List<VfbConfig> EffectiveVfbs(DomainConfig c)
    {
        if (c.Vfbs.Count > 0 || c.Type != DomainType.Pv || c.Vnc != true) return c.Vfbs;
        return
        [
            new VfbConfig
            {
                Vnc = c.Vnc,
                VncListen = c.VncListen,
                VncPasswd = c.VncPasswd,
                VncDisplay = c.VncDisplay,
                VncUnused = c.VncUnused,
                Sdl = c.Sdl,
                OpenGl = c.OpenGl,
                Keymap = c.Keymap,
            },
        ];
    }

    private static JsonObject CreateInfo(DomainConfig c)
    {
        var o = new JsonObject { ["type"] = TypeName(c.Type) };
        DefBool(o, "hap", c.Hap);
        DefBool(o, "oos", c.Oos);
        Str(o, "ssid_label", c.SeclabelSsid);
        Str(o, "name", c.Name);
        o["uuid"] = (c.Uuid ?? Guid.NewGuid()).ToString("D");
        Str(o, "pool_name", c.Pool);
        // xl.conf(5) run_hotplug_scripts defaults to 1.
        o["run_hotplug_scripts"] = "True";
        DefBool(o, "driver_domain", c.DriverDomain);
        // Enumerations at libxl's default value are left out of the JSON, as libxl's generator does.
        if (c.Passthrough is not (null or "default")) o["passthrough"] = c.Passthrough;
        return o;
    }

    private static JsonObject BuildInfo(DomainConfig c, Func<HostInfo> host)
    {
        var o = new JsonObject();
        if (c.Vcpus is { } vcpus)
        {
            o["max_vcpus"] = c.MaxVcpus ?? vcpus;
            o["avail_vcpus"] = Bitmap(Enumerable.Range(0, vcpus));
        }
        else if (c.MaxVcpus is { } maxOnly)
        {
            o["max_vcpus"] = maxOnly;
        }
        var maxVcpus = c.Vcpus is not null ? c.MaxVcpus ?? c.Vcpus.Value : c.MaxVcpus ?? 0;
        Affinity(o, "vcpu_hard_affinity", c.Cpus, maxVcpus, host);
        Affinity(o, "vcpu_soft_affinity", c.CpusSoft, maxVcpus, host);
        // xl turns off automatic NUMA placement when told where vCPUs go, except for one hard CPU list.
        if (c.CpusSoft is not null || c.Cpus is { PerVcpu: true } || c.Vnuma.Count > 0)
            o["numa_placement"] = "False";
        if (c.TscMode is { } tsc && tsc != TscMode.Default) o["tsc_mode"] = TscName(tsc);
        if ((c.MaxMemMb ?? c.MemoryMb) is { } max) o["max_memkb"] = max * 1024;
        if (c.MemoryMb is { } mem) o["target_memkb"] = mem * 1024;
        if (c.VideoRamMb is { } video) o["video_memkb"] = video * 1024;
        if (c.ShadowMemoryMb is { } shadow) o["shadow_memkb"] = shadow * 1024;
        // libxl keeps the offset as a uint32, so a negative offset prints in two's complement.
        if (c.RtcTimeoffset is { } rtc && rtc != 0) o["rtc_timeoffset"] = unchecked((uint)rtc);
        Str(o, "exec_ssid_label", c.InitSeclabel);
        DefBool(o, "localtime", c.Localtime);
        // xl 4.17 reads disable_migrate and blkdev_start but leaves them out of the domain's JSON.
        if (c.Cpuid is { } cpuid && CpuidSpec.Evaluate(cpuid.Items, cpuid.IsList).Leaves is { } leaves)
        {
            var policy = new JsonArray();
            foreach (var leaf in leaves)
            {
                var entry = new JsonObject { ["leaf"] = leaf.Number };
                if (leaf.Subleaf is { } sub) entry["subleaf"] = sub;
                for (var r = 0; r < 4; r++)
                {
                    if (leaf.Registers[r] is { } mask) entry[CpuidSpec.RegisterName(r)] = mask;
                }
                policy.Add((JsonNode)entry);
            }
            o["cpuid"] = new JsonObject { ["cpuid"] = policy, ["msr"] = new JsonArray() };
        }
        if (c.Vnuma.Count > 0)
        {
            o["vnuma_nodes"] = new JsonArray(c.Vnuma.Select(n => (JsonNode)VnumaNodeJson(n)).ToArray());
        }
        if (c.MaxGrantFrames is { } grants) o["max_grant_frames"] = grants;
        if (c.MaxMaptrackFrames is { } maptrack) o["max_maptrack_frames"] = maptrack;
        if (c.MaxGrantVersion is { } grantVersion) o["max_grant_version"] = grantVersion;
        if (c.DeviceModelVersion is { } dmv) o["device_model_version"] = dmv.Replace('-', '_');
        DefBool(o, "device_model_stubdomain", c.DeviceModelStubdomain);
        if (c.StubdomainMemoryMb is { } stubMem) o["stubdomain_memkb"] = stubMem * 1024;
        Str(o, "device_model", c.DeviceModelOverride);
        Str(o, "device_model_user", c.DeviceModelUser);
        StrList(o, "extra", c.DeviceModelArgs);
        StrList(o, "extra_pv", c.DeviceModelArgsPv);
        StrList(o, "extra_hvm", c.DeviceModelArgsHvm);
        var sched = new JsonObject();
        if (c.Weight is { } weight) sched["weight"] = weight;
        if (c.Cap is { } cap) sched["cap"] = cap;
        o["sched_params"] = sched;
        Array(o, "ioports", c.IoPorts.Select(p => new JsonObject { ["first"] = p.First, ["number"] = p.Number }));
        if (c.Irqs.Count > 0) o["irqs"] = new JsonArray(c.Irqs.Select(i => (JsonNode)i).ToArray());
        Array(o, "iomem", c.IoMem.Select(m =>
        {
            var range = new JsonObject { ["start"] = m.Start, ["number"] = m.Number };
            if (m.Gfn is { } gfn) range["gfn"] = gfn;
            return range;
        }));
        // xl.conf(5) claim_mode defaults to 1.
        o["claim_mode"] = "True";
        if (c.EventChannels is { } evtchn) o["event_channels"] = evtchn;
        Str(o, "kernel", c.Kernel);
        Str(o, "cmdline", c.Cmdline);
        Str(o, "ramdisk", c.Ramdisk);
        DefBool(o, "acpi", c.Acpi);
        Str(o, "bootloader", c.Bootloader);
        StrList(o, "bootloader_args", c.BootloaderArgs);
        if (c.TimerMode is { } timer) o["timer_mode"] = TimerName(timer);
        DefBool(o, "nested_hvm", c.NestedHvm);
        if (c.Type == DomainType.Hvm) DefBool(o, "apic", c.Apic);
        switch (c.Type)
        {
            case DomainType.Hvm: o["type.hvm"] = Hvm(c); break;
            case DomainType.Pv:
                var pv = new JsonObject();
                // xl passes the host's E820 map to PV guests with passed-through PCI devices, whatever e820_host says.
                if (c.PciDevices.Count > 0) pv["e820_host"] = "True";
                else if (c.E820Host is { } e820) pv["e820_host"] = e820 ? "True" : "False";
                o["type.pv"] = pv;
                break;
            case DomainType.Pvh: o["type.pvh"] = new JsonObject(); break;
        }
        o["arch_arm"] = new JsonObject();
        var x86 = new JsonObject();
        DefBool(x86, "msr_relaxed", c.MsrRelaxed);
        o["arch_x86"] = x86;
        if (c.Altp2m is not (null or "disabled")) o["altp2m"] = c.Altp2m;
        if (c.VmtraceBufKb is { } vmtrace and not 0) o["vmtrace_buf_kb"] = vmtrace;
        DefBool(o, "vpmu", c.Vpmu);
        return o;
    }

    private static JsonObject Hvm(DomainConfig c)
    {
        var o = new JsonObject();
        var firmwareBios = c.Firmware switch
        {
            "uefi" or "ovmf" => BiosType.Ovmf,
            "seabios" => BiosType.Seabios,
            "rombios" => BiosType.Rombios,
            _ => (BiosType?)null,
        };
        // firmware="bios" means "the default BIOS"; any other unknown value is a firmware image path.
        if (c.Firmware is not null and not "bios" && firmwareBios is null) o["firmware"] = c.Firmware;
        if ((firmwareBios ?? c.Bios) is { } bios) o["bios"] = bios.ToString().ToLowerInvariant();
        DefBool(o, "pae", c.Pae);
        DefBool(o, "acpi_s3", c.AcpiS3);
        DefBool(o, "acpi_s4", c.AcpiS4);
        DefBool(o, "acpi_laptop_slate", c.AcpiLaptopSlate);
        DefBool(o, "nx", c.Nx);
        if (c.Viridian is { } viridian)
        {
            // "defaults" switches on libxl's default groups; the others become explicit bits.
            var enabled = viridian.Enabled ?? (viridian.Groups.Contains("defaults") ? true : null);
            if (enabled is { } e) o["viridian"] = e ? "True" : "False";
            // Applied in order, as xl does: "x" enables x (and un-disables it), "!x" disables x
            // (and un-enables it), "all" enables every bit without touching the disabled ones.
            var enableSet = new SortedSet<int>();
            var disableSet = new SortedSet<int>();
            foreach (var g in viridian.Groups)
            {
                if (g == "defaults") continue;
                if (g.StartsWith('!'))
                {
                    foreach (var bit in ViridianBits(g[1..]))
                    {
                        disableSet.Add(bit);
                        enableSet.Remove(bit);
                    }
                }
                else if (g == "all")
                {
                    enableSet.UnionWith(ViridianBits(g));
                }
                else
                {
                    foreach (var bit in ViridianBits(g))
                    {
                        enableSet.Add(bit);
                        disableSet.Remove(bit);
                    }
                }
            }
            var enable = enableSet.ToList();
            var disable = disableSet.ToList();
            if (enable.Count > 0) o["viridian_enable"] = Bitmap(enable);
            if (disable.Count > 0) o["viridian_disable"] = Bitmap(disable);
        }
        DefBool(o, "hpet", c.Hpet);
        DefBool(o, "vpt_align", c.VptAlign);
        if (c.MmioHoleMb is { } hole) o["mmio_hole_memkb"] = hole * 1024;
        Str(o, "smbios_firmware", c.SmbiosFirmware);
        Str(o, "acpi_firmware", c.AcpiFirmware);
        if (c.HdType is not (null or "ide")) o["hdtype"] = c.HdType;
        DefBool(o, "nographic", c.NoGraphic);
        var vga = new JsonObject();
        if (c.Vga is { } kind) vga["kind"] = kind.ToString().ToLowerInvariant();
        o["vga"] = vga;
        var vnc = new JsonObject();
        DefBool(vnc, "enable", c.Vnc);
        Str(vnc, "listen", c.VncListen);
        Str(vnc, "passwd", c.VncPasswd);
        if (c.VncDisplay is { } display and not 0) vnc["display"] = display;
        DefBool(vnc, "findunused", c.VncUnused);
        o["vnc"] = vnc;
        Str(o, "keymap", c.Keymap);
        var sdl = new JsonObject();
        DefBool(sdl, "enable", c.Sdl);
        DefBool(sdl, "opengl", c.OpenGl);
        o["sdl"] = sdl;
        var spice = new JsonObject();
        DefBool(spice, "enable", c.Spice);
        if (c.SpicePort is { } spicePort) spice["port"] = spicePort;
        if (c.SpiceTlsPort is { } tlsPort) spice["tls_port"] = tlsPort;
        Str(spice, "host", c.SpiceHost);
        DefBool(spice, "disable_ticketing", c.SpiceDisableTicketing);
        Str(spice, "passwd", c.SpicePasswd);
        DefBool(spice, "agent_mouse", c.SpiceAgentMouse);
        DefBool(spice, "vdagent", c.SpiceVdagent);
        DefBool(spice, "clipboard_sharing", c.SpiceClipboardSharing);
        if (c.SpiceUsbRedirection is { } usbredir and not 0) spice["usbredirection"] = usbredir;
        Str(spice, "image_compression", c.SpiceImageCompression);
        Str(spice, "streaming_video", c.SpiceStreamingVideo);
        o["spice"] = spice;
        DefBool(o, "gfx_passthru", c.GfxPassthru);
        if (c.Serial.Count == 1 && !c.SerialIsList) o["serial"] = c.Serial[0];
        Str(o, "boot", c.Boot);
        DefBool(o, "usb", c.Usb);
        if (c.UsbVersion is { } usbVersion) o["usbversion"] = usbVersion;
        if (c.UsbDevices.Count == 1 && !c.UsbDevicesIsList) o["usbdevice"] = c.UsbDevices[0];
        Str(o, "soundhw", c.SoundHw);
        DefBool(o, "xen_platform_pci", c.XenPlatformPci);
        if (c.UsbDevicesIsList) StrList(o, "usbdevice_list", c.UsbDevices);
        if (c.VendorDevice is not (null or "none")) o["vendor_device"] = c.VendorDevice;
        if (c.SerialIsList) StrList(o, "serial_list", c.Serial);
        o["rdm"] = new JsonObject();
        if (c.RdmMemBoundaryMb is { } boundary) o["rdm_mem_boundary_memkb"] = boundary * 1024;
        return o;
    }

    private static IEnumerable<int> ViridianBits(string group) => group switch
    {
        // libxl's enlightenment bitmap is 64 bits wide; "all" sets every one.
        "all" => Enumerable.Range(0, 64),
        _ => [System.Array.IndexOf(ViridianNames, group)],
    };

    internal static readonly string[] ViridianNames =
    [
        "base", "freq", "time_ref_count", "reference_tsc", "hcall_remote_tlb_flush", "apic_assist",
        "crash_ctl", "synic", "stimer", "hcall_ipi", "ex_processor_masks", "no_vp_limit", "cpu_hotplug",
    ];

    private static JsonObject VnumaNodeJson(VnumaNode n)
    {
        var o = new JsonObject { ["memkb"] = n.SizeMb * 1024 };
        if (n.Distances.Count > 0) o["distances"] = new JsonArray(n.Distances.Select(d => (JsonNode)d).ToArray());
        if (n.Pnode != 0) o["pnode"] = n.Pnode;
        var set = new CpuSet(n.Vcpus, ParseItems(n.Vcpus));
        o["vcpus"] = Bitmap(CpuSetSpec.Resolve(set, 0, _ => -1));
        return o;
    }

    private static IReadOnlyList<CpuSetItem> ParseItems(string spec)
    {
        var bag = new Diagnostics.DiagnosticBag();
        return CpuSetSpec.Parse(new SpecSource("vcpus", spec, "", default, false, bag))?.Items ?? [];
    }

    private static JsonObject Disk(DiskConfig d)
    {
        var o = new JsonObject();
        Str(o, "backend_domname", d.Backend);
        o["pdev_path"] = d.Target;
        o["vdev"] = d.Vdev;
        if (d.BackendType is { } bt) o["backend"] = bt.ToString().ToLowerInvariant();
        o["format"] = d.Format.ToString().ToLowerInvariant();
        Str(o, "script", d.Script);
        var cdrom = d.DeviceType == DiskDeviceType.Cdrom;
        if (cdrom) o["removable"] = 1;
        if (d.Access == DiskAccess.ReadWrite && !cdrom) o["readwrite"] = 1;
        if (cdrom) o["is_cdrom"] = 1;
        if (d.DirectIoSafe) o["direct_io_safe"] = true;
        DefBool(o, "discard_enable", d.Discard);
        Str(o, "specification", d.Specification);
        if (d.Colo) o["colo_enable"] = "True";
        Str(o, "colo_host", d.ColoHost);
        if (d.ColoPort is { } port) o["colo_port"] = port;
        Str(o, "colo_export", d.ColoExport);
        Str(o, "active_disk", d.ActiveDisk);
        Str(o, "hidden_disk", d.HiddenDisk);
        return o;
    }

    private static JsonObject Nic(NicConfig n, int index)
    {
        var o = new JsonObject();
        Str(o, "backend_domname", n.Backend);
        o["devid"] = n.Devid ?? index;
        if (n.Mtu is { } mtu) o["mtu"] = mtu;
        Str(o, "model", n.Model);
        Str(o, "mac", n.Mac);
        Str(o, "ip", n.Ip);
        Str(o, "bridge", n.Bridge);
        Str(o, "ifname", n.VifName);
        Str(o, "script", n.Script);
        if (n.Type is { } type) o["nictype"] = type == NicType.Ioemu ? "vif_ioemu" : "vif";
        if (n.Rate is { } rate)
        {
            o["rate_bytes_per_interval"] = rate.BytesPerInterval;
            o["rate_interval_usecs"] = rate.IntervalMicroseconds;
        }
        Str(o, "gatewaydev", n.GatewayDev);
        DefBool(o, "trusted", n.Trusted);
        return o;
    }

    private static JsonObject Pci(PciDevice p, DomainConfig c)
    {
        var o = new JsonObject();
        if (p.Function is { } func and not 0) o["func"] = func;
        if (p.Device != 0) o["dev"] = p.Device;
        if (p.Bus != 0) o["bus"] = p.Bus;
        if (p.Domain != 0) o["domain"] = p.Domain;
        if (p.VSlot is { } slot && slot != 0) o["vdevfn"] = slot << 3;
        // A single function is function 0 of a one-function virtual device; "*" passes them all.
        o["vfunc_mask"] = p.Function is null ? uint.MaxValue : 1u;
        if (p.MsiTranslate ?? c.PciMsiTranslate ?? false) o["msitranslate"] = true;
        if (p.PowerMgmt ?? c.PciPowerMgmt ?? false) o["power_mgmt"] = true;
        if (p.Permissive ?? c.PciPermissive ?? false) o["permissive"] = true;
        if (p.Seize ?? c.PciSeize ?? false) o["seize"] = true;
        // xl gives PV guests' devices the strict policy; an HVM guest's devices follow its rdm= setting.
        var rdm = p.RdmPolicy ?? (c.Type == DomainType.Hvm ? null : RdmPolicy.Strict);
        if (rdm is { } policy) o["rdm_policy"] = policy == RdmPolicy.Relaxed ? "relaxed" : "strict";
        Str(o, "name", p.Name);
        return o;
    }

    private static JsonObject Vfb(VfbConfig v, int index)
    {
        var o = new JsonObject { ["devid"] = index };
        var vnc = new JsonObject();
        DefBool(vnc, "enable", v.Vnc);
        Str(vnc, "listen", v.VncListen);
        Str(vnc, "passwd", v.VncPasswd);
        if (v.VncDisplay is { } display and not 0) vnc["display"] = display;
        DefBool(vnc, "findunused", v.VncUnused);
        o["vnc"] = vnc;
        var sdl = new JsonObject();
        DefBool(sdl, "enable", v.Sdl);
        DefBool(sdl, "opengl", v.OpenGl);
        Str(sdl, "display", v.Display);
        Str(sdl, "xauthority", v.XAuthority);
        o["sdl"] = sdl;
        Str(o, "keymap", v.Keymap);
        return o;
    }

    private static JsonObject Vkb(VkbConfig k, int devid)
    {
        var o = new JsonObject();
        Str(o, "backend_domname", k.Backend);
        o["devid"] = devid;
        Str(o, "backend_type", k.BackendType);
        Str(o, "unique_id", k.UniqueId);
        if (k.FeatureDisableKeyboard) o["feature_disable_keyboard"] = true;
        if (k.FeatureDisablePointer) o["feature_disable_pointer"] = true;
        if (k.FeatureAbsPointer) o["feature_abs_pointer"] = true;
        if (k.FeatureRawPointer) o["feature_raw_pointer"] = true;
        if (k.FeatureMultiTouch) o["feature_multi_touch"] = true;
        if (k.Width is { } w and not 0) o["width"] = w;
        if (k.Height is { } h and not 0) o["height"] = h;
        if (k.MultiTouchWidth is { } mw and not 0) o["multi_touch_width"] = mw;
        if (k.MultiTouchHeight is { } mh and not 0) o["multi_touch_height"] = mh;
        if (k.MultiTouchNumContacts is { } mc and not 0) o["multi_touch_num_contacts"] = mc;
        return o;
    }

    private static void Affinity(JsonObject o, string key, CpuAffinity? affinity, int maxVcpus, Func<HostInfo> hostInfo)
    {
        if (affinity is null) return;
        var host = hostInfo();
        IEnumerable<CpuSet> perVcpu = affinity.PerVcpu ? affinity.Sets : Enumerable.Repeat(affinity.Sets[0], maxVcpus);
        var maps = new JsonArray();
        foreach (var s in perVcpu) maps.Add((JsonNode)Bitmap(CpuSetSpec.Resolve(s, host.CpuBitmapBits, host.NodeOf)));
        if (maps.Count > 0) o[key] = maps;
    }

    // The helpers below fill arrays with loops rather than LINQ: a Select over another LINQ iterator
    // is a generic virtual call, which the ahead-of-time CLI resolves at run time, on every create.
    private static JsonArray Bitmap(IEnumerable<int> bits)
    {
        var array = new JsonArray();
        foreach (var b in bits) array.Add((JsonNode)b);
        return array;
    }

    private static void Array(JsonObject o, string key, IEnumerable<JsonObject> items)
    {
        var array = new JsonArray();
        foreach (var item in items) array.Add((JsonNode)item);
        if (array.Count > 0) o[key] = array;
    }

    private static void Action(JsonObject o, string key, LifecycleAction action)
    {
        if (action != LifecycleAction.Destroy) o[key] = ActionName(action);
    }

    private static void DefBool(JsonObject o, string key, bool? value)
    {
        if (value is { } v) o[key] = v ? "True" : "False";
    }

    private static void Str(JsonObject o, string key, string? value)
    {
        if (value is not null) o[key] = value;
    }

    private static void StrList(JsonObject o, string key, List<string> values)
    {
        if (values.Count == 0) return;
        var array = new JsonArray();
        foreach (var v in values) array.Add((JsonNode)v);
        o[key] = array;
    }

    internal static string TypeName(DomainType t) => t.ToString().ToLowerInvariant();

    internal static string ActionName(LifecycleAction a) => a switch
    {
        LifecycleAction.Destroy => "destroy",
        LifecycleAction.Restart => "restart",
        LifecycleAction.RenameRestart => "restart_rename",
        LifecycleAction.Preserve => "preserve",
        LifecycleAction.CoredumpDestroy => "coredump_destroy",
        LifecycleAction.CoredumpRestart => "coredump_restart",
        _ => "soft_reset",
    };

    internal static string TscName(TscMode m) => m switch
    {
        TscMode.AlwaysEmulate => "always_emulate",
        TscMode.Native => "native",
        TscMode.NativeParavirt => "native_paravirt",
        _ => "default",
    };

    internal static string TimerName(TimerMode m) => m switch
    {
        TimerMode.DelayForMissedTicks => "delay_for_missed_ticks",
        TimerMode.NoDelayForMissedTicks => "no_delay_for_missed_ticks",
        TimerMode.NoMissedTicksPending => "no_missed_ticks_pending",
        _ => "one_missed_tick_pending",
    };
}
