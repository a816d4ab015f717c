#!/usr/bin/env python3
"""http_load.py -- what serving live profiles costs the program.

    bench/http_load.py LIB TARGET [--rounds 5] [--seconds 5] [--clients 64] [--every 1.0] [--pin]

TARGET is tests/http/target.c built (make build/http-test/target). Each
round runs its `busy SECONDS` command (one thread, malloc and free as fast
as it can; it reports operations per second) three ways, in an order that
rotates from round to round:
  plain    LD_PRELOAD=LIB, sampling on (POOLALLOC_PROFILE into a temporary
           folder), no server: what the server is compared with
  server   POOLALLOC_HTTP on loopback (sampling on the same), no client
  loaded   the same, with CLIENTS clients each pulling /debug/pprof/heap
           (and every fourth /metrics) once every EVERY seconds, as a fleet
           of scrapers would: 64 clients at 1 s is 64 requests a second
Prints each round and the medians, and the ratios to plain. The clients
run in this process (threads), on the same machine. --pin puts the
program (its busy thread and the server's thread) on CPU 0 and the clients
on CPU 1: the server's work then comes out of the program's core, the worst
case, and the clients' does not.
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request


def run(lib, target, seconds, server, clients, every, pin):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POOLALLOC_")}
    env["LD_PRELOAD"] = lib
    if server:
        env["POOLALLOC_HTTP"] = "127.0.0.1:0"
    else:
        env["POOLALLOC_PROFILE"] = os.path.join(tempfile.mkdtemp(prefix="http_load."), "p")
    p = subprocess.Popen([target], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if pin else None)
    url = None
    if server:
        m = re.search(r"(http://127\.0\.0\.1:\d+)", p.stderr.readline())
        url = m.group(1)
    stop = threading.Event()
    pulled = [0]

    def client(k):
        n = 0
        time.sleep(every * k / max(clients, 1))   # spread the clients over the period
        while not stop.is_set():
            path = "/metrics" if n % 4 == 3 else "/debug/pprof/heap"
            try:
                with urllib.request.urlopen(url + path, timeout=10) as r:
                    r.read()
                    pulled[0] += 1
            except OSError:
                pass
            n += 1
            stop.wait(every)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients if server else 0)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    p.stdin.write(f"busy {seconds}\n")
    p.stdin.flush()
    ops = float(p.stdout.readline().split()[1])
    stop.set()
    for t in threads:
        t.join()
    p.communicate("exit\n", timeout=30)
    return ops, pulled[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("target")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--every", type=float, default=1.0)
    ap.add_argument("--pin", action="store_true", help="the program on CPU 0, the clients on CPU 1")
    a = ap.parse_args()
    if a.pin:
        os.sched_setaffinity(0, {1})
    modes = [("plain", False, 0), ("server", True, 0), ("loaded", True, a.clients)]
    got = {m[0]: [] for m in modes}
    for r in range(a.rounds):
        order = modes[r % 3:] + modes[:r % 3]
        line = []
        for name, server, clients in order:
            ops, pulled = run(os.path.abspath(a.lib), os.path.abspath(a.target), a.seconds, server, clients, a.every,
                              a.pin)
            got[name].append(ops)
            line.append(f"{name} {ops / 1e6:.1f} M ops/s" + (f" ({pulled} answers)" if clients else ""))
        print(f"round {r + 1}: " + ", ".join(line), flush=True)
    base = statistics.median(got["plain"])
    for name, _, _ in modes:
        med = statistics.median(got[name])
        print(f"{name:7s} median {med / 1e6:.2f} M ops/s, {med / base:.3f} x plain")


if __name__ == "__main__":
    main()
