using System.Collections.Concurrent;
using Domino.Vmm.Interop;
using static Domino.Vmm.Interop.Interop;

namespace Domino.Vmm.Hypervisor;

/// <summary>Raised when this host cannot run Domino's VMM; the message says why and what to do.</summary>
public sealed class HypervisorUnavailableException(string message) : Exception(message);

/// <summary>The host's KVM: an open /dev/kvm checked for the API version and the capabilities the VMM needs.</summary>
public sealed partial class KvmHypervisor : IHypervisor
{
    public const string DevicePath = "/dev/kvm";

    private static readonly (int Cap, string Name)[] RequiredCapabilities =
    [
        (Kvm.KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"),
        (Kvm.KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"),
        (Kvm.KVM_CAP_PIT2, "KVM_CAP_PIT2"),
        (Kvm.KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"),
        (Kvm.KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"),
        (Kvm.KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"),
    ];

    /// <summary>
    /// KVM_GET_SUPPORTED_CPUID per device path. What the host's KVM offers cannot change while this
    /// process runs, and the query costs ~0.3 ms, which every restore and vCPU would otherwise pay.
    /// </summary>
    private static readonly ConcurrentDictionary<string, kvm_cpuid_entry2[]> s_supportedCpuid = new(StringComparer.Ordinal);

    private readonly SafeFd _kvm;
    private readonly string _path;

    private KvmHypervisor(SafeFd kvm, string path, int vcpuMmapSize)
    {
        _kvm = kvm;
        _path = path;
        VcpuMmapSize = vcpuMmapSize;
    }

    /// <summary>Size of each vCPU's shared kvm_run mapping.</summary>
    public int VcpuMmapSize { get; }

    /// <summary>Opens /dev/kvm and checks it; throws <see cref="HypervisorUnavailableException"/> with the fix.</summary>
    public static KvmHypervisor Open(string path = DevicePath)
    {
        var fd = Libc.Open(path, Libc.O_RDWR, out var errno);
        if (fd.IsInvalid)
        {
            throw new HypervisorUnavailableException(errno switch
            {
                Libc.ENOENT => $"{path} not found: KVM is not available on this host (load kvm_intel/kvm_amd or enable nested virtualization)",
                Libc.EACCES or Libc.EPERM => $"permission denied opening {path}: add the user to the kvm group or run as root",
                _ => $"cannot open {path}: {new KvmException("open", errno).Message}",
            });
        }
        try
        {
            var version = Libc.Ioctl(fd, Kvm.KVM_GET_API_VERSION, 0, out errno);
            if (version != Kvm.ApiVersion)
                throw new HypervisorUnavailableException($"{path}: KVM API version {version}, Domino needs {Kvm.ApiVersion}");
            foreach (var (cap, name) in RequiredCapabilities)
            {
                if (Libc.Ioctl(fd, Kvm.KVM_CHECK_EXTENSION, cap, out _) <= 0)
                    throw new HypervisorUnavailableException($"{path}: this host's KVM lacks the required capability {name}");
            }
            var mmapSize = Kvm.Ioctl(fd, Kvm.KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
            return new KvmHypervisor(fd, path, mmapSize);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Returns null when KVM is usable here, or the reason it is not.</summary>
    public static string? ProbeUnavailableReason()
    {
        try
        {
            using var kvm = Open();
            using var vm = kvm.CreateVm();
            return null;
        }
        catch (Exception e) when (e is HypervisorUnavailableException or KvmException)
        {
            return e.Message;
        }
    }

    public bool HasCapability(int capability) => Libc.Ioctl(_kvm, Kvm.KVM_CHECK_EXTENSION, capability, out _) > 0;

    IVm IHypervisor.CreateVm() => CreateVm();

    public KvmVm CreateVm()
    {
        var fd = new SafeFd(Kvm.Ioctl(_kvm, Kvm.KVM_CREATE_VM, 0, "KVM_CREATE_VM"));
        return new KvmVm(this, fd);
    }

    /// <summary>The CPUID leaves KVM can expose on this host (KVM_GET_SUPPORTED_CPUID), a fresh copy the caller may change.</summary>
    internal kvm_cpuid_entry2[] GetSupportedCpuid() =>
        (kvm_cpuid_entry2[])s_supportedCpuid.GetOrAdd(_path, _ => QuerySupportedCpuid()).Clone();

    private kvm_cpuid_entry2[] QuerySupportedCpuid()
    {
        for (var n = 64; n <= 4096; n *= 2)
        {
            var buffer = new byte[8 + n * 40];
            BitConverter.TryWriteBytes(buffer.AsSpan(0, 4), (uint)n);
            var r = Kvm.IoctlBuffer(_kvm, Kvm.KVM_GET_SUPPORTED_CPUID, buffer, "KVM_GET_SUPPORTED_CPUID", out var errno);
            if (r < 0 && errno == Libc.E2BIG) continue;
            if (r < 0) throw new KvmException("KVM_GET_SUPPORTED_CPUID", errno);
            var nent = BitConverter.ToUInt32(buffer, 0);
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, kvm_cpuid_entry2>(buffer.AsSpan(8, (int)nent * 40)).ToArray();
        }
        throw new KvmException("KVM_GET_SUPPORTED_CPUID", Libc.E2BIG);
    }

    public void Dispose() => _kvm.Dispose();
}
