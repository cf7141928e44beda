using System.Diagnostics;
using Domino.Vmm.Hypervisor;
using Domino.Vmm.Memory;
using Domino.Vmm.Persist;
using Domino.Vmm.Vcpu;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm;

/// <summary>How a restored or incoming VM is wired to this host.</summary>
public sealed class RestoreOptions
{
    public Stream? ConsoleOutput { get; init; }
    public Stream? ConsoleInput { get; init; }
    public Action<string>? Log { get; init; }

    /// <summary>Map the file's memory image MAP_PRIVATE (pages fault in on first touch) instead of reading it all.</summary>
    public bool MapMemoryOnDemand { get; init; } = true;

    /// <summary>Check the memory image's CRC-32C before building the VM (reads every stored page once).</summary>
    public bool VerifyMemory { get; init; } = true;

    public IProgress<double>? Progress { get; init; }

    /// <summary>
    /// KVM objects made ahead (<see cref="VmShell.Create"/> with the saved memory size and vCPU count,
    /// or <see cref="VmShell.CreateForAnyGuest"/>): the restore takes them instead of waiting on the
    /// kernel to make them, if the VM <see cref="VmShell.Fits"/> the shell; otherwise it makes its own
    /// and leaves the shell as it was (<see cref="PersistReport.InShell"/> says which).
    /// </summary>
    public VmShell? Shell { get; init; }
}

public sealed partial class VirtualMachine
{
    private readonly List<IPersistable> _persistables = [];

    /// <summary>What this VM was built from.</summary>
    public VmConfig Config { get; }

    internal GuestRam Ram => _ram;

    internal ISnapshotVm KvmVm => _vm as ISnapshotVm ?? throw new NotSupportedException($"the {_vm.GetType().Name} backend cannot save or track guest state");

    internal ISnapshotHypervisor Hypervisor => _hypervisor as ISnapshotHypervisor ?? throw new NotSupportedException($"the {_hypervisor.GetType().Name} backend cannot describe its CPU");

    /// <summary>Every device section in the order they are saved.</summary>
    public IReadOnlyList<IPersistable> PersistableDevices => _persistables;

    /// <summary>
    /// Reads the snapshot tree (everything but memory). The VM must be paused (or built and never
    /// started): vCPUs out of KVM_RUN with their last exit completed.
    /// </summary>
    public VmSnapshot CaptureState()
    {
        var state = State;
        if (state is not (VmState.Paused or VmState.Built)) throw new InvalidOperationException($"cannot save a VM that is {state}: pause it first");
        var devices = new List<(string, byte[])>();
        foreach (var d in _persistables)
        {
            var w = new PersistWriter();
            d.SaveState(w);
            devices.Add((d.PersistId, w.ToArray()));
        }
        return new VmSnapshot
        {
            Config = SavedVmConfig.From(Config),
            Cpu = CpuFingerprint.Of(Hypervisor),
            Chips = KvmVm.GetChipState(),
            Vcpus = _runners.Select(r => SnapshotVcpu(r.Vcpu).SaveState()).ToArray(),
            Devices = devices,
        };
    }

    /// <summary>Saves the paused VM's state and memory to <paramref name="path"/> (see <see cref="SnapshotFile"/>).</summary>
    public PersistReport SaveToFile(string path, IProgress<double>? progress = null, byte[]? toolstack = null)
    {
        var clock = Stopwatch.StartNew();
        var snapshot = CaptureState();
        if (toolstack is not null) snapshot = snapshot.WithToolstack(toolstack);
        var report = SnapshotFile.Write(path, snapshot, _ram.Memory, progress);
        return report with { Elapsed = clock.Elapsed };
    }

    /// <summary>
    /// Puts a snapshot's device, irqchip and vCPU state into this VM, which must be built for it
    /// (same config, memory already in place) and not yet started.
    /// </summary>
    public void ApplyState(VmSnapshot snapshot) => ApplyState(snapshot, null);

