using System.Text.Json;
using System.Text.Json.Serialization;

namespace Domino.Vmm.Persist;

/// <summary>
/// What a VM was built from, as the snapshot's config JSON: enough to rebuild the same machine
/// (memory, vCPUs, devices in the same order) on restore. The kernel path is informational — the
/// kernel is already in guest memory.
/// </summary>
public sealed record SavedVmConfig
{
    public required string KernelPath { get; init; }
    public string CommandLine { get; init; } = "";
    public required int MemoryMiB { get; init; }
    public required int Vcpus { get; init; }
    public IReadOnlyList<DiskConfig> Disks { get; init; } = [];
    public bool VirtioConsole { get; init; }

    public static SavedVmConfig From(VmConfig c)
    {
        if (c.VirtioDevices.Count > 0)
            throw new SnapshotException($"cannot save a VM with {c.VirtioDevices.Count} custom virtio device(s): they cannot be rebuilt on restore");
        return new SavedVmConfig
        {
            KernelPath = c.KernelPath,
            CommandLine = c.CommandLine,
            MemoryMiB = c.MemoryMiB,
            Vcpus = c.Vcpus,
            Disks = c.Disks,
            VirtioConsole = c.VirtioConsole,
        };
    }

    /// <summary>The VmConfig to rebuild this machine, with the host-side streams of the new process.</summary>
    public VmConfig ToVmConfig(Stream? consoleOutput, Stream? consoleInput, Action<string>? log) => new()
    {
        KernelPath = KernelPath,
        CommandLine = CommandLine,
        MemoryMiB = MemoryMiB,
        Vcpus = Vcpus,
        Disks = Disks,
        VirtioConsole = VirtioConsole,
        ConsoleOutput = consoleOutput,
        ConsoleInput = consoleInput,
        Log = log,
    };

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = false, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, s_json);

    public static SavedVmConfig FromJson(ReadOnlySpan<byte> json)
    {
        SavedVmConfig? c;
        try
        {
            c = JsonSerializer.Deserialize<SavedVmConfig>(json, s_json);
        }
        catch (JsonException e)
        {
            throw new SnapshotException($"config section: not valid JSON ({e.Message})");
        }
        if (c is null) throw new SnapshotException("config section: empty");
        if (c.Vcpus is < 1 or > VmResources.MaxVcpus) throw new SnapshotException($"config section: vcpus={c.Vcpus} out of range");
        if (c.MemoryMiB is < 8 or > VmResources.MaxMemoryMiB) throw new SnapshotException($"config section: memory={c.MemoryMiB} MiB out of range");
        return c;
    }
}
