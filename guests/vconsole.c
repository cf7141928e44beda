/* vconsole: writes one line on port 0's transmitq of the virtio-console. */
#include "lib/kit.h"
#include "lib/virtio.h"

GUEST_NAME("vconsole");

static u8 rx_mem[8192] ALIGNED(4096) NOINIT;
static u8 tx_mem[8192] ALIGNED(4096) NOINIT;
static struct virtio_dev dev;
static struct virtq rxq, txq;
static char msg[] = "vconsole: hello over virtio\n";

void guest_main(void)
{
    if (!virtio_find(VIRTIO_ID_CONSOLE, 0, &dev))
        fail("no virtio-console device announced (virtio_mmio.device=<size>@<base>:<irq>)");
    kprintf("vconsole: virtio-mmio v%u at 0x%lx irq %u\n", dev.version, dev.base, dev.irq);
    virtio_begin_init(&dev, 0);          /* no MULTIPORT: port 0 only */
    if (!virtq_init(&dev, &rxq, 0, rx_mem) || !virtq_init(&dev, &txq, 1, tx_mem))
        fail("port 0 queues unavailable");
    virtio_driver_ok(&dev);

    struct virtio_buf buf = { msg, sizeof msg - 1, false };
    virtq_submit(&dev, &txq, &buf, 1);
    if (virtq_wait(&txq, 5000000) < 0)
        fail("transmitq buffer not used within 5 s");
    kprintf("vconsole: sent %u bytes\n", (u32)(sizeof msg - 1));
    pass();
}
