/* compute: a CPU-bound integer loop at CPL 3 (native speed even on an
 * emulating KVM), iters=<N> from the command line. */
#include "lib/kit.h"

GUEST_NAME("compute");

static u8 user_stack[16384] ALIGNED(16) NOINIT;

/* A 64-bit LCG folded into a checksum: no closed form for the compiler. */
static u64 work(u64 iters)
{
    u64 x = 0x243f6a8885a308d3ul, sum = 0;
    for (u64 i = 0; i < iters; i++) {
        x = x * 6364136223846793005ul + 1442695040888963407ul;
        sum += x >> 29;
        sum ^= sum << 7;
    }
    return sum;
}

void guest_main(void)
{
    u64 iters = cmdline_u64("iters", 100000000);
    kprintf("compute: iters=%lu\n", iters);
    u64 result = run_user(work, iters, user_stack + sizeof user_stack);
    kprintf("compute: result=0x%016lx\n", result);
    pass();
}
