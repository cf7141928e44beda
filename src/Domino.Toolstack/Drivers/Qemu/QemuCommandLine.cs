using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Domino.Config.Model;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Drivers.Qemu;

/// <summary>How QEMU runs the guest's vCPUs.</summary>
public enum QemuAccelerator
{
    /// <summary>Hardware virtualization through /dev/kvm.</summary>
    Kvm,

    /// <summary>QEMU's Tiny Code Generator: binary translation, no host support needed.</summary>
    Tcg,
}

/// <summary>Where the per-domain QEMU keeps its control sockets, and what it runs on.</summary>
public sealed record QemuLaunchOptions
{
    public required string Binary { get; init; }
    public required QemuAccelerator Accelerator { get; init; }

    /// <summary>QMP (the control socket Domino drives the guest through).</summary>
    public required string QmpSocket { get; init; }

    /// <summary>The first serial port's chardev, for <c>serial="pty"</c>; the daemon relays it as the console.</summary>
    public required string SerialSocket { get; init; }
}

/// <summary>A domain config QEMU cannot run as written; the message names the setting and why.</summary>
public sealed class QemuConfigException(string message) : Exception(message);

/// <summary>
/// Derives QEMU's command line from an HVM domain's config, the way libxl's
/// <c>libxl__build_device_model_args_new</c> does for Xen's device model, with KVM or TCG instead of
/// Xen underneath. Pure: it reads the config and, for disks, checks that the backing files exist;
/// it starts nothing. Anything QEMU cannot honour is refused by name before a process exists.
/// </summary>
public static class QemuCommandLine
{
    public static readonly IReadOnlyList<string> NicModels = ["e1000", "e1000e", "rtl8139", "virtio-net"];

    /// <summary>Builds the arguments (without the binary itself).</summary>
    /// <param name="fileExists">Checks disk backing files; tests pass a fake.</param>
    public static IReadOnlyList<string> Build(DomainConfig c, QemuLaunchOptions o, Func<string, bool>? fileExists = null)
    {
        fileExists ??= File.Exists;
        if (c.Type != DomainType.Hvm)
            throw new QemuConfigException($"the qemu driver runs type=\"hvm\" domains (this one is type=\"{c.Type.ToString().ToLowerInvariant()}\")");
        var name = c.Name ?? throw new QemuConfigException("the configuration has no name=");
        Refuse(c);

        var a = new List<string>
        {
            "-name", $"{name},debug-threads=on",
            "-no-user-config", "-nodefaults",
            "-chardev", $"socket,id=qmp,path={o.QmpSocket},server=on,wait=off",
            "-mon", "chardev=qmp,mode=control",
        };
        if (c.Uuid is { } uuid) a.AddRange(["-uuid", uuid.ToString()]);

        // Machine: i440FX as libxl's xenfv; ACPI and HPET as the config asks (both default on for HVM).
        a.AddRange(["-machine", Inv($"pc,acpi={OnOff(c.Acpi ?? true)},hpet={OnOff(c.Hpet ?? true)}")]);
        a.AddRange(["-accel", o.Accelerator == QemuAccelerator.Kvm ? "kvm" : "tcg"]);
        a.AddRange(["-cpu", Cpu(c, o.Accelerator)]);

        var vcpus = c.Vcpus ?? 1;
        var maxVcpus = Math.Max(c.MaxVcpus ?? vcpus, vcpus);
        a.AddRange(["-smp", maxVcpus > vcpus ? Inv($"cpus={vcpus},maxcpus={maxVcpus}") : Inv($"{vcpus}")]);
        a.AddRange(["-m", Inv($"{c.MemoryMb ?? DomainSpecMapping.DefaultMemoryMb}")]);

        // Domino applies on_reboot/on_poweroff/on_crash itself: a guest reset becomes a shutdown, and a
        // shut-down or panicked guest stops (QEMU stays up so preserve and core dumps can use it).
        a.AddRange(["-action", "reboot=shutdown,shutdown=pause,panic=pause"]);
        a.AddRange(["-device", "pvpanic"]);

        if (c.Localtime == true) a.AddRange(["-rtc", "base=localtime"]);

        if (c.Kernel is { } kernel)
        {
            a.AddRange(["-kernel", kernel]);
            if (c.Ramdisk is { } ramdisk) a.AddRange(["-initrd", ramdisk]);
            if (!string.IsNullOrEmpty(c.Cmdline)) a.AddRange(["-append", c.Cmdline]);
        }
        else if (c.Ramdisk is not null || !string.IsNullOrEmpty(c.Cmdline))
            throw new QemuConfigException("ramdisk= and cmdline= need kernel= (direct kernel boot)");

        if (c.Boot is { Length: > 0 } boot)
        {
            if (boot.Any(ch => ch is not ('a' or 'c' or 'd' or 'n')))
                throw new QemuConfigException($"boot=\"{boot}\" has a device other than a (floppy), c (disk), d (CD-ROM), n (network)");
            a.AddRange(["-boot", $"order={boot}"]);
        }

        Disks(c, a, fileExists);
        Nics(c, name, a);
        Serial(c, o, a);
        Display(c, a);
        Usb(c, a);

        // xl.cfg device_model_args_hvm: passed through verbatim, last, as libxl does.
        a.AddRange(c.DeviceModelArgs);
        a.AddRange(c.DeviceModelArgsHvm);
        return a;
    }

