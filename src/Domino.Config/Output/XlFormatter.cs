using System.Globalization;
using System.Text;
using Domino.Config.Binding;
using Domino.Config.Model;
using Domino.Config.Specs;
using Domino.Config.Syntax;

namespace Domino.Config.Output;

/// <summary>
/// Writes a <see cref="DomainConfig"/> back as xl.cfg(5) text, in man-page order, one setting per line,
/// so that parsing the output gives the same model. Unknown settings are written back as they were.
/// </summary>
public static class XlFormatter
{
    public static string Format(DomainConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var w = new Writer();
        w.Raw("type", Q(JsonName(c.Type)));
        w.Str("name", c.Name);
        if (c.Uuid is { } uuid) w.Raw("uuid", Q(uuid.ToString("D")));
        w.Str("pool", c.Pool);
        w.Bool("hap", c.Hap);
        w.Bool("oos", c.Oos);
        w.Str("seclabel", c.SeclabelSsid);
        w.Str("init_seclabel", c.InitSeclabel);
        w.Bool("driver_domain", c.DriverDomain);

        w.Num("vcpus", c.Vcpus);
        w.Num("maxvcpus", c.MaxVcpus);
        w.Affinity("cpus", c.Cpus);
        w.Affinity("cpus_soft", c.CpusSoft);
        w.Num("cpu_weight", c.Weight);
        w.Num("cap", c.Cap);

        w.Num("memory", c.MemoryMb);
        w.Num("maxmem", c.MaxMemMb);
        if (c.Vnuma.Count > 0)
        {
            var nodes = c.Vnuma.Select(n =>
            {
                var fields = new List<string>
                {
                    Q($"pnode={n.Pnode.ToString(CultureInfo.InvariantCulture)}"),
                    Q($"size={n.SizeMb.ToString(CultureInfo.InvariantCulture)}"),
                    Q($"vcpus={n.Vcpus}"),
                };
                if (n.Distances.Count > 0) fields.Add(Q("vdistances=" + string.Join(",", n.Distances.Select(d => d.ToString(CultureInfo.InvariantCulture)))));
                return "[ " + string.Join(", ", fields) + " ]";
            });
            w.Raw("vnuma", "[\n    " + string.Join(",\n    ", nodes) + ",\n]");
        }

        w.Action("on_poweroff", c.OnPoweroff, LifecycleAction.Destroy);
        w.Action("on_reboot", c.OnReboot, LifecycleAction.Restart);
        w.Action("on_watchdog", c.OnWatchdog, LifecycleAction.Destroy);
        w.Action("on_crash", c.OnCrash, LifecycleAction.Destroy);
        w.Action("on_soft_reset", c.OnSoftReset, LifecycleAction.SoftReset);

        w.Str("kernel", c.Kernel);
        w.Str("ramdisk", c.Ramdisk);
        w.Str("cmdline", c.Cmdline);
        w.Str("bootloader", c.Bootloader);
        w.List("bootloader_args", c.BootloaderArgs);
        w.Str("firmware", c.Firmware);

        w.Bool("localtime", c.Localtime);
        w.Num("rtc_timeoffset", c.RtcTimeoffset);
        w.Bool("disable_migrate", c.DisableMigrate);
        if (c.TscMode is { } tsc) w.Raw("tsc_mode", Q(LibxlJson.TscName(tsc)));
        w.Num("max_grant_frames", c.MaxGrantFrames);
        w.Num("max_maptrack_frames", c.MaxMaptrackFrames);
        w.Num("max_event_channels", c.EventChannels);
        w.Str("blkdev_start", c.BlkdevStart);
        w.Str("device_model_version", c.DeviceModelVersion);
        w.Bool("device_model_stubdomain_override", c.DeviceModelStubdomain);
        w.Str("device_model_override", c.DeviceModelOverride);
        w.List("device_model_args", c.DeviceModelArgs);
        w.List("device_model_args_pv", c.DeviceModelArgsPv);
        w.List("device_model_args_hvm", c.DeviceModelArgsHvm);

        w.List("disk", c.Disks.Select(DiskSpec.Format).ToList());
        w.List("vif", c.Nics.Select(NicSpec.Format).ToList());
        w.List("pci", c.PciDevices.Select(PciSpec.Format).ToList());
        w.Bool("pci_permissive", c.PciPermissive);
        w.Bool("pci_msitranslate", c.PciMsiTranslate);
        w.Bool("pci_seize", c.PciSeize);
        w.Bool("pci_power_mgmt", c.PciPowerMgmt);
        w.List("vfb", c.Vfbs.Select(VfbSpec.Format).ToList());

        if (c.Bios is { } bios) w.Raw("bios", Q(bios.ToString().ToLowerInvariant()));
        w.Bool("pae", c.Pae);
        w.Bool("acpi", c.Acpi);
        w.Bool("acpi_s3", c.AcpiS3);
        w.Bool("acpi_s4", c.AcpiS4);
        w.Bool("acpi_laptop_slate", c.AcpiLaptopSlate);
        w.Bool("apic", c.Apic);
        w.Bool("nx", c.Nx);
        w.Bool("hpet", c.Hpet);
        w.Bool("vpt_align", c.VptAlign);
        w.Bool("nestedhvm", c.NestedHvm);
        if (c.TimerMode is { } timer) w.Raw("timer_mode", Q(LibxlJson.TimerName(timer)));
        if (c.Viridian is { } viridian)
        {
            if (viridian.Enabled is { } enabled) w.Raw("viridian", enabled ? "1" : "0");
            else w.List("viridian", viridian.Groups.ToList());
        }
        if (c.Cpuid is { } cpuid)
        {
            if (cpuid.IsList) w.List("cpuid", cpuid.Items.ToList());
            else w.Str("cpuid", cpuid.Items[0]);
        }
        w.Num("mmio_hole", c.MmioHoleMb);
        w.Num("shadow_memory", c.ShadowMemoryMb);
        w.Bool("xen_platform_pci", c.XenPlatformPci);
        w.Str("boot", c.Boot);
        if (c.SerialIsList) w.List("serial", c.Serial, always: true);
        else if (c.Serial.Count > 0) w.Str("serial", c.Serial[0]);
        if (c.Vga is { } vga) w.Raw("vga", Q(DomainConfigBinder.VgaKinds.First(kv => kv.Value == vga).Key));
        w.Num("videoram", c.VideoRamMb);
        w.Bool("vnc", c.Vnc);
        w.Str("vnclisten", c.VncListen);
        w.Str("vncpasswd", c.VncPasswd);
        w.Num("vncdisplay", c.VncDisplay);
        w.Bool("vncunused", c.VncUnused);
        w.Bool("sdl", c.Sdl);
        w.Bool("opengl", c.OpenGl);
        w.Str("keymap", c.Keymap);
        w.Bool("nographic", c.NoGraphic);
        w.Bool("usb", c.Usb);
        w.Num("usbversion", c.UsbVersion);
        if (c.UsbDevicesIsList) w.List("usbdevice", c.UsbDevices, always: true);
        else if (c.UsbDevices.Count > 0) w.Str("usbdevice", c.UsbDevices[0]);
        w.Str("soundhw", c.SoundHw);
        w.Bool("gfx_passthru", c.GfxPassthru);

        foreach (var unknown in c.UnknownSettings) w.Raw(unknown.Key, Reindent(unknown.Value));
        return w.ToString();
    }

