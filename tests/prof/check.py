#!/usr/bin/env python3
"""check.py -- the assertions of tests/prof/run.sh, on profiles read with
profile.py. Each command prints one line per check, "PASS name: details" or
"FAIL name: reason"; run.sh counts them. TRUTH files are what the test
programs print: NAME ALLOC_OBJECTS ALLOC_BYTES [INUSE_OBJECTS INUSE_BYTES].

    check.py runs-needed TRUTH RATE        prints K (see below)
    check.py exact PROG TRUTH PROFILE      POOLALLOC_SAMPLE_RATE=1: exact counts
    check.py accuracy PROG RATE K DIR      DIR/run.I.out and DIR/run.I.*.prof, I = 1..K
    check.py threads PROG TRUTH PROFILE    POOLALLOC_SAMPLE_RATE=4k, four threads
    check.py dlopen PROG PLUGIN TRUTH PROFILE
    check.py trimmed LIB PROFILE...        no allocator frame in any stack; mapping
                                           lines agree with the files
    check.py truncated PROFILE WORKDIR     cut copies are rejected by the reader
    check.py fates-exact PROG TRUTH PROFILE  rate 1: the fates program's sites, exactly
    check.py fates-report TOOL NAME PROFILE  poolalloc-prof report: each site's finding
    check.py fates-edges PROG OUT PROFILE    rate 1: edges.c ran, its cases' fates right

STATISTICS. A site that allocates B bytes at sample rate R gets about
N ~ Poisson(B / R) samples, each weighing about R bytes: one run's estimate
has a relative standard error of sqrt(R / B) -- 22 % for 10 MiB at 512 KiB.
So the +-5 % the profiler promises is checked on the mean of K runs, with K
large enough that 5 % is at least 3.5 standard errors of that mean for the
smallest amount checked: K = ceil((3.5 / 0.05)^2 * R / B_min). Each run on
its own is checked against a bound as unlikely to be crossed by chance as a
Gaussian 5 sigma (2.9e-7 per side), taken from the Poisson distribution of
N (at ~20 samples its tails are far from Gaussian).
"""
import glob
import math
import os
import subprocess
import sys

import profile

TOLERANCE = 0.05        # the profiler's promise: estimates within 5 % (mean of K runs)
MEAN_SIGMAS = 3.5       # ... and 5 % must be at least this many standard errors
TAIL = 2.87e-7          # one-sided probability of a Gaussian 5 sigma
MAX_SIZE = 4096         # largest allocation of the accuracy program


def result(ok, name, text):
    print(f"{'PASS' if ok else 'FAIL'} {name}: {text}")


def read_truth(path):
    """{name: [alloc_objects, alloc_bytes, inuse_objects, inuse_bytes]}"""
    truth = {}
    with open(path) as f:
        for line in f:
            name, *nums = line.split()
            truth[name] = [int(x) for x in nums]
    if not truth:
        raise ValueError(f"{path}: the program printed nothing")
    return truth


def stacks_by_function(p, prog, names=None):
    """p's stacks whose innermost frame is a function of the file prog, by
    that function: {function: [Stack]}."""
    names = names or profile.symbolize(p)
    prog = os.path.realpath(prog)
    found = {}
    for s in p.stacks:
        if not s.frames:
            continue
        f = names[s.frames[0]]
        if f.path and os.path.realpath(f.path) == prog:
            found.setdefault(f.function, []).append(s)
    return found


def by_function(p, prog, names=None):
    """Sums of p's stacks by their innermost frame when it is a function of
    the file prog: {function: [alloc_objects, alloc_space, inuse_objects,
    inuse_space, stacks]}."""
    return {fn: [sum(col) for col in zip(*((s.alloc_objects, s.alloc_space, s.inuse_objects, s.inuse_space, 1)
                                            for s in stacks))]
            for fn, stacks in stacks_by_function(p, prog, names).items()}


def pct(x):
    return f"{100 * x:+.1f}%"


def runs_needed(rate, smallest):
    return math.ceil((MEAN_SIGMAS / TOLERANCE) ** 2 * rate / smallest)


