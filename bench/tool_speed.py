#!/usr/bin/env python3
"""tool_speed.py -- how fast poolalloc-prof folds and symbolizes a big dump.

    bench/tool_speed.py TOOL [STACKS [DEPTH [RUNS]]]

Writes a version-1 dump with STACKS (default 50,000) distinct stacks of
DEPTH (30) frames whose addresses are real functions of real files (the
python3 executable and libc, as mapped in a real process), then times
`TOOL fold` on it RUNS (5) times and prints the median and the spread.
The issue's target: 50,000 stacks of depth 30 in under 2 s.
"""
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time


def exec_segment(path):
    """(p_offset, p_vaddr, p_memsz) of the executable PT_LOAD of path"""
    out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD" and "E" in f[6:-1]:
            return int(f[1], 16), int(f[2], 16), int(f[5], 16)
    raise SystemExit(f"{path}: no executable segment")


def build_id(path):
    out = subprocess.run(["readelf", "-nW", path], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else "-"


def functions(path, lo, hi):
    """addresses (ELF vaddr) of function symbols inside [lo, hi)"""
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True).stdout
    out += subprocess.run(["nm", "--defined-only", path], capture_output=True, text=True).stdout
    addrs = {int(l.split()[0], 16) for l in out.splitlines() if len(l.split()) == 3 and l.split()[1] in "tTW"}
    return sorted(a for a in addrs if lo <= a < hi)


def main():
    tool = sys.argv[1]
    stacks = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
    depth = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    rng = random.Random(1)
    objs = []
    base = 0x7f0000000000
    for path in [os.path.realpath("/usr/bin/python3"), "/lib/x86_64-linux-gnu/libc.so.6"]:
        off, vaddr, size = exec_segment(path)
        bias = 0 if vaddr >= 0x400000 else base  # non-PIE executables sit at their vaddr
        base += 0x10000000
        funcs = functions(path, vaddr, vaddr + size)
        objs.append((path, bias + vaddr, bias + vaddr + size, off, build_id(path), [bias + a for a in funcs]))
    # a call-tree-like population: each stack shares a prefix with an earlier one
    frames = [rng.choice(objs[0][5]) + rng.randrange(4, 64) for _ in range(depth)]
    seen, lines = set(), []
    while len(lines) < stacks:
        keep = rng.randrange(depth)  # frames from the root kept from the previous stack
        frames = [rng.choice(rng.choice(objs)[5]) + rng.randrange(4, 64) if i < depth - keep else frames[i]
                  for i in range(depth)]
        key = tuple(frames)
        if key in seen:
            continue
        seen.add(key)
        n = rng.randrange(1, 1000)
        lines.append(f"stack {n} {n * 64} {n // 2} {n * 32} " + " ".join(f"0x{a:x}" for a in frames))
    with tempfile.NamedTemporaryFile("w", suffix=".prof", delete=False) as f:
        f.write("poolalloc-profile 1\nprogram /usr/bin/python3\npid 1\ntime 1.0\nuptime 1.0\nreason exit\n"
                "sequence 1\nsample_rate 524288\nprofiler_memory 0\n")
        for path, start, end, off, bid, _ in objs:
            f.write(f"mapping 0x{start:x} 0x{end:x} 0x{off:x} {bid} {path}\n")
        f.write("\n".join(lines) + f"\nend {len(lines)}\n")
        dump = f.name
    size = os.path.getsize(dump)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run([tool, "fold", dump], capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if r.returncode:
            raise SystemExit(r.stderr)
    os.unlink(dump) if not os.environ.get("KEEP") else print(dump)
    out = r.stdout.count("\n")
    print(f"{stacks} stacks of depth {depth} ({size / 1e6:.1f} MB dump, {out} folded lines): "
          f"fold median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}, {runs} runs)")


main()
