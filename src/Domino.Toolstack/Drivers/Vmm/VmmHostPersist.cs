using System.Text;
using System.Text.Json;
using Domino.Toolstack.Api;
using Domino.Toolstack.Store;
using Domino.Vmm;
using Domino.Vmm.Persist;

namespace Domino.Toolstack.Drivers.Vmm;

/// <summary>The VMM process's side of save and restore.</summary>
internal static class VmmHostPersist
{
    /// <summary><c>vmm/UUID.restore</c>: the state file a VMM process restores its guest from instead of booting.</summary>
    public static string RestoreFile(StateStore store, Guid uuid) => Path.Combine(store.VmmDir, $"{uuid}.restore");

    /// <summary><c>vmm/UUID.incoming</c>: "migrate" or "remus" — the guest arrives over <see cref="IncomingSocket"/> instead of booting.</summary>
    public static string IncomingFile(StateStore store, Guid uuid) => Path.Combine(store.VmmDir, $"{uuid}.incoming");

    public static string IncomingSocket(StateStore store, Guid uuid) => Path.Combine(store.VmmDir, $"{uuid}.in.sock");

    /// <summary>The guest's console output, held back per Remus epoch while it is protected.</summary>
    private static EpochConsoleBuffer? s_console;

    private static readonly Lock s_lock = new();
    private static CancellationTokenSource? s_remus;

    /// <summary>The restore this process made, for the daemon's "restore-report"; null when it booted or received its guest.</summary>
    private static PersistReport? s_restored;

    /// <summary>
    /// Boots <paramref name="config"/>; or, when the daemon asked, rebuilds the saved guest from a
    /// state file, receives a migrating guest, or becomes a Remus backup — with this process's console.
    /// A <paramref name="shell"/> made ahead (the spare's) is used if the guest fits it, and disposed
    /// if not: a guest with RAM above 4 GiB is built from scratch.
    /// </summary>
    public static VirtualMachine BuildOrRestore(StateStore store, Guid uuid, VmConfig config, VmShell? shell = null)
    {
        try
        {
            var vm = BuildOrRestoreIn(store, uuid, config, shell);
            if (shell is not null)
                config.Log?.Invoke(vm.InShell ? "built in the VM shell made ahead" : $"built from scratch: the guest ({config.MemoryMiB} MiB, {config.Vcpus} vCPUs) does not fit the VM shell made ahead");
            return vm;
        }
        finally
        {
            shell?.Dispose(); // frees the shell's KVM objects if the guest did not take them
        }
    }

    private static VirtualMachine BuildOrRestoreIn(StateStore store, Guid uuid, VmConfig config, VmShell? shell)
    {
        s_console = new EpochConsoleBuffer(config.ConsoleOutput ?? Stream.Null);
        config = new VmConfig
        {
            KernelPath = config.KernelPath, RamdiskPath = config.RamdiskPath, CommandLine = config.CommandLine, MemoryMiB = config.MemoryMiB,
            Vcpus = config.Vcpus, Disks = config.Disks, VirtioConsole = config.VirtioConsole, ConsoleInput = config.ConsoleInput,
            ConsoleOutput = s_console, Log = config.Log,
        };
        var incoming = IncomingFile(store, uuid);
        if (File.Exists(incoming)) return Receive(store, uuid, File.ReadAllText(incoming).Trim(), config, shell);
        var marker = RestoreFile(store, uuid);
        if (!File.Exists(marker)) return VirtualMachine.Build(config, shell);
        var path = File.ReadAllText(marker).Trim();
        var vm = VirtualMachine.RestoreFromFile(path, new RestoreOptions
        {
            ConsoleOutput = config.ConsoleOutput,
            ConsoleInput = config.ConsoleInput,
            Log = config.Log,
            // The file was checked whole by the daemon just before; map memory on demand.
            VerifyMemory = false,
            Shell = shell,
        }, out var report);
        s_restored = report;
        config.Log?.Invoke($"restored from {path} in {report.Elapsed.TotalMilliseconds:0.000} ms{(report.InShell ? " in the VM shell made ahead" : "")}: " +
            string.Join(", ", report.Phases));
        return vm;
    }

