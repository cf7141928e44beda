using Domino.Vmm.Hypervisor;

namespace Domino.Vmm.Tests;

/// <summary>
/// Decides whether tests needing /dev/kvm or built guests can run. Without them a test is skipped
/// loudly ("NO /dev/kvm: ..."), or fails when DOMINO_REQUIRE_KVM=1 (CI) — never a silent pass.
/// </summary>
internal static class KvmGate
{
    private static readonly Lazy<string?> s_unavailable = new(KvmHypervisor.ProbeUnavailableReason);

    public static bool Required => Environment.GetEnvironmentVariable("DOMINO_REQUIRE_KVM") == "1";

    /// <summary>Skips (or fails under DOMINO_REQUIRE_KVM=1) when KVM is unusable here.</summary>
    public static void RequireKvm()
    {
        var reason = s_unavailable.Value;
        if (reason is null) return;
        if (Required) Assert.Fail($"NO /dev/kvm: {reason} (DOMINO_REQUIRE_KVM=1 makes this a failure)");
        Skip.If(true, $"NO /dev/kvm: {reason}");
    }
}