    private static string Reindent(ConfigValue v) => v is ConfigList { Items.Count: > 0 } list && list.Items.All(i => i is not ConfigList)
        ? "[\n" + string.Concat(list.Items.Select(i => $"    {i.ToSource()},\n")) + "]"
        : v.ToSource();

    private static string JsonName(DomainType t) => t.ToString().ToLowerInvariant();

    private static string Q(string s) => ConfigString.Quote(s);

    private sealed class Writer
    {
        private readonly StringBuilder _sb = new();

        public void Raw(string key, string value) => _sb.Append(key).Append(" = ").Append(value).Append('\n');

        public void Str(string key, string? value)
        {
            if (value is not null) Raw(key, Q(value));
        }

        public void Num(string key, long? value)
        {
            if (value is { } v) Raw(key, v.ToString(CultureInfo.InvariantCulture));
        }

        public void Bool(string key, bool? value)
        {
            if (value is { } v) Raw(key, v ? "1" : "0");
        }

        public void Action(string key, LifecycleAction action, LifecycleAction xenDefault)
        {
            if (action != xenDefault) Raw(key, Q(DomainConfigBinder.ActionName(action)));
        }

        public void Affinity(string key, CpuAffinity? affinity)
        {
            if (affinity is null) return;
            if (affinity.PerVcpu) List(key, affinity.Sets.Select(s => s.Spec).ToList(), always: true);
            else Str(key, affinity.Sets[0].Spec);
        }

        public void List(string key, List<string> items, bool always = false)
        {
            if (items.Count == 0 && !always) return;
            if (items.Count == 0)
            {
                Raw(key, "[]");
                return;
            }
            Raw(key, "[\n" + string.Concat(items.Select(i => $"    {Q(i)},\n")) + "]");
        }

        public override string ToString() => _sb.ToString();
    }
}
