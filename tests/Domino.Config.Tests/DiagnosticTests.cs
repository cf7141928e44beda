using Xunit;

namespace Domino.Config.Tests;

/// <summary>
/// The exact text of each kind of diagnostic: FILE:LINE:COL, severity, and a message naming the key,
/// the bad value and what is expected.
/// </summary>
public class DiagnosticTests
{
    private const string Base = "name = \"g\"\ntype = \"pvh\"\nkernel = \"/k\"\n";

    private static string[] Check(string text, params string[] extra) =>
        ConfigFile.Parse(text, "guest.cfg", extra).Diagnostics.Select(d => d.ToString()).ToArray();

    [Theory]
    [InlineData("on_reboot = \"restrat\"", "guest.cfg:4:13: error: unknown action 'restrat' for on_reboot (expected destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset)")]
    [InlineData("memory = \"lots\"", "guest.cfg:4:10: error: memory must be a number of MiB, not 'lots'")]
    [InlineData("memory = [ 1 ]", "guest.cfg:4:10: error: memory must be a number of MiB, not a list")]
    [InlineData("vcpus = 0", "guest.cfg:4:9: error: vcpus = 0 is out of range (a number of vCPUs, between 1 and 4096)")]
    [InlineData("cpu_weight = 70000", "guest.cfg:4:14: error: cpu_weight = 70000 is out of range (a credit-scheduler weight, between 1 and 65535)")]
    [InlineData("cap = \"-5\"", "guest.cfg:4:7: error: cap = -5 is out of range (a CPU cap in percent of one pCPU (0 = no cap), at least 0)")]
    [InlineData("acpi = 2", "guest.cfg:4:8: error: acpi must be 0 or 1, not '2'")]
    [InlineData("type = \"hvm2\"", "guest.cfg:4:8: error: unknown guest type 'hvm2' for type (expected pv, pvh, hvm)")]
    [InlineData("uuid = \"xyz\"", "guest.cfg:4:8: error: invalid uuid 'xyz' (expected 8-4-4-4-12 hex digits, e.g. 12345678-1234-5678-9abc-123456789abc)")]
    [InlineData("tsc_mode = \"fast\"", "guest.cfg:4:12: error: unknown TSC mode 'fast' for tsc_mode (expected default, always_emulate, native, native_paravirt)")]
    [InlineData("cpus = \"2-1\"", "guest.cfg:4:9: error: CPU range '2-1' in cpus runs backwards (write 1-2)")]
    [InlineData("cpus = \"x\"", "guest.cfg:4:9: error: invalid CPU list item 'x' in cpus (expected all, N, N-M or nodes:N-M, optionally prefixed with ^, numbers up to 4095)")]
    [InlineData("viridian = [ \"warp\" ]", "guest.cfg:4:12: error: unknown viridian enlightenment 'warp' (expected base, freq, time_ref_count, reference_tsc, hcall_remote_tlb_flush, apic_assist, crash_ctl, synic, stimer, hcall_ipi, ex_processor_masks, no_vp_limit, cpu_hotplug, all, defaults, optionally prefixed with !)")]
    public void Value_errors(string line, string expected)
    {
        Assert.Contains(expected, Check(Base + line + "\n"));
    }

    [Theory]
    [InlineData("disk = [ \"/a.img,raw\" ]", "guest.cfg:4:11: error: disk spec '/a.img,raw' has no vdev (add e.g. vdev=xvda, or TARGET,FORMAT,VDEV positionally)")]
    [InlineData("disk = [ \"/a.img,qcow3,xvda\" ]", "guest.cfg:4:18: error: unknown disk format 'qcow3' (expected raw, qcow, qcow2, vhd, qed, empty; positional fields are TARGET,FORMAT,VDEV,ACCESS)")]
    [InlineData("disk = [ \"/a.img,raw,xvda,rx\" ]", "guest.cfg:4:27: error: unknown disk access 'rx' (expected rw, w, ro or r)")]
    [InlineData("disk = [ \"/a.img,raw,xvda,w,x\" ]", "guest.cfg:4:29: error: too many positional fields in disk spec: 'x' (the order is TARGET,FORMAT,VDEV,ACCESS; use key=value for the rest)")]
    [InlineData("disk = [ \"vdev=xvda,colour=red,target=/a\" ]", "guest.cfg:4:21: error: unknown disk parameter 'colour' (expected target, format, vdev, access, devtype, backendtype, backend, script, specification, colo-host, colo-port, colo-export, active-disk, hidden-disk)")]
    [InlineData("disk = [ \"vdev=xvda,devtype=floppy,target=/a\" ]", "guest.cfg:4:29: error: unknown devtype 'floppy' in disk spec (expected cdrom or disk)")]
    [InlineData("vif = [ \"mac=00:16:3e:00:00\" ]", "guest.cfg:4:14: error: invalid MAC address '00:16:3e:00:00' in vif: expected 6 colon-separated octets, found 5")]
    [InlineData("vif = [ \"mac=00:16:3e:00:00:zz\" ]", "guest.cfg:4:14: error: invalid MAC address '00:16:3e:00:00:zz' in vif: octet 'zz' is not two hex digits")]
    [InlineData("vif = [ \"mac=03:16:3e:00:00:01\" ]", "guest.cfg:4:14: error: invalid MAC address '03:16:3e:00:00:01' in vif: it is a multicast address (lowest bit of the first octet set); a NIC needs a unicast address such as 00:16:3e:xx:xx:xx")]
    [InlineData("vif = [ \"bridge=br0,colour=red\" ]", "guest.cfg:4:21: error: unknown vif parameter 'colour' (expected mac, bridge, ip, model, type, vifname, script, backend, mtu, rate, gatewaydev, devid)")]
    [InlineData("vif = [ \"rate=10MB\" ]", "guest.cfg:4:15: error: invalid rate '10MB' in vif: expected a rate per second such as 10Mb/s or 100MB/s")]
    [InlineData("pci = [ \"3:0.8\" ]", "guest.cfg:4:10: error: invalid PCI address '3:0.8' (expected [DDDD:]BB:DD.F with hex domain <= ffff, bus <= ff, device <= 1f, function 0-7 or *)")]
    [InlineData("pci = [ \"permissive=1\" ]", "guest.cfg:4:10: error: pci spec 'permissive=1' names no device (start with a BDF such as 0000:03:00.0, or give bdf= or name=)")]
    [InlineData("vfb = [ \"vnc=yes please\" ]", "guest.cfg:4:14: error: invalid vnc 'yes please' in vfb (expected 0 or 1)")]
    public void Device_spec_errors_point_inside_the_string(string line, string expected)
    {
        Assert.Contains(expected, Check(Base + line + "\n"));
    }

