/* control: waits for what a host sends a running guest and answers the way
 * Linux would: the ACPI power button (GED interrupt, _EVT's register) powers
 * off through the FADT sleep control register with _S5; Ctrl-Alt-Del typed on
 * the i8042 keyboard resets through the i8042 (0xfe); an NMI is counted and
 * reported. Everything is interrupt driven and the CPU halts in between, so the
 * guest costs nothing while it waits. The GED's register and GSI come from the
 * DSDT, as an ACPI OS would find them. */
#include "lib/kit.h"

GUEST_NAME("control");

#define VEC_GED         0x20
#define VEC_KBD         0x21
#define VEC_TIMER       0x22
#define VEC_SPURIOUS    0x2f

#define LAPIC_ID        0x020
#define LAPIC_EOI       0x0b0
#define LAPIC_SVR       0x0f0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_DCR 0x3e0

#define I8042_DATA      0x60
#define I8042_STATUS    0x64
#define I8042_OBF       0x01
#define CTR_KBD_INT     0x01
#define CTR_TRANSLATE   0x40

#define GED_POWER_BUTTON 0x08

static u64 lapic, ioapic, ged;
static volatile u32 nmis, ged_irqs, kbd_irqs;
static volatile u8 ged_events;
static volatile bool ctrl_alt_del;
static bool set1;                        /* i8042 translation on: set 1 scancodes */

static u32 lapic_read(u32 reg) { return mmio_read32(lapic + reg); }
static void lapic_write(u32 reg, u32 v) { mmio_write32(lapic + reg, v); }
static void eoi(void) { lapic_write(LAPIC_EOI, 0); }

static void ioapic_route(u32 gsi, u8 vector, u32 apic_id)
{
    mmio_write32(ioapic, 0x10 + 2 * gsi + 1);
    mmio_write32(ioapic + 0x10, apic_id << 24);
    mmio_write32(ioapic, 0x10 + 2 * gsi);
    mmio_write32(ioapic + 0x10, vector);                 /* fixed, physical, active high, edge, unmasked */
}

static void on_nmi(void) { nmis++; }

static void on_ged(void)
{
    ged_events |= *(volatile u8 *)ged;                   /* what _EVT does: reading clears it */
    ged_irqs++;
    eoi();
}

/* Scancode sets 1 and 2: Ctrl 1d/14, Alt 38/11, Del e0 53 / e0 71; a break is
 * code|0x80 in set 1 and f0 code in set 2. */
static void key(u8 b)
{
    static bool extended, release, ctrl, alt;
    if (b == 0xe0) { extended = true; return; }
    if (!set1 && b == 0xf0) { release = true; return; }
    bool down = set1 ? !(b & 0x80) : !release;
    u8 code = set1 ? (u8)(b & 0x7f) : b;
    if (code == (set1 ? 0x1d : 0x14))
        ctrl = down;
    else if (code == (set1 ? 0x38 : 0x11))
        alt = down;
    else if (extended && code == (set1 ? 0x53 : 0x71) && down && ctrl && alt)
        ctrl_alt_del = true;
    extended = release = false;
}

static void on_kbd(void)
{
    while (inb(I8042_STATUS) & I8042_OBF)
        key(inb(I8042_DATA));
    kbd_irqs++;
    eoi();
}

static void on_timer(void) { eoi(); }
static void on_spurious(void) { }        /* no EOI for the spurious vector */

static u8 i8042_command_byte(void)
{
    while (inb(I8042_STATUS) & I8042_OBF)                /* drop anything stale */
        inb(I8042_DATA);
    outb(I8042_STATUS, 0x20);
    for (int i = 0; i < 1000 && !(inb(I8042_STATUS) & I8042_OBF); i++)
        delay_us(10);
    if (!(inb(I8042_STATUS) & I8042_OBF))
        fail("i8042 did not answer command 0x20");
    return inb(I8042_DATA);
}

/* GED: OperationRegion (GDST, SystemMemory, address, length) and the first
 * Extended Interrupt descriptor after _HID "ACPI0013". */