def smallest_checked(truth):
    return min(min(t[1], t[3]) for t in truth.values())


# ---- commands -------------------------------------------------------------------

def cmd_runs_needed(truth_path, rate):
    print(runs_needed(int(rate), smallest_checked(read_truth(truth_path))))


def cmd_exact(prog, truth_path, prof_path):
    """Every allocation sampled with weight 1: per site, objects and bytes,
    allocated and in use, match what the program counted (within 0.5 %)."""
    truth, p = read_truth(truth_path), profile.read(prof_path)
    sums = by_function(p, prog)
    bad, report = [], []
    if p.sample_rate != 1:
        bad.append(f"sample_rate {p.sample_rate}, not 1")
    labels = ("alloc_objects", "alloc_space", "inuse_objects", "inuse_space")
    for site, want in truth.items():
        got = sums.get(site)
        if not got:
            bad.append(f"no stack has {site} as its innermost frame")
            continue
        errs = [(g - w) / w for g, w in zip(got, want)]
        report.append(f"{site} " + "/".join(pct(e) for e in errs))
        for label, g, w, e in zip(labels, got, want, errs):
            if abs(e) > 0.005:
                bad.append(f"{site} {label} {g}, the program counted {w}")
    result(not bad, "accuracy-exact", "; ".join(bad) if bad else
           "rate 1, error of alloc_objects/alloc_space/inuse_objects/inuse_space: " + ", ".join(report))


def poisson_bounds(lam):
    """lo, hi: P(N < lo) <= TAIL and P(N > hi) <= TAIL for N ~ Poisson(lam)."""
    pmf = lambda k: math.exp(k * math.log(lam) - lam - math.lgamma(k + 1))
    lo, acc = 0, 0.0
    while acc + pmf(lo) <= TAIL:
        acc += pmf(lo)
        lo += 1
    hi, acc = int(lam), 0.0
    for k in range(int(lam) + 1):
        acc += pmf(k)
    while 1 - acc > TAIL:
        hi += 1
        acc += pmf(hi)
    return lo, hi


def cmd_accuracy(prog, rate, k, workdir):
    """K runs at the default rate: each within its 5-sigma bound, and the
    mean of each site's alloc_space and inuse_space within 5 %."""
    rate, k = int(rate), int(k)
    truth = None
    errs = {}           # (site, what) -> relative errors of the runs
    run_bad = []
    for i in range(1, k + 1):
        try:
            t = read_truth(os.path.join(workdir, f"run.{i}.out"))
            files = glob.glob(os.path.join(workdir, f"run.{i}.*.prof"))
            if len(files) != 1:
                raise ValueError(f"run {i} wrote {len(files)} profiles")
            p = profile.read(files[0])
        except (OSError, ValueError, profile.ProfileError) as e:
            run_bad.append(str(e))
            continue
        if truth is None:
            truth = t
        elif t != truth:
            run_bad.append(f"run {i}: the program's own counts differ from run 1's")
        if p.sample_rate != rate:
            run_bad.append(f"run {i}: sample_rate {p.sample_rate}, expected the default {rate}")
        sums = by_function(p, prog)
        for site, want in t.items():
            got = sums.get(site, [0, 0, 0, 0])
            for what, g, w in (("alloc", got[1], want[1]), ("inuse", got[3], want[3])):
                lo, hi = poisson_bounds(w / rate)
                if not lo * rate <= g <= hi * (rate + MAX_SIZE):
                    run_bad.append(f"run {i}: {site} {what}_space {g} is outside [{lo * rate}, "
                                   f"{hi * (rate + MAX_SIZE)}] (true {w})")
                errs.setdefault((site, what), []).append((g - w) / w)
    result(not run_bad, "accuracy-per-run",
           f"{len(run_bad)} problems, first: " + "; ".join(run_bad[:3]) if run_bad else
           f"{k} runs at rate {rate}, every site's alloc_space and inuse_space within its 5-sigma "
           "bound (Poisson tails)")
    if truth is None:
        result(False, "accuracy-mean", "no run to average")
        return
    bad, report = [], []
    for site, want in truth.items():
        parts = []
        for what, w in (("alloc", want[1]), ("inuse", want[3])):
            e = errs.get((site, what), [])
            mean = sum(e) / len(e) if e else float("inf")
            se = math.sqrt(rate / w / max(len(e), 1))
            parts.append(f"{what} {pct(mean)}")
            if abs(mean) > TOLERANCE:
                bad.append(f"{site} mean {what}_space error {pct(mean)} over {len(e)} runs "
                           f"(standard error {100 * se:.1f}%)")
        report.append(f"{site} " + " ".join(parts))
    smallest = smallest_checked(truth)
    result(not bad, "accuracy-mean", "; ".join(bad) if bad else
           f"K={k} runs (5% = {MEAN_SIGMAS} standard errors for {smallest} bytes: "
           f"K = ceil(({MEAN_SIGMAS}/{TOLERANCE})^2 * {rate}/{smallest})), mean errors: " + ", ".join(report))


