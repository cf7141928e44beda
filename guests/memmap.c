/* memmap: prints and checks the PVH start-info memory map (sorted, no
 * overlaps, RAM at 0 and 1 MiB and under the image, nothing in the legacy
 * hole below 1 MiB), then writes and
 * reads back one word in every 4 KiB page of RAM above the image, at CPL 3
 * (native speed even where ring 0 is emulated). */
#include "lib/kit.h"

GUEST_NAME("memmap");

#define MAX_ENTRIES 128
#define PAGE        4096ul
#define PATTERN     0x5a5aa5a5c3c33c3cul

static struct hvm_memmap_table_entry map[MAX_ENTRIES];
static u32 nmap;

struct range { u64 start, end; };
static struct range ranges[MAX_ENTRIES];
static u32 nranges;
static u64 bad_pages, first_bad;
static u8 user_stack[16384] ALIGNED(16) NOINIT;

static bool ram_covers(u64 start, u64 end)
{
    for (u32 i = 0; i < nmap; i++)
        if (map[i].type == MEMMAP_RAM && map[i].addr <= start && end <= map[i].addr + map[i].size)
            return true;
    return false;
}

static bool ram_intersects(u64 start, u64 end)
{
    for (u32 i = 0; i < nmap; i++)
        if (map[i].type == MEMMAP_RAM && map[i].addr < end && start < map[i].addr + map[i].size)
            return true;
    return false;
}

/* Ring 3: one store per page, then a second pass reading them all back, so
 * a page aliasing another one is caught too. */
static u64 touch(u64 unused)
{
    u64 pages = 0;
    (void)unused;
    for (u32 r = 0; r < nranges; r++)
        for (u64 p = ranges[r].start; p < ranges[r].end; p += PAGE, pages++)
            *(volatile u64 *)p = p ^ PATTERN;
    for (u32 r = 0; r < nranges; r++)
        for (u64 p = ranges[r].start; p < ranges[r].end; p += PAGE)
            if (*(volatile u64 *)p != (p ^ PATTERN) && !bad_pages++)
                first_bad = p;
    return pages;
}

void guest_main(void)
{
    if (!start_info)
        fail("no PVH start info");
    if (start_info->version < 1 || !start_info->memmap_paddr || !start_info->memmap_entries)
        fail("no memory map in start info (version %u, %u entries)", start_info->version,
             start_info->version >= 1 ? start_info->memmap_entries : 0);
    /* strict=0 accepts QEMU 7.2's map: out of address order, and with an
     * empty entry (type 0) counted at the end. */
    bool strict = cmdline_u64("strict", 1) != 0;
    nmap = start_info->memmap_entries;
    if (nmap > MAX_ENTRIES)
        fail("%u memory map entries, at most %d supported", nmap, MAX_ENTRIES);
    memcpy(map, (void *)start_info->memmap_paddr, nmap * sizeof map[0]);

    u64 ram = 0, top = 0;
    for (u32 i = 0; i < nmap; i++) {
        struct hvm_memmap_table_entry *e = &map[i];
        kprintf("memmap: entry %u base=0x%lx size=0x%lx type=%u\n", i, e->addr, e->size, e->type);
        if (!e->size) {
            if (strict)
                fail("entry %u is empty (strict=0 allows)", i);
            continue;
        }
        if (e->addr + e->size < e->addr)
            fail("entry %u wraps around", i);
        if (i && e->addr < map[i - 1].addr && strict)
            fail("entry %u at 0x%lx precedes entry %u (unsorted; strict=0 allows)", i, e->addr, i - 1);
        if (e->type == MEMMAP_RAM) {
            ram += e->size;
            if (e->addr + e->size > top)
                top = e->addr + e->size;
        }
    }
    if (!ram_covers(0, PAGE))
        fail("no RAM at 0");
    if (!ram_covers(0x100000, 0x100000 + PAGE))
        fail("no RAM at 1 MiB");
    u64 img_start = (u64)_image_start, img_end = (u64)_image_end;
    if (!ram_covers(img_start, img_end))
        fail("image 0x%lx-0x%lx not inside one RAM entry", img_start, img_end);
    if (ram_intersects(0xa0000, 0x100000))
        fail("RAM inside the 0xa0000-0xfffff hole");
    /* Overlaps are checked in address order (insertion sort: few entries),
     * without the empty entries strict=0 let through. */
    u32 kept = 0;
    for (u32 i = 0; i < nmap; i++)
        if (map[i].size)
            map[kept++] = map[i];
    nmap = kept;
    for (u32 i = 1; i < nmap; i++)
        for (u32 j = i; j && map[j].addr < map[j - 1].addr; j--) {
            struct hvm_memmap_table_entry t = map[j];
            map[j] = map[j - 1], map[j - 1] = t;
        }
    for (u32 i = 1; i < nmap; i++)
        if (map[i].addr < map[i - 1].addr + map[i - 1].size)
            fail("entries at 0x%lx and 0x%lx overlap", map[i - 1].addr, map[i].addr);
    kprintf("memmap: ram=%lu KiB\n", ram >> 10);

    if (top > (4ul << 30)) {
        u64 mapped = map_ram_above_4g(top);
        if (mapped < top) {
            kprintf("memmap: RAM above 0x%lx not mappable, not touched\n", mapped);
            top = mapped;
        }
    }
    for (u32 i = 0; i < nmap; i++) {
        if (map[i].type != MEMMAP_RAM)
            continue;
        u64 s = (map[i].addr + PAGE - 1) & ~(PAGE - 1), e = (map[i].addr + map[i].size) & ~(PAGE - 1);
        if (s < img_end)
            s = img_end;
        if (e > top)
            e = top;
        if (s < e)
            ranges[nranges++] = (struct range){ s, e };
    }
    u64 pages = run_user(touch, 0, user_stack + sizeof user_stack);
    if (bad_pages)
        fail("%lu of %lu pages read back wrong, first at 0x%lx", bad_pages, pages, first_bad);
    kprintf("memmap: touched %lu pages\n", pages);
    pass();
}
