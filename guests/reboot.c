/* reboot: asks for a reset through the i8042 keyboard controller. Machines
 * without one (QEMU microvm) get the ACPI reset register next, announced on
 * the console so the two paths are told apart. */
#include "lib/kit.h"

GUEST_NAME("reboot");

void guest_main(void)
{
    kprintf("reboot: resetting\n");
    outb(0x64, 0xfe);                    /* i8042: pulse the CPU reset line */
    delay_us(1000000);
    kprintf("reboot: i8042 reset ignored, trying the ACPI reset register\n");
    if (!acpi_reset())
        fail("no i8042 reset and no ACPI reset register");
    delay_us(1000000);
    fail("still running 1 s after the ACPI reset");
}
