using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Xunit;

namespace Domino.Toolstack.Tests;

/// <summary>
/// The CLI writes requests with <see cref="SpecRequestWriter"/> and the write-only <see cref="ToolstackRequestJson"/>;
/// the daemon reads them with <see cref="ToolstackJson"/>. All three must write the same bytes.
/// </summary>
public sealed class ApiJsonTests
{
    private static readonly DomainSpec Spec = new()
    {
        Name = "web",
        Uuid = Guid.Parse("5f0c3a4e-9d2b-4c61-8a7e-1b2c3d4e5f60"),
        Type = GuestType.Hvm,
        Kernel = "/boot/vmlinuz",
        Ramdisk = null,
        Cmdline = "console=ttyS0 quiet \"q\" é",
        MemoryMb = 512,
        MaxMemMb = 1024,
        Vcpus = 2,
        MaxVcpus = 4,
        Cpus = "0-1",
        CpusSoft = null,
        Disks = ["/var/lib/web.img", "/dev/vdb"],
        OnPoweroff = LifecycleAction.Preserve,
        OnReboot = LifecycleAction.RenameRestart,
        OnWatchdog = LifecycleAction.CoredumpRestart,
        OnCrash = LifecycleAction.CoredumpDestroy,
        OnSoftReset = LifecycleAction.SoftReset,
    };

    public static TheoryData<object> Requests() =>
    [
        new RenameRequest("web2"),
        new VcpuSetRequest(3),
        new VcpuPinRequest(-1, "0-1", null),
        new MemoryRequest(256),
        new InjectRequest(GuestExit.SoftReset),
        new TriggerRequest("nmi", 1),
        new TriggerRequest("power"),
    ];

    [Theory]
    [MemberData(nameof(Requests))]
    public void The_write_only_context_writes_what_the_daemons_context_writes(object request)
    {
        var written = JsonSerializer.SerializeToUtf8Bytes(request, Type(ToolstackRequestJson.Default, request));
        Assert.Equal(JsonSerializer.Serialize(request, Type(ToolstackJson.Default, request)), System.Text.Encoding.UTF8.GetString(written));
        // And the daemon reads it back as it was.
        Assert.Equal(JsonSerializer.Serialize(JsonSerializer.Deserialize(written, Type(ToolstackJson.Default, request)), Type(ToolstackJson.Default, request)),
            System.Text.Encoding.UTF8.GetString(written));
    }

    public static TheoryData<CreateDomainRequest> Creates() =>
    [
        new CreateDomainRequest { Spec = Spec, Config = "{\"c_info\": {\"name\": \"web\"}}", Paused = true },
        new CreateDomainRequest { Spec = new DomainSpec { Name = "minimal" } },
        new CreateDomainRequest { Spec = Filled(), Config = "<&'\"\u2028>" },
        new CreateDomainRequest { Spec = Spec with { Disks = [], Cmdline = "" }, Config = null },
    ];

    [Theory]
    [MemberData(nameof(Creates))]
    public void The_spec_writer_writes_a_create_as_the_daemons_context_does(CreateDomainRequest request) =>
        Assert.Equal(JsonSerializer.Serialize(request, ToolstackJson.Default.CreateDomainRequest), System.Text.Encoding.UTF8.GetString(SpecRequestWriter.Write(request)));

    [Fact]
    public void The_spec_writer_writes_a_config_update_as_the_daemons_context_does()
    {
        foreach (var request in new[] { new ConfigUpdateRequest { Spec = Filled(), Config = "{}" }, new ConfigUpdateRequest { Spec = Spec } })
            Assert.Equal(JsonSerializer.Serialize(request, ToolstackJson.Default.ConfigUpdateRequest), System.Text.Encoding.UTF8.GetString(SpecRequestWriter.Write(request)));
    }

    [Fact]
    public void The_spec_writer_writes_every_enum_value_by_its_json_name()
    {
        foreach (var type in Enum.GetValues<GuestType>())
            foreach (var action in Enum.GetValues<LifecycleAction>())
            {
                var request = new CreateDomainRequest
                {
                    Spec = Spec with { Type = type, OnPoweroff = action, OnReboot = action, OnWatchdog = action, OnCrash = action, OnSoftReset = action },
                };
                Assert.Equal(JsonSerializer.Serialize(request, ToolstackJson.Default.CreateDomainRequest), System.Text.Encoding.UTF8.GetString(SpecRequestWriter.Write(request)));
            }
    }

    /// <summary>
    /// A spec with every settable property set to something other than its default, by reflection: a
    /// property added to DomainSpec is then written by ToolstackJson, and the writer's output differs
    /// until the writer writes it too (or this fails on a property type it does not know how to fill).
    /// </summary>
    private static DomainSpec Filled()
    {
        var spec = new DomainSpec { Name = "filled" };
        foreach (var p in typeof(DomainSpec).GetProperties())
        {
            if (p.SetMethod is null) continue;
            object value = p.PropertyType switch
            {
                var t when t == typeof(string) => $"{p.Name} \"é\" <{p.Name.Length}>",
                var t when t == typeof(Guid) => Guid.Parse("0c0ffee0-1234-4abc-8def-0123456789ab"),
                var t when t == typeof(int) => 3 + p.Name.Length,
                var t when t == typeof(long) => 1L << 33,
                var t when t == typeof(IReadOnlyList<string>) => new[] { "/a.img", "/b \"c\".img" },
                var t when t.IsEnum => Enum.GetValues(t).GetValue(Enum.GetValues(t).Length - 1)!,
                var t => throw new InvalidOperationException($"Filled() does not know how to fill DomainSpec.{p.Name} ({t.Name}): teach it, and teach SpecRequestWriter to write it"),
            };
            p.SetValue(spec, value);
        }
        return spec;
    }

    [Fact]
    public void A_create_request_round_trips_through_the_daemons_context()
    {
        var request = new CreateDomainRequest { Spec = Spec, Config = "{}", Paused = true };
        var read = JsonSerializer.Deserialize(SpecRequestWriter.Write(request), ToolstackJson.Default.CreateDomainRequest)!;
        Assert.Equal(request.Spec with { Disks = [] }, read.Spec with { Disks = [] });
        Assert.Equal(request.Spec.Disks, read.Spec.Disks);
        Assert.Equal(request.Config, read.Config);
        Assert.True(read.Paused);
    }

    private static JsonTypeInfo Type(JsonSerializerContext context, object value) =>
        context.GetTypeInfo(value.GetType()) ?? throw new InvalidOperationException($"{context.GetType().Name} has no {value.GetType().Name}");
}
