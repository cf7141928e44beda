#!/bin/sh
# Runs every guest under QEMU microvm and checks its console lines and exit
# status: a developer aid until Domino's VMM can boot them (the repository's
# real tests are in C# against that VMM).
#
#   test-qemu.sh [NAME...]      default: all guests
#
# QEMU exit status: 1 = the guest wrote 0 to port 0xf4 (power-off),
# 0 = reset/triple fault (run with -no-reboot), 124 = killed by the timeout.
set -u

here=$(cd "$(dirname "$0")" && pwd)
make -s -C "$here" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0 passed=0

# check NAME EXPECTED_STATUS LAST_LINE REQUIRED_LINES [run-qemu.sh args...]
# REQUIRED_LINES: exact lines separated by '|', each must appear.
check() {
    label=$1 want=$2 last=$3 lines=$4; shift 4
    out=$tmp/out
    "$here/run-qemu.sh" "$@" >"$out" 2>"$tmp/err" </dev/null
    rc=$?
    finish "$label" "$want" "$last" "$lines" "$rc" "$out"
}

finish() {
    label=$1 want=$2 last=$3 lines=$4 rc=$5 out=$6
    tr -d '\r' <"$out" >"$out.clean"
    why=
    [ "$rc" = "$want" ] || why="exit status $rc, expected $want"
    if [ -n "$last" ] && [ "$(tail -n 1 "$out.clean")" != "$last" ]; then
        why="${why:+$why; }last line '$(tail -n 1 "$out.clean")', expected '$last'"
    fi
    old_ifs=$IFS; IFS='|'
    for l in $lines; do
        grep -qxF -- "$l" "$out.clean" || why="${why:+$why; }missing line '$l'"
    done
    IFS=$old_ifs
    if [ -z "$why" ]; then
        echo "ok   $label"
        passed=$((passed + 1))
    else
        echo "FAIL $label: $why"
        sed 's/^/     | /' "$out.clean"
        sed 's/^/     ! /' "$tmp/err" 2>/dev/null | head -5
        failed=$((failed + 1))
    fi
}

