using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Domino.Config.Model;
using Domino.Config.Output;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Interop;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Drivers.Qemu;

/// <summary>
/// HVM domains on QEMU, as Xen runs them with qemu-xen as the device model: one QEMU process per
/// domain incarnation, its command line derived from the config (<see cref="QemuCommandLine"/>),
/// driven over QMP. QEMU never reboots or exits by itself: resets and power-offs become SHUTDOWN
/// events with the vCPUs stopped, and the toolstack applies on_reboot / on_poweroff / on_crash.
/// Files: <c>STATE/qemu/UUID.{qmp,serial,pid}</c>, the log in <c>STATE/logs/qemu-UUID.log</c>.
/// </summary>
public sealed class QemuDriver : DomainDriver
{
    public const string BinaryVariable = "DOMINO_QEMU";
    public const string DefaultBinary = "qemu-system-x86_64";

    private readonly string _dir;
    private readonly string _logDir;
    private readonly string? _binary;
    private readonly string? _accel;
    private readonly Action<string> _log;
    private readonly ConcurrentDictionary<Guid, QemuGuest> _guests = new();

    /// <param name="stateRoot">The daemon's state directory.</param>
    /// <param name="binary">QEMU to run (default: DOMINO_QEMU, else qemu-system-x86_64 on PATH); a domain's device_model_override wins.</param>
    /// <param name="accel">kvm, tcg or auto (default: DOMINO_QEMU_ACCEL, else auto).</param>
    public QemuDriver(string stateRoot, string? binary = null, string? accel = null, Action<string>? log = null)
    {
        _dir = Path.Combine(stateRoot, "qemu");
        _logDir = Path.Combine(stateRoot, "logs");
        Directory.CreateDirectory(_dir);
        Directory.CreateDirectory(_logDir);
        _binary = binary ?? Environment.GetEnvironmentVariable(BinaryVariable);
        _accel = accel ?? Environment.GetEnvironmentVariable(QemuAccelProbe.Variable);
        _log = log ?? (m => Console.Error.WriteLine($"domino: {m}"));
    }

    public override string Name => "qemu";

    private string QmpPath(Guid uuid) => Path.Combine(_dir, $"{uuid}.qmp");
    private string SerialPath(Guid uuid) => Path.Combine(_dir, $"{uuid}.serial");
    private string PidPath(Guid uuid) => Path.Combine(_dir, $"{uuid}.pid");
    private string LogPath(Guid uuid) => Path.Combine(_logDir, $"qemu-{uuid}.log");

    /// <summary>One running QEMU: its process, monitor, console and what Domino knows of its exit.</summary>
    private sealed class QemuGuest(GuestRef guest, int pid, QemuAccelerator accel)
    {
        public GuestRef Ref { get; } = guest;
        public int Pid { get; } = pid;
        public QemuAccelerator Accelerator { get; } = accel;
        public Process? Process { get; set; }
        public QmpClient? Qmp { get; set; }
        public Socket? Serial { get; set; }
        public ConsoleRing Console { get; } = new();
        public IReadOnlyList<int> VcpuThreads { get; set; } = [];

        /// <summary>Set once an exit was reported (or Domino is tearing QEMU down): later signs of death say nothing new.</summary>
        public int Finished;
    }

    // ---- start ----------------------------------------------------------------------------------

    public override async Task<GuestStarted> StartAsync(GuestRef guest, bool paused, string configJson, CancellationToken ct)
    {
        // Everything that can be refused is refused here, before a process exists.
        var config = ResolvedConfig(guest, configJson);
        var binaryName = config.DeviceModelOverride ?? _binary ?? DefaultBinary;
        QemuAccelProbe.Choice accel;
        IReadOnlyList<string> args;
        try
        {
            accel = QemuAccelProbe.Decide(_accel);
            args = QemuCommandLine.Build(config, new QemuLaunchOptions
            {
                Binary = binaryName,
                Accelerator = accel.Accelerator,
                QmpSocket = QmpPath(guest.Uuid),
                SerialSocket = SerialPath(guest.Uuid),
            });
        }
        catch (QemuConfigException e)
        {
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}': {e.Message}");
        }
        var binary = ResolveBinary(binaryName);
        if (accel.Warning is { } warning) _log($"domain '{guest.Name}': warning: {warning}");

