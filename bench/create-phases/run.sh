#!/bin/bash
# bench/create-phases/run.sh N STATE_DIR [STATE_DIR_B]
#
# N `domino create -q -c` runs of guests/build/hello.elf against the daemon(s) already running in
# STATE_DIR (and STATE_DIR_B, alternating), under a light ftrace (kvm_pio, connect(2), read(2)
# returns), then the phases of each run (phases.py). Needs root for /sys/kernel/tracing. Each
# create waits first for the daemon's spare VMM process to be ready, as the toolstack bench does.
set -euo pipefail
n=$1; shift
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/../.." && pwd)
T=/sys/kernel/tracing
cc -O2 -o "$here/first-byte" "$here/first-byte.c"
echo 0 > $T/tracing_on; echo > $T/trace; echo 60000 > $T/buffer_size_kb
echo 0 > $T/events/enable
echo 1 > $T/events/kvm/kvm_pio/enable
echo 1 > $T/events/syscalls/sys_exit_read/enable
echo 1 > $T/events/syscalls/sys_enter_connect/enable
trap 'echo 0 > $T/tracing_on; echo 0 > $T/events/enable' EXIT
echo 1 > $T/tracing_on
for i in $(seq "$n"); do
  for dir in "$@"; do
    export DOMINO_STATE_DIR=$dir DOMINO_SOCKET=$dir/domino.sock
    printf 'name="phases%s_%s"\ntype="pvh"\nkernel="%s/guests/build/hello.elf"\nmemory=64\n' $$ "$i" "$repo" > "$dir/phases.cfg"
    for _ in $(seq 250); do  # an idle spare blocks reading its stdin
      ready=0
      for p in $(pgrep -f "vmm-host --spare --state-dir $dir" || true); do
        grep -q pipe_read "/proc/$p/wchan" 2>/dev/null && ready=1
      done
      [ $ready = 1 ] && break; sleep 0.02
    done
    sleep 0.1
    "$here/first-byte" "$repo/.build/aot/domino" create -q -c "$dir/phases.cfg" > /dev/null
  done
done
echo 0 > $T/tracing_on
cp $T/trace /tmp/create-phases.trace
python3 "$here/phases.py" /tmp/create-phases.trace $#
