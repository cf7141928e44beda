/* wild: touches guest-physical memory past the end of its RAM, the bug a VMM
 * must contain to that guest. addr=<gpa> (default: the first byte past the
 * highest RAM entry below 4 GiB in the PVH memory map), op=write (default) or
 * op=read, ring=3 (default: a native access even where ring 0 is emulated) or
 * ring=0. Prints the access it is about to make; a VMM that lets the guest
 * carry on afterwards gets "wild: FAIL survived ...". */
#include "lib/kit.h"

GUEST_NAME("wild");

#define PATTERN 0x77696c6477696c64ul /* "wildwild" */

static u8 user_stack[16384] ALIGNED(16) NOINIT;
static u64 target;

static u64 do_write(u64 unused)
{
    (void)unused;
    *(volatile u64 *)target = PATTERN;
    return 0;
}

static u64 do_read(u64 unused)
{
    (void)unused;
    return *(volatile u64 *)target;
}

void guest_main(void)
{
    u64 top = 0;
    if (start_info && start_info->version >= 1) {
        struct hvm_memmap_table_entry *map = (void *)start_info->memmap_paddr;
        for (u32 i = 0; i < start_info->memmap_entries; i++) {
            u64 end = map[i].addr + map[i].size;
            if (map[i].type == MEMMAP_RAM && end <= (4ul << 30) && end > top)
                top = end;
        }
    }
    target = cmdline_u64("addr", top);
    if (!target || target >= (4ul << 30))
        fail("no address to touch (addr=0x%lx; give addr= below 4 GiB)", target);
    char op[8] = "write";
    cmdline_get("op", 0, op, sizeof op);
    bool write = strncmp(op, "read", 5) != 0;
    u64 ring = cmdline_u64("ring", 3);
    kprintf("wild: ram ends at 0x%lx, %s 0x%lx at ring %lu\n", top, write ? "write" : "read", target, ring);
    u64 (*fn)(u64) = write ? do_write : do_read;
    u64 value = ring == 0 ? fn(0) : run_user(fn, 0, user_stack + sizeof user_stack);
    fail("survived the %s at 0x%lx (read 0x%lx)", write ? "write" : "read", target, write ? *(volatile u64 *)target : value);
}
