#!/usr/bin/env bash
# Scheduling on real VMM vCPU threads: three compute guests (guests/build/compute.elf, a ring-3 loop)
# in an arinc653 pool on the last CPU under the planned 5/6/10 ms schedule, then two in a credit pool
# with weights 512 and 256, then two in an exclusive rtds pool of that CPU without extratime. Prints each vCPU thread's CPU share and what each VMM's ARINC653 gate
# measured over its last 10 s report: window-start lateness, kick latency (the kick's expiry →
# KVM_RUN returns), overrun (CPU time a vCPU used in a window beyond the window's length), CPU time
# between windows, and the vCPU threads' CPU share over that same report period.
# The arinc653 pool is exclusive (exclusive=1): the host's other tasks are confined to the remaining
# CPUs while it exists; EXCLUSIVE=0 shares the pool's CPU with them, as before.
# Before and after the arinc653 run it measures the host's own floor on that CPU (the scheduling
# bench's "floor": a SCHED_FIFO spinner's gaps, and the lateness a perfect gate would have in them);
# FLOOR_SECONDS (default 5) sets its length, 0 skips it.
# Needs root, /dev/kvm and cgroup v1. Usage: [EXCLUSIVE=0] bench/sched-vmm.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
exclusive=${EXCLUSIVE:-1}
export DOMINO_STATE_DIR=$(mktemp -d /tmp/domino-sched-vmm.XXXXXX) DOMINO_DRIVER=vmm
d() { "$root/domino" "$@"; }
cpu=$(( $(nproc) - 1 ))
make -s -C "$root/guests"
floor_secs=${FLOOR_SECONDS:-5}
if [ "$floor_secs" != 0 ]; then
  dotnet build -c Release -v q -nologo "$root/bench/Domino.Bench.Scheduling" >/dev/null
