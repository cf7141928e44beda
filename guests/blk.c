/* blk: drives the virtio-blk device over virtio-mmio with one polled split
 * virtqueue: reads sector 0 and the capacity, then writes sector 1 and reads
 * it back, or, on a read-only device, expects the write to be refused. */
#include "lib/kit.h"
#include "lib/virtio.h"

GUEST_NAME("blk");

#define VIRTIO_BLK_F_RO     (1ul << 5)
#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define SECTOR              512

struct virtio_blk_req {
    u32 type, reserved;
    u64 sector;
} PACKED;

static u8 queue_mem[8192] ALIGNED(4096) NOINIT;
static struct virtio_dev dev;
static struct virtq vq;
static struct virtio_blk_req req;
static u8 data[SECTOR] ALIGNED(16);
static u8 check[SECTOR] ALIGNED(16);
static volatile u8 status;

/* One request, waited for; returns the device's status byte. */
static u8 blk_rw(u32 type, u64 sector, u8 *buf)
{
    req = (struct virtio_blk_req){ .type = type, .sector = sector };
    status = 0xff;
    struct virtio_buf bufs[3] = {
        { &req, sizeof req, false },
        { buf, SECTOR, type == VIRTIO_BLK_T_IN },
        { (void *)&status, 1, true },
    };
    virtq_submit(&dev, &vq, bufs, 3);
    if (virtq_wait(&vq, 5000000) < 0)
        fail("%s of sector %lu timed out", type == VIRTIO_BLK_T_IN ? "read" : "write", sector);
    return status;
}

void guest_main(void)
{
    if (!virtio_find(VIRTIO_ID_BLOCK, 0, &dev))
        fail("no virtio-blk device announced (virtio_mmio.device=<size>@<base>:<irq>)");
    kprintf("blk: virtio-mmio v%u at 0x%lx irq %u\n", dev.version, dev.base, dev.irq);
    u64 offered = virtio_begin_init(&dev, VIRTIO_BLK_F_RO);
    if (!virtq_init(&dev, &vq, 0, queue_mem))
        fail("request queue 0 unavailable");
    virtio_driver_ok(&dev);

    u64 capacity = *(volatile u64 *)(dev.base + VIRTIO_MMIO_CONFIG);
    u8 st = blk_rw(VIRTIO_BLK_T_IN, 0, data);
    if (st != VIRTIO_BLK_S_OK)
        fail("read of sector 0: status %u", st);
    char text[17];
    for (int i = 0; i < 16; i++)
        text[i] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '.';
    text[16] = 0;
    kprintf("blk: sector0=%s\n", text);
    kprintf("blk: capacity=%lu\n", capacity);

    memset(data, 0, sizeof data);
    memcpy(data, "DOMINO-BLK-WRITE", 16);
    if (offered & VIRTIO_BLK_F_RO) {
        st = blk_rw(VIRTIO_BLK_T_OUT, 1, data);
        if (st != VIRTIO_BLK_S_IOERR)
            fail("write to a read-only device: status %u, expected IOERR", st);
        kprintf("blk: write refused (read-only)\n");
    } else {
        if (capacity < 2)
            fail("capacity %lu too small to write sector 1", capacity);
        st = blk_rw(VIRTIO_BLK_T_OUT, 1, data);
        if (st != VIRTIO_BLK_S_OK)
            fail("write of sector 1: status %u", st);
        memset(check, 0xaa, sizeof check);
        st = blk_rw(VIRTIO_BLK_T_IN, 1, check);
        if (st != VIRTIO_BLK_S_OK)
            fail("read of sector 1: status %u", st);
        if (memcmp(data, check, SECTOR))
            fail("sector 1 read back differs from what was written");
        kprintf("blk: sector1 write verified\n");
    }
    pass();
}