def cmd_threads(prog, truth_path, prof_path):
    """Each thread's function is the innermost frame of some stack, and its
    alloc_space is within 25 % of what it allocated; all four together
    (~10k samples, 1 % standard error) within 5 %."""
    truth, p = read_truth(truth_path), profile.read(prof_path)
    sums = by_function(p, prog)
    bad, report = [], []
    for fn, want in sorted(truth.items()):
        got = sums.get(fn)
        if not got:
            bad.append(f"no stack has {fn} as its innermost frame")
            continue
        e = (got[1] - want[1]) / want[1]
        report.append(f"{fn} {pct(e)}")
        if abs(e) > 0.25:
            bad.append(f"{fn} alloc_space {got[1]}, it allocated {want[1]} ({pct(e)})")
    result(not bad, "threads", "; ".join(bad) if bad else
           f"rate {p.sample_rate}, alloc_space error per thread function: " + ", ".join(report))
    got = sum(sums.get(fn, [0, 0])[1] for fn in truth)
    want = sum(t[1] for t in truth.values())
    e = (got - want) / want
    se = math.sqrt(p.sample_rate / want)
    result(abs(e) <= TOLERANCE, "threads-total",
           f"alloc_space of the four functions {got}, allocated {want}: error {pct(e)} "
           f"(standard error {100 * se:.1f}%, bound {100 * TOLERANCE:.0f}%)")


def cmd_dlopen(prog, plugin, truth_path, prof_path):
    """The plugin's allocations: innermost frame plugin_alloc in the plugin's
    file (through its mapping line), caller host_call_plugin in the program,
    inuse_space within 25 % of what the plugin kept."""
    truth, p = read_truth(truth_path), profile.read(prof_path)
    names = profile.symbolize(p)
    plugin = os.path.realpath(plugin)
    if not any(m.path == plugin for m in p.mappings):
        result(False, "dlopen", f"no mapping line names {plugin}")
        return
    sums, callers, space = by_function(p, plugin, names), set(), 0
    for s in p.stacks:
        if s.frames and names[s.frames[0]].function == "plugin_alloc":
            caller = names[s.frames[1]] if len(s.frames) > 1 else profile.Frame(None, None, "(none)")
            callers.add((caller.function, os.path.realpath(caller.path) if caller.path else None))
            space += s.inuse_space
    bad = []
    if "plugin_alloc" not in sums:
        bad.append(f"no stack has plugin_alloc in {plugin} as its innermost frame")
    if callers != {("host_call_plugin", os.path.realpath(prog))}:
        bad.append(f"callers of plugin_alloc: {sorted(c[0] for c in callers)}, expected host_call_plugin only")
    want = truth["plugin_alloc"][1]
    e = (space - want) / want
    if abs(e) > 0.25:
        bad.append(f"plugin_alloc inuse_space {space}, it kept {want} ({pct(e)})")
    result(not bad, "dlopen", "; ".join(bad) if bad else
           f"plugin_alloc in {os.path.basename(plugin)} <- host_call_plugin, inuse_space error {pct(e)}")


