using Domino.Toolstack.Domains;
using Domino.Toolstack.Drivers.Test;
using Domino.Toolstack.Events;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Tests;

/// <summary>A toolstack over the test driver in a fresh state dir, with every event it emits.</summary>
public sealed class ToolstackFixture : IDisposable
{
    public ToolstackFixture(string? stateDir = null)
    {
        StateDir = stateDir ?? Path.Combine(Path.GetTempPath(), "domino-ts-" + Guid.NewGuid().ToString("N")[..12]);
        Store = new StateStore(StateDir);
        Driver = new TestDriver(StateDir);
        Bus = new EventBus();
        Subscription = Bus.Subscribe();
        Service = new DomainService(Store, Driver, Bus);
    }

    public string StateDir { get; }
    public StateStore Store { get; }
    public TestDriver Driver { get; }
    public EventBus Bus { get; }
    public EventBus.Subscription Subscription { get; }
    public DomainService Service { get; }

    public static DomainSpec Spec(string name, string? cmdline = null) => new() { Name = name, Kernel = "/boot/fake", MemoryMb = 64, Vcpus = 2, MaxVcpus = 4, Cmdline = cmdline };

    public Task<DomainInfo> Create(DomainSpec spec, bool paused = false) => Service.CreateAsync(spec, "{\"c_info\":{\"name\":\"" + spec.Name + "\"}}", paused, CancellationToken.None);

    /// <summary>The events emitted so far, drained from the subscription.</summary>
    public List<DomainEvent> TakeEvents()
    {
        var list = new List<DomainEvent>();
        while (Subscription.Reader.TryRead(out var e)) list.Add(e);
        return list;
    }

    public DomainInfo? Find(string name) => Service.Domains().FirstOrDefault(d => d.Name == name)?.Snapshot();

    public void Dispose()
    {
        Subscription.Dispose();
        try { Directory.Delete(StateDir, recursive: true); } catch (IOException) { }
    }
}
