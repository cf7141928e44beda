using System.Text;
using Domino.Vmm.Acpi;
using Domino.Vmm.Boot;
using Domino.Vmm.Devices;
using Domino.Vmm.Devices.Acpi;
using Domino.Vmm.Devices.Legacy;
using Domino.Vmm.Devices.Virtio;
using Domino.Vmm.Devices.Virtio.Block;
using Domino.Vmm.Devices.Virtio.Console;
using Domino.Vmm.Hypervisor;
using Domino.Vmm.Memory;
using Domino.Vmm.Persist;
using Domino.Vmm.Vcpu;

namespace Domino.Vmm;

/// <summary>Lifecycle of the whole VM.</summary>
public enum VmState
{
    Built,
    Running,
    Paused,
    Exited,
}

/// <summary>
/// One running guest: KVM VM, RAM, devices, one <see cref="VcpuRunner"/> per vCPU. Built paused by
/// <see cref="Build"/>, started with <see cref="Start"/>, ended by the guest (see <see cref="Exited"/>)
/// or by <see cref="Stop"/>.
/// </summary>
public sealed partial class VirtualMachine : IDisposable, IVcpuExitHandler, IGuestEvents
{
    public const ulong VirtioMmioBase = 0xD000_0000;
    public const ulong VirtioMmioSize = 0x1000;

    /// <summary>GSIs handed to virtio-mmio devices in order: the free ISA IRQs, then the IOAPIC's upper pins.</summary>
    public static readonly uint[] VirtioGsis = [5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23];

    private readonly IHypervisor _hypervisor;
    private readonly IVm _vm;
    private readonly GuestRam _ram;
    private readonly List<VcpuRunner> _runners = [];
    private readonly Queue<IVcpu> _shellVcpus = new(); // made by a VM shell (CPUID set), in id order, not yet in a runner
    private readonly Queue<ParkedThread> _shellThreads = new(); // started by a VM shell, for vCPUs and console input
    private ParkedThread? _inputThread; // the shell's console-input thread, woken by Start
    private Task? _kernelSide;
    private readonly List<IDisposable> _backends = [];
    private readonly TaskCompletionSource<GuestExit> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<string> _log;
    private readonly Stream? _consoleOutput;
    private readonly Lock _consoleLock = new();
    private readonly Lock _stateLock = new();
    private VmState _state = VmState.Built;
    private int _disposed;

    private VirtualMachine(IHypervisor hypervisor, IVm vm, GuestRam ram, VmConfig config)
    {
        _hypervisor = hypervisor;
        _vm = vm;
        _ram = ram;
        Config = config;
        _log = config.Log ?? (_ => { });
        _consoleOutput = config.ConsoleOutput;
        PioBus = new DeviceBus("pio", _log);
        MmioBus = new DeviceBus("mmio", _log);
    }

    public VmState State { get { lock (_stateLock) return _state; } }

    public DeviceBus PioBus { get; }

    public DeviceBus MmioBus { get; }

    public GuestMemory Memory => _ram.Memory;

    public MemoryMap MemoryMap => _ram.Map;

    public Serial Console { get; private set; } = null!;

    /// <summary>The i8042 keyboard controller (reset line, Ctrl-Alt-Del).</summary>
    public I8042 Keyboard { get; private set; } = null!;

    /// <summary>The ACPI Generic Event Device behind the power button.</summary>
    public AcpiGedDevice Ged { get; private set; } = null!;

    /// <summary>The virtio console, when <see cref="VmConfig.VirtioConsole"/> asked for one.</summary>
    public VirtioConsole? VirtioConsole { get; private set; }

    public BootInfo Boot { get; private set; } = null!;

    public int VcpuCount => _runners.Count;

    /// <summary>True when the VM was built in a <see cref="VmShell"/>'s KVM objects rather than making its own.</summary>
    public bool InShell { get; private init; }

    /// <summary>Completes when the guest ends (or the VM is stopped) with how it ended.</summary>
    public Task<GuestExit> Exited => _exited.Task;

    /// <summary>Validates <paramref name="config"/> and builds the VM, paused. Files are checked before KVM is touched.</summary>
    public static VirtualMachine Build(VmConfig config) => Build(VmResources.Validate(config));

