using System.Buffers.Binary;
using Domino.Vmm.Devices.Virtio;
using Domino.Vmm.Devices.Virtio.Block;
using Domino.Vmm.Devices.Virtio.Queue;
using Xunit;
using R = Domino.Vmm.Devices.Virtio.VirtioMmioTransport.Reg;

namespace Domino.Vmm.Tests.Virtio;

public sealed class VirtioBlockTests : IDisposable
{
    private const int Sectors = 64;
    private readonly string _dir = Directory.CreateTempSubdirectory("domino-virtio-blk-").FullName;
    private readonly List<VirtioBlock> _devices = [];

    public void Dispose()
    {
        foreach (var d in _devices) d.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string NewImage(int sectors = Sectors, string name = "disk.img")
    {
        var path = Path.Combine(_dir, name);
        var bytes = new byte[sectors * DiskImage.SectorSize];
        for (var i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i / DiskImage.SectorSize);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private (VirtioDriver Driver, DriverQueue Queue, VirtioBlock Block) BringUp(string path, bool readOnly = false, ulong features = 0)
    {
        var block = new VirtioBlock(path, readOnly, serial: "DOMINO-DISK-0001");
        _devices.Add(block);
        var d = new VirtioDriver(block, new GuardedGuestMemory());
        d.BringUp(VirtioFeatures.Version1 | features, 1);
        return (d, d.Queues[0], block);
    }

    private static byte[] Header(uint type, ulong sector)
    {
        var h = new byte[BlockRequest.HeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(h, type);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(8), sector);
        return h;
    }

    /// <summary>Submit header / data / status as three descriptors; returns (status, used length).</summary>
    private static (byte Status, uint UsedLen) Submit(VirtioDriver d, DriverQueue q, uint type, ulong sector, ulong data, uint dataLen, bool dataWritable)
    {
        var header = d.Buffer(Header(type, sector));
        var status = d.Buffer([0xff]);
        var before = q.UsedIdx;
        var head = dataLen == 0
            ? q.AddChain((header, 16, false), (status, 1, true))
            : q.AddChain((header, 16, false), (data, dataLen, dataWritable), (status, 1, true));
        q.Kick();
        Assert.Equal((ushort)(before + 1), q.UsedIdx);
        var (id, len) = q.Used(before);
        Assert.Equal(head, id);
        return (d.ReadGuest(status, 1)[0], len);
    }

    [Fact]
    public void Config_space_reports_capacity_and_seg_max()
    {
        var (d, _, block) = BringUp(NewImage());
        Assert.Equal((ulong)Sectors, block.CapacitySectors);
        var cap = new byte[8];
        d.Transport.Read(R.Config + BlockConfig.CapacityOffset, cap);
        Assert.Equal((ulong)Sectors, BinaryPrimitives.ReadUInt64LittleEndian(cap));
        Assert.Equal(VirtioBlock.QueueSize - 2u, d.ReadReg(R.Config + BlockConfig.SegMaxOffset));
        // Byte-wide reads work too, and past the end reads zero.
        var one = new byte[1];
        d.Transport.Read(R.Config, one);
        Assert.Equal(Sectors, one[0]);
        Assert.Equal(0u, d.ReadReg(R.Config + 0x80));
        var offered = d.ReadDeviceFeatures();
        Assert.Equal(BlockFeatures.Flush | BlockFeatures.SegMax, offered & (BlockFeatures.Flush | BlockFeatures.SegMax | BlockFeatures.ReadOnly));
    }

    [Fact]
    public void Read_returns_the_sectors_with_used_length_data_plus_status()
    {
        var (d, q, _) = BringUp(NewImage());
        var data = d.Buffer(2 * DiskImage.SectorSize);
        var (status, used) = Submit(d, q, BlockRequestType.In, 5, data, 2 * DiskImage.SectorSize, true);
        Assert.Equal(BlockStatus.Ok, status);
        Assert.Equal(2u * DiskImage.SectorSize + 1, used);
        var got = d.ReadGuest(data, 2 * DiskImage.SectorSize);
        Assert.All(got.AsSpan(0, DiskImage.SectorSize).ToArray(), b => Assert.Equal(5, b));
        Assert.All(got.AsSpan(DiskImage.SectorSize).ToArray(), b => Assert.Equal(6, b));
        Assert.Equal(VirtioMmioTransport.InterruptUsedBuffer, d.InterruptStatus);
        Assert.True(d.Irq.Level);
    }

    [Fact]
    public void Write_then_flush_reaches_the_file()
    {
        var path = NewImage();
        var (d, q, _) = BringUp(path);
        var payload = Enumerable.Repeat((byte)0xCD, DiskImage.SectorSize).ToArray();
        var (status, used) = Submit(d, q, BlockRequestType.Out, 9, d.Buffer(payload), DiskImage.SectorSize, false);
        Assert.Equal(BlockStatus.Ok, status);
        Assert.Equal(1u, used);
        Assert.Equal(BlockStatus.Ok, Submit(d, q, BlockRequestType.Flush, 0, 0, 0, false).Status);
        _devices.ForEach(b => b.Dispose());
        _devices.Clear();
        var file = File.ReadAllBytes(path);
        Assert.Equal(payload, file.AsSpan(9 * DiskImage.SectorSize, DiskImage.SectorSize).ToArray());
        Assert.Equal(8, file[9 * DiskImage.SectorSize - 1]);
        Assert.Equal(10, file[10 * DiskImage.SectorSize]);
    }

    [Fact]
    public void Get_id_returns_the_serial_padded_to_20_bytes()
    {
        var (d, q, _) = BringUp(NewImage());
        var id = d.Buffer(BlockRequest.SerialLength);
        var (status, used) = Submit(d, q, BlockRequestType.GetId, 0, id, BlockRequest.SerialLength, true);
        Assert.Equal(BlockStatus.Ok, status);
        Assert.Equal(BlockRequest.SerialLength + 1u, used);
        var expected = new byte[BlockRequest.SerialLength];
        "DOMINO-DISK-0001"u8.CopyTo(expected);
        Assert.Equal(expected, d.ReadGuest(id, BlockRequest.SerialLength));
    }

    [Fact]
    public void Default_serial_is_the_file_name()
    {
        var path = NewImage(name: "a-rather-long-image-name.img");
        using var block = new VirtioBlock(path, readOnly: true);
        var d = new VirtioDriver(block, new GuardedGuestMemory());
        d.BringUp(VirtioFeatures.Version1, 1);
        var id = d.Buffer(BlockRequest.SerialLength);
        Submit(d, d.Queues[0], BlockRequestType.GetId, 0, id, BlockRequest.SerialLength, true);
        Assert.Equal("a-rather-long-image-"u8.ToArray(), d.ReadGuest(id, BlockRequest.SerialLength));
    }

    [Fact]
    public void Read_only_disk_offers_RO_and_refuses_writes_with_IOERR()
    {
        var path = NewImage();
        var before = File.ReadAllBytes(path);
        var (d, q, block) = BringUp(path, readOnly: true, features: BlockFeatures.ReadOnly);
        Assert.True(block.IsReadOnly);
        Assert.NotEqual(0UL, d.ReadDeviceFeatures() & BlockFeatures.ReadOnly);
        var payload = d.Buffer(new byte[DiskImage.SectorSize]);
        var (status, used) = Submit(d, q, BlockRequestType.Out, 0, payload, DiskImage.SectorSize, false);
        Assert.Equal(BlockStatus.IoError, status);
        Assert.Equal(1u, used);
        Assert.Equal(BlockStatus.Ok, Submit(d, q, BlockRequestType.In, 0, d.Buffer(512), 512, true).Status);
        Assert.Equal(BlockStatus.Ok, Submit(d, q, BlockRequestType.Flush, 0, 0, 0, false).Status);
        _devices.ForEach(b => b.Dispose());
        _devices.Clear();
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData(BlockRequestType.In, Sectors, 512u)]               // starts at capacity
    [InlineData(BlockRequestType.In, Sectors - 1, 1024u)]          // runs past the end
    [InlineData(BlockRequestType.Out, Sectors - 1, 1024u)]
    [InlineData(BlockRequestType.In, ulong.MaxValue, 512u)]        // sector * 512 overflows
    [InlineData(BlockRequestType.Out, ulong.MaxValue / 512, 1024u)]
    [InlineData(BlockRequestType.In, 0, 100u)]                     // not whole sectors
    public void Requests_beyond_capacity_or_not_whole_sectors_get_IOERR(uint type, ulong sector, uint length)
    {
        var path = NewImage();
        var before = File.ReadAllBytes(path);
        var (d, q, _) = BringUp(path);
        var data = d.Buffer(new byte[length]);
        var (status, used) = Submit(d, q, type, sector, data, length, type == BlockRequestType.In);
        Assert.Equal(BlockStatus.IoError, status);
        Assert.Equal(1u, used);
        Assert.Equal(new byte[length], d.ReadGuest(data, (int)length));
        Assert.Empty(d.Errors);
        _devices.ForEach(b => b.Dispose());
        _devices.Clear();
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void The_last_sector_is_readable()
    {
        var (d, q, _) = BringUp(NewImage());
        var data = d.Buffer(512);
        Assert.Equal(BlockStatus.Ok, Submit(d, q, BlockRequestType.In, Sectors - 1, data, 512, true).Status);
        Assert.Equal(Sectors - 1, d.ReadGuest(data, 1)[0]);
    }

    [Fact]
    public void Unknown_request_type_gets_UNSUPP()
    {
        var (d, q, _) = BringUp(NewImage());
        var (status, used) = Submit(d, q, 11 /* DISCARD, not offered */, 0, d.Buffer(16), 16, false);
        Assert.Equal(BlockStatus.Unsupported, status);
        Assert.Equal(1u, used);
    }

    [Fact]
    public void Header_and_data_may_be_split_across_descriptors()
    {
        var (d, q, _) = BringUp(NewImage());
        var header = Header(BlockRequestType.In, 3);
        var h1 = d.Buffer(header.AsSpan(0, 5));
        var h2 = d.Buffer(header.AsSpan(5));
        var data1 = d.Buffer(100);
        var data2 = d.Buffer(412);
        var status = d.Buffer([0xff]);
        q.AddChain((h1, 5, false), (h2, 11, false), (data1, 100, true), (data2, 412, true), (status, 1, true));
        q.Kick();
        Assert.Equal(0, d.ReadGuest(status, 1)[0]);
        Assert.Equal(513u, q.Used(0).Len);
        Assert.All(d.ReadGuest(data1, 100), b => Assert.Equal(3, b));
        Assert.All(d.ReadGuest(data2, 412), b => Assert.Equal(3, b));
    }

    [Fact]
    public void Indirect_descriptor_tables_are_followed()
    {
        var (d, q, _) = BringUp(NewImage(), features: VirtioFeatures.RingIndirectDesc);
        var header = d.Buffer(Header(BlockRequestType.In, 7));
        var data = d.Buffer(512);
        var status = d.Buffer([0xff]);
        var table = d.Buffer(3 * 16);
        q.WriteDescriptorAt(table, header, 16, SplitVirtqueue.DescFlagNext, 1);
        q.WriteDescriptorAt(table + 16, data, 512, SplitVirtqueue.DescFlagNext | SplitVirtqueue.DescFlagWrite, 2);
        q.WriteDescriptorAt(table + 32, status, 1, SplitVirtqueue.DescFlagWrite, 0);
        q.WriteDescriptor(0, table, 48, SplitVirtqueue.DescFlagIndirect, 0);
        q.Publish(0);
        q.Kick();
        Assert.Equal(BlockStatus.Ok, d.ReadGuest(status, 1)[0]);
        Assert.Equal(7, d.ReadGuest(data, 1)[0]);
        Assert.Equal(513u, q.Used(0).Len);
    }

    [Fact]
    public void Many_requests_wrap_around_the_ring()
    {
        var (d, q, _) = BringUp(NewImage());
        for (var i = 0; i < 3 * q.Size; i++)
        {
            var data = d.Buffer(512);
            var sector = (ulong)(i % Sectors);
            Assert.Equal(BlockStatus.Ok, Submit(d, q, BlockRequestType.In, sector, data, 512, true).Status);
            Assert.Equal((byte)sector, d.ReadGuest(data, 1)[0]);
        }
    }

    [Fact]
    public async Task Concurrent_notifies_from_several_vcpus_complete_each_request_once()
    {
        var (d, q, _) = BringUp(NewImage());
        var data = new List<ulong>();
        var status = new List<ulong>();
        var requests = q.Size / 3; // three descriptors each
        for (var i = 0; i < requests; i++)
        {
            data.Add(d.Buffer(512));
            status.Add(d.Buffer([0xff]));
            q.AddChain((d.Buffer(Header(BlockRequestType.In, (ulong)i)), 16, false), (data[i], 512, true), (status[i], 1, true));
        }
        using var go = new ManualResetEventSlim();
        var vcpus = Enumerable.Range(0, 4).Select(vcpu => Task.Run(() =>
        {
            go.Wait();
            for (var k = 0; k < 50; k++)
            {
                q.Kick();
                _ = d.Status;
                _ = d.InterruptStatus;
            }
        })).ToArray();
        go.Set();
        await Task.WhenAll(vcpus);

        Assert.Equal(requests, q.UsedIdx);
        var heads = Enumerable.Range(0, q.UsedIdx).Select(i => q.Used(i).Id).ToList();
        Assert.Equal(heads.Distinct().Count(), heads.Count);
        for (var i = 0; i < data.Count; i++)
        {
            Assert.Equal(BlockStatus.Ok, d.ReadGuest(status[i], 1)[0]);
            Assert.Equal(i, d.ReadGuest(data[i], 1)[0]);
        }
        Assert.Empty(d.Errors);
    }

    [Fact]
    public void Notify_after_dispose_is_ignored()
    {
        var (d, q, block) = BringUp(NewImage());
        block.Dispose();
        q.AddChain((d.Buffer(Header(BlockRequestType.In, 0)), 16, false), (d.Buffer(1), 1, true));
        q.Kick();
        Assert.Equal(0, q.UsedIdx);
    }

    [Fact]
    public void Request_without_a_status_byte_needs_reset()
    {
        var (d, q, _) = BringUp(NewImage());
        q.AddChain((d.Buffer(Header(BlockRequestType.In, 0)), 16, false), (d.Buffer(512), 512, false));
        q.Kick();
        d.AssertNeedsReset("no device-writable status byte");
        Assert.Equal(0, q.UsedIdx);
    }

    [Fact]
    public void Request_with_a_short_header_needs_reset()
    {
        var (d, q, _) = BringUp(NewImage());
        q.AddChain((d.Buffer(new byte[8]), 8, false), (d.Buffer(1), 1, true));
        q.Kick();
        d.AssertNeedsReset("less than the 16-byte header");
    }

    [Fact]
    public void Data_descriptor_reaching_past_RAM_is_refused_before_any_write()
    {
        var (d, q, _) = BringUp(NewImage());
        var header = d.Buffer(Header(BlockRequestType.In, 0));
        var status = d.Buffer([0xff]);
        // The last 256 bytes of RAM plus 256 bytes of the guard zone after it.
        q.AddChain((header, 16, false), (GuardedGuestMemory.RamEnd - 256, 512, true), (status, 1, true));
        q.Kick();
        d.AssertNeedsReset("is outside guest RAM");
        Assert.Equal(0xff, d.ReadGuest(status, 1)[0]);
        Assert.Equal(new byte[256], d.ReadGuest(GuardedGuestMemory.RamEnd - 256, 256));
    }

    [Fact]
    public void Missing_image_is_a_clear_error()
    {
        var path = Path.Combine(_dir, "nope.img");
        var e = Assert.Throws<DiskImageException>(() => new VirtioBlock(path, readOnly: false));
        Assert.Contains(path, e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Directory_is_a_clear_error()
    {
        var e = Assert.Throws<DiskImageException>(() => new VirtioBlock(_dir, readOnly: true));
        Assert.Contains("is a directory", e.Message);
    }

    [Fact]
    public void Image_already_open_read_write_cannot_be_opened_again()
    {
        var path = NewImage();
        using var first = new VirtioBlock(path, readOnly: false);
        var e = Assert.Throws<DiskImageException>(() => new VirtioBlock(path, readOnly: false));
        Assert.Contains("cannot be opened for reading and writing", e.Message);
        Assert.Throws<DiskImageException>(() => new VirtioBlock(path, readOnly: true));
    }

    [SkippableFact]
    public void Image_without_write_permission_cannot_be_opened_read_write()
    {
        Skip.If(Environment.UserName == "root", "root ignores file permissions");
        var path = NewImage();
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead);
        var e = Assert.Throws<DiskImageException>(() => new VirtioBlock(path, readOnly: false));
        Assert.Contains("permission denied", e.Message);
        using var ro = new VirtioBlock(path, readOnly: true);
        Assert.True(ro.IsReadOnly);
    }
}
