using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Domino.Toolstack.Interop;
using Domino.Toolstack.Store;
using Domino.Vmm;
using VmGuestExit = Domino.Vmm.GuestExit;

namespace Domino.Toolstack.Drivers.Vmm;

/// <summary>
/// The per-domain VMM process (<c>domino vmm-host</c>): runs one guest for the daemon and answers on a
/// private control socket. It leaves the daemon's session at once, so it outlives a daemon crash or restart.
/// Rules: it records its pid before building the guest and runs the guest only if the daemon's launch
/// file still exists (a daemon that rolled the create back deletes that file first, then kills by pid
/// file: so either it sees the pid or the host sees no launch file). When the guest ends it records how
/// (<c>UUID.exit</c>) and keeps the guest's memory until a daemon says destroy (or dump): so the daemon,
/// present or restarted later, always applies on_* itself. It never exits on its own while it holds a guest.
/// </summary>
public static class VmmHost
{
    /// <summary>
    /// The daemon's spare VMM process (<c>domino vmm-host --spare</c>): started before any domain needs
    /// it, it loads and warms the VMM's code (a build, a save and a restore of a guestless VM, the
    /// control channel), makes a VM shell for any guest, then waits on stdin for the UUID of the domain
    /// it is to run and carries on as <see cref="Run"/>, building that domain — boot, restore or incoming
    /// migration — in the shell if it fits. The daemon writes that line at create time, so the create
    /// waits neither for a runtime to start nor for the kernel's grace periods. End of file (the daemon
    /// closed the pipe, or died) ends it: a spare never outlives its daemon and never holds a guest.
    /// </summary>
    public static int RunSpare(string stateDir)
    {
        var store = new StateStore(stateDir);
        VirtualMachine.WarmUp();
        VirtualMachine.WarmUpRestore(Path.Combine(store.VmmDir, $"spare-{Environment.ProcessId}.warm"));
        VmmWire.WarmUp();
        WarmUpControlPath(store);
        var shell = MakeShell();
        string? line;
        try
        {
            // Byte by byte: what follows the line on the pipe is the console input of a create -c.
            using var stdin = Console.OpenStandardInput();
            var bytes = new List<byte>();
            int b;
            while ((b = stdin.ReadByte()) >= 0 && b != '\n' && bytes.Count < 64) bytes.Add((byte)b);
            line = b < 0 && bytes.Count == 0 ? null : System.Text.Encoding.ASCII.GetString([.. bytes]);
        }
        catch (IOException) { line = null; }
        if (!Guid.TryParse(line?.Trim(), out var uuid))
        {
            shell?.Dispose();
            return 0;
        }
        return Run(stateDir, uuid, shell);
    }

    /// <summary>
    /// How much RAM the spare's VM shell covers: <c>DOMINO_VMM_SHELL_MIB</c> (from the daemon's
    /// environment) between 8 and 3072, 0 for no shell; by default all RAM below the MMIO hole. The
    /// slot's kernel bookkeeping grows with it (on a shadow-paging KVM such as kvm_pvm, about 2.5 MiB
    /// per GiB covered, held while the guest runs), so a host whose guests are small may cover less.
    /// </summary>
    internal static int ShellMiB(string? setting) =>
        int.TryParse(setting, NumberStyles.None, CultureInfo.InvariantCulture, out var mib) && (mib == 0 || mib is >= 8 and <= VmShell.AnyGuestMaxMemoryMiB)
            ? mib
            : VmShell.AnyGuestMaxMemoryMiB;

    /// <summary>A VM shell for any guest, or null where it cannot be made (no KVM) or is turned off: the domain is then built from scratch.</summary>
    private static VmShell? MakeShell()
    {
        var mib = ShellMiB(Environment.GetEnvironmentVariable("DOMINO_VMM_SHELL_MIB"));
        if (mib == 0) return null;
        try { return VmShell.CreateForAnyGuest(mib); }
        catch (Exception e) when (e is Domino.Vmm.Hypervisor.HypervisorUnavailableException or Domino.Vmm.Interop.KvmException) { return null; }
    }

    public static int Run(string stateDir, Guid uuid) => Run(stateDir, uuid, shell: null);

    /// <summary>What the host writes on its original standard output once it serves its control socket.</summary>
    public const string ServingLine = "serving";

