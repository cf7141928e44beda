/* COM1 16550 console: polled transmit and receive, plus a small printf.
 * Every UART access is a VM exit, so the init touches as few registers as
 * it can and transmit polls LSR only while THR is busy. */
#include "kit.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_RBR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_DR   0x01
#define LSR_THRE 0x20

static spinlock_t console_lock;

void spin_lock(spinlock_t *l)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
        while (l->locked)
            cpu_relax();
}

void spin_unlock(spinlock_t *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

void uart_init(void)
{
    outb(COM1 + UART_IER, 0x00);   /* polled: no interrupts */
    outb(COM1 + UART_LCR, 0x03);   /* 8N1 */
    outb(COM1 + UART_FCR, 0x07);   /* FIFOs on and cleared */
    outb(COM1 + UART_MCR, 0x03);   /* DTR | RTS */
}

void uart_putc(char c)
{
    while (!(inb(COM1 + UART_LSR) & LSR_THRE))
        cpu_relax();
    outb(COM1 + UART_THR, (u8)c);
}

int uart_getc_nonblock(void)
{
    if (!(inb(COM1 + UART_LSR) & LSR_DR))
        return -1;
    return inb(COM1 + UART_RBR);
}

char uart_getc(void)
{
    int c;
    while ((c = uart_getc_nonblock()) < 0)
        cpu_relax();
    return (char)c;
}

/* ---- formatting ---- */

struct out {
    char *buf;
    size_t size, len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct out *o, u64 v, unsigned base, int width, char pad, bool neg)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    while (n < width--)
        put(o, pad);
    while (n)
        put(o, tmp[--n]);
}

static int kvsnprintf(char *buf, size_t size, const char *fmt, __builtin_va_list ap)
{
    struct out o = { buf, size, 0 };
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0')
            pad = '0', fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l')
            lng++, fmt++;
        switch (*fmt) {
        case 'd': {
            s64 v = lng ? __builtin_va_arg(ap, s64) : __builtin_va_arg(ap, int);
            put_num(&o, v < 0 ? -(u64)v : (u64)v, 10, width, pad, v < 0);
            break;
        }
        case 'u':
        case 'x': {
            u64 v = lng ? __builtin_va_arg(ap, u64) : __builtin_va_arg(ap, unsigned);
            put_num(&o, v, *fmt == 'u' ? 10 : 16, width, pad, false);
            break;
        }
        case 'p':
            put(&o, '0'), put(&o, 'x');
            put_num(&o, (u64)__builtin_va_arg(ap, void *), 16, width, pad, false);
            break;
        case 's': {
            const char *s = __builtin_va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            while (*s)
                put(&o, *s++);
            break;
        }
        case 'c':
            put(&o, (char)__builtin_va_arg(ap, int));
            break;
        case '%':
            put(&o, '%');
            break;
        default:
            put(&o, '%');
            if (*fmt)
                put(&o, *fmt);
            else
                fmt--;
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    int n = kvsnprintf(buf, size, fmt, ap);
    __builtin_va_end(ap);
    return n;
}

/* Writes a whole message under the console lock so that lines printed by
 * different CPUs never interleave. */
static void console_write(const char *s)
{
    spin_lock(&console_lock);
    while (*s)
        uart_putc(*s++);
    spin_unlock(&console_lock);
}

void kvprintf(const char *fmt, __builtin_va_list ap)
{
    char buf[2048];                      /* a whole command line fits */
    int n = kvsnprintf(buf, sizeof buf, fmt, ap);
    size_t flen = strlen(fmt);
    if (n >= (int)sizeof buf && flen && fmt[flen - 1] == '\n')
        buf[sizeof buf - 2] = '\n';     /* truncated: still end the line */
    console_write(buf);
}

void kprintf(const char *fmt, ...)
{
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    kvprintf(fmt, ap);
    __builtin_va_end(ap);
}