def cmd_trimmed(lib, *prof_paths):
    """No frame of any stack is in libpoolalloc.so (malloc, pa_*: told by
    the frame's mapping, not its name -- ld.so has an inline wrapper named
    malloc of its own); a stack that holds one of the test programs'
    allocating functions has it as its innermost frame."""
    lib = os.path.realpath(lib)
    ours = ("site_60", "site_30", "site_10", "plugin_alloc") + tuple(f"thread_alloc_{i}" for i in range(4))
    bad, stacks = [], 0
    for path in prof_paths:
        p = profile.read(path)
        if not any(m.path == lib for m in p.mappings):
            bad.append(f"{os.path.basename(path)}: no mapping of {lib}")
        names = profile.symbolize(p)
        for s in p.stacks:
            stacks += 1
            fns = [names[a] for a in s.frames]
            inside = [f.function for f in fns if f.path and os.path.realpath(f.path) == lib]
            if inside:
                bad.append(f"{os.path.basename(path)}: a stack has frames in {os.path.basename(lib)}: "
                           + ", ".join(inside[:4]))
            mine = [i for i, f in enumerate(fns) if f.function in ours]
            if mine and mine[0] != 0:
                bad.append(f"{os.path.basename(path)}: {fns[mine[0]].function} is frame {mine[0]}, "
                           f"under {', '.join(f.function for f in fns[:mine[0]])}")
    result(not bad, "allocator-frames-trimmed", "; ".join(bad[:3]) if bad else
           f"{stacks} stacks of {len(prof_paths)} profiles: no frame in {os.path.basename(lib)}, "
           "the programs' allocating functions innermost")

    # what symbolization relies on: each mapping line names a file that has
    # a PT_LOAD at OFFSET and the build-id the line says ([vdso] has no file)
    bad, count = [], 0
    for path in prof_paths:
        p = profile.read(path)
        program = os.path.realpath(p.header["program"])
        if not any(m.path == program for m in p.mappings):
            bad.append(f"{os.path.basename(path)}: no mapping of the program {program}")
        for m in p.mappings:
            count += 1
            if m.path == "[vdso]":
                continue
            elf = profile.load_elf(m.path)
            if not elf:
                bad.append(f"{os.path.basename(path)}: mapping of {m.path}: not a readable ELF file")
            elif m.offset not in elf.segments:
                bad.append(f"{os.path.basename(path)}: mapping of {m.path}: no PT_LOAD at offset {m.offset:#x}")
            elif m.buildid != elf.buildid:
                bad.append(f"{os.path.basename(path)}: mapping of {m.path}: build-id {m.buildid}, the file's {elf.buildid}")
    result(not bad, "mappings", "; ".join(bad[:3]) if bad else
           f"{count} mapping lines of {len(prof_paths)} profiles: each file has a PT_LOAD at OFFSET "
           "and the build-id the line gives")


def cmd_truncated(prof_path, workdir):
    """Copies cut in the middle of a line and at a line boundary, and one
    without its last stack line, are rejected: exit status 1, one line on
    stderr naming the file and line, saying what is wrong."""
    profile.read(prof_path)                  # the whole file is fine
    data = open(prof_path, "rb").read()
    mid = len(data) // 2
    if data[mid - 1:mid] == b"\n":
        mid += 1
    boundary = data.rindex(b"\n", 0, mid) + 1
    last = data.rindex(b"\nstack ") + 1     # the last stack line, dropped
    bad, seen = [], []
    for label, cut, why in (("mid-line", data[:mid], "truncated"), ("line-boundary", data[:boundary], "truncated"),
                            ("stack-missing", data[:last] + data[data.index(b"\n", last) + 1:], "stack lines")):
        path = os.path.join(workdir, f"cut-{label}.prof")
        with open(path, "wb") as f:
            f.write(cut)
        r = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "profile.py"), path],
                           capture_output=True, text=True, timeout=60)
        err = r.stderr.strip()
        if r.returncode != 1:
            bad.append(f"{label} cut: the reader exited {r.returncode}")
        elif len(err.splitlines()) != 1 or f"{path}:" not in err or why not in err:
            bad.append(f"{label} cut: message {err[:200]!r}")
        else:
            seen.append(err.replace(path, os.path.basename(path)))
    result(not bad, "reader-rejects-truncated", "; ".join(bad) if bad else " | ".join(seen))


