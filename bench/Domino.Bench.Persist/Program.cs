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

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var repeats = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
var root = FindRoot();
string Guest(string name) => Path.Combine(root, "guests", "build", name + ".elf");
var dir = Directory.CreateTempSubdirectory("domino-bench-").FullName;
Console.WriteLine($"# Domino persist benchmarks — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} CPUs, {repeats} repeats, median [min–max]");
Console.WriteLine($"# load average at start: {File.ReadAllText("/proc/loadavg").Trim()}");

try
{
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

static string FindRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "Domino.slnx"))) return d.FullName;
    throw new InvalidOperationException("run from inside the repository");
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
