using Domino.Toolstack.Domains;
using Domino.Toolstack.Drivers.Test;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Drivers;

/// <summary>Drivers by name, as <c>--driver</c> and <c>DOMINO_DRIVER</c> select them.</summary>
public static class DriverFactory
{
    public const string Default = "vmm";
    public static readonly IReadOnlyList<string> Names = ["vmm", "test"];

    public static DomainDriver Create(string name, StateStore store) => name switch
    {
        "test" => new TestDriver(store.Root),
        "vmm" => new Vmm.VmmDriver(store, Environment.ProcessPath ?? throw new ToolstackException(ErrorKind.Failed, "cannot find the domino executable to run VMM processes")),
        _ => throw new ToolstackException(ErrorKind.Invalid, $"unknown driver '{name}' (expected {string.Join(", ", Names)})"),
    };
}