FREED = ("freed_lt_1us", "freed_lt_10us", "freed_lt_100us", "freed_lt_1ms", "freed_lt_10ms", "freed_lt_100ms",
         "freed_lt_1s", "freed_ge_1s")
CLASSES = ("freed_frame_0", "freed_frame_1", "freed_frame_2", "freed_frame_3", "freed_returned", "freed_thread")


def cmd_fates_exact(prog, truth_path, prof_path):
    """Rate 1: what became of every object of the fates program's sites
    (tests/prof/fates.c), counted exactly, and every stack's fates add up
    (docs/lifetimes.md)."""
    truth, p = read_truth(truth_path), profile.read(prof_path)
    site = {fn: [s.values for s in stacks] for fn, stacks in stacks_by_function(p, prog).items()}
    bad = []
    for s in p.stacks:
        v = s.values
        freed = sum(v[k] for k in FREED)
        if v["alloc_objects"] != v["inuse_objects"] + freed + v["moved"]:
            bad.append(f"a stack's alloc_objects {v['alloc_objects']} != in use {v['inuse_objects']} + freed {freed}"
                       f" + moved {v['moved']}")
        if sum(v[k] for k in CLASSES) > freed or v["temporary"] > freed:
            bad.append(f"a stack classifies more objects than it freed: {v}")

    def want(fn, pick, key, expected, cmp="=="):
        stacks = [v for v in site.get(fn, []) if pick(v)]
        if len(stacks) != 1:
            bad.append(f"{fn}: {len(stacks)} stacks where one was expected")
            return
        got = stacks[0][key]
        if not {"==": got == expected, ">=": got >= expected}[cmp]:
            bad.append(f"{fn} {key} {got}, expected {cmp} {expected}")

    every = lambda v: True
    n = truth["make_token"][0]
    for key, e in (("alloc_objects", n), ("freed_frame_1", n), ("temporary", n), ("freed_frame_0", 0),
                   ("freed_thread", 0), ("inuse_objects", 0)):
        want("make_token", every, key, e)
    n = truth["format_line"][0]
    for key, e in (("alloc_objects", n), ("freed_frame_0", n), ("temporary", n)):
        want("format_line", every, key, e)
    chains, reallocs = truth["grow_buffer"][2], truth["grow_buffer"][3]
    first = lambda v: v["realloc_objects"] == 0
    grown = lambda v: v["realloc_objects"] > 0
    for key, e in (("alloc_objects", chains), ("moved", chains), ("inuse_objects", 0)):
        want("grow_buffer", first, key, e)
    for key, e in (("realloc_objects", reallocs), ("alloc_objects", reallocs), ("moved", reallocs - chains),
                   ("freed_frame_0", chains)):
        want("grow_buffer", grown, key, e)
    want("grow_buffer", grown, "realloc_copied", chains * sum(16 << k for k in range(12)), ">=")
    n = truth["produce"][0]
    for key, e in (("alloc_objects", n), ("freed_thread", n), ("freed_frame_0", 0), ("temporary", 0)):
        want("produce", every, key, e)
    n = truth["remember"][0]
    for key, e in (("alloc_objects", n), ("inuse_objects", n)):
        want("remember", every, key, e)
    n = truth["pooled_request"][0]
    want("pooled_request", lambda v: v["pool_misses"] > 0, "pool_misses", n)
    want("pooled_request", lambda v: v["pool_misses"] > 0, "freed_frame_0", n)
    result(not bad, "fates-exact", "; ".join(bad[:6]) if bad else
           f"rate 1: {len(p.stacks)} stacks add up; the six sites' fates are exact")


