using System.Text.Json.Serialization;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Drivers.Test;

/// <summary>
/// A complete fake hypervisor (libvirt's test://): guests that boot, print to their console, echo
/// console input, pause, obey shutdown and reboot requests, and can be made to power off, reboot, crash
/// or trip a watchdog. Each guest is also a marker file under <c>STATE/test/</c>, standing for the
/// process a real driver would leave running: a restarted daemon re-attaches to the guests whose
/// marker is there and finds the others vanished.
/// <para>Kernel command line knobs: <c>test.on_boot=poweroff|reboot|crash|watchdog</c> makes the guest
/// do that right after booting; <c>test.start_delay_ms=N</c> slows creation (for concurrency tests).</para>
/// </summary>
public sealed partial class TestDriver : DomainDriver
{
    private readonly string? _markerDir;
    private readonly ConcurrentDictionary<Guid, TestGuest> _guests = new();

    /// <param name="stateDir">Where guest markers live; null keeps guests purely in memory.</param>
    public TestDriver(string? stateDir)
    {
        if (stateDir is not null)
        {
            _markerDir = Path.Combine(stateDir, "test");
            Directory.CreateDirectory(_markerDir);
        }
    }

    public override string Name => "test";

    /// <summary>Delay applied to every create, on top of any <c>test.start_delay_ms</c> (tests set it).</summary>
    public TimeSpan StartDelay { get; set; }

    /// <summary>When set, every create waits inside the driver until it completes (tests hold creates in flight with it).</summary>
    public Task? StartGate { get; set; }

    private int _startsInFlight;

    /// <summary>Creates currently inside <see cref="StartAsync"/>.</summary>
    public int StartsInFlight => Volatile.Read(ref _startsInFlight);

    private sealed class TestGuest(GuestRef guest)
    {
        public GuestRef Ref { get; set; } = guest;
        public bool Paused { get; set; }
        public int Vcpus { get; set; } = guest.Spec.Vcpus;
        public long MemoryMb { get; set; } = guest.Spec.MemoryMb;
        public long MaxMemMb { get; set; } = guest.Spec.EffectiveMaxMemMb;
        public readonly Dictionary<int, (string Hard, string Soft)> Pins = [];
        public ConsoleRing Console { get; } = new();
        public DateTimeOffset Started { get; set; } = DateTimeOffset.UtcNow;
        public bool Exited { get; set; }
        public bool Booted { get; set; }
        /// <summary>The power button was pressed while paused: the guest sees it when it runs again.</summary>
        public bool PowerButtonPending { get; set; }
        public int Nmis { get; set; }
    }

