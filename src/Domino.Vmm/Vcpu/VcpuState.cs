namespace Domino.Vmm.Vcpu;

/// <summary>Lifecycle of a vCPU thread.</summary>
public enum VcpuState
{
    Created,
    Running,
    Paused,
    Stopped,
}

/// <summary>A lifecycle move the state machine does not allow.</summary>
public sealed class InvalidStateTransitionException(string what, Enum from, Enum to)
    : InvalidOperationException($"{what}: invalid state transition {from} -> {to}")
{
    public Enum From { get; } = from;
    public Enum To { get; } = to;
}

internal static class VcpuTransitions
{
    /// <summary>The allowed moves (Cloud Hypervisor's valid_transition): anything may stop; run and pause alternate.</summary>
    public static bool IsValid(VcpuState from, VcpuState to) => (from, to) switch
    {
        (VcpuState.Created, VcpuState.Running) => true,
        (VcpuState.Created, VcpuState.Paused) => true,
        (VcpuState.Running, VcpuState.Paused) => true,
        (VcpuState.Paused, VcpuState.Running) => true,
        (_, VcpuState.Stopped) => from != VcpuState.Stopped,
        _ => false,
    };
}
