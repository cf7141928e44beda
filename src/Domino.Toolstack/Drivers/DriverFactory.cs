using Domino.Toolstack.Domains;
using Domino.Toolstack.Drivers.Qemu;
using Domino.Toolstack.Drivers.Test;
using Domino.Toolstack.Store;

namespace Domino.Toolstack.Drivers;

/// <summary>Drivers by name, as <c>--driver</c> and <c>DOMINO_DRIVER</c> select them. <c>vmm</c> (the
/// default) runs HVM domains on QEMU; <c>qemu</c> runs only HVM domains.</summary>
public static class DriverFactory
{
    public const string Default = "vmm";
    public static readonly IReadOnlyList<string> Names = ["vmm", "qemu", "test"];

    public static DomainDriver Create(string name, StateStore store) => name switch
    {
        "test" => new TestDriver(store.Root),
        "qemu" => new QemuDriver(store.Root),
        // As in Xen, HVM domains get QEMU as their device model; PV and PVH ones run on Domino's VMM.
        "vmm" => new HvmRoutingDriver(
            new Vmm.VmmDriver(store, SelfCommand.VmmHost(Environment.GetEnvironmentVariable(SelfCommand.VmmHostVariable)),
                keepSpare: Environment.GetEnvironmentVariable("DOMINO_VMM_SPARE") != "0"),
            new QemuDriver(store.Root)),
        _ => throw new ToolstackException(ErrorKind.Invalid, $"unknown driver '{name}' (expected {string.Join(", ", Names)})"),
    };
}
