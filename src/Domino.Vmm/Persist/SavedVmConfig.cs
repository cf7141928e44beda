using System.Text.Json;

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

    // The config is read by hand with Utf8JsonReader: the serializer's metadata is generic over
    // value types outside this assembly, which ReadyToRun cannot precompile, and its first use
    // JIT-compiles ~70 methods (tens of ms) on the restore path of a fresh VMM process.

    public byte[] ToJson()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("kernelPath", KernelPath);
            w.WriteString("commandLine", CommandLine);
            w.WriteNumber("memoryMiB", MemoryMiB);
            w.WriteNumber("vcpus", Vcpus);
            w.WriteStartArray("disks");
            foreach (var d in Disks)
            {
                w.WriteStartObject();
                w.WriteString("path", d.Path);
                w.WriteBoolean("readOnly", d.ReadOnly);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteBoolean("virtioConsole", VirtioConsole);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static SavedVmConfig FromJson(ReadOnlySpan<byte> json)
    {
        SavedVmConfig c;
        try
        {
            c = Parse(json);
        }
        catch (JsonException e)
        {
            throw new SnapshotException($"config section: not valid JSON ({e.Message})");
        }
        if (c.Vcpus is < 1 or > VmResources.MaxVcpus) throw new SnapshotException($"config section: vcpus={c.Vcpus} out of range");
        if (c.MemoryMiB is < 8 or > VmResources.MaxMemoryMiB) throw new SnapshotException($"config section: memory={c.MemoryMiB} MiB out of range");
        return c;
    }

    /// <summary>The object ToJson writes; unknown members are skipped (a newer writer may add some).</summary>
    private static SavedVmConfig Parse(ReadOnlySpan<byte> json)
    {
        var r = new Utf8JsonReader(json);
        string? kernel = null, cmdline = null;
        int? memory = null, vcpus = null;
        var disks = new List<DiskConfig>();
        var virtioConsole = false;
        Read(ref r, JsonTokenType.StartObject);
        while (Next(ref r) == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("kernelPath"u8)) kernel = ReadString(ref r);
            else if (r.ValueTextEquals("commandLine"u8)) cmdline = ReadString(ref r);
            else if (r.ValueTextEquals("memoryMiB"u8)) { Read(ref r, JsonTokenType.Number); memory = r.GetInt32(); }
            else if (r.ValueTextEquals("vcpus"u8)) { Read(ref r, JsonTokenType.Number); vcpus = r.GetInt32(); }
            else if (r.ValueTextEquals("virtioConsole"u8)) virtioConsole = ReadBool(ref r);
            else if (r.ValueTextEquals("disks"u8))
            {
                Read(ref r, JsonTokenType.StartArray);
                while (Next(ref r) == JsonTokenType.StartObject)
                {
                    string? path = null;
                    var readOnly = false;
                    while (Next(ref r) == JsonTokenType.PropertyName)
                    {
                        if (r.ValueTextEquals("path"u8)) path = ReadString(ref r);
                        else if (r.ValueTextEquals("readOnly"u8)) readOnly = ReadBool(ref r);
                        else { Next(ref r); r.Skip(); }
                    }
                    disks.Add(new DiskConfig(path ?? throw new SnapshotException("config section: a disk without a path"), readOnly));
                }
                if (r.TokenType != JsonTokenType.EndArray) throw new SnapshotException("config section: disks is not an array of objects");
            }
            else
            {
                Next(ref r);
                r.Skip();
            }
        }
        if (r.TokenType != JsonTokenType.EndObject) throw new SnapshotException("config section: not a JSON object");
        if (kernel is null || memory is null || vcpus is null) throw new SnapshotException("config section: kernelPath, memoryMiB and vcpus are required");
        return new SavedVmConfig { KernelPath = kernel, CommandLine = cmdline ?? "", MemoryMiB = memory.Value, Vcpus = vcpus.Value, Disks = disks, VirtioConsole = virtioConsole };

        static JsonTokenType Next(ref Utf8JsonReader r) => r.Read() ? r.TokenType : throw new SnapshotException("config section: JSON ends early");
        static void Read(ref Utf8JsonReader r, JsonTokenType expected)
        {
            if (Next(ref r) != expected) throw new SnapshotException($"config section: expected {expected}, found {r.TokenType}");
        }
        static string ReadString(ref Utf8JsonReader r)
        {
            Read(ref r, JsonTokenType.String);
            return r.GetString()!;
        }
        static bool ReadBool(ref Utf8JsonReader r) => Next(ref r) switch
        {
            JsonTokenType.True => true,
            JsonTokenType.False => false,
            var t => throw new SnapshotException($"config section: expected true or false, found {t}"),
        };
    }
}