    [Theory]
    [InlineData("memory = 512\nmaxmem = 256", "guest.cfg:5:10: error: maxmem = 256 is less than memory = 512 (maxmem must be at least memory, or be left out)")]
    [InlineData("vcpus = 4\nmaxvcpus = 2", "guest.cfg:5:12: error: maxvcpus = 2 is less than vcpus = 4 (maxvcpus must be at least vcpus)")]
    [InlineData("disk = [ \"/a,raw,xvda,w\", \"/b,raw,xvda,w\" ]", "guest.cfg:4:8: error: vdev 'xvda' is used by 2 disks (each disk needs its own vdev)")]
    [InlineData("vcpus = 1\ncpus = [ \"0\", \"1\" ]", "guest.cfg:5:8: error: cpus lists 2 per-vCPU entries but the guest has only 1 vCPU(s)")]
    [InlineData("builder = \"hvm\"", "guest.cfg:2:8: error: type = \"pvh\" contradicts the legacy builder setting, which selects hvm (remove the legacy setting)")]
    [InlineData("memory = 64\nvnuma = [ [ \"pnode=0\", \"size=32\", \"vcpus=0\" ] ]", "guest.cfg:5:9: error: vnuma node sizes add up to 32 MiB but memory = 64 (they must be equal)")]
    [InlineData("firmware = \"uefi\"", "guest.cfg:4:12: error: both kernel and firmware are given for a pvh guest (keep one of them)")]
    [InlineData("memory = 64\nmemory += 1", "guest.cfg:5:1: error: can't use += with a number for memory (+= appends to strings and lists; write memory = VALUE)")]
    [InlineData("channel = [ \"name=c,connection=socket\" ]", "guest.cfg:4:14: error: channel 'c' with connection=socket needs path=")]
    [InlineData("channel = [ \"name=c,connection=tcp\" ]", "guest.cfg:4:32: error: unknown connection 'tcp' in channel (expected pty, socket)")]
    [InlineData("p9 = [ \"tag=t\" ]", "guest.cfg:4:9: error: p9 spec 'tag=t' needs both tag= and path=")]
    [InlineData("usbdev = [ \"hostbus=1\" ]", "guest.cfg:4:13: error: usbdev spec 'hostbus=1' needs hostbus= and hostaddr=")]
    [InlineData("usbctrl = [ \"version=4\" ]", "guest.cfg:4:22: error: invalid version '4' in usbctrl (expected a number from 1 to 3)")]
    [InlineData("vtpm = [ \"uuid=nope\" ]", "guest.cfg:4:16: error: invalid uuid 'nope' in vtpm (expected 8-4-4-4-12 hex digits)")]
    [InlineData("vkb = [ \"colour=1\" ]", "guest.cfg:4:10: error: unknown vkb parameter 'colour' (syntax: vkb = [ \"KEY=VALUE,...\", ... ]: backend=DOMAIN backend-type=qemu|linux unique-id=ID   feature-disable-keyboard=0|1 feature-disable-pointer=0|1 feature-abs-pointer=0|1   feature-raw-pointer=0|1 feature-multi-touch=0|1 width=N height=N   multi-touch-width=N multi-touch-height=N multi-touch-num-contacts=N)")]
    [InlineData("ioports = [ \"3ff-3f8\" ]", "guest.cfg:4:13: error: invalid I/O port range '3ff-3f8' in ioports (expected hex FIRST-LAST or PORT up to ffff, e.g. \"3f8-3ff\")")]
    [InlineData("cpuid = \"host,warp=1\"", "guest.cfg:4:9: error: invalid cpuid: unknown CPUID feature 'warp'")]
    public void Cross_key_rules(string lines, string expected)
    {
        Assert.Contains(expected, Check(Base + lines + "\n"));
    }

