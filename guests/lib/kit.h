/* Guest kit: freestanding support library shared by all test guests. */
#ifndef KIT_H
#define KIT_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;
typedef long s64;
typedef unsigned long size_t;
typedef int bool;
#define true 1
#define false 0
#define NULL ((void *)0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PACKED __attribute__((packed))
#define NORETURN __attribute__((noreturn))
#define ALIGNED(n) __attribute__((aligned(n)))
#define NOINIT __attribute__((section(".noinit")))

/* ---- port and MMIO access ---- */
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 mmio_read32(u64 a) { return *(volatile u32 *)a; }
static inline void mmio_write32(u64 a, u32 v) { *(volatile u32 *)a = v; }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline void mb(void) { __asm__ volatile("mfence" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }
static inline int current_cpl(void) { u16 cs; __asm__ volatile("mov %%cs, %0" : "=r"(cs)); return cs & 3; }
static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* ---- libc-ish ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* ---- console (16550 at COM1) ---- */
void uart_init(void);
void uart_putc(char c);
int uart_getc_nonblock(void);            /* -1 when no byte waiting */
char uart_getc(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, __builtin_va_list ap);
/* Formats into buf (always NUL-terminated), returns the length. */
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- spinlock ---- */
typedef struct { volatile u32 locked; } spinlock_t;
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);

/* ---- power ---- */
NORETURN void poweroff(void);            /* isa-debug-exit at port 0xf4, then halt */
NORETURN void halt_forever(void);
NORETURN void pass(void);                /* prints "NAME: PASS", powers off */
NORETURN void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void delay_us(u64 us);                   /* coarse: assumes a TSC of at most 4 GHz */

/* ---- boot information ---- */
#define HVM_START_MAGIC 0x336ec578
struct hvm_start_info {
    u32 magic, version, flags, nr_modules;
    u64 modlist_paddr, cmdline_paddr, rsdp_paddr;
    u64 memmap_paddr;                    /* version >= 1 */
    u32 memmap_entries, reserved;
} PACKED;
struct hvm_memmap_table_entry {
    u64 addr, size;
    u32 type, reserved;
} PACKED;
#define MEMMAP_RAM 1

extern const char guest_name[];          /* defined by each guest via GUEST_NAME() */
#define GUEST_NAME(n) const char guest_name[] = n
extern struct hvm_start_info *start_info; /* NULL for the 64-bit entry */
extern void *boot_params;                 /* Linux zero page, 64-bit entry only */
extern const char *cmdline;               /* never NULL; "" when none */
extern char _image_start[], _image_end[];

/* Guest entry point, called in 64-bit ring 0 with the console ready. */
NORETURN void guest_main(void);

/* ---- command line: space-separated key=value words ---- */
/* Copies the value of the n-th occurrence of key into buf; false if absent. */
bool cmdline_get(const char *key, int n, char *buf, size_t size);
u64 cmdline_u64(const char *key, u64 dflt);
/* Parses decimal, 0x-hex, with optional K/M/G suffix; returns end or NULL. */
const char *parse_u64(const char *s, u64 *out);

/* ---- CPU: ring 3, paging ---- */
/* Runs fn(arg) at CPL 3 with IOPL=3 on the given stack; returns its result. */
u64 run_user(u64 (*fn)(u64), u64 arg, void *stack_top);
/* False where ring-3 in/out traps (#GP) and is emulated by the kit (kvm_pvm). */
bool ring3_io_is_native(void);
void load_empty_idt(void);
/* Interrupts: vectors 32-47 have IDT gates. set_vector_handler(vec, fn) runs fn
 * (in ring 0, interrupts off) when vec arrives; vec may also be 2 (NMI). An
 * interrupt without a handler, or an NMI without one, ends the guest with FAIL. */
#define FIRST_IRQ_VECTOR 32
#define IRQ_VECTORS 16
void set_vector_handler(int vec, void (*fn)(void));
void cpu_init_ap(void);                  /* an AP in long mode: load the shared IDT */
/* Identity-maps [4 GiB, end): 1 GiB pages if the CPU has them (up to 512 GiB),
 * else 2 MiB pages up to 32 GiB. Returns the end of what is now mapped. */
u64 map_ram_above_4g(u64 end);

/* ---- ACPI ---- */
struct acpi_sdt {
    char sig[4];
    u32 length;
    u8 revision, checksum;
    char oem_id[6], oem_table_id[8];
    u32 oem_revision, creator_id, creator_revision;
} PACKED;
void *acpi_find_rsdp(void);
struct acpi_sdt *acpi_find_table(const char *sig);
/* Fills apic_ids with enabled Local APIC IDs from the MADT; returns count or -1 if no MADT. */
int acpi_madt_cpus(u32 *apic_ids, int max, u64 *lapic_base);

/* Writes the FADT reset register; false if there is none usable. */
bool acpi_reset(void);
/* The DSDT (from the FADT's X_DSDT or DSDT), NULL if absent or its checksum is wrong. */
struct acpi_sdt *acpi_dsdt(void);
/* Finds the bytes of needle inside the DSDT's AML; NULL if absent. */
const u8 *acpi_dsdt_find(const void *needle, size_t len);
/* Reads an AML integer (Zero, One, Ones, Byte/Word/DWord/QWord constant) at p; false if none. */
bool aml_integer(const u8 *p, u64 *value);
/* The IOAPIC's address from the MADT; 0 if there is none. */
u64 acpi_madt_ioapic(void);
/* Hardware-reduced power-off as Linux does it: SLP_TYP from the DSDT's _S5 and
 * SLP_EN written to the FADT's sleep control register; false if either is missing. */
bool acpi_poweroff(void);

#endif
