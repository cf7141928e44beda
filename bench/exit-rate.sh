#!/usr/bin/env bash
# PIO exit rate, domino-vmm against QEMU microvm, in interleaved pairs: each line is who ran (d or q)
# and the seconds pio.elf took for N port writes. Run it with N=0 too for the start-up baseline.
# usage: bench/exit-rate.sh [N=500000] [PAIRS=6]   (after ./domino --version has built domino-vmm)
set -uo pipefail
cd "$(dirname "$0")/.."
N=${1:-500000}; R=${2:-6}
for i in $(seq $R); do
  for who in d q; do
    s=$(date +%s.%N)
    if [ $who = d ]; then .build/cli/domino-vmm --kernel guests/build/pio.elf --memory 64 --cmdline count=$N >/dev/null 2>&1
    else qemu-system-x86_64 -M microvm -enable-kvm -cpu host,-arch-capabilities -m 64 -smp 1 -nodefaults -no-user-config -nographic -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel guests/build/pio.elf -append count=$N >/dev/null 2>&1; fi
    e=$(date +%s.%N); echo "$who $(echo "$e - $s" | bc)"
  done
done
