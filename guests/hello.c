/* hello: the smallest PVH guest: greet, echo the command line, power off. */
#include "lib/kit.h"

GUEST_NAME("hello");

void guest_main(void)
{
    kprintf("Hello from the Domino guest kit\n");
    if (*cmdline)
        kprintf("hello: cmdline=%s\n", cmdline);
    pass();
}