    public static VirtualMachine Build(VmResources resources) => Build(resources, () => KvmHypervisor.Open());

    /// <summary>
    /// Validates <paramref name="config"/> and builds the VM, paused, in <paramref name="shell"/>'s
    /// KVM objects if the guest <see cref="VmShell.Fits"/> it, else from scratch (see <see cref="InShell"/>).
    /// The guest sees the same machine either way: memory map, tables and devices come from its config.
    /// </summary>
    public static VirtualMachine Build(VmConfig config, VmShell? shell) => Build(VmResources.Validate(config), shell);

    public static VirtualMachine Build(VmResources resources, VmShell? shell) => Build(resources, () => KvmHypervisor.Open(), shell);

    /// <summary>Builds on a given backend; <paramref name="openHypervisor"/> runs after the files are checked.</summary>
    public static VirtualMachine Build(VmResources resources, Func<IHypervisor> openHypervisor) => Build(resources, openHypervisor, null);

    private static VirtualMachine Build(VmResources resources, Func<IHypervisor> openHypervisor, VmShell? shell) =>
        Construct(resources.Config, resources.MemoryMap, openHypervisor, (machine, cmdline) =>
        {
            var rsdp = AcpiTables.Write(machine._ram.Memory, BootLayout.Rsdp, resources.Config.Vcpus);
            machine.Boot = BootSetup.Load(resources.Kernel, machine._ram.Memory, resources.MemoryMap, cmdline, resources.Ramdisk, rsdp);
            machine.CreateVcpus(resources.Config.Vcpus);
        }, shell: shell);

    /// <summary>
    /// Builds and discards a small VM with no guest in it, through the code a real build runs (KVM VM,
    /// irqchip, PIT, RAM, devices, ACPI tables, a vCPU with its CPUID). A process that will build a
    /// guest soon, such as the daemon's spare VMM host, pays for loading that code before the guest is
    /// asked for. Errors are ignored: the real build reports them.
    /// </summary>
    public static void WarmUp()
    {
        var config = new VmConfig { KernelPath = "", MemoryMiB = 16, Vcpus = 1 };
        try
        {
            using var machine = Construct(config, MemoryMap.ForSize(16UL << 20), () => KvmHypervisor.Open(), (m, _) =>
            {
                AcpiTables.Write(m._ram.Memory, BootLayout.Rsdp, 1);
                m.JoinKernelSide();
                using var vcpu = m._vm.CreateVcpu(0);
                vcpu.SetCpuid(1);
                vcpu.InitializeFpu();
                vcpu.SetupLapicLints();
            });
        }
        catch (Exception e) when (e is HypervisorUnavailableException or Interop.KvmException or VmConfigException or IOException) { }
    }