    /// <summary>The "restore-report" request: this process's restore figures (JSON <see cref="PersistFigures"/>), or null if it did not restore.</summary>
    public static string? RestoreReport() =>
        s_restored is { } r ? JsonSerializer.Serialize(Figures(r), MigrationJson.Default.PersistFigures) : null;

    /// <summary>The "save" request: the daemon has paused the guest; writes the state file with the domain record inside.</summary>
    public static string Save(VirtualMachine vm, VmmRequest request)
    {
        var path = request.Path ?? throw new InvalidOperationException("save needs a path");
        try
        {
            var report = vm.SaveToFile(path, null, Encoding.UTF8.GetBytes(request.Data ?? ""));
            return JsonSerializer.Serialize(Figures(report), MigrationJson.Default.PersistFigures);
        }
        catch (Exception e) when (e is SnapshotException or Domino.Vmm.Interop.KvmException or UnauthorizedAccessException)
        {
            throw new IOException(e.Message, e);
        }
    }

    /// <summary>Accepts the daemon's relay of the migration stream on <see cref="IncomingSocket"/> and receives the guest.</summary>
    private static VirtualMachine Receive(StateStore store, Guid uuid, string mode, VmConfig config, VmShell? shell)
    {
        var path = IncomingSocket(store, uuid);
        try { File.Delete(path); } catch (IOException) { }
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        listener.Listen(1);
        var socket = listener.Accept();
        try { File.Delete(path); } catch (IOException) { }
        var stream = new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        var channel = new MigrationChannel(stream);
        var options = new RestoreOptions { ConsoleOutput = config.ConsoleOutput, ConsoleInput = config.ConsoleInput, Log = config.Log, Shell = shell };
        var hello = LiveMigration.ReceiveHello(channel);
        if (mode == LiveMigration.ModeMigrate)
        {
            try { return LiveMigration.ReceiveMigration(channel, hello, options); }
            finally { channel.Dispose(); }
        }
        // Remus backup: the VM exists (paused, "created") while checkpoints arrive; it starts only on failover.
        var vm = VirtualMachine.CreateIncoming(hello.Config, options);
        var thread = new Thread(() =>
        {
            try
            {
                var tookOver = RemusBackup.RunOn(vm, channel, hello, config.Log);
                config.Log?.Invoke(tookOver ? "remus backup took over" : "remus primary stood the backup down");
            }
            catch (Exception e)
            {
                config.Log?.Invoke($"remus backup failed: {e.Message}");
                vm.Stop("remus backup failed");
            }
        }) { Name = "remus-backup", IsBackground = true };
        thread.Start();
        return vm;
    }

    /// <summary>The Result of a "migration-go" answer whose target was told go and never confirmed.</summary>
    public const string OutcomeUnknown = "outcome-unknown";

    /// <summary>How long the stream waits at the handover for the daemon's go or abort before it aborts (and resumes).</summary>
    private static readonly TimeSpan HandoverDecisionTimeout = TimeSpan.FromMinutes(2);