    private void ApplyState(VmSnapshot snapshot, PhaseTimer? timer)
    {
        if (State != VmState.Built && State != VmState.Paused) throw new InvalidOperationException($"cannot load state into a VM that is {State}");
        if (snapshot.Vcpus.Count != _runners.Count) throw new SnapshotException($"state has {snapshot.Vcpus.Count} vCPUs, this VM {_runners.Count}");
        var saved = snapshot.Devices.ToDictionary(d => d.Id, d => d.State);
        var mine = _persistables.Select(p => p.PersistId).ToHashSet();
        var extra = saved.Keys.Where(k => !mine.Contains(k)).ToList();
        var missing = mine.Where(k => !saved.ContainsKey(k)).ToList();
        if (extra.Count > 0 || missing.Count > 0)
            throw new SnapshotException($"saved devices do not match this VM's: " +
                (extra.Count > 0 ? $"saved but absent here: {string.Join(", ", extra)}; " : "") +
                (missing.Count > 0 ? $"here but not saved: {string.Join(", ", missing)}" : ""));
        foreach (var d in _persistables) d.RestoreState(new PersistReader(saved[d.PersistId], d.PersistId));
        timer?.Mark("device state");
        KvmVm.SetChipState(snapshot.Chips);
        timer?.Mark("irqchip, PIT, clock state");
        for (var i = 0; i < _runners.Count; i++)
        {
            var vcpu = SnapshotVcpu(_runners[i].Vcpu);
            vcpu.RestoreState(snapshot.Vcpus[i]);
            if (vcpu.RefusedMsrs.Count > 0)
                _log($"vCPU {i}: KVM refused saved MSRs {string.Join(", ", vcpu.RefusedMsrs.Select(m => $"0x{m:x}"))}");
        }
        timer?.Mark("vCPU state");
    }

    /// <summary>
    /// Builds a VM from a state file, paused: everything in the file is checked before KVM is
    /// touched, so a bad file leaves nothing behind. Call <see cref="Start"/> to run it.
    /// </summary>
    public static VirtualMachine RestoreFromFile(string path, RestoreOptions options, out PersistReport report)
    {
        var timer = new PhaseTimer();
        using var file = SnapshotFile.Open(path);
        timer.Mark("open + check state file");
        CheckHost(file.State);
        timer.Mark("CPU check");
        if (options.VerifyMemory)
        {
            file.VerifyMemory();
            timer.Mark("memory CRC");
        }
        var config = file.State.Config.ToVmConfig(options.ConsoleOutput, options.ConsoleInput, options.Log);
        foreach (var d in config.Disks)
        {
            if (!File.Exists(d.Path)) throw new SnapshotException($"{path}: the saved VM's disk image {d.Path} is not on this host");
        }
        var map = MemoryMap.ForSize((ulong)config.MemoryMiB << 20);
        var machine = Construct(config, map, () => KvmHypervisor.Open(), (m, _) =>
        {
            m.LoadMemoryImage(file, options.MapMemoryOnDemand, options.Progress);
            timer.Mark(options.MapMemoryOnDemand ? "map memory image" : "copy memory image");
            m.CreateVcpusForRestore(config.Vcpus);
            timer.Mark("vCPUs + CPUID");
        }, timer, options.Shell);
        try
        {
            machine.ApplyState(file.State, timer);
        }
        catch
        {
            machine.Dispose();
            throw;
        }
        options.Progress?.Report(1.0);
        report = new PersistReport(file.Length, file.PresentPages, file.Regions.Sum(r => r.Pages) - file.PresentPages, timer.Elapsed,
            options.MapMemoryOnDemand ? "memory mapped on demand" : "memory copied") { Phases = timer.Phases, InShell = machine.InShell };
        return machine;
    }

