using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Domino.Toolstack.Api;
using Domino.Toolstack.Domains;
using Xunit;

namespace Domino.Toolstack.Tests;

/// <summary>The CLI writes requests with the write-only <see cref="ToolstackRequestJson"/>; the daemon reads them with <see cref="ToolstackJson"/>.</summary>
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
        new CreateDomainRequest { Spec = Spec, Config = "{\"c_info\": {\"name\": \"web\"}}", Paused = true },
        new CreateDomainRequest { Spec = new DomainSpec { Name = "minimal" } },
        new ConfigUpdateRequest { Spec = Spec, Config = null },
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

    [Fact]
    public void A_create_request_round_trips_through_the_daemons_context()
    {
        var request = new CreateDomainRequest { Spec = Spec, Config = "{}", Paused = true };
        var read = JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(request, ToolstackRequestJson.Default.CreateDomainRequest), ToolstackJson.Default.CreateDomainRequest)!;
        Assert.Equal(request.Spec with { Disks = [] }, read.Spec with { Disks = [] });
        Assert.Equal(request.Spec.Disks, read.Spec.Disks);
        Assert.Equal(request.Config, read.Config);
        Assert.True(read.Paused);
    }

    private static JsonTypeInfo Type(JsonSerializerContext context, object value) =>
        context.GetTypeInfo(value.GetType()) ?? throw new InvalidOperationException($"{context.GetType().Name} has no {value.GetType().Name}");
}
