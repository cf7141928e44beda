/* Boot glue: from the assembly entry points to guest_main(), plus CPU
 * tables, exceptions and power-off. */
#include "kit.h"

struct hvm_start_info *start_info;
void *boot_params;
const char *cmdline = "";

extern u8 gdt[], tss[];
extern const u64 exc_stubs[32];
extern const u64 irq_stubs[IRQ_VECTORS];
extern u64 pdpt[];

struct idt_gate {
    u16 off_lo, sel;
    u8 ist, type;
    u16 off_mid;
    u32 off_hi, zero;
} PACKED;

static struct idt_gate idt[FIRST_IRQ_VECTOR + IRQ_VECTORS] ALIGNED(16);
static void (*vector_handlers[FIRST_IRQ_VECTOR + IRQ_VECTORS])(void);
static u8 exc_stack[4096] ALIGNED(16) NOINIT;

static void set_gate(int vec, u64 handler, int dpl)
{
    struct idt_gate *g = &idt[vec];
    g->off_lo = (u16)handler;
    g->sel = 0x18;
    g->ist = 0;
    g->type = (u8)(0x8e | (dpl << 5));   /* present 64-bit interrupt gate */
    g->off_mid = (u16)(handler >> 16);
    g->off_hi = (u32)(handler >> 32);
    g->zero = 0;
}

static void cpu_init(void)
{
    u64 base = (u64)tss;
    u8 *d = gdt + 0x30;                  /* 16-byte available 64-bit TSS descriptor */
    memset(d, 0, 16);
    d[0] = 103;                          /* limit */
    d[2] = (u8)base, d[3] = (u8)(base >> 8), d[4] = (u8)(base >> 16);
    d[5] = 0x89;
    d[7] = (u8)(base >> 24);
    *(u32 *)(d + 8) = (u32)(base >> 32);
    *(u64 *)(tss + 4) = (u64)(exc_stack + sizeof exc_stack);  /* rsp0 */
    *(u16 *)(tss + 102) = 104;           /* no I/O bitmap: IOPL alone governs ring 3 */
    __asm__ volatile("ltr %w0" ::"r"(0x30));

    for (int i = 0; i < 32; i++)
        set_gate(i, exc_stubs[i], 0);
    for (int i = 0; i < IRQ_VECTORS; i++)
        set_gate(FIRST_IRQ_VECTOR + i, irq_stubs[i], 0);
    cpu_init_ap();
}

