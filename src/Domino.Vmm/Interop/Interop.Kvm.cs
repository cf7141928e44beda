using System.Runtime.CompilerServices;

namespace Domino.Vmm.Interop;

internal static partial class Interop
{
    /// <summary>
    /// The /dev/kvm ioctl interface (Linux Documentation/virt/kvm/api.rst). Request numbers are
    /// computed like the kernel's _IO/_IOR/_IOW/_IOWR macros from the struct sizes below.
    /// </summary>
    internal static class Kvm
    {
        public const int ApiVersion = 12;

        private const uint KVMIO = 0xAE;
        private const int NrShift = 0, TypeShift = 8, SizeShift = 16, DirShift = 30;
        private const uint DirNone = 0, DirWrite = 1, DirRead = 2;

        private static nuint Ioc(uint dir, uint nr, int size) =>
            (nuint)((dir << DirShift) | (KVMIO << TypeShift) | (nr << NrShift) | ((uint)size << SizeShift));

        private static nuint IO(uint nr) => Ioc(DirNone, nr, 0);
        private static nuint IOR<T>(uint nr) where T : unmanaged => Ioc(DirRead, nr, Unsafe.SizeOf<T>());
        private static nuint IOW<T>(uint nr) where T : unmanaged => Ioc(DirWrite, nr, Unsafe.SizeOf<T>());
        private static nuint IOWR<T>(uint nr) where T : unmanaged => Ioc(DirRead | DirWrite, nr, Unsafe.SizeOf<T>());

        // System ioctls.
        public static readonly nuint KVM_GET_API_VERSION = IO(0x00);
        public static readonly nuint KVM_CREATE_VM = IO(0x01);
        public static readonly nuint KVM_CHECK_EXTENSION = IO(0x03);
        public static readonly nuint KVM_GET_VCPU_MMAP_SIZE = IO(0x04);
        public static readonly nuint KVM_GET_SUPPORTED_CPUID = IOWR<kvm_cpuid2>(0x05);

        // VM ioctls.
        public static readonly nuint KVM_CREATE_VCPU = IO(0x41);
        public static readonly nuint KVM_SET_USER_MEMORY_REGION = IOW<kvm_userspace_memory_region>(0x46);
        public static readonly nuint KVM_SET_TSS_ADDR = IO(0x47);
        public static readonly nuint KVM_SET_IDENTITY_MAP_ADDR = IOW<ulong>(0x48);
        public static readonly nuint KVM_CREATE_IRQCHIP = IO(0x60);
        public static readonly nuint KVM_IRQ_LINE = IOW<kvm_irq_level>(0x61);
        public static readonly nuint KVM_IRQFD = IOW<kvm_irqfd>(0x76);
        public static readonly nuint KVM_CREATE_PIT2 = IOW<kvm_pit_config>(0x77);

        // vCPU ioctls.
        public static readonly nuint KVM_RUN = IO(0x80);
        public static readonly nuint KVM_GET_REGS = IOR<kvm_regs>(0x81);
        public static readonly nuint KVM_SET_REGS = IOW<kvm_regs>(0x82);
        public static readonly nuint KVM_GET_SREGS = IOR<kvm_sregs>(0x83);
        public static readonly nuint KVM_SET_SREGS = IOW<kvm_sregs>(0x84);
        public static readonly nuint KVM_GET_MSRS = IOWR<kvm_msrs>(0x88);
        public static readonly nuint KVM_SET_MSRS = IOW<kvm_msrs>(0x89);
        public static readonly nuint KVM_SET_SIGNAL_MASK = IOW<kvm_signal_mask>(0x8b);
        public static readonly nuint KVM_GET_FPU = IOR<kvm_fpu>(0x8c);
        public static readonly nuint KVM_SET_FPU = IOW<kvm_fpu>(0x8d);
        public static readonly nuint KVM_GET_LAPIC = IOR<kvm_lapic_state>(0x8e);
        public static readonly nuint KVM_SET_LAPIC = IOW<kvm_lapic_state>(0x8f);
        public static readonly nuint KVM_SET_CPUID2 = IOW<kvm_cpuid2>(0x90);
        public static readonly nuint KVM_GET_MP_STATE = IOR<kvm_mp_state>(0x98);
        public static readonly nuint KVM_SET_MP_STATE = IOW<kvm_mp_state>(0x99);
        public static readonly nuint KVM_NMI = IO(0x9a);

