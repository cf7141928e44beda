// Times the kernel's part of building a VM, with nothing else in the way: KVM_CREATE_VM,
// KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2, KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU — the steps a
// Domino restore from scratch waits for (see docs/performance.md, "Save, restore and live migration").
//
// build: gcc -O2 -o vm-create bench/kvm-probe/vm-create.c
// usage: ./vm-create [MiB=128] [runs=10]
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include "probe.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>


int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 128;
    int runs = argc > 2 ? atoi(argv[2]) : 10;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    check(kvm, "/dev/kvm");
    printf("%-10s %-10s %-10s %-10s %-12s %-10s %s\n", "CREATE_VM", "IRQCHIP", "PIT2", "mmap", "MEM_REGION", "VCPU", "total (ms)");
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        check(vm, "KVM_CREATE_VM");
        double t1 = now_ms();
        check(ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
        double t2 = now_ms();
        struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
        check(ioctl(vm, KVM_CREATE_PIT2, &pit), "KVM_CREATE_PIT2");
        double t3 = now_ms();
        void *ram = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (ram == MAP_FAILED) { perror("mmap"); return 1; }
        double t4 = now_ms();
        struct kvm_userspace_memory_region slot = { .slot = 0, .memory_size = mib << 20, .userspace_addr = (unsigned long)ram };
        check(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot), "KVM_SET_USER_MEMORY_REGION");
        double t5 = now_ms();
        int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
        check(vcpu, "KVM_CREATE_VCPU");
        double t6 = now_ms();
        printf("%-10.3f %-10.3f %-10.3f %-10.3f %-12.3f %-10.3f %.3f\n", t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t6 - t0);
        close(vcpu);
        close(vm);
        munmap(ram, mib << 20);
    }
    return 0;
}
