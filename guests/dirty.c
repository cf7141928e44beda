/* dirty: a busy guest for live-migration tests. At CPL 3 it rewrites one u64 in
 * every 4 KiB page of a mib=<N> MiB area at 16 MiB, pass after pass, and first
 * checks that each page still holds the previous pass's number — so memory a
 * migration lost or tore shows up as "dirty: MISMATCH". Prints the pass number
 * every every=<N> passes. Never exits on its own. */
#include "lib/kit.h"

GUEST_NAME("dirty");

#define AREA_BASE (16ul << 20)

static u8 user_stack[16384] ALIGNED(16) NOINIT;
static volatile u64 passes;
static volatile u64 bad_page;
static u64 area_bytes;

/* Runs n passes; returns the pass count, or ~0 with bad_page set on a mismatch. */
static u64 dirty_passes(u64 n)
{
    volatile u64 *area = (volatile u64 *)AREA_BASE;
    for (u64 i = 0; i < n; i++) {
        u64 expect = passes, next = passes + 1;
        for (u64 off = 0; off < area_bytes / 8; off += 4096 / 8) {
            if (area[off] != expect) {
                bad_page = off / (4096 / 8);
                return ~0ul;
            }
            area[off] = next;
        }
        passes = next;
    }
    return passes;
}

void guest_main(void)
{
    u64 mib = cmdline_u64("mib", 32);
    u64 every = cmdline_u64("every", 10);
    if (!mib || !every)
        fail("mib and every must be non-zero");
    area_bytes = mib << 20;
    /* The area starts zeroed (fresh RAM), which is pass 0's expected value. */
    for (;;) {
        u64 r = run_user(dirty_passes, every, user_stack + sizeof user_stack);
        if (r == ~0ul)
            fail("MISMATCH at page %lu of the area after pass %lu", bad_page, passes);
        kprintf("dirty: pass %lu\n", r);
    }
}