    /// <summary>
    /// Creates the backend's VM, RAM and devices for <paramref name="config"/> (or takes the kernel
    /// objects ready-made from <paramref name="shell"/> when the VM <see cref="VmShell.Fits"/> it; one
    /// that does not fit is left as it was), then lets <paramref name="populate"/> fill
    /// memory and create the vCPUs (boot a kernel, or restore a snapshot) given the kernel command
    /// line the devices asked for. <paramref name="timer"/>, when given, is told each step's end.
    /// </summary>
    private static VirtualMachine Construct(VmConfig config, MemoryMap map, Func<IHypervisor> openHypervisor, Action<VirtualMachine, string> populate,
        PhaseTimer? timer = null, VmShell? shell = null)
    {
        var backends = OpenDisks(config.Disks);
        timer?.Mark("open disk images");
        IHypervisor kvm;
        IVm? vm = null;
        GuestRam? ram = null;
        List<KvmVcpu>? readyVcpus = null;
        List<ParkedThread>? readyThreads = null;
        Task? kernelSide = null;
        try
        {
            if (shell is not null && shell.Fits(config.MemoryMiB, config.Vcpus))
            {
                (var shellKvm, var shellVm, ram, readyVcpus, readyThreads) = shell.Take(map, config.Vcpus);
                (kvm, vm) = (shellKvm, shellVm);
                timer?.Mark("take VM shell");
            }
            else
            {
                kvm = openHypervisor();
                timer?.Mark("open /dev/kvm");
            }
        }
        catch
        {
            foreach (var b in backends) b.Dispose();
            throw;
        }
        VirtualMachine? machine = null;
        try
        {
            if (vm is null)
            {
                vm = kvm.CreateVm();
                timer?.Mark("KVM_CREATE_VM");
                vm.SetupArchitecturalPages();
                timer?.Mark("TSS + identity map");
                ram = GuestRam.Create(map, vm: null);
                timer?.Mark("guest RAM mapped");
                // KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2 and KVM_SET_USER_MEMORY_REGION can each wait for an
                // RCU grace period in the kernel (milliseconds on these hosts). Devices, ACPI tables,
                // the kernel image and a memory image need none of them, so they are made on another
                // thread meanwhile; whatever needs them (vCPUs, interrupts) calls JoinKernelSide first.
                var (v, r) = (vm, ram);
                kernelSide = Task.Run(() =>
                {
                    v.CreateIrqchipAndPit();
                    r.Register(v);
                });
            }
            machine = new VirtualMachine(kvm, vm, ram!, config) { _kernelSide = kernelSide, InShell = readyVcpus is not null };
            foreach (var v in readyVcpus ?? []) machine._shellVcpus.Enqueue(v);
            foreach (var t in readyThreads ?? []) machine._shellThreads.Enqueue(t);
            (readyVcpus, readyThreads) = (null, null);
            machine._backends.AddRange(backends);
            backends.Clear();
            machine.AttachLegacyDevices();
            var cmdline = new StringBuilder(config.CommandLine.Trim());
            var virtio = new List<VirtioMmioDeviceSpec>();
            foreach (var block in machine._backends.OfType<VirtioBlock>())
                virtio.Add(new VirtioMmioDeviceSpec("block", (mem, irq) => new VirtioMmioTransport(block, mem, irq)));
            if (config.VirtioConsole)
            {
                machine.VirtioConsole = new VirtioConsole(machine.WriteConsole);
                var console = machine.VirtioConsole;
                virtio.Add(new VirtioMmioDeviceSpec("console", (mem, irq) => new VirtioMmioTransport(console, mem, irq)));
            }
            virtio.AddRange(config.VirtioDevices);
            for (var i = 0; i < virtio.Count; i++)
                cmdline.Append(machine.AttachVirtioMmio(i, virtio[i]));
            timer?.Mark("devices");
            populate(machine, cmdline.ToString().Trim());
            machine.JoinKernelSide();
            timer?.Mark("irqchip + PIT + memory slots joined");
            if (config.ConsoleInput is { } input) machine.StartInputPump(input);
            timer?.Mark("console input");
            return machine;
        }
        catch
        {
            foreach (var b in backends) b.Dispose();
            if (machine is not null) machine.Dispose();
            else
            {
                WaitQuietly(kernelSide);
                foreach (var v in readyVcpus ?? []) v.Dispose();
                foreach (var t in readyThreads ?? []) t.Dispose();
                ram?.Dispose();
                vm?.Dispose();
                kvm.Dispose();
            }
            throw;
        }
    }

    /// <summary>Waits until the VM's irqchip, PIT and memory slots exist; rethrows what failed in making them.</summary>
    private void JoinKernelSide()
    {
        if (_kernelSide is not { } t) return;
        t.GetAwaiter().GetResult();
        _kernelSide = null;
    }

    private static void WaitQuietly(Task? t)
    {
        try { t?.Wait(); }
        catch (AggregateException) { }
    }

    /// <summary>Opens every disk image before KVM is touched, so a bad path is a configuration error.</summary>
    private static List<IDisposable> OpenDisks(IReadOnlyList<DiskConfig> disks)
    {
        var opened = new List<IDisposable>();
        try
        {
            foreach (var d in disks) opened.Add(new VirtioBlock(d.Path, d.ReadOnly));
            return opened;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            foreach (var o in opened) o.Dispose();
            throw new VmConfigException($"cannot open disk image: {e.Message}");
        }
    }

