/* pio: count=<N> port writes to 0x80, one VM exit each, for the exit-rate
 * benchmark. The loop runs at CPL 3 with IOPL=3 where the KVM honours that;
 * where ring-3 port I/O traps instead (kvm_pvm), a trap per write would
 * dwarf the exit being measured, so the loop runs in ring 0. */
#include "lib/kit.h"

GUEST_NAME("pio");

static u8 user_stack[16384] ALIGNED(16) NOINIT;

static u64 exits(u64 count)
{
    for (u64 i = 0; i < count; i++)
        outb(0x80, (u8)i);
    return count;
}

void guest_main(void)
{
    u64 count = cmdline_u64("count", 100000), done;
    if (ring3_io_is_native()) {
        kprintf("pio: ring=3\n");
        done = run_user(exits, count, user_stack + sizeof user_stack);
    } else {
        kprintf("pio: ring=0\n");
        done = exits(count);
    }
    kprintf("pio: %lu exits\n", done);
    pass();
}
