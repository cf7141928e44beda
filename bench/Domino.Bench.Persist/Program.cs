using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Domino.Vmm;
using Domino.Vmm.Persist;

// End-to-end timings of save, restore and live migration with real guests (guests/build/*.elf) on
// this host's KVM. Each operation is timed around the public VMM API, repeated, and the median and
// range printed. One-shot millisecond operations that build and tear down VMs are measured this way
// rather than with BenchmarkDotNet's steady-state loops.
//
// usage: dotnet run -c Release --project bench/Domino.Bench.Persist [-- REPEATS]
//        dotnet run -c Release --project bench/Domino.Bench.Persist -- restore [REPEATS]   (restore breakdown only:
//            in this process, from scratch and into a VmShell; then `domino restore -v` through a daemon
//            with and without a spare VMM process, using the published CLI that ./domino builds)
//        dotnet run -c Release --project bench/Domino.Bench.Persist -- restore-daemon [REPEATS]   (the daemon part alone)

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
if (args is ["restore-once", var once, ..])
{
    // A fresh process whose first act is the restore, as a VMM process restoring a domain: nothing JIT-compiled yet.
    using var jitLog = args.Contains("--jit-log") ? new JitLog() : null;
    var jitCount = System.Runtime.JitInfo.GetCompiledMethodCount();
    var jitTime = System.Runtime.JitInfo.GetCompilationTime();
    using var vm = VirtualMachine.RestoreFromFile(once, new RestoreOptions { ConsoleOutput = Stream.Null, VerifyMemory = false }, out var onceReport);
    var jitted = System.Runtime.JitInfo.GetCompiledMethodCount() - jitCount;
    var jitMs = (System.Runtime.JitInfo.GetCompilationTime() - jitTime).TotalMilliseconds;
    jitLog?.Print();
    Console.WriteLine(string.Join(";", onceReport.Phases.Select(p => $"{p.Step}={p.Elapsed.TotalMilliseconds.ToString("0.000", CultureInfo.InvariantCulture)}")) +
        $";total={onceReport.Elapsed.TotalMilliseconds.ToString("0.000", CultureInfo.InvariantCulture)}" +
        $";methods JIT-compiled={jitted};JIT time={jitMs.ToString("0.000", CultureInfo.InvariantCulture)}");
    return 0;
}
if (args is ["restore-daemon", ..])
{
    Console.WriteLine($"# load average at start: {File.ReadAllText("/proc/loadavg").Trim()}");
    DaemonRestore.Run(FindRoot(), args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10);
    Console.WriteLine($"# load average at end: {File.ReadAllText("/proc/loadavg").Trim()}");
    return 0;
}
var restoreOnly = args.Length > 0 && args[0] == "restore";
if (restoreOnly) args = args[1..];
var repeats = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
var root = FindRoot();
string Guest(string name) => Path.Combine(root, "guests", "build", name + ".elf");
var dir = Directory.CreateTempSubdirectory("domino-bench-").FullName;
Console.WriteLine($"# Domino persist benchmarks — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} CPUs, {repeats} repeats, median [min–max]");
Console.WriteLine($"# load average at start: {File.ReadAllText("/proc/loadavg").Trim()}");

try
{
    RestoreBreakdown("counter, 128 MiB", Guest("counter"), "every=20000000", 128, Math.Max(repeats, 10), withShell: false);
    RestoreBreakdown("counter, 128 MiB", Guest("counter"), "every=20000000", 128, Math.Max(repeats, 10), withShell: true);
    RestoreBreakdown("counter, 128 MiB", Guest("counter"), "every=20000000", 128, Math.Max(repeats, 10), withShell: true, forAnyGuest: true);
    DaemonRestore.Run(root, Math.Max(repeats, 10));
    Console.WriteLine($"# load average: {File.ReadAllText("/proc/loadavg").Trim()}");
    if (restoreOnly) return 0;
    foreach (var mib in new[] { 128, 1024 })
    {
        SaveRestore($"counter, {mib} MiB (idle: mostly zero pages)", Guest("counter"), "every=20000000", mib);
        SaveRestore($"dirty, {mib} MiB (64 MiB of it written)", Guest("dirty"), "mib=64 every=2", mib);
    }
    Migrate("idle 256 MiB (counter)", Guest("counter"), "every=20000000", 256);
    Migrate("busy 256 MiB (dirty: rewrites 64 MiB continuously)", Guest("dirty"), "mib=64 every=1", 256);
    Migrate("busy 256 MiB (dirty: rewrites 16 MiB continuously)", Guest("dirty"), "mib=16 every=1", 256);
}
finally
{
    Directory.Delete(dir, recursive: true);
}
Console.WriteLine($"# load average at end: {File.ReadAllText("/proc/loadavg").Trim()}");
return 0;

VirtualMachine Boot(string kernel, string cmdline, int mib, Stream console)
{
    var vm = VirtualMachine.Build(new VmConfig { KernelPath = kernel, CommandLine = cmdline, MemoryMiB = mib, ConsoleOutput = console });
    vm.Start();
    return vm;
}