    /// <summary>Settings QEMU-on-KVM cannot provide, each with the reason.</summary>
    private static void Refuse(DomainConfig c)
    {
        if (c.PciDevices.Count > 0)
            throw Cannot($"pci=[{string.Join(", ", c.PciDevices.Select(p => $"\"{p.Bdf}\""))}]", "PCI passthrough is not supported");
        if (c.MaxMemMb is { } max && max > (c.MemoryMb ?? DomainSpecMapping.DefaultMemoryMb))
            throw Cannot(Inv($"maxmem={max}"), Inv($"memory above memory={c.MemoryMb ?? DomainSpecMapping.DefaultMemoryMb} needs populate-on-demand, which QEMU does not provide"));
        if (c.Bios is BiosType.Ovmf || c.Firmware is "uefi" or "ovmf")
            throw Cannot("bios=\"ovmf\"", "UEFI firmware is not part of Domino's set-up (use SeaBIOS or direct kernel boot)");
        if (c.Bootloader is not null) throw Cannot($"bootloader=\"{c.Bootloader}\"", "bootloaders are for PV guests");
        if (c.DeviceModelStubdomain == true) throw Cannot("device_model_stubdomain_override=1", "there are no stub domains under KVM");
        if (c.GfxPassthru == true) throw Cannot("gfx_passthru=1", "graphics passthrough is not supported");
        if (c.SoundHw is { } sound) throw Cannot($"soundhw=\"{sound}\"", "emulated sound is not supported");
        if (c.Sdl == true || c.Vfbs.Any(v => v.Sdl == true)) throw Cannot("sdl=1", "the daemon has no X display (use vnc=1)");
        if (c.Vnuma.Count > 0) throw Cannot("vnuma=[...]", "virtual NUMA is not supported");
        if (c.Cpus is not null || c.CpusSoft is not null) throw Cannot(c.Cpus is not null ? "cpus=" : "cpus_soft=", "vCPU pinning is not supported yet");
        if (c.Cpuid is not null) throw Cannot("cpuid=", "CPUID policies are not translated to QEMU CPU flags yet");
        if (c.RtcTimeoffset is { } offset && offset != 0) throw Cannot(Inv($"rtc_timeoffset={offset}"), "RTC offsets are not supported yet");
    }

    private static QemuConfigException Cannot(string setting, string why) => new($"qemu driver cannot honour {setting}: {why}");

    /// <summary>The vCPU model: the host's CPU under KVM (minus the MSR this host's QEMU aborts on), qemu64 under TCG, plus flags.</summary>
    private static string Cpu(DomainConfig c, QemuAccelerator accel)
    {
        var cpu = new StringBuilder(accel == QemuAccelerator.Kvm ? "host,-arch-capabilities" : "max");
        if (c.Apic == false) cpu.Append(",-apic,-x2apic");
        if (c.Pae == false) cpu.Append(",-pae");
        if (c.Nx == false) cpu.Append(",-nx");
        if (c.NestedHvm is { } nested)
        {
            if (nested && accel == QemuAccelerator.Tcg) throw Cannot("nestedhvm=1", "TCG does not emulate VMX/SVM");
            cpu.Append(nested ? (IsAmdHost() ? ",+svm" : ",+vmx") : ",-vmx,-svm");
        }
        foreach (var flag in ViridianFlags(c.Viridian))
        {
            if (accel == QemuAccelerator.Tcg) throw Cannot("viridian=", "Hyper-V enlightenments need KVM (this domain runs under TCG)");
            cpu.Append(',').Append(flag);
        }
        return cpu.ToString();
    }

    private static bool IsAmdHost()
    {
        try { return File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("vendor_id", StringComparison.Ordinal) && l.Contains("AuthenticAMD", StringComparison.Ordinal)); }
        catch (IOException) { return false; }
    }

    /// <summary>xl.cfg viridian groups → QEMU's hv-* CPU properties (the groups without an equivalent are refused).</summary>
    internal static IReadOnlyList<string> ViridianFlags(ViridianSetting? v)
    {
        if (v is null || v.Enabled == false) return [];
        var groups = new List<string>();
        if (v.Enabled == true || v.Groups.Count == 0 || v.Groups.Contains("defaults")) groups.AddRange(["base", "freq", "time_ref_count", "apic_assist", "crash_ctl"]);
        foreach (var g in v.Groups)
        {
            if (g == "defaults") continue;
            if (g.StartsWith('!')) groups.Remove(g[1..]);
            else if (g == "all") groups.AddRange(["base", "freq", "time_ref_count", "reference_tsc", "hcall_remote_tlb_flush", "apic_assist", "crash_ctl", "stimer", "hcall_ipi", "ex_processor_masks", "synic"]);
            else groups.Add(g);
        }
        var flags = new List<string>();
        foreach (var g in groups.Distinct())
            flags.AddRange(g switch
            {
                "base" => ["hv-relaxed", "hv-vapic", "hv-spinlocks=0x1fff"],
                "freq" => ["hv-frequencies"],
                "time_ref_count" => ["hv-time"],
                "reference_tsc" => ["hv-time"],
                "hcall_remote_tlb_flush" => ["hv-tlbflush"],
                "apic_assist" => ["hv-vapic"],
                "crash_ctl" => ["hv-crash"],
                "stimer" => ["hv-vpindex", "hv-synic", "hv-time", "hv-stimer"],
                "synic" => ["hv-vpindex", "hv-synic"],
                "hcall_ipi" => ["hv-vpindex", "hv-ipi"],
                "ex_processor_masks" => ["hv-vpindex"],
                "no_vp_limit" => ["hv-vpindex"],
                "cpu_hotplug" => [],
                _ => throw Cannot($"viridian=[\"{g}\"]", "QEMU has no equivalent Hyper-V enlightenment"),
            });
        return [.. flags.Distinct()];
    }

    // ---- disks ----------------------------------------------------------------------------------

    /// <summary>Where a disk goes on the emulated machine.</summary>
    internal enum DiskBus { Ide, Ahci, Virtio }

    /// <summary>
    /// libxl's vdev rules (<c>libxl__device_disk_dev_number</c>): hdX and xvdX with X in a..d are IDE,
    /// index → bus index/2, unit index%2 (libxl emulates xvda..xvdd as IDE for an HVM guest); sdX is a
    /// SATA (AHCI) port; vdX or <c>specification=virtio</c> is virtio-blk.
    /// </summary>
    internal static (DiskBus Bus, int Index) PlaceDisk(DiskConfig d)
    {
        var vdev = d.Vdev;
        var (prefix, letters) = vdev.StartsWith("xvd", StringComparison.Ordinal) ? ("xvd", vdev[3..])
            : vdev.Length > 2 && vdev[..2] is "hd" or "sd" or "vd" ? (vdev[..2], vdev[2..])
            : ("", "");
        var index = DiskIndex(letters);
        if (prefix.Length == 0 || index < 0)
            throw new QemuConfigException($"disk vdev '{vdev}' is not hdX, sdX, xvdX or vdX (the qemu driver places disks by these names, like libxl)");
        if (prefix == "vd" || d.Specification == "virtio") return (DiskBus.Virtio, index);
        if (prefix == "sd")
        {
            if (index >= 6) throw new QemuConfigException($"disk vdev '{vdev}': the AHCI controller has 6 ports (sda..sdf)");
            return (DiskBus.Ahci, index);
        }
        if (index >= 4)
            throw new QemuConfigException($"disk vdev '{vdev}': IDE has 4 units ({prefix}a..{prefix}d); use sdX (AHCI) or vdX (virtio) for more disks");
        return (DiskBus.Ide, index);
    }

    /// <summary>"a" → 0, "z" → 25, "aa" → 26 (xl's disk letter numbering); partitions (a digit suffix) are not disks.</summary>
    private static int DiskIndex(string letters)
    {
        if (letters.Length is 0 or > 2 || !letters.All(char.IsAsciiLetterLower)) return -1;
        return letters.Length == 1 ? letters[0] - 'a' : (letters[0] - 'a' + 1) * 26 + (letters[1] - 'a');
    }

    private static string QemuFormat(DiskConfig d) => d.Format switch
    {
        DiskFormat.Raw => "raw",
        DiskFormat.Qcow => "qcow",
        DiskFormat.Qcow2 => "qcow2",
        DiskFormat.Vhd => "vpc",
        DiskFormat.Qed => "qed",
        _ => throw new QemuConfigException($"disk {d.Vdev}: format '{d.Format.ToString().ToLowerInvariant()}' is not one QEMU opens (expected raw, qcow, qcow2, vhd, qed)"),
    };

    private static void Disks(DomainConfig c, List<string> a, Func<string, bool> fileExists)
    {
        var seen = new Dictionary<(DiskBus, int), string>();
        var ahci = false;
        foreach (var d in c.Disks)
        {
            var (bus, index) = PlaceDisk(d);
            if (!seen.TryAdd((bus, index), d.Vdev))
                throw new QemuConfigException($"disks '{seen[(bus, index)]}' and '{d.Vdev}' would take the same {bus.ToString().ToUpperInvariant()} slot");
            var cdrom = d.DeviceType == DiskDeviceType.Cdrom;
            if (cdrom && bus == DiskBus.Virtio) throw new QemuConfigException($"disk {d.Vdev}: a CD-ROM needs an IDE or SATA vdev (hdX, sdX), not virtio");
            // As libxl: QEMU's IDE and SATA hard disks cannot be read-only (the guest could not be told).
            if (d.Access == DiskAccess.ReadOnly && !cdrom && bus != DiskBus.Virtio)
                throw new QemuConfigException($"disk {d.Vdev}: an IDE or SATA hard disk cannot be read-only in QEMU (use a vdX virtio disk, or devtype=cdrom)");
            var id = $"disk-{d.Vdev}";
            var empty = d.Target.Length == 0 || d.Format == DiskFormat.Empty;
            if (empty && !cdrom) throw new QemuConfigException($"disk {d.Vdev} has no target (only a CD-ROM drive may be empty)");
            var drive = new StringBuilder($"if=none,id={id}");
            if (!empty)
            {
                if (!fileExists(d.Target))
                    throw new QemuConfigException($"disk {d.Vdev}: backing file '{d.Target}' does not exist");
                drive.Append(",file=").Append(EscapeOption(d.Target)).Append(",format=").Append(QemuFormat(d));
            }
            if (cdrom) drive.Append(",media=cdrom");
            if (d.Access == DiskAccess.ReadOnly || cdrom) drive.Append(",readonly=on");
            a.AddRange(["-drive", drive.ToString()]);
            var kind = cdrom ? "ide-cd" : "ide-hd";
            switch (bus)
            {
                case DiskBus.Ide:
                    a.AddRange(["-device", Inv($"{kind},drive={id},bus=ide.{index / 2},unit={index % 2}")]);
                    break;
                case DiskBus.Ahci:
                    if (!ahci) { a.AddRange(["-device", "ich9-ahci,id=ahci0"]); ahci = true; }
                    a.AddRange(["-device", Inv($"{kind},drive={id},bus=ahci0.{index}")]);
                    break;
                default:
                    a.AddRange(["-device", $"virtio-blk-pci,drive={id}"]);
                    break;
            }
        }
    }

    /// <summary>QEMU option values escape a comma by doubling it.</summary>
    private static string EscapeOption(string value) => value.Replace(",", ",,", StringComparison.Ordinal);

    // ---- network --------------------------------------------------------------------------------

    private static void Nics(DomainConfig c, string name, List<string> a)
    {
        for (var i = 0; i < c.Nics.Count; i++)
        {
            var n = c.Nics[i];
            var devid = n.Devid ?? i;
            var model = n.Model switch
            {
                null => "rtl8139", // libxl's default for an emulated NIC
                "e1000" or "e1000e" or "rtl8139" => n.Model,
                "virtio" or "virtio-net" or "virtio-net-pci" => "virtio-net-pci",
                _ => throw new QemuConfigException($"vif {devid}: unknown NIC model '{n.Model}' (expected {string.Join(", ", NicModels)})"),
            };
            var netdev = Inv($"net{devid}");
            if (n.Bridge is { } bridge)
                a.AddRange(["-netdev", $"bridge,id={netdev},br={bridge}"]);
            else if (n.Script is { } script)
                a.AddRange(["-netdev", $"tap,id={netdev},script={script},downscript=no{(n.VifName is { } ifname ? $",ifname={ifname}" : "")}"]);
            else
                a.AddRange(["-netdev", $"user,id={netdev}"]);
            a.AddRange(["-device", $"{model},netdev={netdev},mac={n.Mac ?? DefaultMac(c.Uuid, name, devid)}"]);
        }
    }

    /// <summary>A stable MAC in Xen's OUI 00:16:3e, from the domain's identity and the vif's index.</summary>
    internal static string DefaultMac(Guid? uuid, string name, int devid)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(Inv($"{uuid?.ToString() ?? name}/{devid}")));
        return Inv($"00:16:3e:{hash[0] & 0x7f:x2}:{hash[1]:x2}:{hash[2]:x2}");
    }

    // ---- serial, display, USB -------------------------------------------------------------------

    private static void Serial(DomainConfig c, QemuLaunchOptions o, List<string> a)
    {
        for (var i = 0; i < c.Serial.Count; i++)
        {
            var s = c.Serial[i];
            if (s == "pty")
            {
                // The daemon is the terminal: it relays this socket as `domino console`, like a PVH console.
                if (i > 0) throw new QemuConfigException($"serial=[..., \"pty\"]: only the first serial port can be the domain's console");
                a.AddRange(["-chardev", $"socket,id=serial0,path={o.SerialSocket},server=on,wait=off"]);
                a.AddRange(["-serial", "chardev:serial0"]);
            }
            else if (s is "none" or "null")
                a.AddRange(["-serial", s]);
            else if (s.StartsWith("file:", StringComparison.Ordinal) || s.StartsWith("unix:", StringComparison.Ordinal) || s.StartsWith("tcp:", StringComparison.Ordinal))
                a.AddRange(["-serial", s]);
            else
                throw new QemuConfigException($"serial=\"{s}\" is not supported (expected pty, none, file:PATH, unix:PATH or tcp:HOST:PORT)");
        }
    }

    private static void Display(DomainConfig c, List<string> a)
    {
        // vnc= may be a top-level HVM option or come from a vfb= entry, as xl accepts both.
        var vfb = c.Vfbs.FirstOrDefault();
        var vnc = c.Vnc ?? vfb?.Vnc ?? vfb is not null;
        if (c.NoGraphic == true) vnc = false;
        if (vnc)
        {
            var listen = c.VncListen ?? vfb?.VncListen ?? "127.0.0.1";
            var display = c.VncDisplay ?? vfb?.VncDisplay ?? 0;
            var unused = c.VncUnused ?? vfb?.VncUnused ?? true;
            if ((c.VncPasswd ?? vfb?.VncPasswd) is { Length: > 0 })
                throw Cannot("vncpasswd=", "VNC passwords would be visible on QEMU's command line (set one over QMP later)");
            // xl: "vnclisten=HOST:DISPLAY" carries the display itself; vncunused picks the first free one.
            var vncArg = listen.Contains(':', StringComparison.Ordinal) && !listen.Contains("::", StringComparison.Ordinal) ? listen : Inv($"{listen}:{display}");
            if (unused) vncArg += ",to=99";
            a.AddRange(["-vnc", vncArg]);
            if ((c.Keymap ?? vfb?.Keymap) is { } keymap) a.AddRange(["-k", keymap]);
        }
        a.AddRange(["-display", "none"]);
        var vga = c.Vga ?? (vnc ? VgaKind.Std : VgaKind.None);
        var videoRam = c.VideoRamMb is { } mb ? Inv($",vgamem_mb={mb}") : "";
        switch (vga)
        {
            case VgaKind.Std: a.AddRange(["-device", "VGA" + videoRam]); break;
            case VgaKind.Cirrus: a.AddRange(["-device", "cirrus-vga" + videoRam]); break;
            case VgaKind.Qxl: a.AddRange(["-device", "qxl-vga" + videoRam]); break;
            default: break; // -nodefaults: no graphics card at all
        }
    }

    private static void Usb(DomainConfig c, List<string> a)
    {
        if (c.Usb != true && c.UsbDevices.Count == 0) return;
        a.AddRange(["-device", c.UsbVersion is 2 or 3 ? (c.UsbVersion == 3 ? "qemu-xhci,id=usb" : "usb-ehci,id=usb") : "piix3-usb-uhci,id=usb"]);
        foreach (var dev in c.UsbDevices)
            a.AddRange(["-device", dev switch
            {
                "tablet" => "usb-tablet,bus=usb.0",
                "mouse" => "usb-mouse,bus=usb.0",
                "keyboard" => "usb-kbd,bus=usb.0",
                _ => throw new QemuConfigException($"usbdevice=\"{dev}\" is not supported (expected tablet, mouse or keyboard)"),
            }]);
    }

    private static string OnOff(bool b) => b ? "on" : "off";

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
