/* smp: counts CPUs in the ACPI MADT and starts every AP with INIT-SIPI-SIPI
 * through the xAPIC; each AP reports in and bumps a counter. */
#include "lib/kit.h"

GUEST_NAME("smp");

#define MAX_CPUS        64
#define AP_TRAMP_BASE   0x8000
#define AP_STACK_SIZE   8192

#define LAPIC_ID        0x020
#define LAPIC_SVR       0x0f0
#define LAPIC_ICR_LO    0x300
#define LAPIC_ICR_HI    0x310
#define ICR_BUSY        (1u << 12)
#define ICR_INIT        0x00004500       /* INIT, level assert */
#define ICR_STARTUP     0x00004600       /* SIPI, vector in bits 0-7 */

extern const u8 ap_tramp_start[], ap_tramp_end[], ap_tramp_gdtr[];
extern const u8 gdt_ptr[];

static u8 ap_stacks[MAX_CPUS][AP_STACK_SIZE] ALIGNED(16) NOINIT;
u64 ap_stack_top;                         /* read by ap_long */
static u32 apic_ids[MAX_CPUS];
static int ncpus;
static u64 lapic;
static volatile u32 ap_started;           /* set by the AP being started */
static volatile u32 cpus_up = 1;          /* the BSP */

static u32 lapic_read(u32 reg) { return mmio_read32(lapic + reg); }
static void lapic_write(u32 reg, u32 v) { mmio_write32(lapic + reg, v); }

static int cpu_index(u32 apic_id)
{
    for (int i = 0; i < ncpus; i++)
        if (apic_ids[i] == apic_id)
            return i;
    return -1;
}

void ap_main(void)
{
    ap_started = 1;
    cpu_init_ap();
    int idx = cpu_index(lapic_read(LAPIC_ID) >> 24);
    kprintf("smp: cpu %d up\n", idx);
    __atomic_add_fetch(&cpus_up, 1, __ATOMIC_SEQ_CST);
}

static void send_ipi(u32 apic_id, u32 icr)
{
    lapic_write(LAPIC_ICR_HI, apic_id << 24);
    lapic_write(LAPIC_ICR_LO, icr);
    while (lapic_read(LAPIC_ICR_LO) & ICR_BUSY)
        cpu_relax();
}

/* Waits until *flag reaches want or timeout_us passes. */
static bool wait_for(volatile u32 *flag, u32 want, u64 timeout_us)
{
    for (u64 t = 0; t < timeout_us; t += 1000) {
        if (*flag >= want)
            return true;
        delay_us(1000);
    }
    return *flag >= want;
}

void guest_main(void)
{
    ncpus = acpi_madt_cpus(apic_ids, MAX_CPUS, &lapic);
    if (ncpus < 0)
        fail("no ACPI MADT");
    if (ncpus == 0)
        fail("MADT lists no enabled CPU");
    if (lapic >= (4ul << 30))
        fail("local APIC at 0x%lx, above the 4 GiB identity map", lapic);
    kprintf("smp: madt lists %d cpus, lapic=0x%lx\n", ncpus, lapic);

    lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x1ff);   /* software-enable */
    u32 bsp = lapic_read(LAPIC_ID) >> 24;
    if (cpu_index(bsp) < 0)
        fail("BSP apic id %u not in the MADT", bsp);

    if (start_info && start_info->version >= 1 && start_info->memmap_paddr) {
        struct hvm_memmap_table_entry *m = (void *)start_info->memmap_paddr;
        bool ram = false;
        for (u32 i = 0; i < start_info->memmap_entries; i++)
            if (m[i].type == MEMMAP_RAM && m[i].addr <= AP_TRAMP_BASE && AP_TRAMP_BASE + 4096 <= m[i].addr + m[i].size)
                ram = true;
        if (!ram)
            fail("trampoline page 0x%x is not RAM in the memory map", AP_TRAMP_BASE);
    }
    memcpy((void *)AP_TRAMP_BASE, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
    memcpy((u8 *)AP_TRAMP_BASE + (ap_tramp_gdtr - ap_tramp_start), gdt_ptr, 6);

    /* One AP at a time: each gets its own stack and is awaited. */
    for (int i = 0; i < ncpus; i++) {
        if (apic_ids[i] == bsp)
            continue;
        ap_stack_top = (u64)ap_stacks[i] + AP_STACK_SIZE;
        ap_started = 0;
        u32 up = cpus_up;
        mb();
        send_ipi(apic_ids[i], ICR_INIT);
        delay_us(10000);
        for (int sipi = 0; sipi < 2 && !ap_started; sipi++) {
            send_ipi(apic_ids[i], ICR_STARTUP | (AP_TRAMP_BASE >> 12));
            delay_us(200);
        }
        if (!wait_for(&ap_started, 1, 2000000))
            fail("cpu %d (apic id %u) did not start", i, apic_ids[i]);
        if (!wait_for(&cpus_up, up + 1, 2000000))
            fail("cpu %d (apic id %u) started but did not report", i, apic_ids[i]);
    }
    kprintf("smp: %u of %d cpus up\n", cpus_up, ncpus);
    if ((int)cpus_up != ncpus)
        fail("%u of %d cpus up", cpus_up, ncpus);
    pass();
}
