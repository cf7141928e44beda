using System.Text.Json;
using Domino.Toolstack.Domains;

namespace Domino.Toolstack.Api;

/// <summary>
/// Writes the requests that carry a <see cref="DomainSpec"/> (create, config-update) byte for byte as
/// <see cref="ToolstackJson"/> writes them, with a plain <see cref="Utf8JsonWriter"/>. Going through a
/// serializer context costs a fresh process about 40 ms of CPU before the first byte (the context's
/// options, the types' metadata, a string converter per enum: a hundred methods the JIT compiles on
/// every run, since ReadyToRun cannot hold them), a third of what <c>domino create</c> spends. The CLI
/// writes these requests here and the daemon reads them with ToolstackJson: one wire format, which
/// ApiJsonTests holds this writer to for every property of the request and its spec, filled by
/// reflection (a new property fails the test until it is written here), and every enum value.
/// </summary>
public static class SpecRequestWriter
{
    public static byte[] Write(CreateDomainRequest request) => Write(w =>
    {
        w.WritePropertyName("spec"u8);
        WriteSpec(w, request.Spec);
        if (request.Config is { } config) w.WriteString("config"u8, config);
        w.WriteBoolean("paused"u8, request.Paused);
    });

    public static byte[] Write(ConfigUpdateRequest request) => Write(w =>
    {
        w.WritePropertyName("spec"u8);
        WriteSpec(w, request.Spec);
        if (request.Config is { } config) w.WriteString("config"u8, config);
    });

    private static byte[] Write(Action<Utf8JsonWriter> properties)
    {
        using var buffer = new MemoryStream(2048);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            properties(w);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>In declaration order, nulls left out, as the source-generated serializer writes a record.</summary>
    private static void WriteSpec(Utf8JsonWriter w, DomainSpec s)
    {
        w.WriteStartObject();
        w.WriteString("name"u8, s.Name);
        w.WriteString("uuid"u8, s.Uuid);
        w.WriteString("type"u8, Word(s.Type));
        if (s.Kernel is { } kernel) w.WriteString("kernel"u8, kernel);
        if (s.Ramdisk is { } ramdisk) w.WriteString("ramdisk"u8, ramdisk);
        if (s.Cmdline is { } cmdline) w.WriteString("cmdline"u8, cmdline);
        w.WriteNumber("memory_mb"u8, s.MemoryMb);
        w.WriteNumber("max_mem_mb"u8, s.MaxMemMb);
        w.WriteNumber("vcpus"u8, s.Vcpus);
        w.WriteNumber("max_vcpus"u8, s.MaxVcpus);
        if (s.Cpus is { } cpus) w.WriteString("cpus"u8, cpus);
        if (s.CpusSoft is { } cpusSoft) w.WriteString("cpus_soft"u8, cpusSoft);
        w.WriteStartArray("disks"u8);
        foreach (var disk in s.Disks) w.WriteStringValue(disk);
        w.WriteEndArray();
        w.WriteString("on_poweroff"u8, DomainService.ActionWord(s.OnPoweroff));
        w.WriteString("on_reboot"u8, DomainService.ActionWord(s.OnReboot));
        w.WriteString("on_watchdog"u8, DomainService.ActionWord(s.OnWatchdog));
        w.WriteString("on_crash"u8, DomainService.ActionWord(s.OnCrash));
        w.WriteString("on_soft_reset"u8, DomainService.ActionWord(s.OnSoftReset));
        // Computed, and written by ToolstackJson too; readers ignore them.
        w.WriteNumber("effective_max_mem_mb"u8, s.EffectiveMaxMemMb);
        w.WriteNumber("effective_max_vcpus"u8, s.EffectiveMaxVcpus);
        w.WriteEndObject();
    }

    /// <summary>The <c>JsonStringEnumMemberName</c> of each value.</summary>
    private static string Word(GuestType type) => type switch
    {
        GuestType.Pvh => "pvh",
        GuestType.Pv => "pv",
        GuestType.Hvm => "hvm",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}