        foreach (var f in new[] { QmpPath(guest.Uuid), SerialPath(guest.Uuid), PidPath(guest.Uuid) }) File.Delete(f);
        var logPath = LogPath(guest.Uuid);
        await File.AppendAllTextAsync(logPath, $"--- domid {guest.DomId} {DateTimeOffset.UtcNow:O}: {binary} {string.Join(' ', args)}\n", ct).ConfigureAwait(false);

        // QEMU starts with its vCPUs stopped (-S) and outlives the daemon: its output goes to the log
        // file, not to pipes the daemon holds. The shell only sets up the redirection and execs QEMU.
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var a in (string[])["-c", "exec \"$0\" \"$@\" </dev/null >>\"$DOMINO_QEMU_LOG\" 2>&1", binary, "-S", "-pidfile", PidPath(guest.Uuid), .. args])
            psi.ArgumentList.Add(a);
        psi.Environment["DOMINO_QEMU_LOG"] = logPath;
        var process = Process.Start(psi) ?? throw new ToolstackException(ErrorKind.Failed, $"domain '{guest.Name}': cannot start {binary}");
        var g = new QemuGuest(guest, process.Id, accel.Accelerator) { Process = process };
        try
        {
            g.Qmp = await ConnectMonitorAsync(g, process, ct).ConfigureAwait(false);
            if (File.Exists(SerialPath(guest.Uuid))) g.Serial = await ConnectSerialAsync(g, ct).ConfigureAwait(false);
            g.VcpuThreads = await QueryVcpuThreadsAsync(g.Qmp, ct).ConfigureAwait(false);
            _guests[guest.Uuid] = g;
            WatchProcess(g);
            if (!paused) await g.Qmp.ExecuteAsync("cont", null, ct).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Interlocked.Exchange(ref g.Finished, 1);
            _guests.TryRemove(new KeyValuePair<Guid, QemuGuest>(guest.Uuid, g));
            await KillAsync(g).ConfigureAwait(false);
            if (e is OperationCanceledException) throw;
            throw new ToolstackException(ErrorKind.Failed, $"domain '{guest.Name}': QEMU did not start: {e.Message}{LogTail(logPath)}", e);
        }
        _log($"domain '{guest.Name}' (domid {guest.DomId}): QEMU {g.Qmp.Version} pid {g.Pid}, {Word(g.Accelerator)}, vCPU threads {string.Join(",", g.VcpuThreads)}");
        return new GuestStarted(g.Pid, Libc.ProcessStartTicks(g.Pid));
    }

    /// <summary>The stored libxl JSON with the paths the client resolved (kernel, ramdisk, disk targets).</summary>
    private static DomainConfig ResolvedConfig(GuestRef guest, string configJson)
    {
        DomainConfig config;
        try { config = LibxlJson.Deserialize(configJson); }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}': its stored configuration is not libxl JSON: {e.Message}");
        }
        config.Name = guest.Name;
        config.Uuid = guest.Uuid;
        var spec = guest.Spec;
        if (spec.Type != GuestType.Hvm)
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}': the qemu driver runs type=\"hvm\" domains (this one is type=\"{spec.Type.ToString().ToLowerInvariant()}\")");
        config.Kernel = spec.Kernel ?? config.Kernel;
        config.Ramdisk = spec.Ramdisk ?? config.Ramdisk;
        config.Cmdline = spec.Cmdline ?? config.Cmdline;
        config.MemoryMb = spec.MemoryMb;
        config.Vcpus = spec.Vcpus;
        for (var i = 0; i < config.Disks.Count && i < spec.Disks.Count; i++)
            config.Disks[i] = config.Disks[i] with { Target = spec.Disks[i] };
        if (config.Kernel is { } k && !File.Exists(k))
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}': kernel '{k}' does not exist");
        if (config.Ramdisk is { } r && !File.Exists(r))
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}': ramdisk '{r}' does not exist");
        return config;
    }

    /// <summary>A bare name is looked up on PATH; a path must exist and be executable.</summary>
    private static string ResolveBinary(string binary)
    {
        if (binary.Contains('/', StringComparison.Ordinal))
        {
            if (File.Exists(binary) && (File.GetUnixFileMode(binary) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                return Path.GetFullPath(binary);
            throw new ToolstackException(ErrorKind.Invalid, $"QEMU binary '{binary}' does not exist or is not executable (install qemu-system-x86: scripts/setup)");
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, binary);
            if (File.Exists(candidate)) return candidate;
        }
        throw new ToolstackException(ErrorKind.Invalid, $"QEMU binary '{binary}' is not on PATH (install qemu-system-x86: scripts/setup, or set {BinaryVariable})");
    }

    /// <summary>QEMU creates its sockets (server=on,wait=off) before it runs; wait for the monitor while the process lives.</summary>
    private async Task<QmpClient> ConnectMonitorAsync(QemuGuest g, Process? process, CancellationToken ct)
    {
        var path = QmpPath(g.Ref.Uuid);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (process is { HasExited: true })
                throw new IOException($"QEMU exited with status {process.ExitCode} before its monitor came up");
            if (File.Exists(path))
            {
                try { return await QmpClient.ConnectAsync(path, e => OnEvent(g, e), ct).ConfigureAwait(false); }
                catch (SocketException) when (DateTime.UtcNow < deadline) { }
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"QEMU's monitor socket {path} did not come up within 15 s");
            await Task.Delay(20, ct).ConfigureAwait(false);
        }
    }

    private async Task<Socket> ConnectSerialAsync(QemuGuest g, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SerialPath(g.Ref.Uuid)), ct).ConfigureAwait(false);
        _ = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    var n = await socket.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                    if (n == 0) break;
                    g.Console.Write(buffer.AsSpan(0, n));
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            g.Console.Close();
        });
        return socket;
    }

    private static async Task<IReadOnlyList<int>> QueryVcpuThreadsAsync(QmpClient qmp, CancellationToken ct)
    {
        var cpus = await qmp.ExecuteAsync("query-cpus-fast", null, ct).ConfigureAwait(false);
        return [.. cpus.EnumerateArray()
            .OrderBy(c => c.GetProperty("cpu-index").GetInt32())
            .Select(c => c.TryGetProperty("thread-id", out var t) ? t.GetInt32() : 0)];
    }

    // ---- guest events ---------------------------------------------------------------------------

    /// <summary>QMP events → Domino's guest exits. Runs on the QMP reader; reporting is quick.</summary>
    private void OnEvent(QemuGuest g, QmpEvent e)
    {
        switch (e.Name)
        {
            case "SHUTDOWN":
                var reason = e.GetString("reason") ?? "";
                var exit = reason switch
                {
                    "guest-shutdown" => GuestExit.Poweroff,
                    "guest-reset" or "host-qmp-system-reset" => GuestExit.Reboot, // -action reboot=shutdown
                    "guest-panic" => GuestExit.Crash,
                    "host-qmp-quit" => (GuestExit?)null, // Domino's own destroy
                    _ => GuestExit.Crash, // host-signal, host-ui...: QEMU was stopped from outside
                };
                if (exit is { } x) Report(g, x, $"QEMU SHUTDOWN reason={reason}");
                break;
            case "GUEST_PANICKED":
                Report(g, GuestExit.Crash, "QEMU GUEST_PANICKED (pvpanic)");
                break;
            case "WATCHDOG":
                Report(g, GuestExit.Watchdog, $"QEMU WATCHDOG action={e.GetString("action")}");
                break;
        }
    }

    private void Report(QemuGuest g, GuestExit exit, string detail)
    {
        if (Interlocked.Exchange(ref g.Finished, 1) != 0) return;
        Events.GuestExited(g.Ref, exit, detail);
    }

    /// <summary>QEMU dying without a SHUTDOWN of its own is a crash of the domain.</summary>
    private void WatchProcess(QemuGuest g)
    {
        _ = Task.Run(async () =>
        {
            string how;
            if (g.Process is { } p)
            {
                await p.WaitForExitAsync().ConfigureAwait(false);
                how = $"QEMU (pid {g.Pid}) exited with status {p.ExitCode}";
            }
            else
            {
                // Re-attached after a daemon restart: not our child; its monitor closing means it is gone.
                await (g.Qmp?.Closed ?? Task.CompletedTask).ConfigureAwait(false);
                while (Libc.ProcessExists(g.Pid)) await Task.Delay(100).ConfigureAwait(false);
                how = $"QEMU (pid {g.Pid}) exited";
            }
            Report(g, GuestExit.Crash, how + LogTail(LogPath(g.Ref.Uuid)));
        });
    }

    // ---- control --------------------------------------------------------------------------------

    public override async Task DestroyAsync(GuestRef guest, CancellationToken ct)
    {
        if (_guests.TryRemove(guest.Uuid, out var g))
        {
            Interlocked.Exchange(ref g.Finished, 1);
            await KillAsync(g).ConfigureAwait(false);
        }
        else if (ReadPid(guest.Uuid) is { } pid && IsOurQemu(pid, guest.Uuid))
        {
            // Not attached (e.g. a half-recovered domain): its process is still ours to end.
            Libc.Signal(pid, Libc.SIGKILL);
        }
        foreach (var f in new[] { QmpPath(guest.Uuid), SerialPath(guest.Uuid), PidPath(guest.Uuid) }) File.Delete(f);
    }

    /// <summary>Asks QEMU to quit, then kills it if it has not gone within two seconds.</summary>
    private static async Task KillAsync(QemuGuest g)
    {
        if (g.Qmp is { } qmp)
        {
            using var quitTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try { await qmp.ExecuteAsync("quit", null, quitTimeout.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or QmpException or OperationCanceledException) { }
        }
        var deadline = DateTime.UtcNow.AddSeconds(2);
        while (Libc.ProcessExists(g.Pid) && !(g.Process?.HasExited ?? false) && DateTime.UtcNow < deadline)
            await Task.Delay(20).ConfigureAwait(false);
        if (g.Process is { HasExited: false } || (g.Process is null && Libc.ProcessExists(g.Pid)))
            Libc.Signal(g.Pid, Libc.SIGKILL);
        if (g.Process is { } p)
        {
            await p.WaitForExitAsync().ConfigureAwait(false);
            p.Dispose();
        }
        if (g.Qmp is { } q) await q.DisposeAsync().ConfigureAwait(false);
        g.Serial?.Dispose();
        g.Console.Close();
    }

    public override async Task<AttachResult> AttachAsync(GuestRef guest, DomainRecord record, CancellationToken ct)
    {
        var pid = record.VmmPid ?? ReadPid(guest.Uuid);
        if (pid is null || !IsOurQemu(pid.Value, guest.Uuid))
            return new AttachResult(AttachOutcome.Vanished, Detail: "its QEMU process is gone");
        if (record.VmmStartTicks is { } ticks && Libc.ProcessStartTicks(pid.Value) != ticks)
            return new AttachResult(AttachOutcome.Vanished, Detail: $"pid {pid} now belongs to another process");
        var accel = File.ReadAllText($"/proc/{pid}/cmdline").Contains("\0-accel\0kvm\0", StringComparison.Ordinal) ? QemuAccelerator.Kvm : QemuAccelerator.Tcg;
        var g = new QemuGuest(guest, pid.Value, accel);
        try
        {
            g.Qmp = await ConnectMonitorAsync(g, null, ct).ConfigureAwait(false);
            if (File.Exists(SerialPath(guest.Uuid))) g.Serial = await ConnectSerialAsync(g, ct).ConfigureAwait(false);
            g.VcpuThreads = await QueryVcpuThreadsAsync(g.Qmp, ct).ConfigureAwait(false);
            var status = await g.Qmp.ExecuteAsync("query-status", null, ct).ConfigureAwait(false);
            var state = status.GetProperty("status").GetString();
            _guests[guest.Uuid] = g;
            WatchProcess(g);
            return state switch
            {
                "shutdown" or "guest-panicked" => new AttachResult(AttachOutcome.Exited, state == "shutdown" ? GuestExit.Poweroff : GuestExit.Crash, $"QEMU status {state}"),
                _ => new AttachResult(AttachOutcome.Alive, Paused: state is "paused" or "prelaunch"),
            };
        }
        catch (Exception e) when (e is IOException or SocketException or QmpException or TimeoutException)
        {
            return new AttachResult(AttachOutcome.Vanished, Detail: $"cannot reach QEMU (pid {pid}): {e.Message}");
        }
    }

    public override Task PauseAsync(GuestRef guest, CancellationToken ct) => Execute(guest, "stop", ct);

    public override Task UnpauseAsync(GuestRef guest, CancellationToken ct) => Execute(guest, "cont", ct);

    /// <summary>Shutdown presses the ACPI power button; reboot resets the machine (QEMU reports it as a reset shutdown).</summary>
    public override Task RequestShutdownAsync(GuestRef guest, bool reboot, CancellationToken ct) =>
        Execute(guest, reboot ? "system_reset" : "system_powerdown", ct);

    /// <summary>xl trigger over QMP, as libxl does for QEMU: QEMU's inject-nmi reaches every vCPU, whatever <paramref name="vcpu"/> says.</summary>
    public override Task TriggerAsync(GuestRef guest, DomainTrigger trigger, int vcpu, CancellationToken ct) => trigger switch
    {
        DomainTrigger.Power => Execute(guest, "system_powerdown", ct),
        DomainTrigger.Reset => Execute(guest, "system_reset", ct),
        DomainTrigger.Nmi => Execute(guest, "inject-nmi", ct),
        DomainTrigger.S3Resume => Execute(guest, "system_wakeup", ct),
        _ => throw UnsupportedTrigger(trigger, DomainTrigger.Power, DomainTrigger.Reset, DomainTrigger.Nmi, DomainTrigger.S3Resume),
    };

    public override async Task<IReadOnlyList<VcpuInfo>> GetVcpusAsync(GuestRef guest, CancellationToken ct)
    {
        var g = Get(guest);
        var status = await Monitor(g).ExecuteAsync("query-status", null, ct).ConfigureAwait(false);
        var running = status.GetProperty("running").GetBoolean();
        g.VcpuThreads = await QueryVcpuThreadsAsync(Monitor(g), ct).ConfigureAwait(false);
        return [.. g.VcpuThreads.Select((tid, v) =>
        {
            var (cpu, seconds, state) = ThreadStat(g.Pid, tid);
            return new VcpuInfo
            {
                Vcpu = v,
                Cpu = cpu,
                State = !running ? "--p" : state == 'R' ? "r--" : "-b-",
                Time = Math.Round(seconds, 1),
                Hard = ThreadAffinity(g.Pid, tid),
                ThreadId = tid,
            };
        })];
    }

    /// <summary>Hard affinity is the vCPU thread's affinity (sched_setaffinity); Linux has no soft affinity to set.</summary>
    public override async Task PinVcpuAsync(GuestRef guest, int vcpu, string? hard, string? soft, CancellationToken ct)
    {
        var g = Get(guest);
        if (soft is not null && soft != "all")
            throw new ToolstackException(ErrorKind.Unsupported, "the qemu driver cannot set soft affinity (Linux threads have only a hard affinity); pin with a hard CPU list");
        if (hard is null) return;
        var cpus = ParseCpuList(hard, Config.Output.HostInfo.Current.CpuCount);
        g.VcpuThreads = await QueryVcpuThreadsAsync(Monitor(g), ct).ConfigureAwait(false);
        if (vcpu >= g.VcpuThreads.Count)
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}' has no vCPU {vcpu} (it has {g.VcpuThreads.Count})");
        foreach (var tid in vcpu < 0 ? g.VcpuThreads : [g.VcpuThreads[vcpu]])
            if (!Libc.SetThreadAffinity(tid, cpus, out var errno))
                throw new ToolstackException(ErrorKind.Failed, $"domain '{guest.Name}': cannot pin vCPU thread {tid} to '{hard}' (errno {errno})");
    }

    /// <summary>xl's CPU lists for vcpu-pin: <c>all</c>, <c>N</c>, <c>N-M</c>, each optionally <c>^</c>-excluded, comma-separated.</summary>
    internal static SortedSet<int> ParseCpuList(string text, int hostCpus)
    {
        var cpus = new SortedSet<int>();
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var exclude = raw.StartsWith('^');
            var item = exclude ? raw[1..] : raw;
            IEnumerable<int> range;
            if (item == "all") range = Enumerable.Range(0, hostCpus);
            else
            {
                var parts = item.Split('-');
                if (parts.Length is < 1 or > 2 || !parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
                    throw new ToolstackException(ErrorKind.Invalid, $"invalid CPU list '{text}' at '{raw}' (expected all, N, N-M or ^N, comma-separated)");
                var first = int.Parse(parts[0], CultureInfo.InvariantCulture);
                var last = int.Parse(parts[^1], CultureInfo.InvariantCulture);
                if (last < first || last >= hostCpus)
                    throw new ToolstackException(ErrorKind.Invalid, $"CPU list '{text}': '{raw}' is outside the host's CPUs 0-{hostCpus - 1}");
                range = Enumerable.Range(first, last - first + 1);
            }
            foreach (var c in range)
                if (exclude) cpus.Remove(c);
                else cpus.Add(c);
        }
        if (cpus.Count == 0) throw new ToolstackException(ErrorKind.Invalid, $"CPU list '{text}' selects no CPU");
        return cpus;
    }

    /// <summary>A thread's current affinity as the kernel reports it (proc(5) Cpus_allowed_list), "all" when it is every CPU.</summary>
    private static string ThreadAffinity(int pid, int tid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/task/{tid}/status").FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
            var list = line?["Cpus_allowed_list:".Length..].Trim() ?? "all";
            var n = Config.Output.HostInfo.Current.CpuCount;
            return list == (n == 1 ? "0" : $"0-{n - 1}") ? "all" : list;
        }
        catch (IOException) { return "all"; }
    }

    public override Task<double> GetCpuTimeAsync(GuestRef guest, CancellationToken ct) =>
        Task.FromResult(_guests.TryGetValue(guest.Uuid, out var g) ? Math.Round(g.VcpuThreads.Sum(t => ThreadStat(g.Pid, t).Seconds), 1) : 0);

    public override Task<byte[]> ReadConsoleHistoryAsync(GuestRef guest, CancellationToken ct) => Task.FromResult(Get(guest).Console.History());

    public override Task<Stream> OpenConsoleAsync(GuestRef guest, bool replay, CancellationToken ct)
    {
        var g = Get(guest);
        if (g.Serial is null) throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}' has no console (set serial=\"pty\")");
        var reader = g.Console.Attach(replay, out var detach);
        return Task.FromResult<Stream>(new RingConsoleStream(reader, detach, bytes =>
        {
            try { g.Serial.Send(bytes); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }));
    }

    /// <summary>QEMU writes the ELF core itself (dump-guest-memory), with every vCPU's registers as notes.</summary>
    public override async Task WriteCoreDumpAsync(GuestRef guest, string path, CancellationToken ct)
    {
        var g = Get(guest);
        await Monitor(g).ExecuteAsync("dump-guest-memory", new JsonObject { ["paging"] = false, ["protocol"] = $"file:{Path.GetFullPath(path)}" }, ct).ConfigureAwait(false);
    }

    public override DriverDetail? Describe(GuestRef guest) =>
        _guests.TryGetValue(guest.Uuid, out var g)
            ? new DriverDetail { Driver = Name, Accelerator = Word(g.Accelerator), Pid = g.Pid, VcpuThreads = g.VcpuThreads, Version = g.Qmp?.Version }
            : new DriverDetail { Driver = Name };

    private async Task Execute(GuestRef guest, string command, CancellationToken ct)
    {
        try { await Monitor(Get(guest)).ExecuteAsync(command, null, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or QmpException)
        {
            throw new ToolstackException(ErrorKind.Failed, $"domain '{guest.Name}': {e.Message}", e);
        }
    }

    private QemuGuest Get(GuestRef guest) =>
        _guests.TryGetValue(guest.Uuid, out var g) && g.Ref.DomId == guest.DomId
            ? g
            : throw new ToolstackException(ErrorKind.Failed, $"qemu driver has no QEMU for domain '{guest.Name}' (domid {guest.DomId})");

    private static QmpClient Monitor(QemuGuest g) => g.Qmp ?? throw new IOException("QEMU's monitor is not connected");

    private int? ReadPid(Guid uuid)
    {
        try { return int.Parse(File.ReadAllText(PidPath(uuid)).Trim(), CultureInfo.InvariantCulture); }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>The pid is a QEMU started for this domain: its command line names our monitor socket.</summary>
    private bool IsOurQemu(int pid, Guid uuid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Contains(QmpPath(uuid), StringComparison.Ordinal); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>proc(5) /proc/PID/task/TID/stat: state (3), utime+stime (14, 15), processor (39).</summary>
    private static (int Cpu, double Seconds, char State) ThreadStat(int pid, int tid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/task/{tid}/stat");
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
            return (int.Parse(f[36], CultureInfo.InvariantCulture), ticks / 100.0, f[0][0]);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException)
        {
            return (-1, 0, '?');
        }
    }

    private static string LogTail(string path)
    {
        try
        {
            var lines = File.ReadAllLines(path).Where(l => !l.StartsWith("--- domid", StringComparison.Ordinal)).TakeLast(3).ToList();
            return lines.Count == 0 ? "" : $" (QEMU said: {string.Join(" | ", lines)})";
        }
        catch (IOException) { return ""; }
    }

    private static string Word(QemuAccelerator a) => a == QemuAccelerator.Kvm ? "kvm" : "tcg";

    public override async ValueTask DisposeAsync()
    {
        // QEMU processes outlive the daemon (a restarted daemon re-attaches); only the connections end here.
        foreach (var g in _guests.Values)
        {
            Interlocked.Exchange(ref g.Finished, 1);
            if (g.Qmp is { } q) await q.DisposeAsync().ConfigureAwait(false);
            g.Serial?.Dispose();
        }
        _guests.Clear();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
