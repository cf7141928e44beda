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

/* Writes one byte to the register a Generic Address Structure names
 * (system memory or system I/O); false for any other address space. */
static bool gas_write8(const u8 *gas, u8 value)
{
    u8 space = gas[0];
    u64 addr = *(const u64 *)(gas + 4);
    if (space == 0)
        *(volatile u8 *)addr = value;
    else if (space == 1)
        outb((u16)addr, value);
    else
        return false;
    return true;
}

bool acpi_reset(void)
{
    u8 *fadt = (u8 *)acpi_find_table("FACP");
    if (!fadt || ((struct acpi_sdt *)fadt)->length < 129 || !(*(u32 *)(fadt + 112) & (1u << 10)))
        return false;                    /* no RESET_REG_SUP */
    return gas_write8(fadt + 116, fadt[128]);
}

struct acpi_sdt *acpi_dsdt(void)
{
    u8 *fadt = (u8 *)acpi_find_table("FACP");
    if (!fadt)
        return NULL;
    u32 len = ((struct acpi_sdt *)fadt)->length;
    u64 a = len >= 148 ? *(u64 *)(fadt + 140) : 0;        /* X_DSDT */
    if (!a)
        a = *(u32 *)(fadt + 40);                          /* DSDT */
    struct acpi_sdt *dsdt = (struct acpi_sdt *)a;
    if (!dsdt || memcmp(dsdt->sig, "DSDT", 4) || dsdt->length < sizeof *dsdt || !checksum_ok(dsdt, dsdt->length))
        return NULL;
    return dsdt;
}

const u8 *acpi_dsdt_find(const void *needle, size_t len)
{
    struct acpi_sdt *dsdt = acpi_dsdt();
    if (!dsdt)
        return NULL;
    const u8 *p = (const u8 *)dsdt, *end = p + dsdt->length;
    for (p += sizeof *dsdt; p + len <= end; p++)
        if (!memcmp(p, needle, len))
            return p;
    return NULL;
}

bool aml_integer(const u8 *p, u64 *value)
{
    switch (p[0]) {
    case 0x00: *value = 0; return true;                   /* Zero */
    case 0x01: *value = 1; return true;                   /* One */
    case 0xff: *value = ~0ul; return true;                /* Ones */
    case 0x0a: *value = p[1]; return true;                /* BytePrefix */
    case 0x0b: *value = *(const u16 *)(p + 1); return true;
    case 0x0c: *value = *(const u32 *)(p + 1); return true;
    case 0x0e: *value = *(const u64 *)(p + 1); return true;
    }
    return false;
}

u64 acpi_madt_ioapic(void)
{
    struct acpi_sdt *madt = acpi_find_table("APIC");
    if (!madt)
        return 0;
    u8 *p = (u8 *)madt + 44, *end = (u8 *)madt + madt->length;
    for (; p + 2 <= end && p[1] >= 2; p += p[1])
        if (p[0] == 1 && p[1] >= 12)                      /* I/O APIC: id, reserved, address, GSI base */
            return *(u32 *)(p + 4);
    return 0;
}

bool acpi_poweroff(void)
{
    /* Name (_S5_, Package (n) { SLP_TYPa, ... }): NameOp, name, PackageOp, one-byte PkgLength, count. */
    static const u8 s5[] = { 0x08, '_', 'S', '5', '_', 0x12 };
    const u8 *p = acpi_dsdt_find(s5, sizeof s5);
    u64 slp_typ;
    if (!p || !aml_integer(p + sizeof s5 + 2, &slp_typ))
        return false;
    u8 *fadt = (u8 *)acpi_find_table("FACP");
    if (!fadt || ((struct acpi_sdt *)fadt)->length < 256)
        return false;                                     /* no SLEEP_CONTROL_REG (FADT < 6) */
    if (!*(u64 *)(fadt + 248))
        return false;                                     /* SLEEP_CONTROL_REG not set */
    return gas_write8(fadt + 244, (u8)(((slp_typ & 7) << 2) | (1 << 5)));   /* SLP_TYP, SLP_EN */
}
