using System.Reflection;
using Domino.Toolstack.Drivers;
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
}
