#!/bin/sh
# Boots one guest kit image under QEMU microvm, the stand-in for Domino's VMM.
#
#   run-qemu.sh NAME [options] [cmdline words...]
#     --smp N          vCPUs (default 1)
#     --mem M          RAM in MiB (default 64)
#     --disk FILE      attach FILE as a virtio-blk device (raw)
#     --ro             make that disk read-only
#     --vconsole FILE  attach a virtio-console whose port 0 output goes to FILE
#     --legacy         virtio-mmio version 1 (QEMU microvm's default) instead of 2
#     --timeout S      kill QEMU after S seconds (default: none)
#     --               the rest is the guest command line
# Options and command-line words may be mixed.
#
# Exit status is QEMU's: 1 after the guest writes 0 to port 0xf4 (isa-debug-exit),
# 0 after a reset (the VM is started with -no-reboot), 124 on timeout.
# The virtio-mmio transports are announced on the command line the Linux way
# (ACPI stays on for the MADT, so QEMU itself does not add them).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 NAME [--smp N] [--mem M] [--disk FILE] [--ro] [--vconsole FILE] [--legacy] [--timeout S] [cmdline...]" >&2; exit 2; }
name=$1; shift
elf=$here/build/$name.elf
[ -f "$elf" ] || { echo "$0: $elf not built (run: make -C $here)" >&2; exit 2; }

smp=1 mem=64 disk= ro=off vcon= legacy=false timeout= append=
while [ $# -gt 0 ]; do
    case $1 in
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --disk) disk=$2; shift 2 ;;
    --ro) ro=on; shift ;;
    --vconsole) vcon=$2; shift 2 ;;
    --legacy) legacy=true; shift ;;
    --timeout) timeout=$2; shift 2 ;;
    --) shift; append="$append $*"; break ;;
    *) append="$append $1"; shift ;;
    esac
done

set --
if [ -n "$disk" ]; then
    set -- "$@" -drive "id=d0,file=$disk,format=raw,if=none,readonly=$ro" -device virtio-blk-device,drive=d0
fi
if [ -n "$vcon" ]; then
    set -- "$@" -device virtio-serial-device,max_ports=1 -chardev "file,id=vc0,path=$vcon" -device virtconsole,chardev=vc0
fi
if [ -n "$disk$vcon" ]; then
    # QEMU microvm with ACPI (and so a second IO-APIC): 24 transports of 512
    # bytes from 0xfeb00000, filled from the top. The IRQ numbers are nominal:
    # the guests poll.
    i=0
    while [ $i -lt 24 ]; do
        append="$append virtio_mmio.device=512@0x$(printf %x $((0xfeb00000 + i * 512))):$((16 + i))"
        i=$((i + 1))
    done
fi
append=${append# }

# An ELF64 without the PVH note (hello64) cannot be booted by QEMU microvm:
# build/shim64.elf is booted instead and enters it in long mode the way
# Domino's ELF64 loader does; QEMU's generic loader places the image.
kernel=$elf
if ! readelf -n "$elf" | grep -q '^ *Xen '; then
    entry=$(readelf -h "$elf" | awk '/Entry point/ {print $4}')
    kernel=$here/build/shim64.elf
    append="entry64=$entry${append:+ $append}"
    set -- "$@" -device "loader,file=$elf"
fi

run() {
    if [ -n "$timeout" ]; then timeout --foreground "$timeout" "$@"; else "$@"; fi
}
run qemu-system-x86_64 -M microvm,auto-kernel-cmdline=off -enable-kvm -cpu host,-arch-capabilities \
    -smp "$smp" -m "$mem" -nodefaults -no-user-config -nographic -no-reboot \
    -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -global virtio-mmio.force-legacy=$legacy \
    -kernel "$kernel" ${append:+-append "$append"} "$@"
