using System.Buffers.Binary;
using Domino.Vmm.Persist;

namespace Domino.Vmm.Tests.Persist;

/// <summary>A damaged, foreign or too-new state file is refused with a clear reason before any VM is built.</summary>
public sealed class StateFileRefusalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("domino-refuse-").FullName;
    private readonly string _good;

    public StateFileRefusalTests()
    {
        _good = Path.Combine(_dir, "good.state");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void SaveGood(Func<VmSnapshot, VmSnapshot>? edit = null, string? path = null)
    {
        var console = new ConsoleCapture();
        using var vm = CounterGuest.Boot("counter", $"every={CounterGuest.Every}", console, memoryMiB: 32);
        vm.Start();
        CounterGuest.WaitForValues(console, 1, TimeSpan.FromSeconds(20));
        vm.Pause();
        if (edit is null) vm.SaveToFile(path ?? _good);
        else SnapshotFile.Write(path ?? _good, edit(vm.CaptureState()), vm.Memory);
    }

    private static string Refusal(string path) =>
        Assert.Throws<SnapshotException>(() => VirtualMachine.RestoreFromFile(path, new RestoreOptions(), out _).Dispose()).Message;

    private string Copy(string name, Action<byte[]> damage, int? length = null)
    {
        var bytes = File.ReadAllBytes(_good);
        damage(bytes);
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, length is { } n ? bytes[..n] : bytes);
        return path;
    }

    [SkippableFact]
    public void Truncated_file_is_refused()
    {
        KvmGate.RequireKvm();
        SaveGood();
        var length = (int)new FileInfo(_good).Length;
        Assert.Contains("truncated", Refusal(Copy("short.state", _ => { }, length - 4096)));
        Assert.Contains("too short", Refusal(Copy("stub.state", _ => { }, 10)));
    }

    [SkippableFact]
    public void Corrupt_state_section_and_corrupt_memory_are_refused()
    {
        KvmGate.RequireKvm();
        SaveGood();
        Assert.Contains("'CONF' is corrupt", Refusal(Copy("conf.state", b => b[SnapshotFile.HeaderLength + 20] ^= 0x40)));
        using var file = SnapshotFile.Open(_good);
        var region = file.Regions[0];
        var firstPage = SnapshotFile.Runs(region.Present, region.Pages).First().First;
        var offset = region.FileOffset + firstPage * SnapshotFile.PageSize + 100;
        Assert.Contains("memory at 0x0", Refusal(Copy("mem.state", b => b[offset] ^= 1)));
        Assert.Contains("header is corrupt", Refusal(Copy("hdr.state", b => b[20] ^= 1)));
        Assert.Contains("not a Domino state file", Refusal(Copy("magic.state", b => b[0] = (byte)'X')));
    }

    [SkippableFact]
    public void Newer_format_version_is_refused()
    {
        KvmGate.RequireKvm();
        SaveGood();
        var path = Copy("v2.state", b =>
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), SnapshotFile.FormatVersion + 1);
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(60), Crc32C.Compute(b.AsSpan(0, 60)));
        });
        Assert.Contains("newer than this Domino reads", Refusal(path));
    }

    [SkippableFact]
    public void State_from_a_cpu_with_other_features_is_refused()
    {
        KvmGate.RequireKvm();
        SaveGood(s =>
        {
            var words = s.Cpu.Words.ToArray();
            words[3] = (words[3].Name, ~s.Cpu.Words[3].Value);
            return new VmSnapshot { Config = s.Config, Cpu = s.Cpu with { Words = words }, Chips = s.Chips, Vcpus = s.Vcpus, Devices = s.Devices };
        });
        var message = Refusal(_good);
        Assert.Contains("cannot run the saved guest", message);
        Assert.Contains("leaf 7.0 EBX", message);
    }

    [Fact]
    public void Crc32c_matches_the_standard_check_value()
    {
        // RFC 3720 / iSCSI check value for "123456789".
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(Crc32C.Compute("123456789"u8), Crc32C.Append(Crc32C.Compute("1234"u8), "56789"u8));
    }
}
