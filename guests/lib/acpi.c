/* ACPI table lookup: RSDP from the PVH start info (or the Linux zero page),
 * else the legacy scan of 0xE0000-0xFFFFF; then RSDT/XSDT and the MADT. */
#include "kit.h"

static bool checksum_ok(const void *p, size_t len)
{
    u8 sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += ((const u8 *)p)[i];
    return sum == 0;
}

void *acpi_find_rsdp(void)
{
    if (start_info && start_info->rsdp_paddr)
        return (void *)start_info->rsdp_paddr;
    if (boot_params && *(u64 *)((u8 *)boot_params + 0x070))   /* acpi_rsdp_addr */
        return (void *)*(u64 *)((u8 *)boot_params + 0x070);
    for (u64 a = 0xe0000; a < 0x100000; a += 16)
        if (!memcmp((void *)a, "RSD PTR ", 8) && checksum_ok((void *)a, 20))
            return (void *)a;
    return NULL;
}

struct acpi_sdt *acpi_find_table(const char *sig)
{
    u8 *rsdp = acpi_find_rsdp();
    if (!rsdp)
        return NULL;
    u64 xsdt = rsdp[15] >= 2 ? *(u64 *)(rsdp + 24) : 0;
    struct acpi_sdt *root = (struct acpi_sdt *)(xsdt ? xsdt : *(u32 *)(rsdp + 16));
    if (!root || root->length < sizeof *root)
        return NULL;
    size_t width = xsdt ? 8 : 4;
    size_t n = (root->length - sizeof *root) / width;
    u8 *entries = (u8 *)(root + 1);
    for (size_t i = 0; i < n; i++) {
        u64 a = width == 8 ? *(u64 *)(entries + i * 8) : *(u32 *)(entries + i * 4);
        struct acpi_sdt *t = (struct acpi_sdt *)a;
        if (t && !memcmp(t->sig, sig, 4) && checksum_ok(t, t->length))
            return t;
    }
    return NULL;
}

int acpi_madt_cpus(u32 *apic_ids, int max, u64 *lapic_base)
{
    struct acpi_sdt *madt = acpi_find_table("APIC");
    if (!madt)
        return -1;
    u8 *p = (u8 *)madt + 44, *end = (u8 *)madt + madt->length;
    int n = 0;
    *lapic_base = *(u32 *)((u8 *)madt + 36);
    for (; p + 2 <= end && p[1] >= 2; p += p[1]) {
        switch (p[0]) {
        case 0:     /* Processor Local APIC: uid, apic id, flags */
            if ((*(u32 *)(p + 4) & 1) && n < max)
                apic_ids[n++] = p[3];
            break;
        case 5:     /* Local APIC address override */
            *lapic_base = *(u64 *)(p + 4);
            break;
        case 9:     /* Processor Local x2APIC: x2apic id, flags, uid */
            if ((*(u32 *)(p + 8) & 1) && n < max)
                apic_ids[n++] = *(u32 *)(p + 4);
            break;
        }
    }
    return n;
}

bool acpi_reset(void)
{
    u8 *fadt = (u8 *)acpi_find_table("FACP");
    if (!fadt || ((struct acpi_sdt *)fadt)->length < 129 || !(*(u32 *)(fadt + 112) & (1u << 10)))
        return false;                    /* no RESET_REG_SUP */
    u8 space = fadt[116], value = fadt[128];
    u64 addr = *(u64 *)(fadt + 120);
    if (space == 0)
        *(volatile u8 *)addr = value;
    else if (space == 1)
        outb((u16)addr, value);
    else
        return false;
    return true;
}
