/* virtio-mmio driver core: discovery from the command line, feature
 * negotiation, split virtqueues (modern and legacy layouts), polling. */
#include "virtio.h"

#define VIRTIO_MMIO_MAGIC_VALUE 0x74726976   /* "virt" */

bool virtio_find(u32 device_id, int nth, struct virtio_dev *dev)
{
    char word[64];
    for (int i = 0; cmdline_get("virtio_mmio.device", i, word, sizeof word); i++) {
        u64 size, base, irq = 0;
        const char *p = parse_u64(word, &size);
        if (!p || *p != '@')
            continue;
        /* base is hex, with or without 0x */
        p++;
        if (p[0] != '0' || (p[1] | 0x20) != 'x') {
            char hex[40] = "0x";
            size_t n = 0;
            while (p[n] && p[n] != ':' && n < sizeof hex - 3)
                hex[2 + n] = p[n], n++;
            hex[2 + n] = 0;
            if (!parse_u64(hex, &base))
                continue;
            p += n;
        } else if (!(p = parse_u64(p, &base))) {
            continue;
        }
        if (*p == ':')
            parse_u64(p + 1, &irq);
        if (base >= (4ul << 30) || size < 0x100)
            continue;
        if (mmio_read32(base + VIRTIO_MMIO_MAGIC) != VIRTIO_MMIO_MAGIC_VALUE)
            continue;
        u32 id = mmio_read32(base + VIRTIO_MMIO_DEVICE_ID);
        if (id == 0 || id != device_id || nth-- > 0)
            continue;
        dev->base = base;
        dev->size = (u32)size;
        dev->irq = (u32)irq;
        dev->version = mmio_read32(base + VIRTIO_MMIO_VERSION);
        dev->device_id = id;
        dev->features = 0;
        return true;
    }
    return false;
}

void virtio_reset(struct virtio_dev *dev)
{
    virtio_write(dev, VIRTIO_MMIO_STATUS, 0);
    while (virtio_read(dev, VIRTIO_MMIO_STATUS) != 0)
        cpu_relax();
}

u64 virtio_begin_init(struct virtio_dev *dev, u64 wanted)
{
    virtio_reset(dev);
    u32 status = VIRTIO_STATUS_ACKNOWLEDGE;
    virtio_write(dev, VIRTIO_MMIO_STATUS, status);
    status |= VIRTIO_STATUS_DRIVER;
    virtio_write(dev, VIRTIO_MMIO_STATUS, status);

    u64 offered;
    virtio_write(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    offered = virtio_read(dev, VIRTIO_MMIO_DEVICE_FEATURES);
    if (dev->version >= 2) {
        virtio_write(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        offered |= (u64)virtio_read(dev, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
        wanted |= VIRTIO_F_VERSION_1;
    }
    dev->features = offered & wanted;
    virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES, (u32)dev->features);
    if (dev->version >= 2) {
        virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES, (u32)(dev->features >> 32));
        status |= VIRTIO_STATUS_FEATURES_OK;
        virtio_write(dev, VIRTIO_MMIO_STATUS, status);
        if (!(virtio_read(dev, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
            fail("virtio device %u at 0x%lx refused features 0x%lx", dev->device_id, dev->base, dev->features);
    } else {
        virtio_write(dev, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
    }
    return offered;
}

bool virtq_init(struct virtio_dev *dev, struct virtq *q, u16 index, u8 *mem)
{
    virtio_write(dev, VIRTIO_MMIO_QUEUE_SEL, index);
    if (dev->version >= 2 && virtio_read(dev, VIRTIO_MMIO_QUEUE_READY))
        return false;
    u32 max = virtio_read(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
    if (!max)
        return false;
    q->index = index;
    q->size = (u16)(max < VIRTQ_MAX_SIZE ? max : VIRTQ_MAX_SIZE);
    q->last_used = 0;
    q->mem = mem;
    memset(mem, 0, 8192);
    /* Legacy layout, valid for modern too: descriptors and the available
     * ring in the first page, the used ring at the next 4 KiB boundary. */
    q->desc = (struct virtq_desc *)mem;
    q->avail = (struct virtq_avail *)(mem + 16 * q->size);
    q->used = (struct virtq_used *)(mem + 4096);
    virtio_write(dev, VIRTIO_MMIO_QUEUE_NUM, q->size);
    if (dev->version >= 2) {
        u64 d = (u64)q->desc, a = (u64)q->avail, u = (u64)q->used;
        virtio_write(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)d);
        virtio_write(dev, VIRTIO_MMIO_QUEUE_DESC_HIGH, (u32)(d >> 32));
        virtio_write(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (u32)a);
        virtio_write(dev, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (u32)(a >> 32));
        virtio_write(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (u32)u);
        virtio_write(dev, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (u32)(u >> 32));
        virtio_write(dev, VIRTIO_MMIO_QUEUE_READY, 1);
    } else {
        virtio_write(dev, VIRTIO_MMIO_QUEUE_ALIGN, 4096);
        virtio_write(dev, VIRTIO_MMIO_QUEUE_PFN, (u32)((u64)mem >> 12));
    }
    return true;
}

void virtio_driver_ok(struct virtio_dev *dev)
{
    virtio_write(dev, VIRTIO_MMIO_STATUS, virtio_read(dev, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

void virtq_submit(struct virtio_dev *dev, struct virtq *q, const struct virtio_buf *bufs, int n)
{
    for (int i = 0; i < n; i++) {
        q->desc[i].addr = (u64)bufs[i].addr;
        q->desc[i].len = bufs[i].len;
        q->desc[i].flags = (u16)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) | (bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0));
        q->desc[i].next = (u16)(i + 1 < n ? i + 1 : 0);
    }
    q->avail->ring[q->avail->idx % q->size] = 0;
    mb();                                /* descriptors before the index */
    q->avail->idx++;
    mb();                                /* index before the notification */
    virtio_write(dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

s64 virtq_wait(struct virtq *q, u64 timeout_us)
{
    volatile u16 *used_idx = (volatile u16 *)((u8 *)q->used + 2);   /* used->idx */
    u64 waited = 0;
    while (*used_idx == q->last_used) {
        if (waited >= timeout_us)
            return -1;
        delay_us(100);
        waited += 100;
    }
    mb();
    struct virtq_used_elem *e = &q->used->ring[q->last_used % q->size];
    q->last_used++;
    return e->len;
}
