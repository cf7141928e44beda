/* hostile: misbehaves on purpose; the VMM must survive all of it. Unknown
 * I/O ports, unbacked MMIO, then (with a virtio-blk device announced)
 * malformed virtqueue contents. A device that flags NEEDS_RESET or never
 * completes is fine; the guest still running at the end is the pass. */
#include "lib/kit.h"
#include "lib/virtio.h"

GUEST_NAME("hostile");

#define VIRTIO_BLK_T_IN 0

static u8 queue_mem[8192] ALIGNED(4096) NOINIT;
static struct virtio_dev dev;
static struct virtq vq;
static struct { u32 type, reserved; u64 sector; } PACKED req;
static u8 data[512] ALIGNED(16);
static volatile u8 status;

static void ports(void)
{
    outb(0x510, 0x55);
    (void)inb(0x511);
    outw(0x1234, 0xbeef);
    (void)inw(0x1234);
    outl(0x1234, 0xdeadbeef);
    (void)inl(0x1234);
    outb(0xffff, 0xff);
    (void)inb(0xffff);
    kprintf("hostile: ports done\n");
}

static bool in_memmap(u64 a)
{
    if (!start_info || start_info->version < 1 || !start_info->memmap_paddr)
        return false;
    struct hvm_memmap_table_entry *m = (void *)start_info->memmap_paddr;
    for (u32 i = 0; i < start_info->memmap_entries; i++)
        if (m[i].addr <= a && a - m[i].addr < m[i].size)
            return true;
    return false;
}

static void mmio(void)
{
    /* Guest-physical addresses outside every memory map entry (so neither
     * RAM nor anything announced), reached through the identity map. */
    static const u64 candidates[] = { 0xc0000000, 0xd0000000, 0xdffff000, 0xe8000000, 0xf0000000 };
    for (unsigned i = 0; i < ARRAY_SIZE(candidates); i++) {
        u64 a = candidates[i];
        if (in_memmap(a))
            continue;
        (void)mmio_read32(a);
        mmio_write32(a, 0x12345678);
        (void)mmio_read32(a);
    }
    kprintf("hostile: mmio done\n");
}

/* A fresh device and queue for each step: the last one may have left the
 * device broken. */
static void fresh_queue(void)
{
    virtio_begin_init(&dev, 0);
    if (!virtq_init(&dev, &vq, 0, queue_mem))
        fail("request queue 0 unavailable");
    virtio_driver_ok(&dev);
    req = (typeof(req)){ .type = VIRTIO_BLK_T_IN, .sector = 0 };
    status = 0xff;
}

static void set_desc(u16 i, u64 addr, u32 len, u16 flags, u16 next)
{
    vq.desc[i] = (struct virtq_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

/* A well-formed read chain in descriptors 0-2, for steps to spoil. */
static void good_chain(void)
{
    set_desc(0, (u64)&req, sizeof req, VIRTQ_DESC_F_NEXT, 1);
    set_desc(1, (u64)data, sizeof data, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
    set_desc(2, (u64)&status, 1, VIRTQ_DESC_F_WRITE, 0);
}

static void publish(u16 head, u16 advance)
{
    vq.avail->ring[vq.avail->idx % vq.size] = head;
    mb();
    vq.avail->idx = (u16)(vq.avail->idx + advance);
    mb();
    virtio_write(&dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static void finish(const char *step)
{
    s64 used = virtq_wait(&vq, 100000);
    u32 st = virtio_read(&dev, VIRTIO_MMIO_STATUS);
    if (used < 0)
        kprintf("hostile: %s done (no completion, device status 0x%x)\n", step, st);
    else
        kprintf("hostile: %s done (completed, len %ld, device status 0x%x)\n", step, used, st);
}

static void virtqueue_steps(void)
{
    fresh_queue();
    good_chain();
    vq.desc[1].addr = 0x7ffffffff000ul;                 /* far beyond any RAM */
    publish(0, 1);
    finish("desc-outside-ram");

    fresh_queue();
    good_chain();
    vq.desc[1].len = 0xffffffff;
    publish(0, 1);
    finish("desc-len-huge");

    fresh_queue();
    set_desc(0, (u64)&req, sizeof req, VIRTQ_DESC_F_NEXT, 1);
    set_desc(1, (u64)data, sizeof data, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);   /* back to 0 */
    publish(0, 1);
    finish("desc-loop");

    fresh_queue();
    good_chain();
    vq.desc[0].next = 0xffff;
    publish(0, 1);
    finish("desc-next-out-of-range");

    fresh_queue();
    good_chain();
    publish(0xffff, 1);                                  /* head index out of range */
    finish("avail-head-out-of-range");

    fresh_queue();
    good_chain();
    publish(0, 1000);                                    /* 1000 new entries in a 16-entry ring */
    finish("avail-idx-ahead");

    virtio_reset(&dev);
}

void guest_main(void)
{
    ports();
    mmio();
    if (virtio_find(VIRTIO_ID_BLOCK, 0, &dev)) {
        kprintf("hostile: virtio-blk v%u at 0x%lx\n", dev.version, dev.base);
        virtqueue_steps();
    } else {
        kprintf("hostile: no virtio-blk announced, virtqueue steps skipped\n");
    }
    pass();
}
