// Times building a VM (KVM_CREATE_VM, optionally KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2, a 64 MiB
// memory slot, one vCPU) in a child process, and the child's exit with the VM still open, when the
// kernel tears it down: what the last milliseconds of a short `domino-vmm` run are made of
// (docs/performance.md, "The VMM against QEMU microvm").
//
// build: gcc -O2 -o vm-teardown bench/kvm-probe/vm-teardown.c
// usage: ./vm-teardown [runs=5]
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include "probe.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static void build(int irqchip, int pit)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    check(kvm, "/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    check(vm, "KVM_CREATE_VM");
    if (irqchip) check(ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
    if (pit) {
        struct kvm_pit_config config = { .flags = KVM_PIT_SPEAKER_DUMMY };
        check(ioctl(vm, KVM_CREATE_PIT2, &config), "KVM_CREATE_PIT2");
    }
    void *ram = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED) { perror("mmap"); _exit(1); }
    struct kvm_userspace_memory_region slot = { .slot = 0, .memory_size = 64 << 20, .userspace_addr = (unsigned long)ram };
    check(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot), "KVM_SET_USER_MEMORY_REGION");
    check(ioctl(vm, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU");
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    static const struct { const char *name; int irqchip, pit; } kinds[] = {
        { "irqchip+PIT", 1, 1 }, { "irqchip", 1, 0 }, { "neither", 0, 0 },
    };
    printf("%-12s %-10s %s\n", "VM", "build", "exit with the VM open (ms)");
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < runs; i++) {
            int pipefd[2];
            check(pipe(pipefd), "pipe");
            double start = now_ms();
            pid_t child = fork();
            if (child == 0) {
                build(kinds[k].irqchip, kinds[k].pit);
                double built = now_ms();
                if (write(pipefd[1], &built, sizeof built) != sizeof built) _exit(1);
                _exit(0);
            }
            double built;
            if (read(pipefd[0], &built, sizeof built) != sizeof built) return 1;
            int status;
            waitpid(child, &status, 0);
            double gone = now_ms();
            printf("%-12s %-10.2f %.2f\n", kinds[k].name, built - start, gone - built);
            close(pipefd[0]);
            close(pipefd[1]);
        }
    }
    return 0;
}