fi
floor() { # the host's floor on $cpu, without the bench's header lines
  [ "$floor_secs" != 0 ] || return 0
  dotnet "$root/bench/Domino.Bench.Scheduling/bin/Release/net10.0/Domino.Bench.Scheduling.dll" \
    --only floor --cpu "$cpu" --seconds "$floor_secs" | sed -e '/^# /d' -e "s/^## /## $1: /"
}
steal() { awk -v c="cpu$cpu" '$1 == c { print $9 }' /proc/stat; } # USER_HZ ticks (10 ms) the host's hypervisor took
cleanup() {
  for g in a b c h l r4 r1; do d destroy "$g" >/dev/null 2>&1 || true; done
  # A clean stop gives the host back the CPUs of an exclusive pool: wait for it.
  pid=$(cat "$DOMINO_STATE_DIR/daemon.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  [ -n "${KEEP:-}" ] || rm -rf "$DOMINO_STATE_DIR"
}
trap cleanup EXIT
cfg() { # name pool [extra line]
  printf 'name = "%s"\ntype = "pvh"\nkernel = "%s"\ncmdline = "iters=1000000000000"\nmemory = 16\nvcpus = 1\npool = "%s"\n%s\n' \
    "$1" "$root/guests/build/compute.elf" "$2" "${3:-}" > "$DOMINO_STATE_DIR/$1.cfg"
  echo "$DOMINO_STATE_DIR/$1.cfg"
}
uuid_of() { basename "$(grep -l "\"name\":\"$1\"" "$DOMINO_STATE_DIR"/vmm/*.launch.json | head -1)" .launch.json; }
share() { # prints "name share" for each named domain's vCPU 0 thread over $secs seconds
  local names=("$@") tids=() a=() i
  for n in "${names[@]}"; do
    u=$(uuid_of "$n")
    tids+=("$(cut -d' ' -f2 "$DOMINO_STATE_DIR/vmm/$u.vcpus")")
  done
  for i in "${!tids[@]}"; do a[$i]=$(cut -d' ' -f1 "/proc/${tids[$i]}/schedstat"); done
  s0=$(steal); t0=$(date +%s%N); sleep "$secs"; t1=$(date +%s%N); s1=$(steal)
  for i in "${!tids[@]}"; do
    b=$(cut -d' ' -f1 "/proc/${tids[$i]}/schedstat")
    python3 -c "print('| ${names[$i]} | %.4f |' % (($b - ${a[$i]}) / ($t1 - $t0)))"
  done
  python3 -c "print('# steal time the kernel counted for cpu $cpu meanwhile: %.1f %%' % (($s1 - $s0) * 1e9 / ($t1 - $t0)))"
}
on_cpu() { # threads other than the named domains' vCPU threads that may run on $cpu: user ones, then kernel ones
  local vcpus="" n
  for n in "$@"; do vcpus="$vcpus $(cut -d' ' -f2 "$DOMINO_STATE_DIR/vmm/$(uuid_of "$n").vcpus")"; done
  python3 - "$cpu" $vcpus <<'PY'
import os, sys
cpu, vcpus = int(sys.argv[1]), set(sys.argv[2:])
def cpus(text):
    out = set()
    for part in text.split(','):
        a, _, b = part.partition('-')
        out.update(range(int(a), int(b or a) + 1))
    return out
user, kernel = [], 0
for pid in filter(str.isdigit, os.listdir('/proc')):
    try: tids = os.listdir(f'/proc/{pid}/task')
    except OSError: continue
    for tid in tids:
        if tid in vcpus: continue
        try:
            status = open(f'/proc/{pid}/task/{tid}/status').read()
            flags = int(open(f'/proc/{pid}/task/{tid}/stat').read().rsplit(')', 1)[1].split()[6])
        except (OSError, IndexError, ValueError): continue
        allowed = next(l.split(':', 1)[1].strip() for l in status.splitlines() if l.startswith('Cpus_allowed_list'))
        if cpu not in cpus(allowed): continue
        if flags & 0x00200000: kernel += 1
        else: user.append(f"{tid} {open(f'/proc/{pid}/task/{tid}/comm').read().strip()}")
print(f"user threads {len(user)}{': ' + ', '.join(user[:8]) if user else ''}; kernel threads {kernel}")
PY
}
echo "# $(date -u '+%F %H:%M') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg), cpu $cpu, ${secs} s windows," \
  "kick lead ${DOMINO_ARINC653_KICK_LEAD_US:-50} µs, wake lead ${DOMINO_ARINC653_WAKE_LEAD_US:-30} µs, exclusive=$exclusive"
floor before
d cpupool-cpu-remove Pool-0 "$cpu"
d cpupool-create name=\"a653\" sched=\"arinc653\" cpus=\"$cpu\" exclusive="$exclusive"
for g in a b c; do d create -q "$(cfg $g a653)"; done
d sched-arinc653 plan --cpus "$cpu" a:5ms:1ms,b:6ms:2ms,c:10ms:3ms > "$DOMINO_STATE_DIR/plan.txt"
d sched-arinc653 set -p a653 -f "$DOMINO_STATE_DIR/plan.txt"
sleep 5 # past the start: the threads' first windows, the runtime's first compilations of the gate
echo "## arinc653 (window shares: a 0.2, b 0.333, c 0.3)"
echo "| domain | CPU share |"; echo "|---|---|"
share a b c
sleep 11
echo "## arinc653: each VMM's gate over its last 10 s report"
for g in a b c; do
  line=$(grep "arinc653: .* windows in" "$DOMINO_STATE_DIR/logs/vmm-$(uuid_of $g).log" | tail -1 || true)
  [ -n "$line" ] || { echo "$g: NO GATE REPORT: the VMM never opened a window (is the gate installed?)" >&2; exit 1; }
  echo "- $g: ${line#*arinc653: }"
done
echo "# load average after the arinc653 run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# besides the vCPU threads, allowed on cpu $cpu: $(on_cpu a b c)"
for g in a b c; do d destroy "$g"; done
d cpupool-destroy a653
floor after
d cpupool-create name=\"cr\" sched=\"credit\" cpus=\"$cpu\"
d create -q "$(cfg h cr 'cpu_weight = 512')"
d create -q "$(cfg l cr 'cpu_weight = 256')"
sleep 1
echo "## credit: weights 512 (h) and 256 (l) on one CPU"
echo "| domain | CPU share |"; echo "|---|---|"
share h l
for g in h l; do d destroy "$g"; done
d cpupool-destroy cr
# An rtds pool smaller than the host: exclusive, so it is a scheduling root domain of its own.
d cpupool-create name=\"rt\" sched=\"rtds\" cpus=\"$cpu\" exclusive=1
d create -q "$(cfg r4 rt)"
d create -q "$(cfg r1 rt)"
d sched-rtds -d r4 -p 10000 -b 4000 -e 0
d sched-rtds -d r1 -p 5000 -b 1000 -e 0
sleep 1
echo "## rtds without extratime in an exclusive pool of cpu $cpu: r4 4000 µs per 10000 µs (0.4), r1 1000 µs per 5000 µs (0.2)"
echo "| domain | CPU share |"; echo "|---|---|"
share r4 r1
