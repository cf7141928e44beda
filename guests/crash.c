/* crash: triple-faults on purpose. With an empty IDT the #UD raised by ud2
 * cannot be delivered (#GP), nor can that #GP or the #DF, so the CPU shuts
 * down. ud2 rather than int3: an emulating KVM (kvm_pvm) cannot emulate a
 * software interrupt through an empty IDT and stops with an internal error
 * instead of a triple fault. */
#include "lib/kit.h"

GUEST_NAME("crash");

void guest_main(void)
{
    kprintf("crash: triple fault\n");
    load_empty_idt();
    __asm__ volatile("ud2");
    fail("survived ud2 with an empty IDT");
}