void WaitForLines(Counter console, int n)
{
    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
    while (console.Lines < n)
    {
        if (DateTime.UtcNow > deadline) throw new TimeoutException("guest did not print");
        Thread.Sleep(2);
    }
}

void SaveRestore(string label, string kernel, string cmdline, int mib)
{
    var save = new List<double>();
    var restoreMapped = new List<double>();
    var restoreMappedVerified = new List<double>();
    var restoreCopied = new List<double>();
    var firstLine = new List<double>();
    PersistReport? last = null;
    for (var i = 0; i < repeats; i++)
    {
        var path = Path.Combine(dir, "bench.state");
        var console = new Counter();
        using (var vm = Boot(kernel, cmdline, mib, console))
        {
            WaitForLines(console, 2);
            vm.Pause();
            var sw = Stopwatch.StartNew();
            last = vm.SaveToFile(path);
            save.Add(sw.Elapsed.TotalMilliseconds);
        }
        foreach (var (list, mapped, verify) in new[] { (restoreMapped, true, false), (restoreMappedVerified, true, true), (restoreCopied, false, true) })
        {
            var after = new Counter();
            var sw = Stopwatch.StartNew();
            using var vm = VirtualMachine.RestoreFromFile(path, new RestoreOptions { ConsoleOutput = after, MapMemoryOnDemand = mapped, VerifyMemory = verify }, out _);
            list.Add(sw.Elapsed.TotalMilliseconds);
            if (mapped && !verify)
            {
                vm.Start();
                WaitForLines(after, 1);
                firstLine.Add(sw.Elapsed.TotalMilliseconds);
            }
        }
        File.Delete(path);
    }
    Console.WriteLine($"save/restore {label}: file {last!.Bytes / 1048576.0:0.0} MiB, {last.PagesWritten} pages written, {last.PagesSkipped} zero pages skipped");
    Console.WriteLine($"  save (pause→file synced)                         {Stats(save)}");
    Console.WriteLine($"  restore, memory mapped on demand, no memory CRC  {Stats(restoreMapped)}");
    Console.WriteLine($"  restore, mapped on demand, memory CRC checked    {Stats(restoreMappedVerified)}");
    Console.WriteLine($"  restore, memory copied, CRC checked              {Stats(restoreCopied)}");
    Console.WriteLine($"  restore (mapped) to the guest's next console line {Stats(firstLine)}");
}

// Restores one state file many times in this process: the first restore pays for JIT and the
// process-wide caches (cold), the rest show the steady cost (warm). Prints each step's time. With
// a shell, the VM's KVM objects are made before the clock starts (VmShell) and timed apart.
void RestoreBreakdown(string label, string kernel, string cmdline, int mib, int runs, bool withShell, bool forAnyGuest = false)
{
    var path = Path.Combine(dir, "breakdown.state");
    var console = new Counter();
    using (var vm = Boot(kernel, cmdline, mib, console))
    {
        WaitForLines(console, 2);
        vm.Pause();
        vm.SaveToFile(path);
    }
    var fresh = withShell ? [] : FreshProcessRestores(path, 3);
    var reports = new List<PersistReport>();
    var shells = new List<double>();
    var started = new List<double>();
    for (var i = 0; i < runs; i++)
    {
        VmShell? shell = null;
        if (withShell)
        {
            var sw = Stopwatch.StartNew();
            shell = forAnyGuest ? VmShell.CreateForAnyGuest() : VmShell.Create(mib, 1);
            shells.Add(sw.Elapsed.TotalMilliseconds);
        }
        var after = new Counter();
        var clock = Stopwatch.StartNew();
        using var restored = VirtualMachine.RestoreFromFile(path, new RestoreOptions { ConsoleOutput = after, VerifyMemory = false, Shell = shell }, out var report);
        restored.Start();
        started.Add(clock.Elapsed.TotalMilliseconds);
        reports.Add(report);
        shell?.Dispose();
    }
    File.Delete(path);
    var cold = reports[0];
    var warm = reports.Skip(1).ToList();
    Console.WriteLine($"restore breakdown, {label}, memory mapped on demand, no memory CRC, " +
        $"{(withShell ? $"into a VM shell made beforehand ({(forAnyGuest ? "for any guest: one slot up to 3 GiB" : "for this size")})" : "from scratch")}:" +
        $" cold = first restore in this process, warm = the {warm.Count} after it");
    Console.WriteLine($"  {"step",-34} {"cold",10}   warm median [min–max]");
    foreach (var step in cold.Phases.Select(p => p.Step))
    {
        var w = warm.Select(r => r.Phases.FirstOrDefault(p => p.Step == step).Elapsed.TotalMilliseconds).ToList();
        Console.WriteLine($"  {step,-34} {cold.Phases.First(p => p.Step == step).Elapsed.TotalMilliseconds,7:0.000} ms   {Stats3(w)}");
    }
    Console.WriteLine($"  {"restore total",-34} {cold.Elapsed.TotalMilliseconds,7:0.000} ms   {Stats3(warm.Select(r => r.Elapsed.TotalMilliseconds).ToList())}");
    Console.WriteLine($"  {"call to vCPUs started",-34} {started[0],7:0.000} ms   {Stats3(started.Skip(1).ToList())}");
    if (withShell)
        Console.WriteLine($"  {(forAnyGuest ? "(VmShell.CreateForAnyGuest, before)" : "(VmShell.Create, before the clock)"),-34} {shells[0],7:0.000} ms   {Stats3(shells.Skip(1).ToList())}");
    if (fresh.Count > 0)
    {
        Console.WriteLine($"  restore as the first act of a fresh process ({(IsReadyToRun() ? "ReadyToRun" : "JIT")}), {fresh.Count} processes, median [min–max]:");
        foreach (var step in fresh[0].Keys)
        {
            var values = fresh.Select(f => f.GetValueOrDefault(step)).ToList();
            Console.WriteLine(step == "methods JIT-compiled"
                ? $"    {step,-32} {values.Order().ElementAt(values.Count / 2),7:0}"
                : $"    {step,-32} {Stats3(values)}");
        }
    }
}

