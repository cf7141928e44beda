/* echo: writes every console byte back; the line "quit" ends the test.
 * The loop is I/O-bound, so it stays in ring 0 (ring-3 port I/O may trap). */
#include "lib/kit.h"

GUEST_NAME("echo");

void guest_main(void)
{
    char line[8];
    unsigned len = 0;
    kprintf("echo: ready\n");
    for (;;) {
        char c = uart_getc();
        uart_putc(c);
        if (c == '\n' || c == '\r') {
            if (len == 4 && !memcmp(line, "quit", 4))
                break;
            len = 0;
        } else if (len < sizeof line) {
            line[len++] = c;
        }
    }
    pass();
}
