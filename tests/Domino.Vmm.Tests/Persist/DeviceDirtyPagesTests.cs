using System.Buffers.Binary;
using Domino.Vmm.Devices.Virtio;
using Domino.Vmm.Devices.Virtio.Block;
using Domino.Vmm.Memory;
using Domino.Vmm.Persist;
using Domino.Vmm.Tests.Virtio;

namespace Domino.Vmm.Tests.Persist;

/// <summary>
/// A virtio-blk read lands in guest RAM by the VMM's hand, which KVM's dirty log never sees. On a
/// real VM: KVM's log alone misses the page, the merged log has it, and a migration whose device
/// read falls between pre-copy rounds delivers the data to the target only with the merge.
/// </summary>
public sealed class DeviceDirtyPagesTests : IDisposable
{
    private const int Page = GuestMemory.PageSize;
    private const ulong DriverArea = 96UL << 20; // far above anything the counter guest touches
    private readonly string _dir = Directory.CreateTempSubdirectory("domino-dma-").FullName;
    private readonly byte[] _sector = new byte[DiskImage.SectorSize];

    public DeviceDirtyPagesTests()
    {
        for (var i = 0; i < _sector.Length; i++) _sector[i] = (byte)(i * 7 + 1);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A built (never started) counter VM with one disk whose sector 1 is <see cref="_sector"/>.</summary>
    private VirtualMachine BuildWithDisk(ConsoleCapture console)
    {
        var image = Path.Combine(_dir, "disk.img");
        File.WriteAllBytes(image, [.. new byte[DiskImage.SectorSize], .. _sector]);
        return VirtualMachine.Build(new VmConfig
        {
            KernelPath = GuestKit.Guest("counter"),
            CommandLine = $"every={CounterGuest.Every}",
            MemoryMiB = 128,
            Disks = [new DiskConfig(image, ReadOnly: true)], // read-only: the in-process target opens the same image
            ConsoleOutput = console,
        });
    }

    /// <summary>Plays the guest's virtio driver against the VM's own transport: a read of sector 1 queued, not yet kicked.</summary>
    private static (DriverQueue Queue, ulong Data) QueueRead(VirtualMachine vm)
    {
        var transport = vm.PersistableDevices.OfType<VirtioMmioTransport>().Single();
        var next = DriverArea;
        var driver = new VirtioDriver(transport, vm.Memory, (length, align) =>
        {
            var gpa = (next + align - 1) & ~(align - 1);
            next = gpa + length;
            return gpa;
        });
        driver.BringUp(VirtioFeatures.Version1, 1);
        var header = new byte[BlockRequest.HeaderLength];
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), 1); // VIRTIO_BLK_T_IN, sector 1
        var h = driver.Buffer(header);
        var status = driver.Buffer([0xff]);
        var data = driver.Buffer(DiskImage.SectorSize, align: Page);
        var queue = driver.Queues[0];
        queue.AddChain((h, 16, false), (data, (uint)DiskImage.SectorSize, true), (status, 1, true));
        return (queue, data);
    }

    private static bool IsSet(ulong[] bitmap, ulong gpa) => (bitmap[gpa / Page / 64] & (1UL << (int)(gpa / Page % 64))) != 0;

    [SkippableFact]
    public void Kvm_dirty_log_misses_a_virtio_blk_read_and_the_merged_log_has_it()
    {
        KvmGate.RequireKvm();
        using var vm = BuildWithDisk(new ConsoleCapture());
        var (queue, data) = QueueRead(vm);
        vm.Ram.SetDirtyLogging(vm.KvmVm, true);
        vm.Ram.FetchDirtyBitmap(vm.KvmVm, 0); // start from a clean log

        queue.Kick(); // the device reads the sector into the guest buffer

        Assert.Equal(_sector, vm.Memory.GetSpan(data, _sector.Length).ToArray());
        var kvmOnly = vm.Ram.FetchDirtyBitmap(vm.KvmVm, 0, includeHostWrites: false);
        Assert.False(IsSet(kvmOnly, data), "KVM's dirty log saw a host write: then the host-side bitmap would not be needed");
        var merged = vm.Ram.FetchDirtyBitmap(vm.KvmVm, 0);
        Assert.True(IsSet(merged, data), "the device's write into the guest buffer is not in the merged dirty log");
        Assert.True(IsSet(merged, queue.UsedRing + 2), "the used ring update is not in the merged dirty log");
        vm.Ram.SetDirtyLogging(vm.KvmVm, false);
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void Virtio_blk_read_during_pre_copy_reaches_the_target_only_with_the_merge(bool merge)
    {
        KvmGate.RequireKvm();
        using var net = new Loopback();
        using var vm = BuildWithDisk(new ConsoleCapture());
        var (queue, data) = QueueRead(vm);
        var target = Task.Run(() =>
        {
            var channel = new MigrationChannel(net.Target);
            return LiveMigration.ReceiveMigration(channel, LiveMigration.ReceiveHello(channel), new RestoreOptions { ConsoleOutput = new ConsoleCapture() });
        });
        // Round 0 has copied the (still empty) buffer page; the read lands before round 1 looks at the logs.
        var options = new MigrationOptions { OnRound = (round, _, _) => { if (round == 0) queue.Kick(); }, KvmDirtyLogOnly = !merge };
        LiveMigration.Send(vm, "dma", net.Source, options);
        Assert.Equal(_sector, vm.Memory.GetSpan(data, _sector.Length).ToArray());
        using var moved = target.Result;
        var arrived = moved.Memory.GetSpan(data, _sector.Length).ToArray();
        if (merge) Assert.Equal(_sector, arrived);
        else Assert.Equal(new byte[_sector.Length], arrived); // what a KVM-log-only migration delivers: the stale page
    }
}