    private void AttachLegacyDevices()
    {
        Console = new Serial(new KvmInterruptLine(_vm, Serial.Com1Irq), WriteConsole);
        PioBus.Register(Serial.Com1Base, 8, Console, "serial (COM1)");
        Keyboard = new I8042(this, new KvmInterruptLine(_vm, I8042.KeyboardIrq));
        _persistables.Add(Console);
        _persistables.Add(Keyboard);
        PioBus.Register(I8042.DataPort, 1, Keyboard.Data, "i8042 data");
        PioBus.Register(I8042.CommandPort, 1, Keyboard, "i8042 command");
        PioBus.Register(DebugExit.Port, 4, new DebugExit(this), "debug-exit");
        PioBus.Register(AcpiPmDevice.Port, 1, new AcpiPmDevice(this), "ACPI sleep/reset");
        PioBus.Register(PostCodePort.Port, 1, new PostCodePort(), "POST code");
        Ged = new AcpiGedDevice(new KvmInterruptLine(_vm, AcpiGedDevice.Gsi));
        _persistables.Add(Ged);
        MmioBus.Register(AcpiGedDevice.Address, AcpiGedDevice.BusLength, Ged, "ACPI GED");
    }

    /// <summary>Puts virtio-mmio device <paramref name="index"/> at 0xD0000000 + index*4K and returns its command-line announcement.</summary>
    private string AttachVirtioMmio(int index, VirtioMmioDeviceSpec spec)
    {
        if (index >= VirtioGsis.Length) throw new VmConfigException($"too many virtio devices (at most {VirtioGsis.Length})");
        var address = VirtioMmioBase + (ulong)index * VirtioMmioSize;
        var gsi = VirtioGsis[index];
        var transport = spec.CreateTransport(_ram.Memory, new KvmInterruptLine(_vm, gsi));
        if (transport is VirtioMmioTransport t)
        {
            t.OnGuestError += m => _log($"virtio-mmio {spec.Name} at 0x{address:x}: guest error: {m}");
            t.PersistId = $"virtio-mmio@0x{address:x}";
        }
        if (transport is IPersistable p) _persistables.Add(p);
        MmioBus.Register(address, VirtioMmioSize, transport, $"virtio-mmio {spec.Name}");
        // Linux's virtio_mmio.device=<size>@<base>:<irq> convention.
        return $" virtio_mmio.device=4K@0x{address:x}:{gsi}";
    }

    /// <summary>vCPU <paramref name="id"/> of <paramref name="count"/> with its CPUID set: the VM shell's, or a new one.</summary>
    private IVcpu NextVcpu(int id, int count)
    {
        if (_shellVcpus.TryDequeue(out var ready)) return ready;
        var vcpu = _vm.CreateVcpu(id);
        try
        {
            vcpu.SetCpuid(count);
            return vcpu;
        }
        catch
        {
            vcpu.Dispose();
            throw;
        }
    }

    private void CreateVcpus(int count)
    {
        JoinKernelSide();
        for (var i = 0; i < count; i++)
        {
            var vcpu = NextVcpu(i, count);
            try
            {
                vcpu.InitializeFpu();
                vcpu.SetupLapicLints();
                if (i == 0)
                {
                    vcpu.SetSpecialRegisters(Boot.Cpu.SpecialRegisters);
                    vcpu.SetRegisters(Boot.Cpu.Registers);
                }
                else
                {
                    // Application processors wait for INIT-SIPI-SIPI from the guest (the MADT lists them).
                    vcpu.WaitForStartupIpi();
                }
            }
            catch
            {
                vcpu.Dispose();
                throw;
            }
            _runners.Add(new VcpuRunner(vcpu, this, NextThread()));
        }
    }

    /// <summary>A thread the VM shell started ahead, or null: the caller starts its own.</summary>
    private ParkedThread? NextThread() => _shellThreads.TryDequeue(out var t) ? t : null;