    [Fact]
    public void Timer_mode_is_an_error_for_pv_guests()
    {
        Assert.Contains(
            "guest.cfg:4:14: error: timer_mode is not supported for pv guests (remove it, or use type = \"pvh\" or \"hvm\")",
            Check("name = \"g\"\nkernel = \"/k\"\ntype = \"pv\"\ntimer_mode = \"delay_for_missed_ticks\"\n"));
    }

    [Fact]
    public void A_missing_name_and_kernel_are_errors()
    {
        Assert.Equal(
            ["guest.cfg:1:1: error: name is required (add e.g. name = \"guest\")", "guest.cfg:1:1: error: a pv guest needs kernel= or bootloader= to boot"],
            Check("memory = 64\n"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    public void An_empty_file_is_named_in_its_errors(string text)
    {
        Assert.Equal(
            ["guest.cfg:1:1: error: name is required (add e.g. name = \"guest\")", "guest.cfg:1:1: error: a pv guest needs kernel= or bootloader= to boot"],
            Check(text));
    }

    [Fact]
    public void Settings_given_only_on_the_command_line_still_name_the_file()
    {
        Assert.Contains("guest.cfg:1:1: error: name is required (add e.g. name = \"guest\")", Check("", "memory=64"));
    }

    [Theory]
    [InlineData("memroy = 64", "guest.cfg:4:1: warning: unknown setting 'memroy' (kept, but not used); did you mean 'memory'?")]
    [InlineData("zzz = 1", "guest.cfg:4:1: warning: unknown setting 'zzz' (kept, but not used)")]
    [InlineData("vdispl = [ \"backend=0\" ]", "guest.cfg:4:1: warning: 'vdispl' is an xl.cfg option Domino does not implement yet; it is kept but has no effect")]
    [InlineData("hpet = 1", "guest.cfg:4:1: warning: hpet only applies to hvm guests and is ignored for type = \"pvh\"")]
    [InlineData("memory = 010", "guest.cfg:4:10: warning: memory = 010 has a leading zero, so xl reads it as octal (8); write 8 if that is meant")]
    public void Warnings(string line, string expected)
    {
        var result = ConfigFile.Parse(Base + line + "\n", "guest.cfg", []);
        Assert.False(result.HasErrors);
        Assert.Equal([expected], result.Diagnostics.Select(d => d.ToString()));
    }

    [Theory]
    [InlineData("memory = 64 128", "guest.cfg:4:13: error: expected end of line or ';' after the value of 'memory' but found '128'")]
    [InlineData("memory 64", "guest.cfg:4:8: error: expected '=' after 'memory' but found '64'")]
    [InlineData("= 64", "guest.cfg:4:1: error: expected a setting name at '=' (statements look like KEY = VALUE)")]
    [InlineData("kernel2 = \"/k", "guest.cfg:4:11: error: string opened here is missing its closing quote (\")")]
    [InlineData("x = [ 1, 2", "guest.cfg:4:5: error: list opened here is never closed with ']'")]
    [InlineData("x = [ 1 2 ]", "guest.cfg:4:9: error: expected ',' or ']' in list but found '2'")]
    [InlineData("x = \"\\q\"", "guest.cfg:4:6: error: unknown escape sequence '\\q' in string (use \\\\ for a backslash)")]
    [InlineData("x = -1", "guest.cfg:4:5: error: xl.cfg numbers have no sign: quote it, as in \"-1\"")]
    [InlineData("x = @", "guest.cfg:4:5: error: unexpected character '@'")]
    public void Syntax_errors(string line, string expected)
    {
        Assert.Contains(expected, Check(Base + line + "\n"));
    }

    [Fact]
    public void Every_problem_is_reported_at_once_in_source_order()
    {
        var lines = Check(Base + "memory = \"lots\"\nvcpus = 0\non_crash = \"boom\"\nvif = [ \"mac=ff:ff:ff:ff:ff:ff\" ]\n");
        Assert.Equal(4, lines.Length);
        Assert.Equal(["guest.cfg:4:", "guest.cfg:5:", "guest.cfg:6:", "guest.cfg:7:"], lines.Select(l => l[..12]));
    }

    [Fact]
    public void A_missing_file_is_a_diagnostic_not_an_exception()
    {
        var result = ConfigFile.Load("/nonexistent/guest.cfg", []);
        Assert.True(result.HasErrors);
        Assert.StartsWith("/nonexistent/guest.cfg: error: cannot read configuration file:", result.Diagnostics[0].ToString(), StringComparison.Ordinal);
    }
}
