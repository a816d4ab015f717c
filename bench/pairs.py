#!/usr/bin/env python3
"""pairs.py — two builds of a single-threaded program, side by side at the same moment.

On a shared machine one vCPU can run 1.5x slower than the other for minutes, and the
two trade places (bench/results/2026-12-08-10-full-page-wake.md). Runs one after the
other then compare the machine's moods, not the builds. This runs the command under A
on one CPU and under B on the other at the same time, swaps the CPUs on the next run,
and takes the geometric mean over each swapped pair, in which a CPU's own speed
cancels out. Both processes share the caches and memory bus while they run, so it
suits programs of one thread; use `make bench` or ../shared/mbench for threaded ones.

  bench/pairs.py [-n RUNS] [--score REGEX] A B -- CMD [ARG...]

A and B are shared objects to LD_PRELOAD, or `glibc` for none. Printed: each run's
A/B ratio of wall time (above 1: B faster), each swapped pair's geometric mean, the
overall one, and the median peak RSS of each. With --score, the ratio is B/A of the
first number the regex's group captures from each run's output (for programs that run
for a fixed time and print their throughput, higher is better: glibc-thread's
"(\\d+) iterations").
"""
import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from run import TIME, clean_env


def start(lib, cpu, argv, out, rss_path):
    """Starts argv under GNU time on one CPU, as run.py's run_once does: a child
    spawned straight from Python would report Python's own peak RSS when its
    own is smaller (the kernel keeps the largest over exec)."""
    env = clean_env()
    if lib != "glibc":
        env["LD_PRELOAD"] = os.path.abspath(lib)
    return subprocess.Popen([TIME, "-q", "-f", "%M", "-o", rss_path] + argv, env=env, stdout=out,
                            stderr=subprocess.STDOUT, preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))


def wait_both(procs, began):
    """Reaps the processes as each ends: {pid: (wall seconds, exit code)}."""
    done = {}
    while len(done) < len(procs):
        pid, status, _ = os.wait4(-1, 0)
        if pid in procs:
            done[pid] = (time.monotonic() - began, os.waitstatus_to_exitcode(status))
    return done


def peak_mib(rss_path):
    with open(rss_path) as f:
        return int(f.read().split()[-1]) / 1024


def score(regex, text, what):
    m = re.search(regex, text)
    if not m:
        sys.exit(f"pairs.py: --score found nothing in the output of {what}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=6, help="runs, an even number (default 6)")
    ap.add_argument("--score", help="regex with one group: a throughput the program prints")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("cmd", nargs="+")
    args = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        sys.exit("pairs.py: needs two CPUs")
    for lib in (args.a, args.b):
        if lib != "glibc" and not os.path.isfile(lib):
            sys.exit(f"pairs.py: no library {lib}")
    if args.n < 2 or args.n % 2:
        sys.exit("pairs.py: -n must be an even number of runs, 2 or more")
    ratios, peaks = [], {"A": [], "B": []}
    for i in range(args.n):
        ca, cb = (cpus[0], cpus[1]) if i % 2 == 0 else (cpus[1], cpus[0])
        with tempfile.TemporaryDirectory() as tmp:
            rss_a, rss_b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            with open(os.path.join(tmp, "out-a"), "w+b") as fa, open(os.path.join(tmp, "out-b"), "w+b") as fb:
                began = time.monotonic()
                pa, pb = start(args.a, ca, args.cmd, fa, rss_a), start(args.b, cb, args.cmd, fb, rss_b)
                done = wait_both({pa.pid, pb.pid}, began)
                (ta, ea), (tb, eb) = done[pa.pid], done[pb.pid]
                pa.returncode, pb.returncode = ea, eb
                outs = []
                for f in (fa, fb):
                    f.seek(0)
                    outs.append(f.read().decode(errors="replace"))
                oa, ob = outs
            for name, code, out in (("A", ea, oa), ("B", eb, ob)):
                if code != 0:
                    sys.exit(f"pairs.py: the run under {name} exited with {code}: {out.strip()[-200:]}")
            ra, rb = peak_mib(rss_a), peak_mib(rss_b)
        peaks["A"].append(ra)
        peaks["B"].append(rb)
        if args.score:
            ratios.append(score(args.score, ob, "B") / score(args.score, oa, "A"))
        else:
            ratios.append(ta / tb)
        print(f"run {i + 1}: A on cpu {ca}, B on cpu {cb}: A/B {ratios[-1]:.3f}", flush=True)
    pairs = [math.sqrt(ratios[i] * ratios[i + 1]) for i in range(0, len(ratios), 2)]
    overall = math.exp(sum(map(math.log, ratios)) / len(ratios))
    print("swapped pairs: " + " ".join(f"{p:.3f}" for p in pairs) +
          f"; geometric mean {overall:.3f} ({'B' if overall > 1 else 'A'} faster)")
    print(f"peak RSS MiB (median): A {statistics.median(peaks['A']):.1f}, B {statistics.median(peaks['B']):.1f}")


if __name__ == "__main__":
    main()