    private void StartInputPump(Stream input)
    {
        void Pump()
        {
            var buffer = new byte[256];
            try
            {
                while (!_exited.Task.IsCompleted)
                {
                    var n = input.Read(buffer, 0, buffer.Length);
                    if (n <= 0) break;
                    if (VirtioConsole is { } vc) vc.QueueInput(buffer.AsSpan(0, n));
                    else Console.EnqueueInput(buffer.AsSpan(0, n));
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // console input gone: the guest just sees no more bytes
            }
        }
        if (_shellThreads.TryDequeue(out var parked))
        {
            parked.Give(Pump, "console-input"); // woken by Start
            _inputThread = parked;
        }
        else new Thread(Pump) { Name = "console-input", IsBackground = true }.Start();
    }

    private void WriteConsole(byte b) => WriteConsole([b]);

    private void WriteConsole(ReadOnlySpan<byte> bytes)
    {
        if (_consoleOutput is null) return;
        lock (_consoleLock)
        {
            try
            {
                _consoleOutput.Write(bytes);
                if (bytes.Contains((byte)'\n')) _consoleOutput.Flush();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // console reader went away; the guest keeps running
            }
        }
    }

    private void FlushConsole()
    {
        if (_consoleOutput is null) return;
        lock (_consoleLock)
        {
            try { _consoleOutput.Flush(); } catch (Exception e) when (e is IOException or ObjectDisposedException) { }
        }
    }

    /// <summary>Starts (or resumes) every vCPU.</summary>
    public void Start()
    {
        lock (_stateLock)
        {
            if (_state == VmState.Exited) throw new InvalidOperationException("the VM has already exited");
            if (_state == VmState.Running) return;
            _state = VmState.Running;
        }
        foreach (var r in _runners) r.Resume();
        _inputThread?.Wake();
        VirtioConsole?.HoldInput(false);
    }

    /// <summary>Pauses every vCPU and waits until all are out of KVM_RUN; host input to the guest waits too.</summary>
    public void Pause()
    {
        lock (_stateLock)
        {
            if (_state != VmState.Running) throw new InvalidOperationException($"cannot pause a VM that is {_state}");
            _state = VmState.Paused;
        }
        VirtioConsole?.HoldInput(true);
        foreach (var r in _runners) r.Pause();
        foreach (var r in _runners) r.WaitForState(VcpuState.Paused, TimeSpan.FromSeconds(10));
    }

    public void Resume()
    {
        lock (_stateLock)
        {
            if (_state != VmState.Paused) throw new InvalidOperationException($"cannot resume a VM that is {_state}");
            _state = VmState.Running;
        }
        foreach (var r in _runners) r.Resume();
        VirtioConsole?.HoldInput(false);
    }

    /// <summary>Ends the VM from the host side; the exit reason is <see cref="VmExitReason.Stopped"/> unless the guest ended first.</summary>
    public void Stop(string why = "stopped by the host") => End(new GuestExit(VmExitReason.Stopped, why));

    /// <summary>Waits for the guest to end; on timeout stops it and returns <see cref="VmExitReason.Stopped"/>.</summary>
    public GuestExit WaitForExit(TimeSpan timeout)
    {
        if (!_exited.Task.Wait(timeout)) Stop($"timed out after {timeout.TotalSeconds:0.#} s");
        return _exited.Task.Result;
    }

    public long ExitCount => _runners.Sum(r => r.ExitCount);

    // ---- what the host can do to a guest that is still running (xl trigger, shutdown, reboot) ----

    /// <summary>
    /// Presses the ACPI power button: the GED latches the event and raises its interrupt; an ACPI
    /// guest's _EVT notifies \_SB.PWRB and the guest decides what to do (Linux: orderly power-off).
    /// On a paused VM the press waits in the device until the guest runs again.
    /// </summary>
    public void PressPowerButton()
    {
        RequireNotExited("press the power button of");
        Ged.Notify(GedEvent.PowerButton);
        _log("ACPI power button pressed");
    }

    /// <summary>Types Ctrl-Alt-Del on the i8042 keyboard (Linux reboots on it).</summary>
    public void SendCtrlAltDel()
    {
        RequireNotExited("send Ctrl-Alt-Del to");
        if (!Keyboard.SendCtrlAltDel())
            throw new InvalidOperationException($"the i8042 output buffer is full ({Keyboard.Pending} of {I8042.BufferSize} bytes): the guest has not read the keys sent before");
        _log("Ctrl-Alt-Del sent on the i8042 keyboard");
    }

    /// <summary>Sends a non-maskable interrupt to vCPU <paramref name="vcpu"/> (xl trigger nmi).</summary>
    public void InjectNmi(int vcpu = 0)
    {
        RequireNotExited("send an NMI to");
        if (vcpu < 0 || vcpu >= _runners.Count)
            throw new ArgumentOutOfRangeException(nameof(vcpu), $"the VM has no vCPU {vcpu} (it has {_runners.Count})");
        _runners[vcpu].InjectNmi();
        _log($"NMI sent to vCPU {vcpu}");
    }

    /// <summary>Pulls the reset line without asking the guest (xl trigger reset): the guest ends as a reboot.</summary>
    public void HardReset(string why = "hard reset by the host") => End(new GuestExit(VmExitReason.Reboot, why));

    private void RequireNotExited(string what)
    {
        if (_exited.Task.IsCompleted) throw new InvalidOperationException($"cannot {what} a VM that has exited");
    }

    /// <summary>Each vCPU's host thread id, by vCPU number (waits briefly for threads still starting).</summary>
    public IReadOnlyList<int> VcpuThreadIds()
    {
        var deadline = Environment.TickCount64 + 1000;
        while (_runners.Any(r => r.Tid == 0) && Environment.TickCount64 < deadline) Thread.Sleep(1);
        return [.. _runners.Select(r => r.Tid)];
    }

    /// <summary>Puts every vCPU behind a time-partitioning gate (ARINC653), or frees them (null).</summary>
    public void SetGate(Vcpu.IVcpuGate? gate)
    {
        foreach (var r in _runners) r.Gate = gate;
    }

    private void End(GuestExit exit)
    {
        if (!_exited.TrySetResult(exit)) return;
        lock (_stateLock) _state = VmState.Exited;
        FlushConsole();
        foreach (var r in _runners) r.Stop();
    }

    void IGuestEvents.PowerOff(string how) => End(new GuestExit(VmExitReason.Poweroff, how));

    void IGuestEvents.Reboot(string how) => End(new GuestExit(VmExitReason.Reboot, how));

    bool IVcpuExitHandler.HandleExit(IVcpu vcpu, VmExit exit)
    {
        switch (exit.Kind)
        {
            case VmExitKind.IoIn:
                for (var i = 0; i < exit.Count; i++) PioBus.Read(exit.Address, exit.Data.Slice(i * exit.Size, exit.Size));
                break;
            case VmExitKind.IoOut:
                for (var i = 0; i < exit.Count; i++) PioBus.Write(exit.Address, exit.Data.Slice(i * exit.Size, exit.Size));
                break;
            case VmExitKind.MmioRead or VmExitKind.MmioWrite when _ram.Map.IsBeyondRam(exit.Address):
                // RAM's range past this guest's RAM is no empty bus: nothing is there for it. A guest
                // in a VM shell, whose slot covers it, faults in KVM (MemoryFault below) or, where KVM
                // emulates the access, comes here like a guest without a shell: all end the same way.
                End(new GuestExit(VmExitReason.Crash,
                    $"vCPU {vcpu.Id} {(exit.Kind == VmExitKind.MmioWrite ? "wrote" : "read")} {exit.Size} bytes at guest-physical 0x{exit.Address:x}, " +
                    $"beyond its RAM ({_ram.Map.DescribeRam()})", Snapshot(vcpu)));
                return false;
            case VmExitKind.MmioRead:
                MmioBus.Read(exit.Address, exit.Data);
                break;
            case VmExitKind.MmioWrite:
                MmioBus.Write(exit.Address, exit.Data);
                break;
            case VmExitKind.MemoryFault:
                End(new GuestExit(VmExitReason.Crash, DescribeMemoryFault(vcpu, exit), Snapshot(vcpu)));
                return false;
            case VmExitKind.Shutdown:
                End(new GuestExit(VmExitReason.Reboot, $"triple fault on vCPU {vcpu.Id} (KVM_EXIT_SHUTDOWN)", Snapshot(vcpu)));
                return false;
            case VmExitKind.SystemEvent:
                End(exit.EventType switch
                {
                    SystemEventType.Shutdown => new GuestExit(VmExitReason.Poweroff, $"KVM system event shutdown from vCPU {vcpu.Id}"),
                    SystemEventType.Reset => new GuestExit(VmExitReason.Reboot, $"KVM system event reset from vCPU {vcpu.Id}"),
                    _ => new GuestExit(VmExitReason.Crash, $"KVM system event {exit.Suberror} (crash) on vCPU {vcpu.Id}", Snapshot(vcpu)),
                });
                return false;
            case VmExitKind.Hlt:
                End(new GuestExit(VmExitReason.Crash, $"vCPU {vcpu.Id} halted with no way to wake (KVM_EXIT_HLT)", Snapshot(vcpu)));
                return false;
            case VmExitKind.InternalError:
            case VmExitKind.FailEntry:
            case VmExitKind.Unknown:
                End(new GuestExit(VmExitReason.Crash, $"{Describe(exit)} on vCPU {vcpu.Id}", Snapshot(vcpu)));
                return false;
        }
        return !_exited.Task.IsCompleted;
    }

    void IVcpuExitHandler.OnVcpuFault(IVcpu vcpu, Exception error)
    {
        _log($"vCPU {vcpu.Id}: {error}");
        End(new GuestExit(VmExitReason.Crash, $"VMM fault while handling vCPU {vcpu.Id}: {error.GetType().Name}: {error.Message}", Snapshot(vcpu)));
    }

    private string DescribeMemoryFault(IVcpu vcpu, VmExit exit)
    {
        var map = _ram.Map;
        if (exit.Address != VmExit.UnknownAddress)
            return $"vCPU {vcpu.Id} touched guest-physical 0x{exit.Address:x} (+0x{exit.Size:x}), " +
                (map.IsBeyondRam(exit.Address) ? "beyond its RAM" : "which KVM could not map to host memory") + $" ({map.DescribeRam()}; KVM_EXIT_MEMORY_FAULT)";
        // This KVM does not say where. A slot that reaches past the RAM (a VM shell's) is the likely place.
        var slotEnd = _ram.Slots.Max(s => s.Gpa + s.Size);
        var ramEnd = _ram.Memory.Regions.Max(r => r.End);
        return slotEnd > ramEnd
            ? $"vCPU {vcpu.Id} touched guest memory KVM could not map to host memory (KVM_RUN: EFAULT, this KVM does not report the address): " +
              $"most likely beyond its RAM ({map.DescribeRam()}), where its VM shell's memory slot goes on to 0x{slotEnd:x} over no memory; see rip and the code there"
            : $"vCPU {vcpu.Id} touched guest RAM KVM could not map to host memory (KVM_RUN: EFAULT, this KVM does not report the address; {map.DescribeRam()})";
    }

    private static string Describe(VmExit exit) => exit.Kind switch
    {
        VmExitKind.InternalError => $"KVM internal error, suberror {exit.Suberror} ({InternalErrorName(exit.Suberror)})" +
            (exit.Details is { Length: > 0 } d ? ", data " + string.Join(' ', d.Select(x => $"0x{x:x}")) : ""),
        VmExitKind.FailEntry => $"KVM entry failure, hardware reason 0x{exit.Address:x}",
        _ => $"unhandled KVM exit reason {exit.RawReason}",
    };

    private static string InternalErrorName(uint suberror) => suberror switch
    {
        1 => "emulation failure",
        2 => "simultaneous exceptions",
        3 => "delivery event",
        4 => "unexpected exit reason",
        _ => "unknown",
    };

    private VcpuSnapshot? Snapshot(IVcpu vcpu)
    {
        try
        {
            var r = vcpu.GetRegisters();
            var s = vcpu.GetSpecialRegisters();
            return new VcpuSnapshot(vcpu.Id, r, s) { CodeAtRip = GuestPageWalker.ReadCode(_ram.Memory, r, s) };
        }
        catch (Exception)
        {
            return null;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        End(new GuestExit(VmExitReason.Stopped, "VM disposed"));
        WaitQuietly(_kernelSide);
        foreach (var r in _runners) r.Dispose();
        foreach (var r in _runners) r.Vcpu.Dispose();
        while (_shellVcpus.TryDequeue(out var unused)) unused.Dispose();
        while (_shellThreads.TryDequeue(out var idle)) idle.Dispose();
        _inputThread?.Dispose(); // a VM never started: the pump sees it ended and returns
        foreach (var b in _backends) b.Dispose();
        _ram.Dispose();
        _vm.Dispose();
        _hypervisor.Dispose();
    }
}