    /// <summary>One outgoing migration's handover, met by its "migrate-send" stream and the daemon's requests (by id).</summary>
    private sealed class Handover
    {
        /// <summary>Completes when the target holds the final state, paused; faults when the migration failed before.</summary>
        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The daemon's word: true = send Go, false = abort and resume.</summary>
        public TaskCompletionSource<bool> Decision { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>(ok, error, result) once the migration has ended either way.</summary>
        public TaskCompletionSource<(bool Ok, string? Error, string? Result)> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static readonly Dictionary<string, Handover> s_handovers = new(StringComparer.Ordinal);

    private static Handover HandoverFor(string? id)
    {
        lock (s_lock)
        {
            var key = id ?? "";
            if (!s_handovers.TryGetValue(key, out var h)) s_handovers[key] = h = new Handover();
            return h;
        }
    }

    /// <summary>
    /// "migrate-send": the control connection becomes the migration stream (the daemon relays it to
    /// the target). At the handover it waits for the daemon ("migration-go" / "migration-abort").
    /// </summary>
    public static async Task MigrateSendAsync(VirtualMachine vm, Stream stream, VmmRequest request)
    {
        var h = HandoverFor(request.Path);
        (bool, string?, string?) done;
        try
        {
            var options = new MigrationOptions
            {
                BeforeGo = () =>
                {
                    h.Reached.TrySetResult();
                    if (!h.Decision.Task.Wait(HandoverDecisionTimeout) || !h.Decision.Task.Result)
                        throw new MigrationException("the toolstack did not confirm the handover");
                },
            };
            var report = await Task.Run(() => LiveMigration.Send(vm, request.Data ?? "domain", stream, options)).ConfigureAwait(false);
            done = (true, null, JsonSerializer.Serialize(new MigrationFigures
            {
                Rounds = report.Rounds, PagesSent = report.PagesSent, BytesSent = report.BytesSent,
                DowntimeMs = report.Downtime.TotalMilliseconds, TotalMs = report.Total.TotalMilliseconds, DirtyPerRound = report.DirtyPerRound,
                DowntimeSteps = [.. report.DowntimeSteps.Select(p => new MigrationStep(p.Step, p.Elapsed.TotalMilliseconds))],
            }, MigrationJson.Default.MigrationFigures));
        }
        catch (MigrationOutcomeUnknownException e)
        {
            done = (false, e.Message, OutcomeUnknown);
        }
        catch (Exception e)
        {
            done = (false, e.Message, null);
        }
        h.Reached.TrySetException(new IOException(done.Item2 ?? "migration ended before the handover"));
        h.Done.TrySetResult(done);
    }

    /// <summary>"migration-handover": waits until the migration reaches the handover (ok) or fails before it (the error).</summary>
    public static async Task<(bool Ok, string? Error)> WaitForHandoverAsync(VmmRequest request)
    {
        var h = HandoverFor(request.Path);
        try
        {
            await h.Reached.Task.ConfigureAwait(false);
            return (true, null);
        }
        catch (IOException e)
        {
            Forget(request.Path);
            return (false, e.Message);
        }
    }

    /// <summary>"migration-go" (true) or "migration-abort" (false): lets the stream go on, waits for its end.</summary>
    public static async Task<(bool Ok, string? Error, string? Result)> DecideHandoverAsync(VmmRequest request, bool go)
    {
        var h = HandoverFor(request.Path);
        h.Decision.TrySetResult(go);
        var done = await h.Done.Task.ConfigureAwait(false);
        Forget(request.Path);
        return done;
    }

    private static void Forget(string? id)
    {
        lock (s_lock) s_handovers.Remove(id ?? "");
    }

    /// <summary>"remus-protect": checkpoints over the control connection (relayed to the backup) until "remus-stop" or the backup is lost.</summary>
    public static async Task RemusProtectAsync(VirtualMachine vm, Stream stream, VmmRequest request, Action<string> log)
    {
        var stop = new CancellationTokenSource();
        lock (s_lock)
        {
            s_remus?.Cancel();
            s_remus = stop;
        }
        var interval = TimeSpan.FromMilliseconds(int.TryParse(request.Path, out var ms) ? ms : MigrationDefaults.RemusIntervalMs);
        try
        {
            await Task.Run(() => new RemusPrimary(vm, request.Data ?? "domain", stream, s_console, interval).Run(stop.Token)).ConfigureAwait(false);
            log("remus protection stopped");
        }
        catch (Exception e)
        {
            log(e.Message);
        }
    }

    public static void RemusStop()
    {
        lock (s_lock) s_remus?.Cancel();
    }

    public static PersistFigures Figures(PersistReport r) => new()
    {
        Bytes = r.Bytes,
        PagesWritten = r.PagesWritten,
        PagesSkipped = r.PagesSkipped,
        Ms = r.Elapsed.TotalMilliseconds,
        Detail = r.Detail,
        VmmMs = r.Phases.Count > 0 ? r.Elapsed.TotalMilliseconds : null,
        InShell = r.Phases.Count > 0 ? r.InShell : null,
        Phases = r.Phases.Count > 0 ? [.. r.Phases.Select(p => new PhaseFigure(p.Step, p.Elapsed.TotalMilliseconds))] : null,
    };
}