    /// <summary>
    /// Saves a small VM with no guest in it to <paramref name="scratchPath"/> and restores it, each in
    /// a VM shell made for any guest, then deletes the file: the code a restore into a shell runs
    /// (checks, CPU fingerprint, taking the shell, mapping the image, loading device, chip and vCPU
    /// state) is loaded and the per-process caches filled before a real restore is asked for, as by
    /// the daemon's spare VMM process. Returns false on an error, which the real restore will report.
    /// </summary>
    public static bool WarmUpRestore(string scratchPath)
    {
        const int mib = 16;
        var config = new VmConfig { KernelPath = "", MemoryMiB = mib, Vcpus = 1 };
        try
        {
            using (var shell = VmShell.CreateForAnyGuest(mib))
            using (var machine = Construct(config, MemoryMap.ForSize((ulong)mib << 20), () => KvmHypervisor.Open(), (m, _) => m.CreateVcpusForRestore(1), shell: shell))
                machine.SaveToFile(scratchPath);
            using var again = VmShell.CreateForAnyGuest(mib);
            using var restored = RestoreFromFile(scratchPath, new RestoreOptions { VerifyMemory = false, Shell = again, ConsoleInput = Stream.Null }, out var report);
            return report.InShell;
        }
        catch (Exception e) when (e is HypervisorUnavailableException or Interop.KvmException or SnapshotException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
        finally
        {
            try { File.Delete(scratchPath); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// Builds an empty VM for <paramref name="config"/> whose memory and state arrive later (a
    /// migration or Remus receiver), paused and with zeroed RAM.
    /// </summary>
    public static VirtualMachine CreateIncoming(SavedVmConfig config, RestoreOptions options)
    {
        var vmConfig = config.ToVmConfig(options.ConsoleOutput, options.ConsoleInput, options.Log);
        foreach (var d in vmConfig.Disks)
        {
            if (!File.Exists(d.Path)) throw new SnapshotException($"the incoming VM's disk image {d.Path} is not on this host");
        }
        var map = MemoryMap.ForSize((ulong)config.MemoryMiB << 20);
        return Construct(vmConfig, map, () => KvmHypervisor.Open(), (m, _) => m.CreateVcpusForRestore(config.Vcpus), shell: options.Shell);
    }

    /// <summary>Refuses state saved on a CPU whose features differ from this host's.</summary>
    public static void CheckHost(VmSnapshot state) => CheckHost(state.Cpu);

    /// <summary>Refuses a guest that saw CPU features <paramref name="saved"/> unless this host has exactly those.</summary>
    public static void CheckHost(CpuFingerprint saved)
    {
        var problem = HostCpu().Incompatibility(saved);
        if (problem is not null) throw new SnapshotException($"this host cannot run the saved guest: {problem}");
    }

    private static CpuFingerprint? s_hostCpu;

    /// <summary>This host's CPU fingerprint, asked of /dev/kvm once per process (it cannot change while the process runs).</summary>
    private static CpuFingerprint HostCpu()
    {
        if (Volatile.Read(ref s_hostCpu) is { } known) return known;
        using var kvm = KvmHypervisor.Open();
        var fingerprint = CpuFingerprint.Of(kvm);
        Volatile.Write(ref s_hostCpu, fingerprint);
        return fingerprint;
    }

    private void LoadMemoryImage(SnapshotFile file, bool onDemand, IProgress<double>? progress)
    {
        var regions = _ram.Memory.Regions;
        for (var i = 0; i < regions.Count; i++)
        {
            var region = regions[i];
            var image = file.Regions[i];
            if (onDemand)
            {
                // The file's sparse holes read as zero pages; guest writes stay private to this VM.
                Libc.MapFilePrivateFixed(region.Host, (nuint)region.Size, file.Handle, image.FileOffset, $"memory image of {file.Path}");
                continue;
            }
            var done = 0L;
            foreach (var (first, count) in SnapshotFile.Runs(image.Present, image.Pages))
            {
                for (var p = first; p < first + count;)
                {
                    var n = (int)Math.Min(first + count - p, 1 << 16);
                    using (var w = _ram.Memory.BeginWrite(region.Gpa + (ulong)p * SnapshotFile.PageSize, n * SnapshotFile.PageSize))
                        RandomAccess.Read(file.Handle, w.Span, image.FileOffset + p * SnapshotFile.PageSize);
                    p += n;
                    done += n;
                    progress?.Report((double)done / Math.Max(1, file.PresentPages));
                }
            }
        }
    }

    private static ISnapshotVcpu SnapshotVcpu(IVcpu vcpu) =>
        vcpu as ISnapshotVcpu ?? throw new NotSupportedException($"the {vcpu.GetType().Name} backend cannot save vCPU state");

    /// <summary>Creates the vCPUs a restore fills in, with CPUID set; a VM built from a shell has them already.</summary>
    private void CreateVcpusForRestore(int count)
    {
        JoinKernelSide();
        for (var i = _runners.Count; i < count; i++) _runners.Add(new VcpuRunner(NextVcpu(i, count), this, NextThread()));
    }
}