    private static int Run(string stateDir, Guid uuid, VmShell? shell)
    {
        Libc.NewSession();
        var store = new StateStore(stateDir);
        // The daemon reads standard output until ServingLine (or end of file: the host failed), so it
        // learns the moment the control socket serves without polling for it; or, for a console from the
        // first byte (VmmLaunch.Console), a status line and the console, whose input is standard input.
        var serving = Libc.Duplicate(1);
        var input = Libc.Duplicate(0);
        Libc.IgnoreBrokenPipes();
        Libc.DetachStdio(store.VmmLog(uuid)); // let go of the daemon's stdio: it may be a pipe that dies with it
        var log = new StreamWriter(Console.OpenStandardError()) { AutoFlush = true };
        Console.SetError(log);
        void Log(string m) => log.WriteLine($"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} vmm[{Environment.ProcessId}] {m}");

        var launchPath = VmmDriver.LaunchFile(store, uuid);
        AtomicFile.Write(store.VmmPidFile(uuid), $"{Environment.ProcessId} {Libc.ProcessStartTicks(Environment.ProcessId)}\n");
        if (!File.Exists(launchPath))
        {
            Libc.Close(serving);
            Libc.Close(input);
            shell?.Dispose();
            Log("launch file is gone (create rolled back); exiting");
            TryDelete(store.VmmPidFile(uuid));
            return 0;
        }
        var launch = JsonSerializer.Deserialize(File.ReadAllBytes(launchPath), VmmWire.Json.VmmLaunch)!;
        var ring = new ConsoleRing();
        var consoleInput = new KernelPipe(); // the guest's COM1 input, which the VM's input thread reads
        VirtualMachine vm;
        try
        {
            vm = VmmHostPersist.BuildOrRestore(store, uuid, new VmConfig
            {
                KernelPath = launch.Spec.Kernel!,
                RamdiskPath = launch.Spec.Ramdisk,
                CommandLine = launch.Spec.Cmdline ?? "",
                MemoryMiB = checked((int)launch.Spec.MemoryMb),
                Vcpus = launch.Spec.Vcpus,
                Disks = [.. launch.Spec.Disks.Select(d => new DiskConfig(d, ReadOnly: false))],
                ConsoleInput = consoleInput,
                ConsoleOutput = new RingWriterStream(ring),
                Log = m => Log(m),
            }, shell);
        }
        catch (Exception e)
        {
            Log($"cannot build domain '{launch.Name}': {e.Message}");
            AtomicFile.Write(VmmDriver.ErrorFile(store, uuid), e.Message);
            TryDelete(store.VmmPidFile(uuid));
            Libc.Close(serving);
            Libc.Close(input);
            return 1;
        }

        var host = new Host(vm, ring, consoleInput, store, uuid, Log);
        if (!launch.Console)
        {
            Libc.Close(input);
            input = -1;
        }
        return host.Serve(launch.Paused, serving, input);
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { }
    }