void cpu_init_ap(void)
{
    struct { u16 limit; u64 base; } PACKED idtr = { sizeof idt - 1, (u64)idt };
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

void load_empty_idt(void)
{
    struct { u16 limit; u64 base; } PACKED idtr = { 0, 0 };
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

NORETURN void kit_start_pvh(u32 paddr)
{
    uart_init();
    cpu_init();
    start_info = (struct hvm_start_info *)(u64)paddr;
    if (!start_info || start_info->magic != HVM_START_MAGIC)
        fail("bad hvm_start_info at %p", (void *)start_info);
    if (start_info->cmdline_paddr)
        cmdline = (const char *)start_info->cmdline_paddr;
    guest_main();
}

NORETURN void kit_start64(void *zero_page)
{
    uart_init();
    cpu_init();
    boot_params = zero_page;
    if (zero_page) {
        /* boot_params.hdr.cmd_line_ptr (0x228) + ext_cmd_line_ptr (0x0c8) */
        u64 p = *(u32 *)((u8 *)zero_page + 0x228) | (u64)*(u32 *)((u8 *)zero_page + 0x0c8) << 32;
        if (p)
            cmdline = (const char *)p;
    }
    guest_main();
}

struct exc_frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vec, err, rip, cs, rflags, rsp, ss;
};

u64 user_io_traps;

/* Performs a ring-3 in/out that trapped with #GP. Needed where the KVM does
 * not honour the guest's IOPL at CPL 3 (kvm_pvm runs ring 3 on the host's
 * flags); costly, so hot I/O loops stay in ring 0 there. */
static bool emulate_user_io(struct exc_frame *f)
{
    const u8 *ip = (const u8 *)f->rip;
    int size = 4, len = 1;
    if (*ip == 0x66)
        size = 2, ip++, len++;
    u8 op = *ip;
    u16 port;
    if (op >= 0xe4 && op <= 0xe7)
        port = ip[1], len++;
    else if (op >= 0xec && op <= 0xef)
        port = (u16)f->rdx;
    else
        return false;
    if (!(op & 1))
        size = 1;
    if (op & 2) {                        /* out */
        if (size == 1) outb(port, (u8)f->rax);
        else if (size == 2) outw(port, (u16)f->rax);
        else outl(port, (u32)f->rax);
    } else if (size == 1) {
        f->rax = (f->rax & ~0xfful) | inb(port);
    } else if (size == 2) {
        f->rax = (f->rax & ~0xfffful) | inw(port);
    } else {
        f->rax = inl(port);
    }
    f->rip += (u64)len;
    user_io_traps++;
    return true;
}

void set_vector_handler(int vec, void (*fn)(void))
{
    if (vec != 2 && (vec < FIRST_IRQ_VECTOR || vec >= FIRST_IRQ_VECTOR + IRQ_VECTORS))
        fail("no handler slot for vector %d (NMI or %d-%d)", vec, FIRST_IRQ_VECTOR, FIRST_IRQ_VECTOR + IRQ_VECTORS - 1);
    vector_handlers[vec] = fn;
}

void kit_exception(struct exc_frame *f)
{
    if (f->vec < ARRAY_SIZE(vector_handlers) && vector_handlers[f->vec]) {
        vector_handlers[f->vec]();
        return;
    }
    if (f->vec >= FIRST_IRQ_VECTOR)
        fail("unexpected interrupt, vector %lu rip=0x%lx", f->vec, f->rip);
    if (f->vec == 13 && (f->cs & 3) == 3 && f->err == 0 && emulate_user_io(f))
        return;
    u64 cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    fail("exception %lu err=0x%lx rip=0x%lx cs=0x%lx cr2=0x%lx", f->vec, f->err, f->rip, f->cs, cr2);
}

static u8 probe_stack[1024] ALIGNED(16) NOINIT;

static u64 probe_io(u64 unused)
{
    (void)unused;
    outb(0x80, 0);
    return 0;
}

bool ring3_io_is_native(void)
{
    u64 before = user_io_traps;
    run_user(probe_io, 0, probe_stack + sizeof probe_stack);
    return user_io_traps == before;
}

NORETURN void halt_forever(void)
{
    for (;;) {
        if (current_cpl() == 0)
            __asm__ volatile("cli; hlt");
        else
            cpu_relax();
    }
}

NORETURN void poweroff(void)
{
    outb(0xf4, 0);                       /* isa-debug-exit */
    halt_forever();
}

NORETURN void pass(void)
{
    kprintf("%s: PASS\n", guest_name);
    poweroff();
}

NORETURN void fail(const char *fmt, ...)
{
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    char buf[256];
    ksnprintf(buf, sizeof buf, "%s: FAIL ", guest_name);
    kprintf("%s", buf);
    kvprintf(fmt, ap);
    __builtin_va_end(ap);
    kprintf("\n");
    poweroff();
}

static u64 tsc_khz;

/* TSC rate from the hypervisor leaf (KVM/VMware 0x40000010) or leaf 0x16;
 * otherwise assume 4 GHz so delays are never shorter than asked. */
static u64 get_tsc_khz(void)
{
    u32 a, b, c, d;
    if (tsc_khz)
        return tsc_khz;
    tsc_khz = 4000000;
    cpuid(0x40000000, &a, &b, &c, &d);
    if (a >= 0x40000010 && a < 0x40010000) {
        cpuid(0x40000010, &a, &b, &c, &d);
        if (a)
            return tsc_khz = a;
    }
    cpuid(0, &a, &b, &c, &d);
    if (a >= 0x16) {
        cpuid(0x16, &a, &b, &c, &d);
        if (a)
            tsc_khz = (u64)a * 1000;
    }
    return tsc_khz;
}

void delay_us(u64 us)
{
    u64 end = rdtsc() + us * get_tsc_khz() / 1000;
    while (rdtsc() < end)
        cpu_relax();
}

/* Page directories for 4-32 GiB when the CPU lacks 1 GiB pages. */
#define HIGH_PDS 28
static u64 high_pd[HIGH_PDS][512] ALIGNED(4096) NOINIT;

u64 map_ram_above_4g(u64 end)
{
    u32 a, b, c, d;
    cpuid(0x80000001, &a, &b, &c, &d);
    bool gb_pages = d & (1u << 26);
    u64 limit = gb_pages ? 512ul << 30 : (4ul + HIGH_PDS) << 30;
    if (end > limit)
        end = limit;
    for (u64 gb = 4; (gb << 30) < end; gb++) {
        if (gb_pages) {
            pdpt[gb] = (gb << 30) | 0x87;            /* P | RW | US | PS */
        } else {
            u64 *pd = high_pd[gb - 4];
            for (u64 i = 0; i < 512; i++)
                pd[i] = (gb << 30) + (i << 21) + 0x87;
            pdpt[gb] = (u64)pd | 0x7;
        }
    }
    __asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
    return end;
}