// Runs this program again to restore the file once per process and reads back its step times.
List<Dictionary<string, double>> FreshProcessRestores(string path, int count)
{
    var result = new List<Dictionary<string, double>>();
    for (var i = 0; i < count; i++)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(Counter).Assembly.Location);
        start.ArgumentList.Add("restore-once");
        start.ArgumentList.Add(path);
        using var p = Process.Start(start)!;
        var line = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"restore-once exited {p.ExitCode}: {line}");
        result.Add(line.Split(';').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0], kv => double.Parse(kv[1], CultureInfo.InvariantCulture)));
    }
    return result;
}

// True when this assembly was compiled ahead of time (published with PublishReadyToRun).
static bool IsReadyToRun()
{
    using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(typeof(VirtualMachine).Assembly.Location));
    return pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0;
}

void Migrate(string label, string kernel, string cmdline, int mib)
{
    var downtime = new List<double>();
    var total = new List<double>();
    MigrationReport? last = null;
    for (var i = 0; i < repeats; i++)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accept = listener.AcceptTcpClientAsync();
        using var client = new TcpClient { NoDelay = true };
        client.Connect((IPEndPoint)listener.LocalEndpoint);
        using var server = accept.Result;
        listener.Stop();
        server.NoDelay = true;
        var targetConsole = new Counter();
        var target = Task.Run(() =>
        {
            var channel = new MigrationChannel(server.GetStream());
            return LiveMigration.ReceiveMigration(channel, LiveMigration.ReceiveHello(channel), new RestoreOptions { ConsoleOutput = targetConsole });
        });
        var console = new Counter();
        using var vm = Boot(kernel, cmdline, mib, console);
        WaitForLines(console, 3);
        last = LiveMigration.Send(vm, "bench", client.GetStream(), new MigrationOptions { MaxRounds = 30 });
        vm.Stop();
        using var moved = target.Result;
        WaitForLines(targetConsole, 1);
        if (targetConsole.Text.Contains("MISMATCH", StringComparison.Ordinal)) throw new InvalidOperationException("memory mismatch after migration");
        downtime.Add(last.Downtime.TotalMilliseconds);
        total.Add(last.Total.TotalMilliseconds);
    }
    Console.WriteLine($"migrate {label} over loopback TCP: last run {last}");
    Console.WriteLine($"  downtime (pause→running on target)  {Stats(downtime)}");
    Console.WriteLine($"  total                               {Stats(total)}");
}

static string Stats(List<double> v)
{
    if (v.Count == 0) return "-";
    var s = v.Order().ToList();
    return $"{s[s.Count / 2],8:0.00} ms [{s[0]:0.00}–{s[^1]:0.00}]";
}

static string Stats3(List<double> v)
{
    if (v.Count == 0) return "-";
    var s = v.Order().ToList();
    return $"{s[s.Count / 2],7:0.000} ms [{s[0]:0.000}–{s[^1]:0.000}]";
}

static string FindRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "Domino.slnx"))) return d.FullName;
    throw new InvalidOperationException("run from inside the repository");
}

/// <summary>Names the methods the runtime JIT-compiles while it listens (runtime event source, JIT keyword).</summary>
sealed class JitLog : System.Diagnostics.Tracing.EventListener
{
    private readonly List<string> _methods = [];

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x10);
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName != "MethodJittingStarted_V1" || e.Payload is null) return;
        var ns = e.PayloadNames!.IndexOf("MethodNamespace");
        var name = e.PayloadNames.IndexOf("MethodName");
        lock (_methods) _methods.Add($"{e.Payload[ns]}::{e.Payload[name]}");
    }

    public void Print()
    {
        lock (_methods) foreach (var m in _methods) Console.Error.WriteLine($"jit: {m}");
    }
}

/// <summary>Counts console lines (and keeps the text) of a guest.</summary>
sealed class Counter : Stream
{
    private readonly StringBuilder _text = new();
    private int _lines;
    public int Lines => Volatile.Read(ref _lines);
    public string Text { get { lock (_text) return _text.ToString(); } }
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_text) _text.Append(Encoding.Latin1.GetString(buffer));
        foreach (var b in buffer) if (b == '\n') Interlocked.Increment(ref _lines);
    }
    public override void Flush() { }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