def cmd_fates_edges(prog, out_path, prof_path):
    """Rate 1: tests/prof/edges.c ran to its end, and its cases got the fates
    docs/lifetimes.md promises."""
    with open(out_path) as f:
        out = f.read()
    p = profile.read(prof_path)
    site = {fn: [s.values for s in stacks] for fn, stacks in stacks_by_function(p, prog).items()}
    bad = [] if "done" in out.split() else ["the program did not print 'done'"]

    def temps(fn, space=None):
        return sorted(v["temporary"] for v in site.get(fn, []) if space is None or v["alloc_space"] == space)

    for fn, space, want in (("big_pair", None, [0, 10]), ("small_after_big", 480, [0]),
                            ("small_after_big", 560, [10]), ("small_after_big", 3072000, [0]),
                            ("real_temp", None, [10])):
        if temps(fn, space) != want:
            bad.append(f"{fn} {space or ''} temporary {temps(fn, space)}, expected {want}")
    inner = site.get("inner", [])
    if len(inner) != 1 or sum(inner[0][k] for k in FREED) != 10 or sum(inner[0][k] for k in CLASSES) != 0:
        bad.append(f"inner: expected 10 freed, none classified (its caller's frame is over 64 KiB): {inner}")
    grown = sum(v["inuse_space"] for v in site.get("grown", []))
    moved = sum(v["moved"] for v in site.get("grown", []))
    if grown != 6 << 20 or moved:
        bad.append(f"grown: {grown} bytes in use and {moved} moved, the program keeps 6 MiB grown in place from 3")
    deep = [s for s in stacks_by_function(p, prog).get("deep_alloc", [])]
    if len(deep) != 1 or len(deep[0].frames) != 64 or deep[0].frames[-1] != 1:
        bad.append(f"deep_alloc: expected one stack of 64 frames ending with the truncation mark 0x1, got "
                   f"{[(len(s.frames), hex(s.frames[-1])) for s in deep]}")
    if "altstack tested" in out and not site.get("on_signal_stack"):
        bad.append("no stack for the allocation on the signal stack")
    result(not bad, "fates-edges", "; ".join(bad) if bad else
           "pthread_getattr_np in a new thread, malloc on a signal stack below the main one ("
           + ("tested" if "altstack tested" in out else "not placed") + "), temporaries with 300 KiB "
           "allocations between, a frame over 64 KiB left unclassified, a block grown in place in use at its new size, "
           "a stack 100 calls deep cut at 64 frames with the truncation mark")


# The finding `poolalloc-prof report` must give each site of the fates program:
# the start of its section's title.
FINDINGS = {
    "make_token": "Pool candidates", "grow_buffer": "Grown by realloc", "format_line": "Stack candidates",
    "produce": "Freed by another thread", "remember": "Leak suspects", "pooled_request": "Pool misses",
}


