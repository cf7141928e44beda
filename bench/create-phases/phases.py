#!/usr/bin/env python3
"""phases.py TRACE [SIDES]: splits each `domino create -c` run in an ftrace dump into phases.

A run starts at first-byte's "FB start" marker and ends at its "FB first" marker; between them:
start    exec of the CLI until it connects to the daemon
daemon   until the spare VMM process reads the domain's UUID (first non-empty read by domino-vmm)
vmmstart until the guest's first port I/O (the spare builds the guest, starts its vCPU, and the
         guest runs its ring-0 start-up, emulated on a software KVM)
boot     until the guest writes 'H', the first byte of its console output, to COM1
deliver  until that byte is on the CLI's stdout (VMM, daemon, client)
With SIDES=2 the runs alternate between two daemons and are summarised per side (A, B)."""
import re
import statistics
import sys

LINE = re.compile(r'\s*(.{16})-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+):\s+(\S+):?\s*(.*)')
KEYS = ['conn', 'rd', 'pio', 'h', 'fb']
NAMES = ['start', 'daemon', 'vmmstart', 'boot', 'deliver', 'total']

runs, cur = [], None
for line in open(sys.argv[1]):
    m = LINE.match(line)
    if line.startswith('#') or not m:
        continue
    comm, _, _, ts, ev, rest = m.groups()
    ts, comm, ev = float(ts) * 1000, comm.strip(), ev.split('(')[0].rstrip(':')
    if 'FB start' in line:
        cur = {'t0': ts}
        runs.append(cur)
        continue
    if cur is None:
        continue
    if 'FB first' in line:
        cur['fb'] = ts
    elif ev == 'sys_connect' and comm == 'domino' and 'conn' not in cur:
        cur['conn'] = ts
    elif 'conn' not in cur:
        continue
    elif ev == 'sys_read' and comm == 'domino-vmm' and 'rd' not in cur and not rest.strip().endswith('0x0') and '0x' in rest:
        cur['rd'] = ts
    elif ev == 'kvm_pio' and 'rd' in cur and 'pio' not in cur:
        cur['pio'] = ts
    elif ev == 'kvm_pio' and 'val 0x48' in rest and 'h' not in cur:
        cur['h'] = ts

rows = []
for r in runs:
    if not all(k in r for k in KEYS):
        print('a run is missing some of its events; left out', file=sys.stderr)
        continue
    points = [r['t0']] + [r[k] for k in KEYS]
    rows.append([b - a for a, b in zip(points, points[1:])] + [r['fb'] - r['t0']])


def show(rows, title):
    print(f'{title} ({len(rows)} runs), ms')
    for i, name in enumerate(NAMES):
        col = sorted(x[i] for x in rows)
        print(f'{name:9} median {statistics.median(col):6.2f}  min {col[0]:6.2f}  p75 {col[int(len(col) * 0.75)]:6.2f}  max {col[-1]:6.2f}')


if len(sys.argv) > 2 and sys.argv[2] == '2':
    show(rows[0::2], 'A')
    show(rows[1::2], 'B')
else:
    show(rows, 'all')
