namespace Domino.Toolstack.Drivers.Qemu;

/// <summary>
/// The accelerator rule for HVM domains. <c>kvm</c> and <c>tcg</c> are taken as asked; <c>auto</c> (the
/// default) uses KVM when /dev/kvm opens read-write and the host's KVM is a hardware one, else TCG with
/// a warning. A software KVM such as <c>kvm_pvm</c> (made for nested use) stops unmodified kernels
/// early with a KVM internal error, so <c>auto</c> treats it like no KVM at all.
/// </summary>
public static class QemuAccelProbe
{
    public const string Variable = "DOMINO_QEMU_ACCEL";

    /// <summary>The decision and, when TCG was chosen for want of KVM, the warning that says why.</summary>
    public sealed record Choice(QemuAccelerator Accelerator, string? Warning);

    public static Choice Decide(string? setting, string devKvm = "/dev/kvm", string sysModule = "/sys/module")
    {
        switch ((setting ?? "auto").Trim().ToLowerInvariant())
        {
            case "kvm":
                if (!CanOpen(devKvm)) throw new QemuConfigException($"{Variable}=kvm but {devKvm} cannot be opened read-write (use tcg or auto)");
                return new Choice(QemuAccelerator.Kvm, null);
            case "tcg":
                return new Choice(QemuAccelerator.Tcg, null);
            case "auto":
                if (!CanOpen(devKvm))
                    return new Choice(QemuAccelerator.Tcg, $"{devKvm} is not usable: HVM guests run under TCG (binary translation, much slower)");
                if (Directory.Exists(Path.Combine(sysModule, "kvm_pvm")))
                    return new Choice(QemuAccelerator.Tcg, "the host's KVM is kvm_pvm (software KVM), which cannot run unmodified kernels: HVM guests run under TCG (set DOMINO_QEMU_ACCEL=kvm to try anyway)");
                return new Choice(QemuAccelerator.Kvm, null);
            default:
                throw new QemuConfigException($"{Variable}='{setting}' is not an accelerator (expected kvm, tcg or auto)");
        }
    }

    private static bool CanOpen(string path)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}
