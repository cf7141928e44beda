using Domino.Toolstack.Interop;
using Xunit;

namespace Domino.Cli.Tests;

/// <summary>Guest-kit guests on the vmm driver: real VMs, each in its own VMM process.</summary>
public sealed class VmmEndToEndTests : IDisposable
{
    private readonly DominoRunner _d = new("vmm");

    public void Dispose() => _d.Dispose();

    private string Cfg(string name, string guest, params string[] lines) =>
        _d.Config(name, [$"kernel = \"{Kvm.Guest(guest)}\"", .. lines]);

    [SkippableFact]
    public void Hello_prints_on_the_console_and_is_destroyed_when_it_powers_off()
    {
        Kvm.Require();
        _d.StartDaemon();
        var r = _d.Run("create", "-q", "-c", Cfg("hello", "hello"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("hello: PASS", r.Stdout, StringComparison.Ordinal);
        TestDriverEndToEndTests.WaitFor(() => !_d.Run("list").Stdout.Contains("hello", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFiles(Path.Combine(_d.StateDir, "vmm"), "*.pid"));
    }

    [SkippableTheory]
    [InlineData(true, "domino-vmm")]
    [InlineData(false, "domino")]
    public void The_daemon_runs_VMM_processes_with_domino_vmm_or_with_itself(bool native, string program)
    {
        Kvm.Require();
        using var d = new DominoRunner("vmm", nativeVmm: native);
        d.StartDaemon();
        var r = d.Run("create", "-q", d.Config("counter", $"kernel = \"{Kvm.Guest("counter")}\"", "cmdline = \"every=1000000\""));
        Assert.True(r.ExitCode == 0, r.ToString());
        var pid = d.VmmPid();
        Assert.Equal(program, Path.GetFileName(new FileInfo($"/proc/{pid}/exe").LinkTarget));
        Assert.Contains("r-----", d.Run("list", "counter").Stdout, StringComparison.Ordinal);
        r = d.Run("destroy", "counter");
        Assert.True(r.ExitCode == 0, r.ToString());
        TestDriverEndToEndTests.WaitFor(() => !Libc.ProcessExists(pid));
    }

    [SkippableFact]
    public void Create_c_shows_the_console_from_the_guests_first_byte()
    {
        Kvm.Require();
        _d.StartDaemon();
        var r = _d.Run("create", "-q", "-c", Cfg("hello", "hello"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("Hello from the Domino guest kit\n", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("hello: PASS", r.Stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Create_c_carries_typed_input_to_the_guest_through_the_spares_standard_streams()
    {
        Kvm.Require();
        _d.StartDaemon();
        TestDriverEndToEndTests.WaitFor(() => _d.SparePids().Count == 1, 60);
        var spare = _d.SparePids().Single();
        // Typed ahead: the input is on its way before the guest exists, and reaches it once it reads.
        var r = await _d.RunAsync(["create", "-q", "-c", Cfg("echo", "echo")], TimeSpan.FromSeconds(60), stdin: "hello\nquit\n");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("echo: ready", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("hello\n", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("echo: PASS", r.Stdout, StringComparison.Ordinal);
        Assert.Contains($"vmm[{spare}] serving", _d.VmmLog(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Create_p_c_keeps_the_guest_paused_until_unpause_and_loses_none_of_its_output()
    {
        Kvm.Require();
        _d.StartDaemon();
        var psi = new System.Diagnostics.ProcessStartInfo(DominoRunner.Binary) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "create", "-q", "-p", "-c", Cfg("hello", "hello") }) psi.ArgumentList.Add(a);
        _d.Environment(psi);
        using var create = System.Diagnostics.Process.Start(psi)!;
        create.StandardInput.Close();
        var stdout = create.StandardOutput.ReadToEndAsync();

        TestDriverEndToEndTests.WaitFor(() => _d.Run("list", "hello").Stdout.Contains("--p---", StringComparison.Ordinal), 30);
        await Task.Delay(500);
        Assert.False(stdout.IsCompleted, $"create -p -c ended while the guest was paused: {(stdout.IsCompleted ? stdout.Result : "")}");
        Assert.Equal("", _d.Run("dmesg", "hello").Stdout); // paused from the start: not one instruction run

        Assert.Equal(0, _d.Run("unpause", "hello").ExitCode);
        Assert.True(create.WaitForExit(30_000), "create -p -c did not end after the guest powered off");
        Assert.Equal(0, create.ExitCode);
        Assert.StartsWith("Hello from the Domino guest kit\n", await stdout, StringComparison.Ordinal);
        Assert.Contains("hello: PASS", await stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void A_create_c_the_vmm_driver_refuses_leaves_no_record_and_no_process()
    {
        Kvm.Require();
        _d.StartDaemon();
        var missing = _d.Run("create", "-q", "-c", Cfg("gone", "hello"), "kernel=\"/nonexistent/kernel.elf\"");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("domino: domain 'gone': kernel /nonexistent/kernel.elf not found", missing.Stderr.Trim());
        Assert.Empty(missing.Stdout);

        Assert.Equal(0, _d.Run("create", "-q", Cfg("count", "counter")).ExitCode);
        var duplicate = _d.Run("create", "-q", "-c", Cfg("count", "hello"));
        Assert.Equal(1, duplicate.ExitCode);
        Assert.Equal("domino: domain 'count' already exists (pick another name or destroy it first)", duplicate.Stderr.Trim());
        Assert.Single(Directory.GetDirectories(Path.Combine(_d.StateDir, "domains")));
        Assert.Single(Directory.GetFiles(Path.Combine(_d.StateDir, "vmm"), "*.pid"));
    }

    [SkippableFact]
    public void A_running_guest_lists_pauses_replays_its_console_and_is_destroyed()
    {
        Kvm.Require();
        _d.StartDaemon();
        Assert.Equal(0, _d.Run("create", "-q", Cfg("count", "counter")).ExitCode);
        Assert.Matches(@"(?m)^count\s+1\s+64\s+1\s+r-----", _d.Run("list").Stdout);
        TestDriverEndToEndTests.WaitFor(() => _d.Run("dmesg", "count").Stdout.Contains("counter:", StringComparison.Ordinal));
        Assert.Equal(0, _d.Run("pause", "count").ExitCode);
        Assert.Contains("--p---", _d.Run("list", "count").Stdout, StringComparison.Ordinal);
        Assert.Equal(0, _d.Run("unpause", "count").ExitCode);
        var pid = _d.VmmPid();
        Assert.True(Libc.ProcessExists(pid));
        var maxmem = _d.Run("mem-max", "count", "128m");
        Assert.Equal("domino: mem-max is not supported by the vmm driver", maxmem.Stderr.Trim());
        Assert.Equal(0, _d.Run("destroy", "count").ExitCode);
        TestDriverEndToEndTests.WaitFor(() => !Libc.ProcessExists(pid));
        Assert.Single(_d.Run("list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [SkippableFact]
    public void A_guest_that_reboots_at_boot_is_restarted_a_bounded_number_of_times()
    {
        Kvm.Require();
        _d.StartDaemon();
        Assert.Equal(0, _d.Run("create", "-q", Cfg("rb", "reboot", "on_reboot = \"restart\"")).ExitCode);
        TestDriverEndToEndTests.WaitFor(() => _d.Run("list", "-v", "rb").Stdout.Contains("restart limit", StringComparison.Ordinal), 60);
        Assert.Contains("---s--", _d.Run("list", "rb").Stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Coredump_destroy_writes_an_elf_core_of_guest_memory()
    {
        Kvm.Require();
        _d.StartDaemon();
        TestDriverEndToEndTests.WaitFor(() => _d.SparePids().Count == 1, 60);
        Assert.Equal(0, _d.Run("create", "-q", Cfg("cr", "crash", "on_reboot = \"coredump-destroy\"")).ExitCode);
        TestDriverEndToEndTests.WaitFor(() => !_d.Run("list").Stdout.Contains("cr ", StringComparison.Ordinal), 30);
        var core = Assert.Single(Directory.GetFiles(Path.Combine(_d.StateDir, "dumps"), "cr-*.core"));
        var bytes = File.ReadAllBytes(core);
        Assert.Equal("\x7f" + "ELF", System.Text.Encoding.ASCII.GetString(bytes, 0, 4));
        // The guest ran in the spare's VM shell, whose memory slot reaches 3 GiB: the core holds its 64 MiB of RAM, no more.
        Assert.Contains("built in the VM shell made ahead", _d.VmmLog(), StringComparison.Ordinal);
        var (loaded, end) = (0L, 0L);
        var phoff = BitConverter.ToInt64(bytes, 0x20);
        for (var i = 0; i < BitConverter.ToUInt16(bytes, 0x38); i++)
        {
            var ph = (int)phoff + i * BitConverter.ToUInt16(bytes, 0x36);
            if (BitConverter.ToUInt32(bytes, ph) != 1) continue; // PT_LOAD
            loaded += BitConverter.ToInt64(bytes, ph + 0x20);      // p_filesz
            end = Math.Max(end, BitConverter.ToInt64(bytes, ph + 0x18) + BitConverter.ToInt64(bytes, ph + 0x28)); // p_paddr + p_memsz
        }
        Assert.Equal(64L << 20, loaded);
        Assert.Equal(64L << 20, end);
    }

    [SkippableFact]
    public void One_VMM_dying_takes_only_its_own_domain_with_it()
    {
        Kvm.Require();
        _d.StartDaemon();
        var a = _d.Run("create", "-q", Cfg("a", "counter", "on_crash = \"preserve\""));
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.Equal(0, _d.Run("create", "-q", Cfg("b", "counter")).ExitCode);
        var uuidA = System.Text.Json.JsonDocument.Parse(TestDriverEndToEndTests.Http(_d.Socket, "GET /domains/a HTTP/1.1").Split("\r\n\r\n")[1].Split("\r\n") is var parts && parts.Length > 1 ? parts[1] : parts[0]).RootElement.GetProperty("uuid").GetString();
        var pidA = int.Parse(File.ReadAllText(Path.Combine(_d.StateDir, "vmm", $"{uuidA}.pid")).Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Libc.Signal(pidA, Libc.SIGKILL);
        TestDriverEndToEndTests.WaitFor(() => _d.Run("list", "a").Stdout.Contains("----c-", StringComparison.Ordinal));
        Assert.Contains("crashed: crash", _d.Run("list", "-v", "a").Stdout, StringComparison.Ordinal);
        lock (_d.DaemonLog!) Assert.Contains($"VMM process {pidA} died", _d.DaemonLog.ToString(), StringComparison.Ordinal);
        Assert.Matches(@"(?m)^b\s+2\s+.*r-----", _d.Run("list").Stdout);
    }

    [SkippableFact]
    public void VMM_processes_survive_a_daemon_sigkill_and_are_re_attached()
    {
        Kvm.Require();
        _d.StartDaemon();
        Assert.Equal(0, _d.Run("create", "-q", Cfg("a", "counter")).ExitCode);
        Assert.Equal(0, _d.Run("create", "-q", Cfg("b", "counter", "on_crash = \"preserve\"")).ExitCode);
        var pids = Directory.GetFiles(Path.Combine(_d.StateDir, "vmm"), "*.pid")
            .ToDictionary(f => f, f => int.Parse(File.ReadAllText(f).Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
        _d.KillDaemon();
        Assert.All(pids.Values, p => Assert.True(Libc.ProcessExists(p), $"VMM {p} died with the daemon"));
        var list0 = _d.StateDir; // b's VMM dies while no daemon is there
        var uuidB = Directory.GetDirectories(Path.Combine(list0, "domains")).Select(Path.GetFileName)
            .Single(u => File.ReadAllText(Path.Combine(list0, "domains", u!, "record.json")).Contains("\"name\":\"b\"", StringComparison.Ordinal));
        Libc.Signal(pids[Path.Combine(_d.StateDir, "vmm", $"{uuidB}.pid")], Libc.SIGKILL);
        _d.StartDaemon();
        var list = _d.Run("list").Stdout;
        Assert.Matches(@"(?m)^a\s+1\s+.*r-----", list);
        Assert.Matches(@"(?m)^b\s+2\s+.*----c-", list);
        TestDriverEndToEndTests.WaitFor(() => _d.Run("dmesg", "a").Stdout.Contains("counter:", StringComparison.Ordinal));
    }

    /// <summary>Creates guests/control and waits until it has routed its interrupts (presses before that may be lost, as on a PC).</summary>
    private void CreateControl(string name, params string[] lines)
    {
        var r = _d.Run("create", "-q", Cfg(name, "control", lines));
        Assert.True(r.ExitCode == 0, r.ToString());
        TestDriverEndToEndTests.WaitFor(() => _d.Run("dmesg", name).Stdout.Contains("control: ready", StringComparison.Ordinal), 30);
    }

    [SkippableFact]
    public void Shutdown_wait_presses_the_power_button_and_returns_once_the_guest_has_powered_off()
    {
        Kvm.Require();
        _d.StartDaemon();
        CreateControl("ctl");
        var pid = _d.VmmPid();
        var r = _d.Run("shutdown", "-w", "ctl");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Domain ctl has shut down", r.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("ctl", _d.Run("list").Stdout, StringComparison.Ordinal); // on_poweroff = destroy
        TestDriverEndToEndTests.WaitFor(() => !Libc.ProcessExists(pid));
    }

    [SkippableFact]
    public void A_preserved_domain_shows_the_guest_powered_off_through_acpi()
    {
        Kvm.Require();
        _d.StartDaemon();
        CreateControl("ctl", "on_poweroff = \"preserve\"");
        Assert.Equal(0, _d.Run("shutdown", "ctl").ExitCode);
        TestDriverEndToEndTests.WaitFor(() => _d.Run("list", "ctl").Stdout.Contains("---s--", StringComparison.Ordinal), 30);
        Assert.Contains("control: power button (ged events 0x08, 1 interrupts), powering off through ACPI S5", _d.Run("dmesg", "ctl").Stdout, StringComparison.Ordinal);
        Assert.Contains("poweroff", _d.Run("list", "-v", "ctl").Stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Reboot_types_ctrl_alt_del_and_on_reboot_restart_boots_it_again()
    {
        Kvm.Require();
        _d.StartDaemon();
        CreateControl("ctl", "on_reboot = \"restart\"");
        var r = _d.Run("reboot", "-w", "ctl");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Domain ctl has rebooted", r.Stdout, StringComparison.Ordinal);
        Assert.Equal("2", _d.Run("domid", "ctl").Stdout.Trim());
        Assert.Matches(@"(?m)^ctl\s+2\s+.*r-----", _d.Run("list").Stdout);
        // The new incarnation boots and answers again.
        TestDriverEndToEndTests.WaitFor(() => _d.Run("dmesg", "ctl").Stdout.Contains("control: ready", StringComparison.Ordinal), 30);
        Assert.Equal(0, _d.Run("reboot", "ctl").ExitCode);
        TestDriverEndToEndTests.WaitFor(() => _d.Run("domid", "ctl").Stdout.Trim() == "3", 30);
    }

    [SkippableFact]
    public void A_rebooted_guest_that_is_preserved_said_ctrl_alt_del_on_its_console()
    {
        Kvm.Require();
        _d.StartDaemon();
        CreateControl("ctl", "on_reboot = \"preserve\"");
        Assert.Equal(0, _d.Run("reboot", "ctl").ExitCode);
        TestDriverEndToEndTests.WaitFor(() => _d.Run("list", "ctl").Stdout.Contains("---s--", StringComparison.Ordinal), 30);
        Assert.Matches(@"control: ctrl-alt-del \(\d+ keyboard interrupts\), resetting through the i8042", _d.Run("dmesg", "ctl").Stdout);
    }

    [SkippableFact]
    public void Trigger_sends_nmi_power_and_reset_and_refuses_what_the_vmm_cannot_send()
    {
        Kvm.Require();
        _d.StartDaemon();
        CreateControl("ctl", "vcpus = 2", "on_reboot = \"preserve\"");

        Assert.Equal(0, _d.Run("trigger", "ctl", "nmi").ExitCode);
        TestDriverEndToEndTests.WaitFor(() => _d.Run("dmesg", "ctl").Stdout.Contains("control: nmi 1", StringComparison.Ordinal), 30);
        Assert.Matches(@"(?m)^ctl\s+1\s+.*r-----", _d.Run("list").Stdout);

        foreach (var unsupported in new[] { "init", "sleep", "s3resume" })
        {
            var r = _d.Run("trigger", "ctl", unsupported);
            Assert.NotEqual(0, r.ExitCode);
            Assert.Equal($"domino: trigger {unsupported} is not supported by the vmm driver (it sends power, reset and nmi)", r.Stderr.Trim());
        }
        var unknown = _d.Run("trigger", "ctl", "reboot");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Equal("domino: unknown trigger 'reboot' (expected nmi, reset, init, power, sleep or s3resume)", unknown.Stderr.Trim());
        var vcpu = _d.Run("trigger", "ctl", "nmi", "2");
        Assert.NotEqual(0, vcpu.ExitCode);
        Assert.Contains("no vcpu 2", vcpu.Stderr, StringComparison.Ordinal);

        // reset pulls the line without asking the guest: it ends as a reboot (on_reboot = preserve).
        Assert.Equal(0, _d.Run("trigger", "ctl", "reset").ExitCode);
        TestDriverEndToEndTests.WaitFor(() => _d.Run("list", "ctl").Stdout.Contains("---s--", StringComparison.Ordinal), 30);
        Assert.Contains("reboot", _d.Run("list", "-v", "ctl").Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("resetting through the i8042", _d.Run("dmesg", "ctl").Stdout, StringComparison.Ordinal);
        var dead = _d.Run("trigger", "ctl", "power");
        Assert.Equal("domino: cannot send trigger power to domain 'ctl' (state: shutdown)", dead.Stderr.Trim());
    }

    [SkippableFact]
    public void Trigger_power_presses_the_same_button_as_shutdown()
    {
        Kvm.Require();
        _d.StartDaemon();
        CreateControl("ctl");
        Assert.Equal(0, _d.Run("trigger", "ctl", "power").ExitCode);
        TestDriverEndToEndTests.WaitFor(() => !_d.Run("list").Stdout.Contains("ctl", StringComparison.Ordinal), 30);
    }
}
