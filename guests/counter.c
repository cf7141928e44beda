/* counter: counts in memory at CPL 3 forever, printing every every=<N>
 * increments; a live, changing guest for save/restore tests. Never exits.
 * Ring 3 hands back to ring 0 to print, so no ring-3 port I/O is needed. */
#include "lib/kit.h"

GUEST_NAME("counter");

static u8 user_stack[16384] ALIGNED(16) NOINIT;
static volatile u64 count;

static u64 count_chunk(u64 every)
{
    for (u64 i = 0; i < every; i++)
        count++;
    return count;
}

void guest_main(void)
{
    u64 every = cmdline_u64("every", 50000000);
    if (!every)
        fail("every=0");
    for (;;)
        kprintf("counter: %lu\n", run_user(count_chunk, every, user_stack + sizeof user_stack));
}
