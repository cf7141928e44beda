// What one memory slot costs the kernel, by slot size: creates N VMs (irqchip, one vCPU) each with
// one slot of MiB over PROT_NONE, MAP_NORESERVE host memory (as a Domino VM shell for any guest
// registers it), and prints the growth of VmallocUsed and SUnreclaim in /proc/meminfo per VM and the
// mean time of KVM_SET_USER_MEMORY_REGION. On a shadow-paging KVM (this host's kvm_pvm) the slot's
// reverse maps take 8 bytes per 4 KiB page (see docs/migration.md, "VM shells").
//
// build: gcc -O2 -o slot-memory bench/kvm-probe/slot-memory.c
// usage: ./slot-memory [MiB=3072] [VMs=8]
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include "probe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long meminfo_kib(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
            sscanf(line + strlen(key) + 1, "%ld", &v);
            break;
        }
    if (f) fclose(f);
    return v;
}


int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 3072;
    int vms = argc > 2 ? atoi(argv[2]) : 8;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    check(kvm, "/dev/kvm");
    long vmalloc0 = meminfo_kib("VmallocUsed"), slab0 = meminfo_kib("SUnreclaim");
    double slot_ms = 0;
    for (int i = 0; i < vms; i++) { // the VMs stay open until exit, so their memory is counted together
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        check(vm, "KVM_CREATE_VM");
        check(ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
        void *ram = mmap(NULL, mib << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (ram == MAP_FAILED) { perror("mmap"); return 1; }
        struct kvm_userspace_memory_region slot = { .slot = 0, .memory_size = mib << 20, .userspace_addr = (unsigned long)ram };
        double t = now_ms();
        check(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot), "KVM_SET_USER_MEMORY_REGION");
        slot_ms += now_ms() - t;
        check(ioctl(vm, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU");
    }
    long vmalloc = meminfo_kib("VmallocUsed") - vmalloc0, slab = meminfo_kib("SUnreclaim") - slab0;
    printf("%zu MiB slot, %d VMs: VmallocUsed +%ld KiB (%.0f KiB per VM), SUnreclaim %+ld KiB, KVM_SET_USER_MEMORY_REGION mean %.2f ms\n",
           mib, vms, vmalloc, (double)vmalloc / vms, slab, slot_ms / vms);
    return 0;
}
