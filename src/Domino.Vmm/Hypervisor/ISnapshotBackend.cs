namespace Domino.Vmm.Hypervisor;

/// <summary>A backend that can describe the CPU features it offers guests (for the state file's CPU fingerprint).</summary>
public interface ISnapshotHypervisor
{
    IReadOnlyList<CpuidLeaf> GetCpuFeatureLeaves();
}

/// <summary>A VM whose in-kernel devices can be saved and restored and whose writes to memory can be tracked.</summary>
public interface ISnapshotVm
{
    KvmVmChipState GetChipState();

    void SetChipState(KvmVmChipState state);

    /// <summary>(Re)registers a memory slot with or without dirty-page logging.</summary>
    void SetUserMemoryRegion(uint slot, ulong gpa, ulong size, nint hostAddress, bool logDirtyPages);

    /// <summary>Fetches and resets the slot's dirty-page bitmap.</summary>
    void GetDirtyLog(uint slot, ulong[] bitmap);
}

/// <summary>A vCPU whose whole state can be read and written back.</summary>
public interface ISnapshotVcpu
{
    KvmVcpuState SaveState();

    void RestoreState(KvmVcpuState state);

    /// <summary>Finishes an exit the VMM handled but the backend has not completed (before saving).</summary>
    void CompletePendingIo();

    IReadOnlyList<uint> RefusedMsrs { get; }
}