    public override async Task<GuestStarted> StartAsync(GuestRef guest, bool paused, string configJson, CancellationToken ct)
    {
        if (guest.Spec.Type == GuestType.Hvm && guest.Spec.Kernel is null)
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}': an hvm guest needs a kernel for the test driver");
        var delay = StartDelay + TimeSpan.FromMilliseconds(Knob(guest.Spec, "test.start_delay_ms") is { } ms && int.TryParse(ms, out var v) ? v : 0);
        Interlocked.Increment(ref _startsInFlight);
        try
        {
            if (StartGate is { } gate) await gate.WaitAsync(ct).ConfigureAwait(false);
            if (delay > TimeSpan.Zero) await Task.Delay(delay, ct).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _startsInFlight);
        }

        var g = new TestGuest(guest) { Paused = paused };
        _guests[guest.Uuid] = g;
        WriteMarker(g);
        g.Console.Write(Encoding.ASCII.GetBytes($"test guest {guest.Name} (domid {guest.DomId}) booting with {guest.Spec.MemoryMb} MiB, {guest.Spec.Vcpus} vCPU(s)\n"));
        if (!paused) Boot(g);
        return new GuestStarted();
    }

    /// <summary>The guest's vCPUs run for the first time: print the banner and obey test.on_boot.</summary>
    private void Boot(TestGuest g)
    {
        g.Booted = true;
        g.Console.Write(Encoding.ASCII.GetBytes($"{g.Ref.Name}: running\n"));
        var onBoot = Knob(g.Ref.Spec, "test.on_boot");
        if (onBoot is null) return;
        var exit = onBoot switch
        {
            "poweroff" => GuestExit.Poweroff,
            "reboot" => GuestExit.Reboot,
            "watchdog" => GuestExit.Watchdog,
            "soft-reset" => GuestExit.SoftReset,
            _ => GuestExit.Crash,
        };
        var r = g.Ref;
        _ = Task.Run(async () =>
        {
            await Task.Delay(20).ConfigureAwait(false);
            Exit(r, exit, $"test.on_boot={onBoot}");
        });
    }

    private void Exit(GuestRef guest, GuestExit exit, string detail)
    {
        if (!_guests.TryGetValue(guest.Uuid, out var g) || g.Ref.DomId != guest.DomId) return;
        lock (g)
        {
            if (g.Exited) return;
            g.Exited = true;
        }
        g.Console.Write(Encoding.ASCII.GetBytes($"{guest.Name}: {exit.ToString().ToLowerInvariant()}\n"));
        Events.GuestExited(guest, exit, detail);
    }

    public override Task DestroyAsync(GuestRef guest, CancellationToken ct)
    {
        if (_guests.TryRemove(guest.Uuid, out var g)) g.Console.Close();
        if (_markerDir is not null) File.Delete(MarkerPath(guest.Uuid));
        return Task.CompletedTask;
    }

    public override Task<AttachResult> AttachAsync(GuestRef guest, DomainRecord record, CancellationToken ct)
    {
        if (_markerDir is null || !File.Exists(MarkerPath(guest.Uuid)))
            return Task.FromResult(new AttachResult(AttachOutcome.Vanished, Detail: "test guest marker is gone"));
        var marker = JsonSerializer.Deserialize(File.ReadAllBytes(MarkerPath(guest.Uuid)), ToolstackJson.Default.TestGuestMarker);
        if (marker is null || marker.DomId != guest.DomId)
            return Task.FromResult(new AttachResult(AttachOutcome.Vanished, Detail: "test guest marker belongs to another incarnation"));
        var g = new TestGuest(guest) { Paused = marker.Paused, Vcpus = marker.Vcpus, MemoryMb = marker.MemoryMb, Booted = true };
        _guests[guest.Uuid] = g;
        return Task.FromResult(new AttachResult(AttachOutcome.Alive, Paused: marker.Paused));
    }

    public override Task PauseAsync(GuestRef guest, CancellationToken ct) => Update(guest, g => g.Paused = true);

    public override Task UnpauseAsync(GuestRef guest, CancellationToken ct)
    {
        var g = Get(guest);
        g.Paused = false;
        WriteMarker(g);
        if (!g.Booted) Boot(g);
        if (g.PowerButtonPending)
        {
            g.PowerButtonPending = false;
            PowerOffSoon(guest, "power button");
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// xl trigger on the fake guest: it answers the power button by powering off (once it runs: a
    /// press while paused waits), the reset line ends it as a reboot at once, an NMI is logged on
    /// its console. init, sleep and s3resume are refused, as on the vmm driver.
    /// </summary>
    public override Task TriggerAsync(GuestRef guest, DomainTrigger trigger, int vcpu, CancellationToken ct)
    {
        var g = Get(guest);
        switch (trigger)
        {
            case DomainTrigger.Power when g.Paused || !g.Booted:
                g.PowerButtonPending = true;
                break;
            case DomainTrigger.Power:
                PowerOffSoon(guest, "power button");
                break;
            case DomainTrigger.Reset:
                Exit(guest, GuestExit.Reboot, "hard reset (trigger reset)");
                break;
            case DomainTrigger.Nmi:
                if (vcpu >= g.Vcpus)
                    throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}' has {g.Vcpus} vcpu(s) online: no vcpu {vcpu}");
                g.Nmis++;
                g.Console.Write(Encoding.ASCII.GetBytes($"{guest.Name}: NMI on vcpu {vcpu} ({g.Nmis} so far)\n"));
                break;
            default:
                throw UnsupportedTrigger(trigger, DomainTrigger.Power, DomainTrigger.Reset, DomainTrigger.Nmi);
        }
        return Task.CompletedTask;
    }

    private void PowerOffSoon(GuestRef guest, string why) => _ = Task.Run(async () =>
    {
        await Task.Delay(10).ConfigureAwait(false);
        Exit(guest, GuestExit.Poweroff, why);
    });

    public override Task RequestShutdownAsync(GuestRef guest, bool reboot, CancellationToken ct)
    {
        Get(guest);
        // The fake guest honours the request a moment later, as a real one would after its shutdown path.
        _ = Task.Run(async () =>
        {
            await Task.Delay(10).ConfigureAwait(false);
            Exit(guest, reboot ? GuestExit.Reboot : GuestExit.Poweroff, reboot ? "reboot requested" : "shutdown requested");
        });
        return Task.CompletedTask;
    }

    public override Task SetVcpusAsync(GuestRef guest, int count, CancellationToken ct) => Update(guest, g => g.Vcpus = count);

    public override Task PinVcpuAsync(GuestRef guest, int vcpu, string? hard, string? soft, CancellationToken ct) => Update(guest, g =>
    {
        var vcpus = vcpu < 0 ? Enumerable.Range(0, guest.Spec.EffectiveMaxVcpus) : [vcpu];
        foreach (var v in vcpus)
        {
            var old = g.Pins.TryGetValue(v, out var p) ? p : (guest.Spec.Cpus ?? "all", guest.Spec.CpusSoft ?? "all");
            g.Pins[v] = (hard ?? old.Item1, soft ?? old.Item2);
        }
    });

    public override Task SetMemoryAsync(GuestRef guest, long targetMb, CancellationToken ct) => Update(guest, g => g.MemoryMb = targetMb);
    public override Task SetMaxMemoryAsync(GuestRef guest, long maxMb, CancellationToken ct) => Update(guest, g => g.MaxMemMb = maxMb);

    public override Task<IReadOnlyList<VcpuInfo>> GetVcpusAsync(GuestRef guest, CancellationToken ct)
    {
        var g = Get(guest);
        var seconds = (DateTimeOffset.UtcNow - g.Started).TotalSeconds;
        IReadOnlyList<VcpuInfo> list = [.. Enumerable.Range(0, guest.Spec.EffectiveMaxVcpus).Select(v =>
        {
            var pin = g.Pins.TryGetValue(v, out var p) ? p : (guest.Spec.Cpus ?? "all", guest.Spec.CpusSoft ?? "all");
            var online = v < g.Vcpus;
            return new VcpuInfo
            {
                Vcpu = v,
                Cpu = online ? v % Config.Output.HostInfo.Current.CpuCount : -1,
                State = !online ? "--p" : g.Paused ? "--p" : "-b-",
                Time = online ? Math.Round(seconds * 0.01, 1) : 0,
                Hard = pin.Item1,
                Soft = pin.Item2,
                Online = online,
            };
        })];
        return Task.FromResult(list);
    }

    public override Task<double> GetCpuTimeAsync(GuestRef guest, CancellationToken ct) =>
        Task.FromResult(_guests.TryGetValue(guest.Uuid, out var g) ? Math.Round((DateTimeOffset.UtcNow - g.Started).TotalSeconds * 0.01 * g.Vcpus, 1) : 0);

    public override Task<byte[]> ReadConsoleHistoryAsync(GuestRef guest, CancellationToken ct) => Task.FromResult(Get(guest).Console.History());

    public override Task<Stream> OpenConsoleAsync(GuestRef guest, bool replay, CancellationToken ct)
    {
        var g = Get(guest);
        var reader = g.Console.Attach(replay, out var detach);
        // The fake guest's console echoes what it is sent, like guests/echo.
        return Task.FromResult<Stream>(new RingConsoleStream(reader, detach, bytes => g.Console.Write(bytes)));
    }

    public override async Task WriteCoreDumpAsync(GuestRef guest, string path, CancellationToken ct)
    {
        var g = Get(guest);
        // Fake guest memory: the console history at guest-physical 0x1000, the rest of the first MiB zero.
        var memory = new byte[1 << 20];
        var history = g.Console.History();
        history.AsSpan(0, Math.Min(history.Length, memory.Length - 0x1000)).CopyTo(memory.AsSpan(0x1000));
        var vcpus = Enumerable.Range(0, g.Vcpus).Select(v => new VcpuRegisters { Rip = 0x100000u + (ulong)v, Rsp = 0x8000, Cs = 0x10, Ss = 0x18, Rflags = 0x2 }).ToList();
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        ElfCore.Write(file, vcpus, [MemoryRegion.FromBytes(0, memory)]);
    }

    public override Task SoftResetAsync(GuestRef guest, CancellationToken ct)
    {
        var g = Get(guest);
        lock (g) g.Exited = false;
        g.Started = DateTimeOffset.UtcNow;
        g.Console.Write(Encoding.ASCII.GetBytes($"{guest.Name}: soft reset\n"));
        return Task.CompletedTask;
    }

    public override Task InjectAsync(GuestRef guest, GuestExit exit, CancellationToken ct)
    {
        Get(guest);
        Exit(guest, exit, "injected");
        return Task.CompletedTask;
    }

    private TestGuest Get(GuestRef guest) =>
        _guests.TryGetValue(guest.Uuid, out var g) && g.Ref.DomId == guest.DomId
            ? g
            : throw new ToolstackException(ErrorKind.Failed, $"test driver has no guest for domain '{guest.Name}' (domid {guest.DomId})");

    private Task Update(GuestRef guest, Action<TestGuest> change)
    {
        var g = Get(guest);
        change(g);
        WriteMarker(g);
        return Task.CompletedTask;
    }

    private string MarkerPath(Guid uuid) => Path.Combine(_markerDir!, $"{uuid}.json");

    private void WriteMarker(TestGuest g)
    {
        if (_markerDir is null) return;
        var marker = new TestGuestMarker { DomId = g.Ref.DomId, Name = g.Ref.Name, Paused = g.Paused, Vcpus = g.Vcpus, MemoryMb = g.MemoryMb };
        AtomicFile.Write(MarkerPath(g.Ref.Uuid), JsonSerializer.SerializeToUtf8Bytes(marker, ToolstackJson.Default.TestGuestMarker));
    }

    /// <summary>Guest names known to the driver: every marker, recorded or not (tests look for orphans here).</summary>
    public IReadOnlyList<Guid> MarkedGuests() =>
        _markerDir is null ? [] : [.. Directory.EnumerateFiles(_markerDir, "*.json").Select(f => Guid.Parse(Path.GetFileNameWithoutExtension(f)))];

    private static string? Knob(DomainSpec spec, string key)
    {
        foreach (var word in (spec.Cmdline ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            if (word.StartsWith(key + "=", StringComparison.Ordinal)) return word[(key.Length + 1)..];
        return null;
    }
}

/// <summary>The test driver's stand-in for a running guest process.</summary>
public sealed record TestGuestMarker
{
    [JsonPropertyName("domid")] public int DomId { get; init; }
    public string Name { get; init; } = "";
    public bool Paused { get; init; }
    public int Vcpus { get; init; }
    public long MemoryMb { get; init; }
}