static u32 find_ged(void)
{
    static const u8 region[] = { 0x5b, 0x80, 'G', 'D', 'S', 'T', 0x00 };
    static const u8 hid[] = { 0x0d, 'A', 'C', 'P', 'I', '0', '0', '1', '3', 0x00 };
    if (!acpi_dsdt())
        fail("no DSDT");
    const u8 *r = acpi_dsdt_find(region, sizeof region);
    if (!r || !aml_integer(r + sizeof region, &ged) || !ged)
        fail("no GED register (OperationRegion GDST) in the DSDT");
    const u8 *h = acpi_dsdt_find(hid, sizeof hid);
    if (!h)
        fail("no Generic Event Device (ACPI0013) in the DSDT");
    for (const u8 *p = h; p < h + 64; p++)
        if (p[0] == 0x89 && p[1] == 6 && p[2] == 0 && p[4] == 1)
            return *(const u32 *)(p + 5);
    fail("the GED has no interrupt in its _CRS");
}

void guest_main(void)
{
    u32 ids[1];
    int n = acpi_madt_cpus(ids, 1, &lapic);
    ioapic = acpi_madt_ioapic();
    if (n < 1 || !ioapic)
        fail("no MADT with a local APIC and an IOAPIC");
    u32 gsi = find_ged();
    kprintf("control: ged at 0x%lx gsi %u\n", ged, gsi);

    /* The 8259s: initialised out of the way (vectors 0x30/0x38) and masked, so
     * only the IOAPIC delivers ISA interrupts. */
    outb(0x20, 0x11); outb(0xa0, 0x11);
    outb(0x21, 0x30); outb(0xa1, 0x38);
    outb(0x21, 0x04); outb(0xa1, 0x02);
    outb(0x21, 0x01); outb(0xa1, 0x01);
    outb(0x21, 0xff); outb(0xa1, 0xff);

    set_vector_handler(2, on_nmi);
    set_vector_handler(VEC_GED, on_ged);
    set_vector_handler(VEC_KBD, on_kbd);
    set_vector_handler(VEC_TIMER, on_timer);
    set_vector_handler(VEC_SPURIOUS, on_spurious);

    lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);        /* software-enable */
    u32 me = lapic_read(LAPIC_ID) >> 24;
    ioapic_route(gsi, VEC_GED, me);
    ioapic_route(1, VEC_KBD, me);                        /* i8042 keyboard, ISA IRQ 1 */
    /* A 10 Hz tick bounds how long a wake-up can be missed (an NMI landing
     * between the checks and the hlt). KVM's APIC timer counts at 1 GHz. */
    lapic_write(LAPIC_TIMER_DCR, 0xb);                   /* divide by 1 */
    lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | (1u << 17)); /* periodic */
    lapic_write(LAPIC_TIMER_ICR, 100000000);

    u8 ctr = i8042_command_byte();
    set1 = (ctr & CTR_TRANSLATE) != 0;
    if (!(ctr & CTR_KBD_INT)) {
        outb(I8042_STATUS, 0x60);
        outb(I8042_DATA, ctr | CTR_KBD_INT);
    }
    kprintf("control: i8042 command byte 0x%02x (scancode set %d)\n", ctr, set1 ? 1 : 2);
    kprintf("control: ready\n");

    u32 nmis_seen = 0;
    for (;;) {
        __asm__ volatile("cli" ::: "memory");
        if (nmis != nmis_seen) {
            nmis_seen = nmis;
            kprintf("control: nmi %u\n", nmis_seen);
            continue;
        }
        if (ged_events & GED_POWER_BUTTON) {
            kprintf("control: power button (ged events 0x%02x, %u interrupts), powering off through ACPI S5\n", ged_events, ged_irqs);
            if (!acpi_poweroff())
                fail("no ACPI sleep control register or _S5");
            delay_us(1000000);
            fail("still running 1 s after the ACPI S5 write");
        }
        if (ctrl_alt_del) {
            kprintf("control: ctrl-alt-del (%u keyboard interrupts), resetting through the i8042\n", kbd_irqs);
            outb(I8042_STATUS, 0xfe);
            delay_us(1000000);
            fail("still running 1 s after the i8042 reset");
        }
        __asm__ volatile("sti; hlt" ::: "memory");       /* sti's shadow covers the hlt */
    }
}
