using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

// Kernel struct and field names are kept as in include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h.
#pragma warning disable IDE1006, CA1707, CA1051, CS0649

namespace Domino.Vmm.Interop;

internal static partial class Interop
{
    /// <summary>
    /// The KVM ioctls that save and restore a VM (api.rst §4: GET/SET_XSAVE, XCRS, VCPU_EVENTS,
    /// DEBUGREGS, MSRS, CLOCK, IRQCHIP, PIT2) and track the pages a guest writes (KVM_GET_DIRTY_LOG).
    /// </summary>
    internal static class KvmPersist
    {
        private const uint KVMIO = 0xAE;
        private const uint DirNone = 0, DirWrite = 1, DirRead = 2;

        private static nuint Ioc(uint dir, uint nr, int size) => (nuint)((dir << 30) | (KVMIO << 8) | nr | ((uint)size << 16));
        private static nuint IOR<T>(uint nr) where T : unmanaged => Ioc(DirRead, nr, Unsafe.SizeOf<T>());
        private static nuint IOW<T>(uint nr) where T : unmanaged => Ioc(DirWrite, nr, Unsafe.SizeOf<T>());
        private static nuint IOWR<T>(uint nr) where T : unmanaged => Ioc(DirRead | DirWrite, nr, Unsafe.SizeOf<T>());

        // System ioctl.
        public static readonly nuint KVM_GET_MSR_INDEX_LIST = IOWR<kvm_msr_list>(0x02);

        // VM ioctls.
        public static readonly nuint KVM_GET_DIRTY_LOG = IOW<kvm_dirty_log>(0x42);
        public static readonly nuint KVM_GET_IRQCHIP = IOWR<kvm_irqchip>(0x62);
        public static readonly nuint KVM_SET_IRQCHIP = IOR<kvm_irqchip>(0x63); // _IOR in the kernel's header, sic
        public static readonly nuint KVM_SET_CLOCK = IOW<kvm_clock_data>(0x7b);
        public static readonly nuint KVM_GET_CLOCK = IOR<kvm_clock_data>(0x7c);
        public static readonly nuint KVM_GET_PIT2 = IOR<kvm_pit_state2>(0x9f);
        public static readonly nuint KVM_SET_PIT2 = IOW<kvm_pit_state2>(0xa0);

        // vCPU ioctls.
        public static readonly nuint KVM_GET_VCPU_EVENTS = IOR<kvm_vcpu_events>(0x9f);
        public static readonly nuint KVM_SET_VCPU_EVENTS = IOW<kvm_vcpu_events>(0xa0);
        public static readonly nuint KVM_GET_DEBUGREGS = IOR<kvm_debugregs>(0xa1);
        public static readonly nuint KVM_SET_DEBUGREGS = IOW<kvm_debugregs>(0xa2);
        public static readonly nuint KVM_GET_XSAVE = IOR<kvm_xsave>(0xa4);
        public static readonly nuint KVM_SET_XSAVE = IOW<kvm_xsave>(0xa5);
        public static readonly nuint KVM_GET_XCRS = IOR<kvm_xcrs>(0xa6);
        public static readonly nuint KVM_SET_XCRS = IOW<kvm_xcrs>(0xa7);
        public static readonly nuint KVM_GET_XSAVE2 = IOR<kvm_xsave>(0xcf);

        public const int KVM_CAP_ADJUST_CLOCK = 39;
        public const int KVM_CAP_VCPU_EVENTS = 41;
        public const int KVM_CAP_DEBUGREGS = 50;
        public const int KVM_CAP_XSAVE = 55;
        public const int KVM_CAP_XCRS = 56;
        public const int KVM_CAP_XSAVE2 = 208;

        public const uint KVM_MEM_LOG_DIRTY_PAGES = 1;

        public const uint KVM_IRQCHIP_PIC_MASTER = 0;
        public const uint KVM_IRQCHIP_PIC_SLAVE = 1;
        public const uint KVM_IRQCHIP_IOAPIC = 2;

        /// <summary>Most MSRs moved in one KVM_GET/SET_MSRS call.</summary>
        public const int MaxMsrsPerCall = 256;
    }