selected() { [ -z "$only" ] || case " $only " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
only="$*"

disk() {   # a 1 MiB raw disk whose sector 0 starts with a known text
    printf 'DOMINO-DISK-0001' >"$1"
    truncate -s 1M "$1"
}

if selected hello; then
    check hello 1 "hello: PASS" "Hello from the Domino guest kit" hello --timeout 20
    check hello+cmdline 1 "hello: PASS" "hello: cmdline=foo=bar x=1" hello foo=bar x=1 --timeout 20
fi
if selected hello64; then
    check hello64 1 "hello64: PASS" "Hello from 64-bit mode|hello64: cmdline=k=v" hello64 k=v --timeout 20
fi
if selected smp; then
    check smp-1 1 "smp: PASS" "smp: 1 of 1 cpus up" smp --smp 1 --timeout 30
    check smp-2 1 "smp: PASS" "smp: cpu 1 up|smp: 2 of 2 cpus up" smp --smp 2 --timeout 30
    check smp-4 1 "smp: PASS" "smp: cpu 1 up|smp: cpu 2 up|smp: cpu 3 up|smp: 4 of 4 cpus up" smp --smp 4 --timeout 30
fi
if selected memmap; then
    # QEMU 7.2's map is unsorted and has an empty entry: strict=0.
    check memmap 1 "memmap: PASS" "memmap: entry 0 base=0x0 size=0x9fc00 type=1" memmap strict=0 --timeout 60
    check memmap-strict 1 "memmap: FAIL entry 5 at 0x100000 precedes entry 4 (unsorted; strict=0 allows)" "" memmap --timeout 60
fi
if selected echo; then
    out=$tmp/out
    (sleep 1; printf 'hello\nquitter\nquit\n'; sleep 5) | "$here/run-qemu.sh" echo --timeout 20 >"$out" 2>"$tmp/err"
    finish echo 1 "echo: PASS" "echo: ready|hello|quitter|quit" $? "$out"
fi
if selected blk; then
    disk "$tmp/disk.img"
    check blk 1 "blk: PASS" "blk: sector0=DOMINO-DISK-0001|blk: capacity=2048|blk: sector1 write verified" \
        blk --disk "$tmp/disk.img" --timeout 30
    if [ "$(dd if="$tmp/disk.img" bs=1 skip=512 count=16 2>/dev/null)" = DOMINO-BLK-WRITE ]; then
        echo "ok   blk: sector 1 of the image holds DOMINO-BLK-WRITE"; passed=$((passed + 1))
    else
        echo "FAIL blk: sector 1 of the image does not hold DOMINO-BLK-WRITE"; failed=$((failed + 1))
    fi
    disk "$tmp/disk.img"
    check blk-legacy 1 "blk: PASS" "blk: sector0=DOMINO-DISK-0001|blk: sector1 write verified" \
        blk --disk "$tmp/disk.img" --legacy --timeout 30
    check blk-ro 1 "blk: PASS" "blk: sector0=DOMINO-DISK-0001|blk: write refused (read-only)" \
        blk --disk "$tmp/disk.img" --ro --timeout 30
    check blk-none 1 "blk: FAIL no virtio-blk device announced (virtio_mmio.device=<size>@<base>:<irq>)" "" blk --timeout 30
fi
if selected vconsole; then
    for v in modern legacy; do
        rm -f "$tmp/vc.out"
        check vconsole-$v 1 "vconsole: PASS" "vconsole: sent 28 bytes" \
            vconsole --vconsole "$tmp/vc.out" $([ $v = legacy ] && echo --legacy) --timeout 30
        if [ "$(cat "$tmp/vc.out" 2>/dev/null)" = "vconsole: hello over virtio" ]; then
            echo "ok   vconsole-$v: line arrived on the virtio port"; passed=$((passed + 1))
        else
            echo "FAIL vconsole-$v: virtio port got '$(cat "$tmp/vc.out" 2>/dev/null)'"; failed=$((failed + 1))
        fi
    done
fi
if selected hostile; then
    check hostile 1 "hostile: PASS" "hostile: ports done|hostile: mmio done" hostile --timeout 30
    disk "$tmp/disk.img"
    for v in "" --legacy; do
        check "hostile+blk${v:+ $v}" 1 "hostile: PASS" "hostile: ports done|hostile: mmio done" \
            hostile --disk "$tmp/disk.img" $v --timeout 60
        for step in desc-outside-ram desc-len-huge desc-loop desc-next-out-of-range avail-head-out-of-range avail-idx-ahead; do
            grep -q "^hostile: $step done" "$tmp/out.clean" || { echo "FAIL hostile: no '$step done' line"; failed=$((failed + 1)); }
        done
    done
fi
if selected reboot; then
    # microvm has no i8042: the guest falls back to the ACPI reset register.
    check reboot 0 "reboot: i8042 reset ignored, trying the ACPI reset register" "reboot: resetting" reboot --timeout 20
fi
if selected crash; then
    check crash 0 "crash: triple fault" "crash: triple fault" crash --timeout 20
fi
if selected compute; then
    check compute 1 "compute: PASS" "compute: iters=1000000|compute: result=0x33283e15d002a231" compute iters=1000000 --timeout 60
    check compute-default 1 "compute: PASS" "compute: iters=100000000" compute --timeout 120
fi
if selected pio; then
    check pio 1 "pio: PASS" "pio: 1000 exits" pio count=1000 --timeout 60
    check pio-default 1 "pio: PASS" "pio: 100000 exits" pio --timeout 120
fi
if selected counter; then
    check counter 124 "" "counter: 1000000|counter: 2000000|counter: 3000000" counter every=1000000 --timeout 5
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
