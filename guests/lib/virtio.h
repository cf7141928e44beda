/* virtio-mmio transport (modern version 2 and legacy version 1) and a split
 * virtqueue driven by polling the used ring. */
#ifndef VIRTIO_H
#define VIRTIO_H
#include "kit.h"

#define VIRTIO_ID_BLOCK     2
#define VIRTIO_ID_CONSOLE   3

/* virtio-mmio registers (virtio 1.x, 4.2.2; legacy 4.2.4) */
#define VIRTIO_MMIO_MAGIC            0x000
#define VIRTIO_MMIO_VERSION          0x004
#define VIRTIO_MMIO_DEVICE_ID        0x008
#define VIRTIO_MMIO_DEVICE_FEATURES  0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES  0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_GUEST_PAGE_SIZE  0x028   /* legacy */
#define VIRTIO_MMIO_QUEUE_SEL        0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX    0x034
#define VIRTIO_MMIO_QUEUE_NUM        0x038
#define VIRTIO_MMIO_QUEUE_ALIGN      0x03c   /* legacy */
#define VIRTIO_MMIO_QUEUE_PFN        0x040   /* legacy */
#define VIRTIO_MMIO_QUEUE_READY      0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY     0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK    0x064
#define VIRTIO_MMIO_STATUS           0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW   0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH  0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG           0x100

#define VIRTIO_STATUS_ACKNOWLEDGE    1
#define VIRTIO_STATUS_DRIVER         2
#define VIRTIO_STATUS_DRIVER_OK      4
#define VIRTIO_STATUS_FEATURES_OK    8
#define VIRTIO_STATUS_NEEDS_RESET    0x40
#define VIRTIO_STATUS_FAILED         0x80

#define VIRTIO_F_VERSION_1           (1ul << 32)

#define VIRTQ_DESC_F_NEXT            1
#define VIRTQ_DESC_F_WRITE           2

struct virtq_desc {
    u64 addr;
    u32 len;
    u16 flags, next;
} PACKED;

struct virtq_avail {
    u16 flags, idx;
    u16 ring[];
} PACKED;

struct virtq_used_elem {
    u32 id, len;
} PACKED;

struct virtq_used {
    u16 flags, idx;
    struct virtq_used_elem ring[];
} PACKED;

#define VIRTQ_MAX_SIZE 16

struct virtq {
    u16 index, size, last_used;
    struct virtq_desc *desc;
    struct virtq_avail *avail;
    struct virtq_used *used;
    u8 *mem;                             /* two 4 KiB pages */
};

struct virtio_dev {
    u64 base;
    u32 size, irq, version, device_id;
    u64 features;                        /* negotiated */
};

struct virtio_buf {
    void *addr;
    u32 len;
    bool device_writes;
};

static inline u32 virtio_read(struct virtio_dev *d, u32 reg) { return mmio_read32(d->base + reg); }
static inline void virtio_write(struct virtio_dev *d, u32 reg, u32 v) { mmio_write32(d->base + reg, v); }

/* Finds the nth (from 0) announced transport with this device ID; the
 * command line words are virtio_mmio.device=<size>@<base>:<irq>. */
bool virtio_find(u32 device_id, int nth, struct virtio_dev *dev);
/* Reset, ACKNOWLEDGE, DRIVER, feature negotiation (wanted & offered, plus
 * VERSION_1 on modern transports), FEATURES_OK. Returns the offered set. */
u64 virtio_begin_init(struct virtio_dev *dev, u64 wanted);
/* Sets up queue index with at most VIRTQ_MAX_SIZE entries in q->mem. */
bool virtq_init(struct virtio_dev *dev, struct virtq *q, u16 index, u8 *mem);
void virtio_driver_ok(struct virtio_dev *dev);
void virtio_reset(struct virtio_dev *dev);
/* Puts bufs in descriptors 0..n-1 as one chain, makes it available, notifies. */
void virtq_submit(struct virtio_dev *dev, struct virtq *q, const struct virtio_buf *bufs, int n);
/* Polls the used ring; returns the used length, or -1 after timeout_us. */
s64 virtq_wait(struct virtq *q, u64 timeout_us);

#endif
