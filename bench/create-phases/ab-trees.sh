#!/bin/bash
# bench/create-phases/ab-trees.sh N TREE_A TREE_B
#
# A/B of two built trees (each built by its own ./domino): N rounds, each one `domino create -q -c`
# of guests/build/hello.elf against each tree's own daemon (vmm driver, spare VMM, state dir on
# /dev/shm), in a random order per round, timing launch -> first byte on stdout with first-byte.c.
# Before each create both daemons' spares must be idle, so neither side's spare warm-up (a core's
# worth of CPU for a while) lands in the other's measurement. Prints medians and quartiles per tree.
set -euo pipefail
n=$1; A=$(cd "$2" && pwd); B=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/../.." && pwd)
cc -O2 -o "$here/first-byte" "$here/first-byte.c"
guest="$repo/guests/build/hello.elf"
out=$(mktemp)
stop() { for s in A B; do [ -f /dev/shm/domino-ab$s/daemon.pid ] && kill "$(cat /dev/shm/domino-ab$s/daemon.pid)" 2>/dev/null || true; done; }
trap 'stop; rm -f "$out"' EXIT
export DOMINO_DRIVER=vmm DOMINO_VMM_SPARE=1
for s in A B; do
  rm -rf /dev/shm/domino-ab$s
  tree=$A; [ $s = B ] && tree=$B
  DOMINO_STATE_DIR=/dev/shm/domino-ab$s DOMINO_SOCKET=/dev/shm/domino-ab$s/domino.sock "$tree/.build/aot/domino" list > /dev/null
done
for i in $(seq 0 "$n"); do  # round 0 warms both daemons up and is not counted
  order="A B"; [ $((RANDOM % 2)) = 1 ] && order="B A"
  for s in $order; do
    tree=$A; [ $s = B ] && tree=$B
    export DOMINO_STATE_DIR=/dev/shm/domino-ab$s DOMINO_SOCKET=/dev/shm/domino-ab$s/domino.sock
    printf 'name="ab%s"\ntype="pvh"\nkernel="%s"\nmemory=64\n' "$i" "$guest" > "$DOMINO_STATE_DIR/ab.cfg"
    for _ in $(seq 250); do  # an idle spare blocks reading its stdin
      ready=0
      for p in $(pgrep -f "vmm-host --spare --state-dir /dev/shm/domino-ab" || true); do
        grep -q pipe_read "/proc/$p/wchan" 2>/dev/null && ready=$((ready + 1))
      done
      [ $ready = 2 ] && break; sleep 0.02
    done
    sleep 0.1
    t=$("$here/first-byte" "$tree/.build/aot/domino" create -q -c "$DOMINO_STATE_DIR/ab.cfg")
    [ "$i" -gt 0 ] && echo "$s $t" >> "$out"
  done
done
python3 - "$out" "$A" "$B" <<'PY'
import re, statistics, sys
times = {'A': [], 'B': []}
for line in open(sys.argv[1]):
    m = re.match(r'(A|B) first byte ([\d.]+) ms', line)
    if m: times[m.group(1)].append(float(m.group(2)))
for side, tree in (('A', sys.argv[2]), ('B', sys.argv[3])):
    t = sorted(times[side])
    print(f'{side} {tree}: n={len(t)} median {statistics.median(t):.2f} ms, p25 {t[len(t)//4]:.2f}, p75 {t[3*len(t)//4]:.2f}, min {t[0]:.2f}, max {t[-1]:.2f}')
PY