    internal static partial class Libc
    {
        [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
        private static partial nint mmap_fixed_raw(nint addr, nuint length, int prot, int flags, int fd, long offset);

        [LibraryImport(Lib, EntryPoint = "madvise", SetLastError = true)]
        private static partial int madvise_raw(nint addr, nuint length, int advice);

        public const int MAP_FIXED = 0x10;
        public const int MADV_DONTNEED = 4;

        /// <summary>
        /// Maps <paramref name="length"/> bytes of <paramref name="file"/> from <paramref name="offset"/>
        /// over the existing mapping at <paramref name="address"/> (MAP_FIXED | MAP_PRIVATE): the guest
        /// then reads the file's pages on demand and its writes stay private copies.
        /// </summary>
        public static void MapFilePrivateFixed(nint address, nuint length, SafeHandle file, long offset, string what)
        {
            var added = false;
            try
            {
                file.DangerousAddRef(ref added);
                var fd = (int)file.DangerousGetHandle();
                var p = mmap_fixed_raw(address, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, offset);
                if (p == MAP_FAILED) throw new KvmException($"mmap({what}, {length} bytes at file offset {offset})", Errno);
            }
            finally
            {
                if (added) file.DangerousRelease();
            }
        }

        /// <summary>Drops the pages of a private anonymous range: they read as zero again.</summary>
        public static void DiscardPages(nint address, nuint length)
        {
            if (madvise_raw(address, length, MADV_DONTNEED) != 0) throw new KvmException("madvise(MADV_DONTNEED)", Errno);
        }
    }
}

/// <summary>Header of the variable-length kvm_msr_list; __u32 indices[nmsrs] follows.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct kvm_msr_list
{
    public uint nmsrs;
}

[StructLayout(LayoutKind.Sequential)]
internal struct kvm_dirty_log
{
    public uint slot;
    public uint padding1;
    public ulong dirty_bitmap; // union { void __user *dirty_bitmap; __u64 padding2; }
}

/// <summary>kvm_irqchip: chip_id then a 512-byte union (kvm_pic_state for the PICs, kvm_ioapic_state).</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout's fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_irqchip
{
    public const int ChipSize = 512;
    public uint chip_id;
    public uint pad;
    public fixed byte chip[ChipSize];
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout's fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_clock_data
{
    public ulong clock;
    public uint flags;
    public uint pad0;
    public ulong realtime;
    public ulong host_tsc;
    public fixed uint pad[4];
}

/// <summary>kvm_pit_state2: three kvm_pit_channel_state (24 bytes each), flags, reserved[9].</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout's fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_pit_state2
{
    public fixed byte channels[3 * 24];
    public uint flags;
    public fixed uint reserved[9];
}

/// <summary>
/// kvm_vcpu_events: pending exception, interrupt, NMI, SIPI vector, SMM state, triple fault and the
/// exception payload. Saved and restored whole, so kept as the kernel's 64 bytes.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout's fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_vcpu_events
{
    public const int Size = 64;
    public fixed byte bytes[Size];
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout's fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_debugregs
{
    public fixed ulong db[4];
    public ulong dr6;
    public ulong dr7;
    public ulong flags;
    public fixed ulong reserved[9];
}

/// <summary>kvm_xsave: the legacy 4 KiB XSAVE area (__u32 region[1024]); KVM_GET_XSAVE2 may need more.</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout's fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_xsave
{
    public const int Size = 4096;
    public fixed uint region[1024];
}

[StructLayout(LayoutKind.Sequential)]
internal struct kvm_xcr
{
    public uint xcr;
    public uint reserved;
    public ulong value;
}

[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the kernel layout's fixed-size arrays; the struct holds no pointers.
internal unsafe struct kvm_xcrs
{
    public const int MaxXcrs = 16;
    public uint nr_xcrs;
    public uint flags;
    public fixed byte xcrs[MaxXcrs * 16]; // struct kvm_xcr[KVM_MAX_XCRS]
    public fixed ulong padding[16];
}
