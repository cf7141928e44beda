/* hello64: a plain ELF64 (no PVH note) for a 64-bit loader: entered in long
 * mode at e_entry with rsi = Linux boot_params. */
#include "lib/kit.h"

GUEST_NAME("hello64");

void guest_main(void)
{
    kprintf("Hello from 64-bit mode\n");
    if (*cmdline)
        kprintf("hello64: cmdline=%s\n", cmdline);
    pass();
}