        // Capabilities (KVM_CAP_*).
        public const int KVM_CAP_IRQCHIP = 0;
        public const int KVM_CAP_HLT = 1;
        public const int KVM_CAP_USER_MEMORY = 3;
        public const int KVM_CAP_SET_TSS_ADDR = 4;
        public const int KVM_CAP_EXT_CPUID = 7;
        public const int KVM_CAP_MP_STATE = 14;
        public const int KVM_CAP_IRQFD = 32;
        public const int KVM_CAP_PIT2 = 33;
        public const int KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
        public const int KVM_CAP_IMMEDIATE_EXIT = 136;

        // kvm_run.exit_reason.
        public const uint KVM_EXIT_UNKNOWN = 0;
        public const uint KVM_EXIT_EXCEPTION = 1;
        public const uint KVM_EXIT_IO = 2;
        public const uint KVM_EXIT_HYPERCALL = 3;
        public const uint KVM_EXIT_DEBUG = 4;
        public const uint KVM_EXIT_HLT = 5;
        public const uint KVM_EXIT_MMIO = 6;
        public const uint KVM_EXIT_IRQ_WINDOW_OPEN = 7;
        public const uint KVM_EXIT_SHUTDOWN = 8;
        public const uint KVM_EXIT_FAIL_ENTRY = 9;
        public const uint KVM_EXIT_INTR = 10;
        public const uint KVM_EXIT_INTERNAL_ERROR = 17;
        public const uint KVM_EXIT_SYSTEM_EVENT = 24;
        /// <summary>Unlike every other exit, comes with KVM_RUN returning -1 and errno EFAULT or EHWPOISON (api.rst).</summary>
        public const uint KVM_EXIT_MEMORY_FAULT = 39;

        public const byte KVM_EXIT_IO_IN = 0;
        public const byte KVM_EXIT_IO_OUT = 1;

        public const uint KVM_SYSTEM_EVENT_SHUTDOWN = 1;
        public const uint KVM_SYSTEM_EVENT_RESET = 2;
        public const uint KVM_SYSTEM_EVENT_CRASH = 3;

        public const uint KVM_MP_STATE_RUNNABLE = 0;
        public const uint KVM_MP_STATE_UNINITIALIZED = 1;
        public const uint KVM_MP_STATE_INIT_RECEIVED = 2;
        public const uint KVM_MP_STATE_HALTED = 3;
        public const uint KVM_MP_STATE_SIPI_RECEIVED = 4;

        public const uint KVM_PIT_SPEAKER_DUMMY = 1;

        /// <summary>ioctl with an integer argument (or none); throws <see cref="KvmException"/> naming the request.</summary>
        public static int Ioctl(SafeFd fd, nuint request, nint arg, string name)
        {
            var r = Libc.Ioctl(fd, request, arg, out var errno);
            if (r < 0) throw new KvmException(name, errno);
            return r;
        }

        /// <summary>ioctl passing a pointer to <paramref name="value"/>; throws <see cref="KvmException"/> naming the request.</summary>
        // SAFETY: pins value for the call only; see the fixed block.
        public static unsafe int Ioctl<T>(SafeFd fd, nuint request, ref T value, string name) where T : unmanaged
        {
            // SAFETY: value is a blittable struct whose size is encoded in the request number, so the
            // kernel reads/writes exactly sizeof(T) bytes of it; the pin lasts for the call.
            fixed (T* p = &value)
            {
                var r = Libc.Ioctl(fd, request, (nint)p, out var errno);
                if (r < 0) throw new KvmException(name, errno);
                return r;
            }
        }

        /// <summary>ioctl passing a pointer to a variable-length buffer (kvm_cpuid2, kvm_msrs).</summary>
        // SAFETY: pins the buffer for the call only; see the fixed block.
        public static unsafe int IoctlBuffer(SafeFd fd, nuint request, Span<byte> buffer, string name, out int errno)
        {
            // SAFETY: the buffer holds the fixed header plus the number of entries the header
            // announces; callers size it that way. Pinned for the call.
            fixed (byte* p = buffer)
            {
                return Libc.Ioctl(fd, request, (nint)p, out errno);
            }
        }
    }
}
