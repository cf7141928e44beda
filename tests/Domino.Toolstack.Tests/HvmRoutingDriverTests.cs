using System.Reflection;
using Domino.Toolstack.Drivers;
using Domino.Toolstack.Drivers.Vmm;
using Domino.Toolstack.Store;
using Domino.Vmm.Scheduling;
using Xunit;

namespace Domino.Toolstack.Tests;

public class HvmRoutingDriverTests
{
    /// <summary>
    /// The routing driver is the default driver: an operation it does not forward silently becomes
    /// "unsupported" for every domain, so every overridable operation must be overridden.
    /// </summary>
    [Fact]
    public void Forwards_every_overridable_driver_operation()
    {
        var routing = typeof(HvmRoutingDriver);
        var missing = typeof(DomainDriver)
            .GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => (m.IsVirtual || m.IsAbstract) && !m.IsFinal && m.DeclaringType == typeof(DomainDriver))
            .Where(m => m.Name is not ("DisposeAsync" or "ToString" or "Equals" or "GetHashCode"))
            .Where(m => routing.GetMethod(m.Name, m.GetParameters().Select(p => p.ParameterType).ToArray())?.DeclaringType != routing)
            .Select(m => m.Name)
            .ToList();
        Assert.Empty(missing);
    }

    /// <summary>The default driver wraps the vmm driver: an ARINC653 table handed to it must reach the
    /// file its VMM processes follow, or arinc653 pools run their vCPUs ungated.</summary>
    [Fact]
    public async Task Default_driver_publishes_gate_tables_for_its_vmm_processes()
    {
        var dir = Path.Combine(Path.GetTempPath(), "domino-gate-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var store = new StateStore(dir);
            await using var driver = DriverFactory.Create(DriverFactory.Default, store);
            var uuid = Guid.NewGuid();
            var table = new GateTable(30_000_000, 123, [new GateWindow(0, 1, 0, 5_000_000)]);
            driver.PublishGateTable(uuid, table);
            var read = VmmScheduling.ReadGate(VmmScheduling.GateFile(store, uuid));
            Assert.NotNull(read);
            Assert.Equal(table.MajorFrameNs, read.MajorFrameNs);
            Assert.Equal(table.Windows, read.Windows);
            driver.PublishGateTable(uuid, null);
            Assert.False(File.Exists(VmmScheduling.GateFile(store, uuid)));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
