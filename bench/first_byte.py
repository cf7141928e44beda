#!/usr/bin/env python3
"""Time from launching a command to the first byte on its stdout, and the memory a running guest adds.

Alternates Domino (daemon warm: `domino create -q -c hello.cfg`) and a cold QEMU microvm on the same
guest, in one session. Memory: PSS/RSS of the per-domain VMM process vs the QEMU process, each
running guests/build/counter.elf (which runs forever).
Usage: bench/first_byte.py [RUNS]   (from the repository root; needs /dev/kvm and qemu-system-x86_64)
"""
import os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOMINO = os.path.join(ROOT, ".build", "cli", "domino")
QEMU = ["qemu-system-x86_64", "-M", "microvm", "-enable-kvm", "-cpu", "host,-arch-capabilities", "-m", "64",
        "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel"]

def first_byte(cmd, env):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    b = p.stdout.read(1)
    t = time.perf_counter() - t0
    p.stdout.read()
    p.wait()
    if not b:
        raise SystemExit(f"{cmd[0]} printed nothing")
    return t

def mem_kb(pid):
    pss = rss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"): pss = int(line.split()[1])
            if line.startswith("Rss:"): rss = int(line.split()[1])
    return pss, rss

def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    state = tempfile.mkdtemp(prefix="dbench-", dir="/tmp")
    env = dict(os.environ, DOMINO_STATE_DIR=state, DOMINO_DRIVER="vmm")
    hello = os.path.join(ROOT, "guests", "build", "hello.elf")
    counter = os.path.join(ROOT, "guests", "build", "counter.elf")
    cfg = os.path.join(state, "hello.cfg")
    subprocess.run([DOMINO, "list"], env=env, check=True, stdout=subprocess.DEVNULL)  # starts the daemon: warm
    d_times, q_times = [], []
    for i in range(runs):
        with open(cfg, "w") as f:
            f.write(f'name = "hello{i}"\ntype = "pvh"\nkernel = "{hello}"\nmemory = 64\n')
        d_times.append(first_byte([DOMINO, "create", "-q", "-c", cfg], env))
        q_times.append(first_byte(QEMU + [hello], env))

    # Memory per running guest.
    ccfg = os.path.join(state, "counter.cfg")
    with open(ccfg, "w") as f:
        f.write(f'name = "counter"\ntype = "pvh"\nkernel = "{counter}"\nmemory = 64\n')
    subprocess.run([DOMINO, "create", "-q", ccfg], env=env, check=True)
    time.sleep(2)
    pid = int(open(next(os.path.join(state, "vmm", n) for n in os.listdir(os.path.join(state, "vmm")) if n.endswith(".pid"))).read().split()[0])
    d_pss, d_rss = mem_kb(pid)
    q = subprocess.Popen(QEMU + [counter], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    time.sleep(2)
    q_pss, q_rss = mem_kb(q.pid)
    q.kill(); q.wait()
    subprocess.run([DOMINO, "destroy", "counter"], env=env, check=True)
    daemon = int(open(os.path.join(state, "daemon.pid")).read())
    os.kill(daemon, 15)

    med = statistics.median
    print(f"runs: {runs} (alternating), load average at end: {os.getloadavg()[0]:.1f}")
    print(f"first console byte  domino create -c (daemon warm): median {med(d_times)*1000:.0f} ms, min {min(d_times)*1000:.0f} ms")
    print(f"first console byte  qemu microvm (cold):            median {med(q_times)*1000:.0f} ms, min {min(q_times)*1000:.0f} ms")
    print(f"time ratio domino/qemu (median): {med(d_times)/med(q_times):.2f}")
    print(f"memory per running guest (counter.elf, 64 MiB): domino VMM process PSS {d_pss/1024:.1f} MiB RSS {d_rss/1024:.1f} MiB; "
          f"qemu PSS {q_pss/1024:.1f} MiB RSS {q_rss/1024:.1f} MiB; PSS ratio {d_pss/q_pss:.2f}")

main()
