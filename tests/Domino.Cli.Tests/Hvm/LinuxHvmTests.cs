using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace Domino.Cli.Tests.Hvm;

/// <summary>
/// examples/linux-hvm.cfg end to end through the CLI, the daemon and the qemu driver: Debian's kernel
/// and Domino's busybox initramfs (scripts/build-linux-guest) boot to a shell on the serial console.
/// </summary>
public sealed class LinuxHvmTests
{
    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(60);
    private static readonly Lazy<(bool Ok, string Log)> s_guest = new(BuildGuest);

    private static (bool, string) BuildGuest()
    {
        var psi = new ProcessStartInfo("bash", [Path.Combine(CliHarness.RepoRoot, "scripts", "build-linux-guest")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["DOMINO_CLI"] = CliHarness.Domino; // the CLI under test packs the initramfs
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode == 0, output + err.Result);
    }

    private static void RequireGuest()
    {
        QemuGate.RequireQemu();
        var (ok, log) = s_guest.Value;
        QemuGate.RequireBuilt(ok, $"Linux guest: scripts/build-linux-guest failed: {log}");
    }

    [SkippableFact]
    public async Task Linux_boots_to_a_shell_runs_a_command_restarts_on_reboot_and_shuts_down_cleanly()
    {
        RequireGuest();
        using var cli = new CliHarness("vmm"); // the default driver: it sends HVM domains to the qemu driver

        var created = await cli.Run("create", "-q", "examples/linux-hvm.cfg");
        Assert.True(created.Exit == 0, $"create failed: {created.Err}\n{cli.DaemonLog}");

        // list -l shows how the guest runs: the qemu driver, its accelerator and vCPU thread ids.
        var details = await cli.Run("list", "-l", "linux-hvm");
        using (var json = JsonDocument.Parse(details.Out))
        {
            var driver = json.RootElement[0].GetProperty("driver");
            Assert.Equal("qemu", driver.GetProperty("driver").GetString());
            Assert.Contains(driver.GetProperty("accelerator").GetString(), new[] { "kvm", "tcg" });
            var thread = driver.GetProperty("vcpu_threads")[0].GetInt32();
            Assert.True(Directory.Exists($"/proc/{driver.GetProperty("pid").GetInt32()}/task/{thread}"), "the vCPU thread id is not a thread of QEMU");
        }

        var release = File.ReadAllText(Path.Combine(CliHarness.RepoRoot, ".build", "linux-guest", "kernel-release")).Trim();
        await using (var console = new ConsoleSession(cli, "linux-hvm"))
        {
            await console.WaitFor("Domino Linux guest: Linux " + release, Boot);
            var at = await console.WaitFor("domino-guest# ", Boot);
            await console.Type("echo answer=$((6*7)); uname -r\r");
            at = await console.WaitFor("answer=42", TimeSpan.FromSeconds(20), at);
            await console.WaitFor(release, TimeSpan.FromSeconds(20), at);

            // The guest reboots itself; on_reboot="restart" makes Domino start a new QEMU (a new domid).
            await console.Type("reboot\r");
            await console.WaitForExit(TimeSpan.FromSeconds(30)); // the old incarnation's console ends
        }
        await WaitFor(async () => (await cli.Run("domid", "linux-hvm")).Out.Trim() == "2", TimeSpan.FromSeconds(30), "domid 2 after the reboot");
        await using (var console = new ConsoleSession(cli, "linux-hvm"))
        {
            await console.WaitFor("Domino Linux guest:", Boot);
            var at = await console.WaitFor("domino-guest# ", Boot);
            await console.Type("echo again=$((7*6))\r");
            at = await console.WaitFor("again=42", TimeSpan.FromSeconds(20), at);

            // xl trigger nmi is QMP's inject-nmi: Linux reports an NMI nobody claimed and goes on.
            var nmi = await cli.Run("trigger", "linux-hvm", "nmi");
            Assert.True(nmi.Exit == 0, $"trigger nmi failed: {nmi.Err}");
            await console.WaitFor("NMI received for unknown reason", TimeSpan.FromSeconds(20), at);
        }
        var qemuPid = await QemuPid(cli);

        // The ACPI power button: the guest's acpid powers it off, on_poweroff="destroy" removes it.
        var shutdown = await cli.Run(TimeSpan.FromSeconds(60), "shutdown", "-w", "linux-hvm");
        Assert.True(shutdown.Exit == 0, $"shutdown -w failed: {shutdown.Err}\n{cli.DaemonLog}");
        Assert.DoesNotContain("linux-hvm", (await cli.Run("list")).Out, StringComparison.Ordinal);
        Assert.Contains("reason=guest-shutdown", cli.DaemonLog, StringComparison.Ordinal);
        Assert.Contains("reason=guest-reset", cli.DaemonLog, StringComparison.Ordinal);
        await WaitFor(() => Task.FromResult(!Directory.Exists($"/proc/{qemuPid}")), TimeSpan.FromSeconds(10), $"QEMU pid {qemuPid} to exit");
    }

    [SkippableFact]
    public async Task Killing_qemu_crashes_the_domain_and_on_crash_applies()
    {
        RequireGuest();
        using var cli = new CliHarness("qemu");
        var created = await cli.Run("create", "-q", "examples/linux-hvm.cfg", "name=\"killed\"", "on_crash=\"preserve\"");
        Assert.True(created.Exit == 0, $"create failed: {created.Err}\n{cli.DaemonLog}");
        var pid = await QemuPid(cli, "killed");
        Process.GetProcessById(pid).Kill();
        await WaitFor(async () => (await cli.Run("list", "killed")).Out.Contains("----c-", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "domain 'killed' crashed");
        Assert.Contains("on_crash=preserve", cli.DaemonLog, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_kernel_panic_is_reported_through_pvpanic_and_on_crash_applies()
    {
        RequireGuest();
        using var cli = new CliHarness("qemu");
        var created = await cli.Run("create", "-q", "examples/linux-hvm.cfg", "name=\"panics\"", "on_crash=\"preserve\"");
        Assert.True(created.Exit == 0, $"create failed: {created.Err}\n{cli.DaemonLog}");
        await using (var console = new ConsoleSession(cli, "panics"))
        {
            await console.WaitFor("domino-guest# ", Boot);
            await console.Type("echo c > /proc/sysrq-trigger\r");
            await console.WaitFor("Kernel panic", TimeSpan.FromSeconds(30));
        }
        await WaitFor(async () => (await cli.Run("list", "panics")).Out.Contains("----c-", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "domain 'panics' crashed");
        Assert.Contains("on_crash=preserve; QEMU GUEST_PANICKED", cli.DaemonLog, StringComparison.Ordinal);
    }

    /// <summary>Bad input is refused before anything starts: the error names the problem, no domain and no QEMU remain.</summary>
    [Fact]
    public async Task Bad_input_is_refused_before_qemu_starts()
    {
        using var cli = new CliHarness("qemu");
        var config = Path.Combine(cli.StateDir, "bad.cfg");
        await File.WriteAllTextAsync(config, "name = \"bad\"\ntype = \"hvm\"\nkernel = \"/bin/true\"\nmemory = 64\nserial = \"pty\"\n");
        (string Setting, string Message)[] cases =
        [
            ("device_model_override=\"/nonexistent/qemu-system-x86_64\"", "QEMU binary '/nonexistent/qemu-system-x86_64' does not exist"),
            ("disk=[\"/nonexistent/disk.img,raw,hda,w\"]", "disk hda: backing file '/nonexistent/disk.img' does not exist"),
            ("vif=[\"model=foo\"]", "unknown NIC model 'foo' (expected e1000, e1000e, rtl8139, virtio-net)"),
            ("pci=[\"0000:03:00.0\"]", "qemu driver cannot honour pci=[\"0000:03:00.0\"]: PCI passthrough is not supported"),
            ("kernel=\"/nonexistent/vmlinuz\"", "kernel '/nonexistent/vmlinuz' does not exist"),
        ];
        foreach (var (setting, message) in cases)
        {
            var created = await cli.Run("create", "-q", config, setting);
            Assert.True(created.Exit == 1, $"{setting}: create exited {created.Exit}");
            Assert.Contains(message, created.Err, StringComparison.Ordinal);
            Assert.DoesNotContain("bad", (await cli.Run("list")).Out, StringComparison.Ordinal);
            var qemuDir = Path.Combine(cli.StateDir, "qemu");
            Assert.Empty(Directory.Exists(qemuDir) ? Directory.GetFiles(qemuDir) : []);
        }
        Assert.DoesNotContain("QEMU 7", cli.DaemonLog, StringComparison.Ordinal); // the "QEMU VERSION pid N" start line
    }

    [Fact]
    public async Task An_unknown_disk_format_is_refused_by_the_config_parser_with_its_place()
    {
        using var cli = new CliHarness("qemu");
        var config = Path.Combine(cli.StateDir, "fmt.cfg");
        await File.WriteAllTextAsync(config, "name = \"fmt\"\ntype = \"hvm\"\ndisk = [ \"format=vmdk,vdev=hda,target=/x.img\" ]\n");
        var created = await cli.Run("create", "-q", config);
        Assert.Equal(1, created.Exit);
        Assert.Contains("fmt.cfg:3:", created.Err, StringComparison.Ordinal);
        Assert.Contains("vmdk", created.Err, StringComparison.Ordinal);
    }

    private static async Task<int> QemuPid(CliHarness cli, string domain = "linux-hvm")
    {
        using var json = JsonDocument.Parse((await cli.Run("list", "-l", domain)).Out);
        return json.RootElement[0].GetProperty("driver").GetProperty("pid").GetInt32();
    }

    private static async Task WaitFor(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return;
            await Task.Delay(200);
        }
        Assert.Fail($"timed out after {timeout.TotalSeconds} s waiting for {what}");
    }
}