    /// <summary>
    /// Serves one request to itself over a Unix socket the way the control channel does (listen,
    /// accept, a JSON line each way, this process's stats) and registers and drops a SIGTERM handler,
    /// so a spare has the code the daemon's first requests run loaded before they come.
    /// </summary>
    private static void WarmUpControlPath(StateStore store)
    {
        var path = Path.Combine(store.VmmDir, $"spare-{Environment.ProcessId}.sock");
        try
        {
            TryDelete(path);
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            var server = Task.Run(async () =>
            {
                using var accepted = await listener.AcceptAsync().ConfigureAwait(false);
                await using var stream = new NetworkStream(accepted, ownsSocket: false);
                var line = await VmmWire.ReadLineAsync(stream, CancellationToken.None).ConfigureAwait(false) ?? "{}";
                var request = JsonSerializer.Deserialize(line, VmmWire.Json.VmmRequest);
                var (cpu, rss) = SelfStats();
                await stream.WriteAsync(VmmWire.Line(new VmmResponse { State = request?.Op ?? "", CpuTime = cpu, RssKb = rss }, VmmWire.Json.VmmResponse)).ConfigureAwait(false);
            });
            using (var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                client.Connect(new UnixDomainSocketEndPoint(path));
                using var stream = new NetworkStream(client, ownsSocket: false);
                stream.Write(VmmWire.Line(new VmmRequest("status"), VmmWire.Json.VmmRequest));
                _ = VmmWire.ReadLineAsync(stream, CancellationToken.None).GetAwaiter().GetResult();
            }
            server.Wait(TimeSpan.FromSeconds(5));
            using (System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, _ => { })) { }
        }
        catch (Exception e) when (e is IOException or SocketException or JsonException or AggregateException or UnauthorizedAccessException) { }
        finally
        {
            TryDelete(path);
        }
    }

    private sealed class Host(VirtualMachine vm, ConsoleRing ring, KernelPipe input, StateStore store, Guid uuid, Action<string> log)
    {
        // Waited on by the main thread for the guest's whole life: blocks at once (no spinning first),
        // as the cores are the vCPUs' while the guest boots.
        private readonly ManualResetEventSlim _destroyed = new(false, spinCount: 0);
        private readonly Lock _sync = new();
        private readonly List<Task> _consoles = [];
        private bool _started;

        /// <param name="serving">Where to write <see cref="ServingLine"/> once requests are accepted (closed after).</param>
        /// <param name="consoleInput">
        /// When not -1, the console's input, and <paramref name="serving"/> its output: instead of the
        /// serving line, a status line and then the guest's output from its first byte (create -c).
        /// </param>
        public int Serve(bool paused, int serving, int consoleInput)
        {
            // The vCPUs start first, so the guest boots while the rest happens: the control socket, the
            // vCPU threads file (written before the daemon hears that this process serves, as the daemon
            // places the threads it names), the serving or status line, and the daemon's own work on the
            // create. Requests queue on the socket meanwhile, and a console replays the guest's output
            // from its first byte.
            if (!paused) StartOrResume();
            var socketPath = store.VmmSocket(uuid);
            TryDelete(socketPath);
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(16);

            vm.Exited.ContinueWith(t =>
            {
                // The ring stays open until destroy: the VMM may still flush the guest's last output after this.
                var exit = t.Result;
                if (exit.Reason == VmExitReason.Stopped) return;
                log($"guest ended: {exit}");
                AtomicFile.Write(store.VmmExitFile(uuid), JsonSerializer.Serialize(new VmmExitRecord(Word(exit.Reason), exit.Detail), VmmWire.Json.VmmExitRecord));
            }, TaskScheduler.Default);

            _ = AcceptLoop(listener);
            VmmScheduling.PublishThreads(vm, store, uuid);
            // Threads start after the line: starting one waits until it runs, which on a busy host can
            // take a scheduler slice, and the daemon is waiting for the line.
            if (consoleInput < 0) Libc.WriteAndClose(serving, ServingLine + "\n");
            else
            {
                var fromDaemon = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(consoleInput, ownsHandle: true), FileAccess.Read, bufferSize: 0);
                var console = ConsoleAsync(fromDaemon, serving, replay: true);
                lock (_consoles) _consoles.Add(console);
                _ = console.ContinueWith(t =>
                {
                    lock (_consoles) _consoles.Remove(t);
                    fromDaemon.Dispose();
                    Libc.Close(serving); // the feed has closed its own copy: the daemon reads the end
                }, TaskScheduler.Default);
            }
            using var scheduling = new CancellationTokenSource();
            var gateFollower = VmmScheduling.FollowGate(vm, store, uuid, m => log(m), scheduling.Token);
            log($"serving {socketPath} ({(paused ? "paused" : "running")})");

            using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true;
                _destroyed.Set();
            });
            _destroyed.Wait();
            log("destroyed");
            // The gate follower reads the VM and waits on the token: it ends before either goes.
            scheduling.Cancel();
            gateFollower.Join();
            vm.Stop("destroyed by the toolstack");
            // Attached consoles get the guest's last words before the process goes.
            ring.Close();
            Task[] consoles;
            lock (_consoles) consoles = [.. _consoles];
            Task.WaitAll(consoles, TimeSpan.FromSeconds(2));
            vm.Dispose();
            VmmScheduling.Forget(store, uuid);
            TryDelete(socketPath);
            return 0;
        }

        private void StartOrResume()
        {
            lock (_sync)
            {
                if (!_started) { vm.Start(); _started = true; }
                else vm.Resume();
            }
        }

        private async Task AcceptLoop(Socket listener)
        {
            while (true)
            {
                Socket client;
                try { client = await listener.AcceptAsync().ConfigureAwait(false); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
                _ = Task.Run(() => HandleAsync(client));
            }
        }

        private async Task HandleAsync(Socket client)
        {
            await using var stream = new NetworkStream(client, ownsSocket: true);
            try
            {
                var line = await VmmWire.ReadLineAsync(stream, CancellationToken.None).ConfigureAwait(false);
                if (line is null) return;
                var request = JsonSerializer.Deserialize(line, VmmWire.Json.VmmRequest)!;
                switch (request.Op)
                {
                    case "watch":
                        var exit = await vm.Exited.ConfigureAwait(false);
                        await Reply(stream, Status(exit)).ConfigureAwait(false);
                        return;
                    case "console":
                        var console = ConsoleAsync(stream, (int)client.Handle, request.Replay);
                        lock (_consoles) _consoles.Add(console);
                        try { await console.ConfigureAwait(false); }
                        finally { lock (_consoles) _consoles.Remove(console); }
                        return;
                    case "migrate-send":
                        await VmmHostPersist.MigrateSendAsync(vm, stream, request).ConfigureAwait(false);
                        return;
                    case "migration-handover":
                        var (reached, why) = await VmmHostPersist.WaitForHandoverAsync(request).ConfigureAwait(false);
                        await Reply(stream, Status() with { Ok = reached, Error = why }).ConfigureAwait(false);
                        return;
                    case "migration-go" or "migration-abort":
                        var (ok, error, result) = await VmmHostPersist.DecideHandoverAsync(request, go: request.Op == "migration-go").ConfigureAwait(false);
                        await Reply(stream, Status() with { Ok = ok, Error = error, Result = result }).ConfigureAwait(false);
                        return;
                    case "remus-protect":
                        await VmmHostPersist.RemusProtectAsync(vm, stream, request, log).ConfigureAwait(false);
                        return;
                    default:
                        await Reply(stream, Execute(request)).ConfigureAwait(false);
                        return;
                }
            }
            catch (Exception e) when (e is IOException or SocketException or JsonException or ObjectDisposedException)
            {
                // The client went away or spoke nonsense; the guest is unaffected.
            }
        }

        private VmmResponse Execute(VmmRequest request)
        {
            try
            {
                switch (request.Op)
                {
                    case "status": break;
                    case "pause": vm.Pause(); break;
                    case "resume": StartOrResume(); break;
                    case "destroy": _destroyed.Set(); break;
                    case "history": return Status() with { History = Convert.ToBase64String(ring.History()) };
                    case "stats": break;
                    case "dump": CoreDump.Write(vm, request.Path!); break;
                    case "save": return Status() with { Result = VmmHostPersist.Save(vm, request) };
                    case "restore-report": return Status() with { Result = VmmHostPersist.RestoreReport() };
                    case "remus-stop": VmmHostPersist.RemusStop(); break;
                    case "power-button": vm.PressPowerButton(); break;
                    case "ctrl-alt-del": vm.SendCtrlAltDel(); break;
                    case "nmi": vm.InjectNmi(int.Parse(request.Data ?? "0", CultureInfo.InvariantCulture)); break;
                    case "reset": vm.HardReset("hard reset by the toolstack (trigger reset)"); break;
                    default: return new VmmResponse { Ok = false, Error = $"unknown request '{request.Op}'" };
                }
                return Status();
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or ArgumentException or FormatException)
            {
                return Status() with { Ok = false, Error = e.Message };
            }
        }

        private VmmResponse Status(VmGuestExit? exit = null)
        {
            exit ??= vm.Exited.IsCompleted ? vm.Exited.Result : null;
            var (cpu, rss) = SelfStats();
            return new VmmResponse
            {
                State = exit is not null ? "exited" : vm.State switch
                {
                    VmState.Running => "running",
                    VmState.Paused => "paused",
                    _ => _started ? "exited" : "created",
                },
                ExitReason = exit is null ? null : Word(exit.Reason),
                ExitDetail = exit?.Detail,
                CpuTime = cpu,
                RssKb = rss,
            };
        }

        /// <summary>
        /// A console until it ends: the status line and then the guest's output go to
        /// <paramref name="output"/> straight from the vCPU thread that emulates the UART (a feed), and
        /// what comes from <paramref name="client"/> goes to the guest's COM1.
        /// </summary>
        private async Task ConsoleAsync(Stream client, int output, bool replay)
        {
            // Attached before the status is taken: a resume sent once it is in sees every byte reach this reader.
            using var feed = ring.AttachFeed(new NonBlockingOutput(output), replay);
            feed.Start(VmmWire.Line(Status(), VmmWire.Json.VmmResponse));
            _ = Task.Run(async () =>
            {
                var buffer = new byte[1024];
                int n;
                try
                {
                    while ((n = await client.ReadAsync(buffer).ConfigureAwait(false)) > 0) input.Offer(buffer.AsSpan(0, n)); // what does not fit is lost, as in a UART's overrun
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
            });
            await feed.Ended.ConfigureAwait(false);
        }

        private static async Task Reply(Stream s, VmmResponse r) => await s.WriteAsync(VmmWire.Line(r, VmmWire.Json.VmmResponse)).ConfigureAwait(false);
    }

    internal static string Word(VmExitReason reason) => reason switch
    {
        VmExitReason.Poweroff => "poweroff",
        VmExitReason.Reboot => "reboot",
        VmExitReason.Crash => "crash",
        _ => "stopped",
    };

    /// <summary>This process's CPU time (all vCPU threads are ours) and resident memory.</summary>
    private static (double CpuSeconds, long RssKb) SelfStats()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
            long rss = 0;
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            return (Math.Round(ticks / 100.0, 1), rss);
        }
        catch (IOException) { return (0, 0); }
    }

    /// <summary>The guest's COM1 output, kept in the console ring.</summary>
    private sealed class RingWriterStream(ConsoleRing ring) : Stream
    {
        public override void Write(byte[] buffer, int offset, int count) => ring.Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer) => ring.Write(buffer);
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