def cmd_fates_report(tool, name, prof_path):
    """`poolalloc-prof report` puts each site of the fates program under its
    finding, and under no other."""
    run = subprocess.run([tool, "report", "-n", "50", prof_path], capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        result(False, name, f"report exit status {run.returncode}: {run.stderr.strip()[:300]}")
        return
    found, section = {}, None            # function -> [section titles]
    for line in run.stdout.splitlines():
        if line and not line.startswith(" "):
            section = line
        elif line.startswith("  ") and not line.startswith("  ...") and section and \
                not section.startswith("At the peak"):   # what held the heap: not a finding
            found.setdefault(line.split()[0], []).append(section)
    bad = []
    for fn, title in FINDINGS.items():
        got = found.get(fn, [])
        if not got or any(not t.startswith(title) for t in got):
            bad.append(f"{fn} under {[t.split(':')[0] for t in got] or 'no finding'}, expected {title!r}")
    result(not bad, name, "; ".join(bad) + f"\n{run.stdout}" if bad else
           "each site under its finding: " + ", ".join(f"{fn} -> {t}" for fn, t in FINDINGS.items()))


def cmd_peak(prog, out_path, prof_path, rate):
    """tests/prof/peak.c: each site's peak_space and peak_objects, and the
    header's peak_inuse_space, against the program's truth: exact at rate 1,
    within 5 sigma (sigma^2 = truth x rate, the variance of weighted sampling
    of objects far smaller than the rate) plus one sample's weight (under twice the
    rate, for objects smaller than it) at the default rate: the sampled heap may peak a moment away from
    the true peak, with one sampled short-lived object live then, even at a
    site whose truth is 0."""
    rate = int(rate)
    truth = {}
    with open(out_path) as f:
        for line in f:
            if line.startswith("peak "):
                _, site, objects, space = line.split()
                truth[site] = (int(objects), int(space))
    p = profile.read(prof_path)
    sites = stacks_by_function(p, prog)
    bad = []
    got_total = int(p.header.get("peak_inuse_space", -1))
    uptime, when = float(p.header["uptime"]), float(p.header.get("peak_uptime", -1))
    if not 0 <= when <= uptime:
        bad.append(f"peak_uptime {when}, uptime {uptime}")
    for site, (objects, space) in truth.items():
        got = sum(s.values["peak_space"] for s in sites.get(site, []))
        got_o = sum(s.values["peak_objects"] for s in sites.get(site, []))
        slack = 0 if rate == 1 else 5 * (space * rate) ** 0.5 + 2 * rate
        if abs(got - space) > slack or (rate == 1 and got_o != objects):
            bad.append(f"{site}: peak {got_o} objects {got} bytes, truth {objects} {space} (slack {slack:.0f})")
    total = sum(v[1] for v in truth.values())
    if abs(got_total - total) > (0 if rate == 1 else 5 * (total * rate) ** 0.5 + 2 * rate):
        bad.append(f"peak_inuse_space {got_total}, truth {total}")
    result(not bad, f"peak-rate-{'1' if rate == 1 else 'default'}", "; ".join(bad) if bad else
           f"the 64 MB built and freed at its size ({'exact' if rate == 1 else 'within 5 sigma'}), "
           f"what was kept after the peak at 0, peak_inuse_space {got_total} at {when:.3f} s")


def cmd_memory(prof_path):
    """The memory-over-time lines of a long run sampled at every 256 KiB tick
    (POOLALLOC_MEMORY_INTERVAL=0): at most 1025 of them (the fixed array
    halved when full, plus the dump's own), in time order, spanning the run."""
    lines = [l.split() for l in open(prof_path) if l.startswith("memory ")]
    names = next(l.split()[1:] for l in open(prof_path) if l.startswith("memory_values "))
    uptime = float(profile.read(prof_path).header["uptime"])
    t = [float(l[1]) for l in lines]
    bad = []
    if not 512 <= len(lines) <= 1025:
        bad.append(f"{len(lines)} points (want 512..1025: the array filled and was halved)")
    if t != sorted(t):
        bad.append("points out of time order")
    if t and (t[0] > uptime / 4 or abs(t[-1] - uptime) > 0.05):
        bad.append(f"points span {t[0]}..{t[-1]} s of a {uptime} s run")
    if names[:6] != ["seconds", "live", "resident", "mapped", "allocated", "sampled_inuse"]:
        bad.append(f"memory_values {names}")
    alloc = [int(l[1 + names.index("allocated")]) for l in lines]
    if alloc != sorted(alloc) or (alloc and alloc[-1] < 1 << 30):
        bad.append(f"allocated not growing to over 1 GiB: {alloc[:3]}...{alloc[-3:]}")
    result(not bad, "memory-series", "; ".join(bad) if bad else
           f"{len(lines)} points over {t[0]:.3f}..{t[-1]:.3f} s, in order, allocated growing to {alloc[-1] >> 20} MiB")


COMMANDS = {
    "memory": cmd_memory,
    "peak": cmd_peak,
    "fates-exact": cmd_fates_exact, "fates-report": cmd_fates_report, "fates-edges": cmd_fates_edges,
    "runs-needed": cmd_runs_needed, "exact": cmd_exact, "accuracy": cmd_accuracy,
    "threads": cmd_threads, "dlopen": cmd_dlopen, "trimmed": cmd_trimmed, "truncated": cmd_truncated,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: check.py {{{'|'.join(COMMANDS)}}} ARGS...")
    try:
        COMMANDS[sys.argv[1]](*sys.argv[2:])
    except (OSError, ValueError, KeyError, profile.ProfileError) as e:
        print(f"FAIL {sys.argv[1]}: {e}")
        sys.exit(1)
