using System.Collections.Concurrent;
using Domino.Vmm.Interop;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Hypervisor;

public sealed partial class KvmHypervisor : ISnapshotHypervisor
{
    /// <summary>KVM_GET_MSR_INDEX_LIST per device path: a host fact, asked once per process.</summary>
    private static readonly ConcurrentDictionary<string, uint[]> s_msrIndexList = new(StringComparer.Ordinal);

    /// <summary>Every MSR KVM can save and restore for a vCPU (KVM_GET_MSR_INDEX_LIST), cached process-wide; do not change the array.</summary>
    public uint[] GetMsrIndexList() => s_msrIndexList.GetOrAdd(_path, _ => QueryMsrIndexList());

    private uint[] QueryMsrIndexList()
    {
        for (var n = 256; n <= 65536; n *= 2)
        {
            var buffer = new byte[4 + n * 4];
            BitConverter.TryWriteBytes(buffer.AsSpan(0, 4), (uint)n);
            var r = Kvm.IoctlBuffer(_kvm, KvmPersist.KVM_GET_MSR_INDEX_LIST, buffer, "KVM_GET_MSR_INDEX_LIST", out var errno);
            if (r < 0 && errno == Libc.E2BIG) continue;
            if (r < 0) throw new KvmException("KVM_GET_MSR_INDEX_LIST", errno);
            var count = (int)BitConverter.ToUInt32(buffer, 0);
            var list = new uint[count];
            for (var i = 0; i < count; i++) list[i] = BitConverter.ToUInt32(buffer, 4 + i * 4);
            return list;
        }
        throw new KvmException("KVM_GET_MSR_INDEX_LIST", Libc.E2BIG);
    }

    /// <summary>Bytes KVM_GET_XSAVE2 fills (KVM_CAP_XSAVE2), or 4096 for the legacy KVM_GET_XSAVE, or 0 without XSAVE.</summary>
    public int XsaveSize
    {
        get
        {
            var size = Libc.Ioctl(_kvm, Kvm.KVM_CHECK_EXTENSION, KvmPersist.KVM_CAP_XSAVE2, out _);
            if (size > kvm_xsave.Size) return size;
            return HasCapability(KvmPersist.KVM_CAP_XSAVE) ? kvm_xsave.Size : 0;
        }
    }

    /// <summary>
    /// The CPU features a guest can see on this host: the CPUID leaves KVM supports, as
    /// (function, index, eax, ebx, ecx, edx). A saved guest may only resume where these are equal.
    /// </summary>
    public IReadOnlyList<CpuidLeaf> GetCpuFeatureLeaves() =>
        GetSupportedCpuid().Select(e => new CpuidLeaf(e.function, e.index, e.eax, e.ebx, e.ecx, e.edx)).ToArray();
}

/// <summary>One CPUID leaf as KVM reports it.</summary>
public readonly record struct CpuidLeaf(uint Function, uint Index, uint Eax, uint Ebx, uint Ecx, uint Edx);
