/* shim64: a QEMU-only developer aid, not a guest. QEMU microvm boots only
 * PVH images, so this PVH image (linked at 4 MiB) stands in for Domino's
 * ELF64 loader: it builds a Linux zero page and enters the 64-bit image that
 * QEMU's generic loader placed in memory, at entry64=<addr> from the command
 * line, in long mode with the first 4 GiB identity-mapped and rsi = the zero
 * page. The rest of the command line is passed on through the zero page. */
#include "lib/kit.h"

GUEST_NAME("shim64");

static u8 zero_page[4096] ALIGNED(4096);
static char passed_cmdline[1024];

void guest_main(void)
{
    u64 entry = cmdline_u64("entry64", 0);
    if (!entry)
        fail("no entry64=<addr> on the command line");

    /* Everything but entry64= goes on to the 64-bit image. */
    size_t n = 0;
    for (const char *p = cmdline; *p;) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        if (p == w || !strncmp(w, "entry64=", 8))
            continue;
        if (n && n < sizeof passed_cmdline - 1)
            passed_cmdline[n++] = ' ';
        for (; w < p && n < sizeof passed_cmdline - 1; w++)
            passed_cmdline[n++] = *w;
    }
    passed_cmdline[n] = 0;

    *(u64 *)(zero_page + 0x070) = start_info->rsdp_paddr;      /* acpi_rsdp_addr */
    *(u16 *)(zero_page + 0x1fe) = 0xaa55;                        /* hdr.boot_flag */
    *(u32 *)(zero_page + 0x202) = 0x53726448;                    /* hdr.header "HdrS" */
    *(u32 *)(zero_page + 0x228) = (u32)(u64)passed_cmdline;      /* hdr.cmd_line_ptr */
    if (start_info->version >= 1 && start_info->memmap_paddr) {
        struct hvm_memmap_table_entry *m = (void *)start_info->memmap_paddr;
        u32 count = 0;
        for (u32 i = 0; i < start_info->memmap_entries && count < 128; i++) {
            if (!m[i].size)
                continue;
            u8 *e = zero_page + 0x2d0 + 20 * count++;            /* e820_table */
            *(u64 *)e = m[i].addr;
            *(u64 *)(e + 8) = m[i].size;
            *(u32 *)(e + 16) = m[i].type;
        }
        zero_page[0x1e8] = (u8)count;                            /* e820_entries */
    }
    __asm__ volatile("cli; jmp *%0" ::"r"(entry), "S"(zero_page) : "memory");
    __builtin_unreachable();
}
