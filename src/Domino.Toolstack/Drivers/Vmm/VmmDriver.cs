using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Domino.Toolstack.Domains;
using Domino.Toolstack.Interop;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Drivers.Vmm;

/// <summary>
/// Runs each domain in its own VMM process (<see cref="VmmHost"/>) so one guest's VMM dying takes
/// nothing else with it. Direct kernel boot (PVH ELF, 64-bit ELF, bzImage); HVM waits for a qemu driver.
/// The daemon keeps a "watch" connection per guest and hears at once when the guest ends or its VMM dies.
/// </summary>
public sealed partial class VmmDriver : DomainDriver
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan SpareDelay = TimeSpan.FromMilliseconds(50);
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _watches = new();
    private readonly ConcurrentDictionary<Guid, Process> _children = new();
    private readonly StateStore store;
    private readonly SelfCommand _host;
    private readonly SpareVmmHost _spares;

    /// <param name="keepSpare">Keep one warmed-up VMM process ready for the next create (see <see cref="SpareVmmHost"/>).</param>
    /// <param name="host">How to run <c>vmm-host</c>: domino-vmm, or this program again (<see cref="SelfCommand.VmmHost"/>).</param>
    public VmmDriver(StateStore store, SelfCommand host, bool keepSpare = false)
    {
        this.store = store;
        _host = host;
        _spares = new SpareVmmHost(host, store.Root, keepSpare);
        _spares.Replenish();
    }

    public override string Name => "vmm";

    public override IReadOnlyList<Scheduling.Host.VcpuThread> VcpuThreads(GuestRef guest) => VmmScheduling.ReadThreads(store, guest.Uuid);

    public override void PublishGateTable(Guid uuid, Domino.Vmm.Scheduling.GateTable? table) => VmmScheduling.WriteGate(store, uuid, table);

    public override void OnSpareStarted(Action<int> started) => _spares.OnStarted(started);

    internal static string LaunchFile(StateStore store, Guid uuid) => Path.Combine(store.VmmDir, $"{uuid}.launch.json");
    internal static string ErrorFile(StateStore store, Guid uuid) => Path.Combine(store.VmmDir, $"{uuid}.error");

    public override async Task<GuestStarted> StartAsync(GuestRef guest, bool paused, string configJson, CancellationToken ct) =>
        (await StartHostAsync(guest, paused, "status", ct).ConfigureAwait(false)).Started;

    /// <summary>
    /// The guest runs from the start with its console on the VMM process's standard streams, which the
    /// daemon holds from the moment the process exists (VmmLaunch.Console): no connection to make and no
    /// request to send before the first byte. The VMM's console ring holds everything the guest printed
    /// before the attach (the last 64 KiB), so nothing is missed without a pause and a resume around it.
    /// </summary>
    public override async Task<(GuestStarted Started, Stream Console)> StartWithConsoleAsync(GuestRef guest, bool paused, string configJson, CancellationToken ct)
    {
        var (started, _, console) = await StartHostAsync(guest, paused, first: null, ct).ConfigureAwait(false);
        return (started, console);
    }

    private async Task<(GuestStarted Started, VmmResponse FirstAnswer)> StartHostAsync(GuestRef guest, bool paused, string firstRequest, CancellationToken ct)
    {
        var (started, answer, connection) = await StartHostAsync(guest, paused, new VmmRequest(firstRequest), ct).ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
        return (started, answer);
    }

    /// <summary>
    /// Starts the domain's VMM process (the spare, if one is live, else a new one) and waits until it
    /// serves its control socket; <paramref name="first"/> is the first request it serves there, and its
    /// answer is returned with the connection it came on. Without one, the console is attached over the
    /// process's standard streams and returned with the status the VMM sends first.
    /// </summary>
    private async Task<(GuestStarted Started, VmmResponse FirstAnswer, Stream Connection)> StartHostAsync(GuestRef guest, bool paused, VmmRequest? first, CancellationToken ct)
    {
        if (guest.Spec.Type == GuestType.Hvm) throw Unsupported("hvm guests");
        if (guest.Spec.Kernel is null)
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}' has no kernel= (the vmm driver boots a kernel directly)");
        if (!File.Exists(guest.Spec.Kernel))
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}': kernel {guest.Spec.Kernel} not found");

        var console = first is null;
        foreach (var f in new[] { store.VmmExitFile(guest.Uuid), ErrorFile(store, guest.Uuid), store.VmmPidFile(guest.Uuid) }) TryDelete(f);
        AtomicFile.Write(LaunchFile(store, guest.Uuid), JsonSerializer.SerializeToUtf8Bytes(
            new VmmLaunch { Uuid = guest.Uuid, DomId = guest.DomId, Name = guest.Name, Spec = guest.Spec, Paused = paused, Console = console }, VmmWire.Json.VmmLaunch));

        var child = _spares.Take(guest.Uuid, keepInput: console) ?? StartHost(guest, console);
        var process = child.Process;
        _children[guest.Uuid] = process; // kept so the runtime reaps it when it exits
        VmmResponse answer;
        Stream connection;
        try { (answer, connection) = await WaitUntilServingAsync(guest, child, first, ct).ConfigureAwait(false); }
        finally
        {
            // The next spare starts a little after this guest is built: forking this process and warming a
            // new VMM take a core's worth of CPU for a while, which the guest's first instructions, the rest
            // of the create and the client showing the console (on a 2-core host) would otherwise share.
            _spares.Replenish(SpareDelay);
        }
        Watch(guest, process.Id);
        return (new GuestStarted(process.Id, Libc.ProcessStartTicks(process.Id)), answer, connection);
    }

    /// <summary>
    /// Waits for the VMM process's first line on its standard output: <see cref="VmmHost.ServingLine"/>,
    /// after which <paramref name="first"/> goes to its control socket and the answer comes back with the
    /// connection (which stays open for a console); or, without <paramref name="first"/>, the status line
    /// of a console on the standard streams, returned with them. Fails with the VMM's own error when the
    /// process ends first, or kills it when it takes longer than <see cref="StartLimit"/>.
    /// </summary>
    private async Task<(VmmResponse Answer, Stream Connection)> WaitUntilServingAsync(GuestRef guest, VmmChild child, VmmRequest? first, CancellationToken ct)
    {
        var process = child.Process;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(StartLimit);
        var output = new StdioConsole(child.Stdout, process.StandardOutput.BaseStream, first is null ? process.StandardInput.BaseStream : null);
        try
        {
            var line = await output.ReadLineAsync(limit.Token).ConfigureAwait(false);
            if (line is null)
            {
                // End of file without the line: the host gave up (its error file says why) or died.
                await output.DisposeAsync().ConfigureAwait(false);
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
                var why = File.Exists(ErrorFile(store, guest.Uuid)) ? await File.ReadAllTextAsync(ErrorFile(store, guest.Uuid), ct).ConfigureAwait(false) : $"VMM process exited with status {process.ExitCode}";
                throw new ToolstackException(ErrorKind.Failed, $"cannot start domain '{guest.Name}': {why}");
            }
            if (first is null) return (JsonSerializer.Deserialize(line, VmmWire.Json.VmmResponse)!, output);
            await output.DisposeAsync().ConfigureAwait(false);
            if (line != VmmHost.ServingLine) throw new IOException($"the VMM process said '{line}' where it says '{VmmHost.ServingLine}'");
            return await OpenAsync(guest.Uuid, first, limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await output.DisposeAsync().ConfigureAwait(false);
            Libc.Signal(process.Id, Libc.SIGKILL);
            throw new ToolstackException(ErrorKind.Failed, $"the VMM process for domain '{guest.Name}' did not come up within {StartLimit.TotalSeconds:0} s (see {store.VmmLog(guest.Uuid)})");
        }
        catch
        {
            await output.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A VMM process's standard output (after its first line: the console's output) and standard input
    /// (the console's input, when there is one). Disposing closes both: the VMM's console ends.
    /// The output is read on a thread of its own (<see cref="InlineReadStream"/>), which runs what
    /// awaits it, the daemon's relay of a create -c console to its client, as soon as the bytes come.
    /// </summary>
    private sealed class StdioConsole(InlineReadStream output, Stream stdout, Stream? input) : UnseekableStream
    {
        private readonly byte[] _buffer = new byte[4096];
        private int _start, _end;

        /// <summary>One line without its newline; null at end of stream.</summary>
        public async Task<string?> ReadLineAsync(CancellationToken ct)
        {
            var line = new List<byte>();
            while (true)
            {
                if (_start == _end)
                {
                    (_start, _end) = (0, await output.ReadAsync(_buffer, ct).ConfigureAwait(false));
                    if (_end == 0) return null;
                }
                var lf = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                var stop = lf < 0 ? _end : lf;
                line.AddRange(_buffer.AsSpan(_start, stop - _start));
                _start = lf < 0 ? _end : lf + 1;
                if (lf >= 0) return System.Text.Encoding.UTF8.GetString([.. line]);
                if (line.Count > 1 << 20) throw new IOException("VMM status line too long");
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken ct = default)
        {
            if (_start == _end) return await output.ReadAsync(destination, ct).ConfigureAwait(false);
            var n = Math.Min(destination.Length, _end - _start);
            _buffer.AsMemory(_start, n).CopyTo(destination);
            _start += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();
        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken ct = default)
        {
            if (input is null) throw new NotSupportedException("this VMM process takes no console input");
            await input.WriteAsync(source, ct).ConfigureAwait(false);
            await input.FlushAsync(ct).ConfigureAwait(false);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override bool CanRead => true;
        public override bool CanWrite => input is not null;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                try { input?.Dispose(); } catch (IOException) { } // the VMM may be gone: a broken pipe
                output.Dispose();
                stdout.Dispose(); // the last read end: the VMM's writes fail from here on
            }
            base.Dispose(disposing);
        }
    }

    private VmmChild StartHost(GuestRef guest, bool console)
    {
        var psi = _host.StartInfo("vmm-host", "--state-dir", store.Root, "--uuid", guest.Uuid.ToString());
        psi.RedirectStandardOutput = true; // VmmHost.ServingLine, or a console's output
        psi.RedirectStandardInput = console;
        return VmmChild.Start(psi) ?? throw new ToolstackException(ErrorKind.Failed, $"cannot start the VMM process for domain '{guest.Name}'");
    }

    public override async Task DestroyAsync(GuestRef guest, CancellationToken ct)
    {
        // Launch file first, pid file second: see VmmHost for why this order leaves no orphan.
        TryDelete(LaunchFile(store, guest.Uuid));
        if (_watches.TryRemove(guest.Uuid, out var watch)) await watch.CancelAsync().ConfigureAwait(false);
        var pid = ReadPid(guest.Uuid);
        if (pid is { } p && Libc.IsSameProcess(p.Pid, p.StartTicks))
        {
            try { await RequestAsync(guest.Uuid, "destroy", ct, TimeSpan.FromSeconds(2)).ConfigureAwait(false); }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ToolstackException) { }
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(3);
            while (Libc.IsSameProcess(p.Pid, p.StartTicks) && DateTime.UtcNow < deadline) await Task.Delay(5, ct).ConfigureAwait(false);
            if (Libc.IsSameProcess(p.Pid, p.StartTicks)) Libc.Signal(p.Pid, Libc.SIGKILL);
        }
        if (_children.TryRemove(guest.Uuid, out var child))
        {
            using (child) await child.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        foreach (var f in new[] { store.VmmPidFile(guest.Uuid), store.VmmExitFile(guest.Uuid), store.VmmSocket(guest.Uuid), ErrorFile(store, guest.Uuid) }) TryDelete(f);
    }

    public override async Task<AttachResult> AttachAsync(GuestRef guest, DomainRecord record, CancellationToken ct)
    {
        var pid = ReadPid(guest.Uuid);
        if (pid is { } p && Libc.IsSameProcess(p.Pid, p.StartTicks))
        {
            try
            {
                var status = await RequestAsync(guest.Uuid, "status", ct).ConfigureAwait(false);
                if (status.State == "exited" && VmmWire.ToGuestExit(status.ExitReason) is { } exit)
                    return new AttachResult(AttachOutcome.Exited, exit, status.ExitDetail ?? "");
                Watch(guest, p.Pid);
                return new AttachResult(AttachOutcome.Alive, Paused: status.State is "paused" or "created");
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                return new AttachResult(AttachOutcome.Vanished, Detail: $"VMM process {p.Pid} does not answer on its control socket");
            }
        }
        if (File.Exists(store.VmmExitFile(guest.Uuid)))
        {
            var rec = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(store.VmmExitFile(guest.Uuid), ct).ConfigureAwait(false), VmmWire.Json.VmmExitRecord);
            if (VmmWire.ToGuestExit(rec?.Reason) is { } exit) return new AttachResult(AttachOutcome.Exited, exit, rec!.Detail);
        }
        return new AttachResult(AttachOutcome.Vanished, Detail: pid is null ? "no VMM pid file" : $"VMM process {pid.Value.Pid} is gone");
    }

    public override Task PauseAsync(GuestRef guest, CancellationToken ct) => Checked(guest, "pause", ct);
    public override Task UnpauseAsync(GuestRef guest, CancellationToken ct) => Checked(guest, "resume", ct);

    /// <summary>
    /// The VMM has no PV control channel, so it asks the way a PC does: shutdown presses the ACPI
    /// power button, reboot types Ctrl-Alt-Del on the i8042 keyboard. The guest decides; whatever it
    /// does (power-off, reset, nothing) comes back through the watch.
    /// </summary>
    public override Task RequestShutdownAsync(GuestRef guest, bool reboot, CancellationToken ct) =>
        Checked(guest, reboot ? "ctrl-alt-del" : "power-button", ct, reboot ? "reboot" : "shutdown");

    public override Task TriggerAsync(GuestRef guest, DomainTrigger trigger, int vcpu, CancellationToken ct) => trigger switch
    {
        DomainTrigger.Power => Checked(guest, "power-button", ct, "trigger power"),
        DomainTrigger.Reset => Checked(guest, "reset", ct, "trigger reset"),
        DomainTrigger.Nmi when vcpu >= guest.Spec.Vcpus =>
            throw new ToolstackException(ErrorKind.Invalid, $"domain '{guest.Name}' runs {guest.Spec.Vcpus} vcpu(s) in its VMM: no vcpu {vcpu}"),
        DomainTrigger.Nmi => Checked(guest, "nmi", ct, "trigger nmi", vcpu.ToString(CultureInfo.InvariantCulture)),
        _ => throw UnsupportedTrigger(trigger, DomainTrigger.Power, DomainTrigger.Reset, DomainTrigger.Nmi),
    };

    public override async Task<IReadOnlyList<VcpuInfo>> GetVcpusAsync(GuestRef guest, CancellationToken ct)
    {
        var status = await RequestAsync(guest.Uuid, "status", ct).ConfigureAwait(false);
        var state = status.State == "running" ? "-b-" : "--p";
        return [.. Enumerable.Range(0, guest.Spec.Vcpus).Select(v => new VcpuInfo
        {
            Vcpu = v, State = state, Time = v == 0 ? status.CpuTime : 0, Hard = guest.Spec.Cpus ?? "all", Soft = guest.Spec.CpusSoft ?? "all",
        })];
    }

    public override async Task<double> GetCpuTimeAsync(GuestRef guest, CancellationToken ct)
    {
        try { return (await RequestAsync(guest.Uuid, "stats", ct, TimeSpan.FromSeconds(1)).ConfigureAwait(false)).CpuTime; }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException) { return 0; }
    }

    public override async Task<byte[]> ReadConsoleHistoryAsync(GuestRef guest, CancellationToken ct)
    {
        var r = await RequestAsync(guest.Uuid, "history", ct).ConfigureAwait(false);
        return Convert.FromBase64String(r.History ?? "");
    }

    public override async Task<Stream> OpenConsoleAsync(GuestRef guest, bool replay, CancellationToken ct)
    {
        try { return (await OpenAsync(guest.Uuid, new VmmRequest("console", replay), ct).ConfigureAwait(false)).Connection; }
        catch (IOException) { throw new ToolstackException(ErrorKind.Failed, $"the VMM of domain '{guest.Name}' closed its console"); }
    }

    public override async Task WriteCoreDumpAsync(GuestRef guest, string path, CancellationToken ct)
    {
        var r = await RequestAsync(guest.Uuid, "dump", ct, TimeSpan.FromMinutes(5), path).ConfigureAwait(false);
        if (!r.Ok) throw new ToolstackException(ErrorKind.Failed, $"core dump of domain '{guest.Name}' failed: {r.Error}");
    }

    private async Task Checked(GuestRef guest, string op, CancellationToken ct, string? what = null, string? data = null)
    {
        var r = await RequestAsync(guest.Uuid, op, ct, data: data).ConfigureAwait(false);
        if (!r.Ok) throw new ToolstackException(ErrorKind.Failed, $"{what ?? op} of domain '{guest.Name}' failed in its VMM: {r.Error}");
    }

    /// <summary>Holds a watch connection; reports the guest's end, or its VMM's death, to the toolstack.</summary>
    private void Watch(GuestRef guest, int pid)
    {
        var cts = new CancellationTokenSource();
        if (_watches.TryGetValue(guest.Uuid, out var old)) old.Cancel();
        _watches[guest.Uuid] = cts;
        _ = Task.Run(async () =>
        {
            VmmResponse? answer = null;
            try
            {
                await using var stream = await ConnectAsync(guest.Uuid, cts.Token).ConfigureAwait(false);
                await stream.WriteAsync(VmmWire.Line(new VmmRequest("watch"), VmmWire.Json.VmmRequest), cts.Token).ConfigureAwait(false);
                var line = await VmmWire.ReadLineAsync(stream, cts.Token).ConfigureAwait(false);
                if (line is not null) answer = JsonSerializer.Deserialize(line, VmmWire.Json.VmmResponse);
            }
            catch (OperationCanceledException) { return; }
            catch (Exception e) when (e is SocketException or IOException or JsonException) { }
            if (cts.IsCancellationRequested) return;
            _watches.TryRemove(new KeyValuePair<Guid, CancellationTokenSource>(guest.Uuid, cts));
            if (answer is not null && VmmWire.ToGuestExit(answer.ExitReason) is { } exit)
                Events.GuestExited(guest, exit, answer.ExitDetail ?? "");
            else if (answer?.ExitReason != "stopped")
                Events.GuestExited(guest, GuestExit.Crash, $"VMM process {pid} died");
        });
    }

    private async Task<VmmResponse> RequestAsync(Guid uuid, string op, CancellationToken ct, TimeSpan? limit = null, string? path = null, string? data = null)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(limit ?? TimeSpan.FromSeconds(10));
        var (answer, connection) = await OpenAsync(uuid, new VmmRequest(op, Path: path, Data: data), timeout.Token).ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
        return answer;
    }

    /// <summary>Sends one request on a new control connection; returns the answer and the connection (a console continues on it).</summary>
    private async Task<(VmmResponse Answer, NetworkStream Connection)> OpenAsync(Guid uuid, VmmRequest request, CancellationToken ct)
    {
        var stream = await ConnectAsync(uuid, ct).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(VmmWire.Line(request, VmmWire.Json.VmmRequest), ct).ConfigureAwait(false);
            var line = await VmmWire.ReadLineAsync(stream, ct).ConfigureAwait(false)
                ?? throw new IOException($"VMM control socket closed without answering '{request.Op}'");
            return (JsonSerializer.Deserialize(line, VmmWire.Json.VmmResponse)!, stream);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<NetworkStream> ConnectAsync(Guid uuid, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(store.VmmSocket(uuid)), ct).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private (int Pid, long? StartTicks)? ReadPid(Guid uuid)
    {
        try
        {
            var parts = File.ReadAllText(store.VmmPidFile(uuid)).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length == 0 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var pid)) return null;
            long? ticks = parts.Length > 1 && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var t) ? t : null;
            return (pid, ticks);
        }
        catch (IOException) { return null; }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { }
    }

    public override async ValueTask DisposeAsync()
    {
        _spares.Dispose();
        foreach (var w in _watches.Values) await w.CancelAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
