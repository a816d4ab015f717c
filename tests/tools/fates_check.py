#!/usr/bin/env python3
"""fates_check.py -- poolalloc-prof on hand-made profiles of format version 2
(docs/profile-format.md, docs/lifetimes.md): the `values` header, the weights
computed from the fates, and `report`'s findings.

    fates_check.py TOOL

check.py runs it (so `make check-tools` does). The profiles are written
here, with frames in files that do not exist: the tool names them
MODULE+0xOFFSET, which is all these checks need, and every number is known.
Prints "PASS name: ..." or "FAIL name: ..." per check and
"N passed, N failed"; exits 1 if any failed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from harness import check, finish, result

TOOL = os.path.abspath(sys.argv[1])
WORK = tempfile.mkdtemp(prefix="poolalloc-fates.")

NAMES = ("alloc_objects alloc_space inuse_objects inuse_space freed_lt_1us freed_lt_10us freed_lt_100us freed_lt_1ms "
         "freed_lt_10ms freed_lt_100ms freed_lt_1s freed_ge_1s freed_frame_0 freed_frame_1 freed_frame_2 freed_frame_3 "
         "freed_returned freed_thread temporary moved realloc_objects realloc_copied pool_misses").split()
LIFETIMES = NAMES[4:12]
APP, LIBC, STDCXX = 0x1000, 0x7F0000000000, 0x7F1000000000  # where the mappings start


def dump(name, stacks, version=2, names=None, reason="exit", rate=1, uptime="2.000", pid=42, process=None):
    """Writes a profile; stacks are (values: dict name -> number, frames) or
    raw strings (written as they are after 'stack ')."""
    names = NAMES if names is None else names
    lines = [f"poolalloc-profile {version}", "program /nonexistent/app", f"pid {pid}", "time 1795418550.788182",
             f"uptime {uptime}", f"reason {reason}", "sequence 1", f"sample_rate {rate}", "profiler_memory 0",
             f"process {process or format(pid, '016x')}"]
    if version >= 2 and names:
        lines.append("values " + " ".join(names))
    lines += [f"mapping {APP:#x} {APP + 0x100000:#x} 0x1000 - /nonexistent/app",
              f"mapping {LIBC:#x} {LIBC + 0x100000:#x} 0x0 - /nonexistent/libc.so.6",
              f"mapping {STDCXX:#x} {STDCXX + 0x100000:#x} 0x0 - /nonexistent/libstdc++.so.6"]
    for s in stacks:
        if isinstance(s, str):
            lines.append("stack " + s)
            continue
        values, frames = s
        nums = [str(values.get(n, 0)) for n in (names if version >= 2 else NAMES[:4])]
        lines.append("stack " + " ".join(nums + [f"{f:#x}" for f in frames]))
    lines.append(f"end {len(stacks)}")
    path = os.path.join(WORK, name + ".prof")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def tool(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LC_ALL": "C"})


def fold(path, weight):
    r = tool("fold", "-w", weight, path)
    if r.returncode != 0:
        raise RuntimeError(f"fold -w {weight}: exit {r.returncode}: {r.stderr.strip()}")
    out = {}
    for line in r.stdout.splitlines():
        k, v = line.rsplit(" ", 1)
        out[k] = int(v)
    return out


def app(off):
    return APP + off


def name(addr):
    """how the tool names a frame in a file it cannot read"""
    if addr >= STDCXX:
        return f"libstdc++.so.6+{addr - STDCXX:#x}"
    if addr >= LIBC:
        return f"libc.so.6+{addr - LIBC:#x}"
    return f"app+{addr - APP + 0x1000:#x}"


def key(frames):
    return ";".join(name(f) for f in reversed(frames))


# ---- reading version 2 ----

@check("v2-values-by-name")
def _(name_):
    # the names in another order than the writer's, with names this reader
    # does not know among them: every known value is found by its name
    names = ["future_one"] + NAMES[::-1] + ["future_two"]
    raw = {n: 1000 + i for i, n in enumerate(NAMES)}
    raw["inuse_objects"], raw["inuse_space"] = 1, 2  # in use never exceeds allocated
    frames = [app(0x101), app(0x201)]
    nums = ["7"] + [str(raw[n]) for n in NAMES[::-1]] + ["18446744073709551615"]
    path = dump("byname", [" ".join(nums + [f"{f:#x}" for f in frames])], names=names)
    bad = []
    for n in NAMES:
        got = fold(path, n).get(key(frames))
        if got != raw[n]:
            bad.append(f"{n}: {got}, want {raw[n]}")
    result(not bad, name_, "23 values read by name among unknown ones, in any order" if not bad else "; ".join(bad))


@check("v2-derived-weights")
def _(name_):
    v = {n: 0 for n in NAMES}
    v.update(alloc_objects=100000, alloc_space=4800000, inuse_objects=77, inuse_space=3696)
    for i, n in enumerate(LIFETIMES):
        v[n] = 1 << i  # 1, 2, ... 128: freed 255, churn (first four) 15
    v.update(freed_frame_0=1000, freed_frame_1=2000, freed_frame_2=4000, freed_frame_3=8000, freed_returned=16000,
             freed_thread=32000)
    stacks = {  # frames: allocating frame J (the first outside libc, libstdc++, libgcc_s, ld-linux)
        0: [app(0x101), app(0x201), app(0x301)],
        1: [LIBC + 0x100, app(0x202), app(0x302)],          # strdup: its caller allocates
        2: [STDCXX + 0x100, LIBC + 0x200, app(0x303)],
        3: [LIBC + 0x100, LIBC + 0x200, STDCXX + 0x300, LIBC + 0x400, app(0x404)],  # all four: the last
    }
    path = dump("derived", [(v, f) for f in stacks.values()])
    frame = [1000, 2000, 4000, 8000]
    want = {j: {"freed_objects": 255, "churn_objects": 15, "frame_local": sum(frame[:j + 1]),
                "escaped_caller": sum(frame[j + 1:]) + 16000, "escaped_thread": 32000, "never_freed": 77}
            for j in stacks}
    bad = []
    for w in ("freed_objects", "churn_objects", "frame_local", "escaped_caller", "escaped_thread", "never_freed"):
        got = fold(path, w)
        for j, frames in stacks.items():
            if got.get(key(frames)) != want[j][w]:
                bad.append(f"{w} of a stack allocating at frame {j}: {got.get(key(frames))}, want {want[j][w]}")
    result(not bad, name_, "six weights computed per stack, allocating frame 0..3" if not bad else "; ".join(bad))


@check("v2-weights-everywhere")
def _(name_):
    v = {n: 0 for n in NAMES}
    v.update(alloc_objects=10, alloc_space=3 << 20, realloc_objects=9, realloc_copied=5 << 20, freed_frame_0=4,
             freed_lt_1us=4)
    path = dump("units", [(v, [app(0x101), app(0x201)])])
    bad = []
    top = tool("top", "-w", "realloc_copied", path).stdout
    if not re.search(r"^\s+5\.00 MiB\s+100\.0%", top, re.M) or not top.startswith("realloc_copied, "):
        bad.append(f"top -w realloc_copied: {top[:200]!r}")
    top = tool("top", "-w", "frame_local", path).stdout
    if not re.search(r"^\s+4\s+100\.0%", top, re.M):
        bad.append(f"top -w frame_local: {top[:200]!r}")
    svg = tool("svg", "-w", "realloc_copied", path).stdout
    if "Bytes copied by realloc (realloc_copied)" not in svg or 'data-unit="bytes"' not in svg:
        bad.append("svg -w realloc_copied: no bytes title or unit")
    svg = tool("svg", "-w", "frame_local", path).stdout
    if "Objects freed in the allocating function (frame_local)" not in svg or 'data-unit="objects"' not in svg:
        bad.append("svg -w frame_local: no objects title or unit")
    d = tool("diff", "-w", "churn_objects", path, path)
    if d.returncode or not d.stdout.endswith(" 4 4\n"):
        bad.append(f"diff -w churn_objects: {d.stdout!r} {d.stderr.strip()}")
    r = tool("fold", "-w", "bogus", path)
    if r.returncode != 2 or "unknown weight 'bogus'" not in r.stderr:
        bad.append(f"-w bogus: exit {r.returncode} {r.stderr.strip()}")
    result(not bad, name_, "top, svg and diff take the new weights, with their units" if not bad else "; ".join(bad))


@check("v1-still-read")
def _(name_):
    frames = [app(0x101), app(0x201)]
    path = dump("v1", [({"alloc_objects": 3, "alloc_space": 300, "inuse_objects": 1, "inuse_space": 100}, frames)],
                version=1)
    got = [fold(path, w).get(key(frames)) for w in NAMES[:4]]
    r = tool("fold", "-w", "frame_local", path)
    ok = got == [3, 300, 1, 100] and r.returncode == 0 and r.stdout == ""
    ok &= "no profile given records frame_local" in r.stderr
    result(ok, name_, f"version 1: Go's four {got}; -w frame_local: nothing and a note {r.stderr.strip()!r}")


@check("v2-bad-input")
def _(name_):
    ok_stack = ({"alloc_objects": 1, "alloc_space": 8}, [app(0x101)])
    cases = {  # name: (path, message)
        "count": (dump("count", ["1 2 0 0 0x1101"]), r"count\.prof:15: stack line has 4 numbers, 'values' names 23$"),
        "count-more": (dump("countmore", [" ".join(["0"] * 24) + " 0x1101"]),
                       r"countmore\.prof:15: stack line has 24 numbers, 'values' names 23$"),
        "no-values": (dump("novalues", [ok_stack], names=[]), r"novalues\.prof:11: no 'values' line in the header"),
        "duplicate": (dump("dup", [], names=NAMES + ["moved"]), r"dup\.prof:11: 'values' names 'moved' twice$"),
        "no-go-name": (dump("nogo", [], names=[n for n in NAMES if n != "alloc_space"]),
                       r"nogo\.prof:11: 'values' does not name 'alloc_space'"),
        "bad-name": (dump("badname", [], names=NAMES + ["Pool-Misses"]), r"badname\.prof:11: bad name 'Pool-Misses'"),
        "version-4": (dump("v4", [ok_stack], version=4), r"v4\.prof:1: format version 4; this poolalloc-prof reads "
                      r"versions 1 to 3$"),
        "v1-count": (dump("v1count", ["1 2 0 0 0 0x1101"], version=1),
                     r"v1count\.prof:14: stack line has 5 numbers, format version 1 has 4"),
        "not-a-number": (dump("nan", ["1 2 x 0 0x1101"], names=NAMES[:4]),
                         r"nan\.prof:15: malformed stack line: 'x' is neither a number nor a 0x frame$"),
    }
    bad = []
    for case, (path, want) in cases.items():
        for cmd in ("fold", "report"):
            r = tool(cmd, path)
            err = r.stderr.strip().splitlines()
            if r.returncode != 1 or r.stdout or len(err) != 1 or not re.search(want, err[0]):
                bad.append(f"{cmd} {case}: exit {r.returncode}, stdout {len(r.stdout)} bytes, stderr {err}")
    result(not bad, name_, f"{len(cases)} bad files x fold/report: one line naming the line, exit 1"
           if not bad else "; ".join(bad))


# ---- report ----

def sites(**kw):
    """values of a site, the rest 0"""
    v = {n: 0 for n in NAMES}
    v.update(kw)
    return v


# one site of each finding (and some that are none), at rate 1 over 2 s;
# the site is the frame at offset OFF of the program
REPORT_SITES = {
    # leak: 90% never freed
    0x101: ("leak", sites(alloc_objects=1000, alloc_space=1024000, inuse_objects=900, inuse_space=921600,
                          freed_lt_1us=100, freed_frame_0=100)),
    # a smaller leak: ranked second by bytes in use
    0x111: ("leak", sites(alloc_objects=10, alloc_space=10240, inuse_objects=10, inuse_space=10240)),
    # a realloc site: 120 objects in 10 chains, 11 more moves
    0x201: ("grown", sites(alloc_objects=120, alloc_space=6000000, realloc_objects=120, moved=110,
                           realloc_copied=52428800, freed_lt_1ms=10, freed_frame_0=10)),
    # chains begun by realloc(NULL) at the same line: 10 first blocks and 120
    # moving reallocs, all but the 10 last blocks moved on: 12 per chain
    0x221: ("grown", sites(alloc_objects=130, alloc_space=6000000, realloc_objects=120, moved=120,
                           realloc_copied=10485760, freed_lt_1ms=10, freed_frame_0=10)),
    # the malloc that began the chains: every object moved
    0x211: ("grown", sites(alloc_objects=10, alloc_space=160, moved=10)),
    # a pool that misses (frame-local too: the first finding counts)
    0x301: ("misses", sites(alloc_objects=1000, alloc_space=512000, pool_misses=900, freed_lt_1us=1000,
                            freed_frame_0=1000, temporary=1000)),
    # 40% freed by another thread
    0x401: ("thread", sites(alloc_objects=1000, alloc_space=256000, freed_lt_10ms=1000, freed_thread=400,
                            freed_returned=600)),
    # frame-local, 95% temporary
    0x501: ("stack", sites(alloc_objects=1000, alloc_space=48000, freed_lt_1us=1000, freed_frame_0=990,
                           freed_frame_1=10, temporary=950)),
    # frame-local but too big for a stack: not a stack candidate (nor anything else)
    0x511: (None, sites(alloc_objects=1000, alloc_space=1000 * 100000, freed_lt_1s=1000, freed_frame_0=1000)),
    # churn on its own thread, escaped to its caller
    0x601: ("pool", sites(alloc_objects=2000, alloc_space=96000, freed_lt_1us=1000, freed_lt_10us=940,
                          freed_lt_100ms=60, freed_frame_1=2000)),
    # temporaries that live long
    0x701: ("temporary", sites(alloc_objects=1000, alloc_space=100000, freed_ge_1s=1000, freed_returned=1000,
                               temporary=600)),
    # long-lived, freed by its caller: nothing to say
    0x801: (None, sites(alloc_objects=1000, alloc_space=100000, freed_ge_1s=1000, freed_returned=1000)),
    # too few samples to rank (2 at rate 1), though every object leaked
    0x901: ("unranked", sites(alloc_objects=2, alloc_space=2048, inuse_objects=2, inuse_space=2048)),
}
TITLES = {"leak": "Leak suspects: objects never freed", "grown": "Grown by realloc: preallocate",
          "misses": "Pool misses: pa_pool_get made new objects", "thread": "Freed by another thread",
          "stack": "Stack candidates: freed before the allocating function returned",
          "pool": "Pool candidates: short-lived objects on one thread",
          "temporary": "Temporaries: freed before the thread allocated anything else"}


def parse_report(text):
    """(header lines, {title: [(site, reason, suggestion)]}, footer lines)"""
    head, found, tail, cur = [], {}, [], None
    blocks = text.split("\n\n")
    head = blocks[0].splitlines()
    for b in blocks[1:]:
        lines = b.splitlines()
        if lines and len(lines) > 1 and lines[1].startswith("  "):
            cur = found.setdefault(lines[0], [])
            for l in lines[1:]:
                m = re.fullmatch(r"  (\S+(?: \([^)]*\))?)  (.*?); (.*)", l)
                cur.append((m.group(1), m.group(2), m.group(3)) if m else (l.strip(), "", ""))
        else:
            tail += lines
    return head, found, tail


def report_of(*paths, args=()):
    r = tool("report", *args, *paths)
    if r.returncode != 0:
        raise RuntimeError(f"report: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


@check("report-ratio-significance")
def _(name_):
    # a realloc site whose chains (allocated - moved: two estimates) stand on
    # under 3 samples at the default rate: no "reallocs per object", a rate;
    # the same numbers at rate 1 are exact, and the ratio is shown
    site = sites(alloc_objects=1000, alloc_space=1000 * 65536, realloc_objects=1000, moved=995,
                 realloc_copied=1000 * 32768, freed_lt_1ms=5, freed_frame_0=5)
    lines = {}
    for rate in (524288, 1):
        path = dump(f"ratio{rate}", [(site, [app(0x201), app(0x1001)])], rate=rate)
        lines[rate] = next((l for l in report_of(path).splitlines() if name(app(0x201)) in l), "")
    bad = []
    if "reallocs/s" not in lines[524288] or "per object" in lines[524288]:
        bad.append(f"default rate: {lines[524288]!r}")
    if "200 reallocs per object" not in lines[1]:
        bad.append(f"rate 1: {lines[1]!r}")
    result(not bad, name_, "; ".join(bad) if bad else f"default rate: {lines[524288].strip()} | rate 1: {lines[1].strip()}")


@check("report-findings")
def _(name_):
    path = dump("report", [(v, [app(off), app(0x1001)]) for off, (_, v) in REPORT_SITES.items()])
    out = report_of(path)
    head, found, tail = parse_report(out)
    bad = []
    want = {}
    for off, (kind, _) in REPORT_SITES.items():
        if kind in TITLES:
            want.setdefault(TITLES[kind], []).append(name(app(off)))
    got = {t: [s for s, _, _ in rows] for t, rows in found.items()}
    if got != want:
        bad.append(f"sites by finding {got}, want {want}")
    if list(found) != [t for t in TITLES.values() if t in want]:
        bad.append(f"findings in the order {list(found)}")
    if not re.fullmatch(r"report of /nonexistent/app: 1 process, 2\.000 s, sample rate 1 B \(every allocation\)", head[0]):
        bad.append(f"header {head}")
    if tail != ["1 site with fewer than 3 samples not ranked"]:
        bad.append(f"footer {tail}")
    reasons = {s: (r, sug) for rows in found.values() for s, r, sug in rows}
    expect = {  # site: (reason, suggestion pattern)
        0x101: (r"900 KiB live at exit, 90% of 1\.0 k objects never freed", r"free them, or bound the cache"),
        0x201: (r"12 reallocs per object, 50\.0 MiB copied", r"reserve the final size up front"),
        0x221: (r"12 reallocs per object, 10\.0 MiB copied", r"reserve the final size up front"),
        0x211: (r"100% of its objects grown by realloc", r"reserve the final size up front"),
        0x301: (r"the pool here misses: 450 new objects/s made by pa_pool_get", r"put back \(pa_pool_put\)"),
        0x401: (r"40% freed by another thread \(200 objects/s\)", r"fine at this rate"),
        0x501: (r"99% frame-local, 48 B each, 95% temporary", r"a local variable or a fixed buffer on the stack"),
        0x601: (r"1\.0 k objects/s of 48 B, 97% die < 10 µs, 100% on the allocating thread",
                r"recycle them with a pa_pool_t"),
        0x701: (r"500 objects/s of 100 B, 60% heaptrack's temporaries \(freed before the thread allocated anything "
                r"else\)", r"reuse one buffer"),
    }
    for off, (reason, sug) in expect.items():
        r, s = reasons.get(name(app(off)), ("(missing)", ""))
        if not re.fullmatch(reason, r) or not re.search(sug, s):
            bad.append(f"{name(app(off))}: {r!r}; {s!r}")
    result(not bad, name_, "one site per finding, ranked, with its reason and suggestion" if not bad
           else "; ".join(bad) + "\n" + out)


@check("report-ranking")
def _(name_):
    # leaks rank by bytes in use, whatever their object counts; -n cuts
    stacks = [(sites(alloc_objects=100 * (i + 1), alloc_space=1000 * (5 - i), inuse_objects=100 * (i + 1),
                     inuse_space=1000 * (5 - i)), [app(0x100 * (i + 1) + 1)]) for i in range(4)]
    path = dump("rank", stacks)
    _, found, _ = parse_report(report_of(path))
    order = [s for s, _, _ in found.get(TITLES["leak"], [])]
    want = [name(app(0x100 * (i + 1) + 1)) for i in range(4)]
    _, cut, _ = parse_report(report_of(path, args=("-n", "2")))
    rows = [s for s, _, _ in cut.get(TITLES["leak"], [])]
    ok = order == want and rows == want[:2] + ["... and 2 more (-n to show more)"]
    result(ok, name_, f"by live bytes: {order}; -n 2: {rows}")


@check("report-samples")
def _(name_):
    # at 512 KiB, 100 objects of 48 B are about 0.01 samples; 10 of 1 MiB
    # about 8.6; 3 of 100 KiB 0.5
    stacks = [(sites(alloc_objects=100, alloc_space=4800, inuse_objects=100, inuse_space=4800), [app(0x101)]),
              (sites(alloc_objects=10, alloc_space=10 << 20, inuse_objects=10, inuse_space=10 << 20), [app(0x201)]),
              (sites(alloc_objects=3, alloc_space=300 << 10, inuse_objects=3, inuse_space=300 << 10), [app(0x301)])]
    path = dump("samples", stacks, rate=524288)
    head, found, tail = parse_report(report_of(path))
    got = [s for s, _, _ in found.get(TITLES["leak"], [])]
    ok = got == [name(app(0x201))] and tail == ["2 sites with fewer than 3 samples not ranked"]
    ok &= "sample rate 512 KiB" in head[0]
    result(ok, name_, f"ranked {got}, footer {tail}, header {head[0]!r}")


@check("report-not-at-exit")
def _(name_):
    path = dump("interval", [(sites(alloc_objects=10, alloc_space=1000, inuse_objects=10, inuse_space=1000),
                              [app(0x101)])], reason="interval")
    out = report_of(path)
    ok = "Leak suspects: objects still in use when dumped" in out and "100% of 10 objects not freed yet" in out
    ok &= "live when dumped" in out and "at exit" not in out
    result(ok, name_, "an interval dump's in-use objects are 'live when dumped'" if ok else out)


@check("report-v1")
def _(name_):
    stacks = [({"alloc_objects": 10, "alloc_space": 1000, "inuse_objects": 10, "inuse_space": 1000}, [app(0x101)]),
              ({"alloc_objects": 1000, "alloc_space": 48000}, [app(0x201)])]
    path = dump("v1report", stacks, version=1)
    out = report_of(path)
    head, found, _ = parse_report(out)
    ok = any("this profile has no lifetime data (format version 1 / older poolalloc)" in l for l in head)
    ok &= list(found) == [TITLES["leak"]] and [s for s, _, _ in found[TITLES["leak"]]] == [name(app(0x101))]
    # with a version-2 process beside it, that one's sites get the other findings
    v2 = dump("v2beside", [(REPORT_SITES[0x501][1], [app(0x501)])], pid=43)
    head2, found2, _ = parse_report(report_of(path, v2))
    ok &= any("1 of 2 processes have no lifetime data" in l for l in head2)
    ok &= [s for s, _, _ in found2.get(TITLES["stack"], [])] == [name(app(0x501))]
    result(ok, name_, "version 1: lifetimes not recorded, leak suspects only; beside version 2: said so"
           if ok else out + "\n---\n" + report_of(path, v2))


@check("report-nothing")
def _(name_):
    path = dump("nothing", [(REPORT_SITES[0x801][1], [app(0x801)])])
    _, found, tail = parse_report(report_of(path))
    empty = dump("empty", [])
    _, found2, tail2 = parse_report(report_of(empty))
    ok = not found and tail == ["no findings"] and not found2 and tail2 == ["no findings"]
    result(ok, name_, f"no finding: {tail}; no stacks: {tail2}")


@check("report-system-frames")
def _(name_):
    # strdup (libc) and std::string (libstdc++) allocate for their callers:
    # the site is the first frame outside them, and both stacks add up there
    leak = sites(alloc_objects=10, alloc_space=1000, inuse_objects=10, inuse_space=1000)
    path = dump("system", [(leak, [LIBC + 0x100, app(0x101), app(0x1001)]),
                           (leak, [STDCXX + 0x100, LIBC + 0x200, app(0x101), app(0x2001)])])
    _, found, _ = parse_report(report_of(path))
    rows = found.get(TITLES["leak"], [])
    ok = [s for s, _, _ in rows] == [name(app(0x101))] and rows[0][1].startswith("1.95 KiB live at exit, 100% of 20")
    result(ok, name_, f"leak sites {rows}")


@check("pprof-all-values")
def _(name_):
    if not shutil.which("go"):
        raise RuntimeError("go not installed (make deps installs golang-go)")
    v = dict(REPORT_SITES[0x201][1])
    v["freed_lt_1us"] = 5
    path = dump("pprof", [(v, [app(0x201), app(0x1001)])])
    home = os.path.join(WORK, "gohome")
    os.makedirs(home, exist_ok=True)
    env = {**os.environ, "HOME": home, "PPROF_TMPDIR": home, "LC_ALL": "C"}
    bad = []
    for args, want_types in ((["--all-values"], NAMES + ["freed_objects", "churn_objects", "frame_local",
                                                         "escaped_caller", "escaped_thread", "never_freed"]),
                             ([], NAMES[:4]), (["-w", "realloc_copied"], NAMES[:4] + ["realloc_copied"])):
        out = os.path.join(WORK, "out.pb.gz")
        r = tool("pprof", *args, "-o", out, path)
        if r.returncode:
            bad.append(f"pprof {args}: {r.stderr.strip()}")
            continue
        raw = subprocess.run(["go", "tool", "pprof", "-symbolize=none", "-raw", out], capture_output=True, text=True,
                             env=env, timeout=120)
        m = re.search(r"^Samples:\n(.*)\n(.*)$", raw.stdout, re.M)
        types = [t.split("/")[0] for t in m.group(1).replace("[dflt]", "").split()] if m else None
        nums = [int(x) for x in m.group(2).split(":")[0].split()] if m else []
        if types != want_types:
            bad.append(f"pprof {args}: types {types}; {raw.stderr.strip()[:200]}")
            continue
        derived = {"freed_objects": 15, "churn_objects": 15, "frame_local": 10, "escaped_caller": 0,
                   "escaped_thread": 0, "never_freed": 0}
        want = [derived.get(t, v.get(t, 0)) for t in types]
        if nums != want:
            bad.append(f"pprof {args}: values {nums}, want {want}")
    result(not bad, name_, "Go's pprof reads the four types, the --weight, and --all-values' 29" if not bad
           else "; ".join(bad))


finish(WORK)
