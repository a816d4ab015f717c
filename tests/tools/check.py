#!/usr/bin/env python3
"""check.py -- poolalloc-prof used from the outside, on real profiles.

    check.py TOOL LIB BINDIR

TOOL is build/poolalloc-prof, LIB build/libpoolalloc.so, BINDIR holds the
test program built from sites.cc twice: `sites` (against nothing: poolalloc
comes with LD_PRELOAD) and `sites-static` (linked with libpoolalloc.a, so
its stacks begin inside the allocator). Every allocation is sampled
(POOLALLOC_SAMPLE_RATE=1), so the weights the tool prints must equal what the
program says it allocated, exactly. The SVGs are also opened in chromium by
flamegraph_browser.js --real, and the pprof output is decoded by Go's pprof
(`go tool pprof -raw`). fates_check.py, run at the end, checks format
version 2, the weights computed from the fates and `report` on hand-made
profiles. Prints "PASS name: ..." or "FAIL name: ..." per check and
"N passed, N failed"; exits 1 if any failed (TOOLS_KEEP=1 keeps the work
directory).
"""
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

from harness import check, finish, result, results

TOOL, LIB, BINDIR = (os.path.abspath(a) for a in sys.argv[1:4])
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "sites.cc")
WORK = tempfile.mkdtemp(prefix="poolalloc-tools.")
ROOT = "_start;__libc_start_main;__libc_start_call_main;main"


def env_clean(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POOLALLOC_") and k != "LD_PRELOAD"}
    env["LC_ALL"] = "C"
    env.update(extra)
    return env


def profile_run(name, args, preload=True, exe=None, rate="1", **extra):
    """Runs the test program with every allocation sampled; returns (truth,
    [profile paths]) where truth is {site: [ao, as, io, is]}."""
    d = tempfile.mkdtemp(prefix=name + ".", dir=WORK)
    env = env_clean(POOLALLOC_PROFILE=os.path.join(d, "p"), POOLALLOC_SAMPLE_RATE=rate, **extra)
    if preload:
        env["LD_PRELOAD"] = LIB
    out = subprocess.run([exe or os.path.join(BINDIR, "sites")] + args, env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    truth = {}
    for line in out.splitlines():
        site, *nums = line.split()
        truth[site] = [int(x) for x in nums]
    files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".prof"))
    return truth, files


def tool(*args, ok=True):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=120, env=env_clean())
    if ok and r.returncode != 0:
        raise RuntimeError(f"poolalloc-prof {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r


def folded(text):
    """{stack: int or (int, int)} of folded lines"""
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r"(.+?) (-?[0-9]+)(?: (-?[0-9]+))?", line)
        if not m:
            raise ValueError(f"not a folded line: {line!r}")
        out[m.group(1)] = int(m.group(2)) if m.group(3) is None else (int(m.group(2)), int(m.group(3)))
    return out


def ending(fold, suffix):
    """the sum of the weights of stacks ending in ;suffix"""
    return sum(v for k, v in fold.items() if k == suffix or k.endswith(";" + suffix))


def line_of(pattern):
    with open(SOURCE) as f:
        for n, line in enumerate(f, 1):
            if pattern in line:
                return n
    raise ValueError(pattern)


SITES = {  # the folded tail of each site of sites.cc, inline frames expanded
    "plain_site": "main;plain_site",
    "via_inline": "main;via_inline;grab",
    "make_boxes": "main;void shapes::make_boxes<double>(int)",
    "child_site": "main;child_site",
}
WEIGHTS = ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"]


def report_blocks(files):
    """report's text, and its sections by their title line"""
    out = tool("report", *files).stdout
    return out, {b.splitlines()[0]: b for b in out.split("\n\n")[1:] if b.strip()}


@check("help")
def _(name):
    r = tool("--help")
    bad = [c for c in ("fold", "svg", "pprof", "top", "diff", "report") if c not in r.stdout]
    bad += [w for w in ("freed_lt_1us", "pool_misses", "frame_local", "never_freed") if w not in r.stdout]
    for c in ("fold", "svg", "pprof", "top", "diff", "report"):
        h = tool(c, "--help")
        if not h.stdout.startswith(f"usage: poolalloc-prof {c} ") or ("--weight" in h.stdout) != (c != "report"):
            bad.append(f"{c} --help")
    v = tool("--version").stdout
    bad += [] if "reads profile format versions 1 to 3" in v else [f"--version: {v!r}"]
    u = tool(ok=False)
    bad += [] if u.returncode == 2 and "usage:" in u.stderr else ["no arguments: want usage on stderr, exit 2"]
    result(not bad, name, "--help and every command's --help" if not bad else f"missing or wrong: {bad}")


@check("fold-exact")
def _(name):
    truth, files = profile_run("exact", ["1"])
    bad = []
    for i, w in enumerate(WEIGHTS):
        f = folded(tool("fold", "--weight", w, *files).stdout)
        for site, tail in SITES.items():
            if site in truth and ending(f, tail) != truth[site][i]:
                bad.append(f"{w} {tail}: {ending(f, tail)}, the program says {truth[site][i]}")
        if w == "alloc_space" and not any(k.startswith(ROOT + ";plain_site") for k in f):
            bad.append(f"no stack starts {ROOT};plain_site (symbol versions or libc frames wrong?)")
    result(not bad, name, "every site's four weights equal the program's counts" if not bad else "; ".join(bad))


@check("fold-totals")
def _(name):
    # the tool's totals against the dump's own lines, read without the tool
    _, files = profile_run("exact", ["1"])
    want = [0] * 4
    with open(files[0]) as f:
        for line in f:
            if line.startswith("stack "):
                want = [a + int(b) for a, b in zip(want, line.split()[1:5])]
    got = [sum(folded(tool("fold", "-w", w, files[0]).stdout).values()) for w in WEIGHTS]
    result(got == want, name, f"folded sums {got}, the dump's stack lines {want}")


@check("fold-fates")
def _(name):
    # every object of these sites is freed in the function that allocated
    # it, or never: the weights computed from the fates, exactly
    truth, files = profile_run("exact", ["1"])
    got, want = {}, {}
    for w in ("freed_objects", "frame_local", "escaped_caller", "escaped_thread", "never_freed", "temporary"):
        f = folded(tool("fold", "--weight", w, *files).stdout)
        for site, tail in SITES.items():
            if site in truth:
                ao, _, io, _ = truth[site]
                got[f"{site} {w}"] = ending(f, tail)
                want[f"{site} {w}"] = {"freed_objects": ao - io, "frame_local": ao - io, "never_freed": io}.get(w, 0)
    # the objects freed are freed at once: nothing allocated in between
    for site in ("plain_site", "via_inline"):
        want[f"{site} temporary"] = truth[site][0] - truth[site][2]
    bad = [f"{k}: {got[k]}, want {want[k]}" for k in want if got[k] != want[k]]
    result(not bad, name, "freed, frame-local, escaped, never freed and temporaries of every site exact"
           if not bad else "; ".join(bad))


@check("report")
def _(name):
    truth, files = profile_run("exact", ["1"])
    out, blocks = report_blocks(files)
    leaks = blocks.get("Leak suspects: objects never freed", "")
    stack = blocks.get("Stack candidates: freed before the allocating function returned", "")
    ok = out.startswith("report of ") and re.search(r"^  void shapes::make_boxes<double>\(int\) \(sites\.cc:\d+\)  "
                                                    r"\d+\.\d+ KiB live at exit, 100% of 200 objects never freed", leaks, re.M)
    ok = ok and re.search(r"^  plain_site \(sites\.cc:%d\)  .* 50%% of 1\.0 k objects never freed" % line_of("malloc(100)"),
                          leaks, re.M)
    # grab is inlined into via_inline: the site is the call inside grab
    ok = ok and re.search(r"^  grab \(sites\.cc:%d\)  100%% frame-local, 300 B each, 100%% temporary; "
                          % line_of("return malloc(n)"), stack, re.M)
    result(bool(ok), name, "make_boxes and plain_site leak, grab (in via_inline) a stack candidate" if ok else out)


@check("fold-no-inline")
def _(name):
    truth, files = profile_run("exact", ["1"])
    f = folded(tool("fold", "--no-inline", *files).stdout)
    ok = ending(f, "main;via_inline") == truth["via_inline"][1] and ending(f, "via_inline;grab") == 0
    result(ok, name, f"--no-inline: main;via_inline {ending(f, 'main;via_inline')}, want {truth['via_inline'][1]}, no grab frame")


@check("fold-lines")
def _(name):
    _, files = profile_run("exact", ["1"])
    f = folded(tool("fold", "--lines", *files).stdout)
    want = [f"grab sites.cc:{line_of('return malloc(n)')}", f"via_inline sites.cc:{line_of('free(grab(300))')}",
            f"plain_site sites.cc:{line_of('malloc(100)')}"]
    keys = "\n".join(f)
    missing = [w for w in want if w not in keys]
    result(not missing, name, "frames name the lines of the calls" if not missing else f"missing {missing} in:\n{keys[:300]}")


@check("merge-fork")
def _(name):
    truth, files = profile_run("fork", ["1", "fork"])
    f = folded(tool("fold", *files).stdout)
    got = {s: ending(f, t) for s, t in SITES.items()}
    want = {s: truth[s][1] for s in SITES}
    result(len(files) == 2 and got == want, name,
           f"{len(files)} dumps (parent, child) merged: {got}, want {want} (each allocation once)")


@check("merge-intervals")
def _(name):
    # interval dumps of one process are cumulative: only the latest counts
    truth, files = profile_run("intervals", ["4", "dumps"])
    r = tool("fold", *files)
    f = folded(r.stdout)
    ok = len(files) == 3 and ending(f, SITES["plain_site"]) == truth["plain_site"][1]
    ok &= bool(re.search(r"note: \d+ earlier dumps? of pid \d+ not added", r.stderr))
    result(ok, name, f"{len(files)} dumps of one process: plain_site {ending(f, SITES['plain_site'])}, "
           f"want {truth['plain_site'][1]}; stderr {r.stderr.strip()!r}")


@check("merge-process-key")
def _(name):
    # the "process" key decides which dumps are one process, whatever the
    # clocks say: here the second dump's start time moved by 300 s
    def dump(path, proc, time, uptime, seq, n):
        with open(path, "w") as f:
            f.write(f"poolalloc-profile 1\nprogram /srv/app\npid 77\ntime {time}\nuptime {uptime}\nreason exit\n"
                    f"sequence {seq}\nsample_rate 1\nprofiler_memory 0\n" + (f"process {proc}\n" if proc else "")
                    + f"stack {n} {n * 100} 0 0 0x10\nend 1\n")
        return path
    d = tempfile.mkdtemp(prefix="pkey.", dir=WORK)
    one = [dump(f"{d}/a.prof", "00000000000000aa", "1000.0", "100.0", 1, 10),
           dump(f"{d}/b.prof", "00000000000000aa", "1300.0", "103.0", 2, 12)]
    two = [one[0], dump(f"{d}/c.prof", "00000000000000bb", "1000.0", "100.0", 1, 5)]
    old = [dump(f"{d}/d.prof", None, "1000.0", "100.0", 1, 10), dump(f"{d}/e.prof", None, "1000.5", "100.5", 2, 12)]
    got = [folded(tool("fold", *files).stdout).get("0x10") for files in (one, two, old)]
    result(got == [1200, 1500, 1200], name, f"same key: latest {got[0]} (want 1200); other key, same pid: added "
           f"{got[1]} (want 1500); no key, same start: latest {got[2]} (want 1200)")


@check("static-link-trimmed")
def _(name):
    truth, files = profile_run("static", ["1"], preload=False, exe=os.path.join(BINDIR, "sites-static"))
    f = folded(tool("fold", *files).stdout)
    leaked = [k for k in f if re.search(r"(^|;)(pa_[a-z_]+|malloc|operator new[^;]*)(;|$)", k)]
    ok = not leaked and all(ending(f, SITES[s]) == truth[s][1] for s in ("plain_site", "via_inline", "make_boxes"))
    result(ok, name, "allocator frames cut from a static link's stacks" if ok else f"allocator frames left: {leaked[:2]}; {f}")


@check("top")
def _(name):
    truth, files = profile_run("exact", ["1"])
    out = tool("top", "-n", "3", *files).stdout.splitlines()
    rows = [l for l in out if re.match(r"\s+[0-9.]+ [KMG]?i?B ", l)]
    first = rows[0].split() if rows else []
    # grab (inlined into via_inline) allocates the most bytes: 150000 B = 146 KiB
    ok = len(rows) == 3 and "grab" in rows[0] and f"sites.cc:{line_of('return malloc(n)')}" in rows[0]
    ok &= first[:2] == ["146", "KiB"] and "plain_site" in rows[1]
    r = tool("top", "-w", "inuse_objects", "--cum", *files).stdout
    ok &= bool(re.search(r"^\s+200\s+\d+\.\d%.*make_boxes", r, re.M))
    result(ok, name, f"rows: {rows}")


@check("diff")
def _(name):
    t1, f1 = profile_run("diff1", ["1"])
    t2, f2 = profile_run("diff2", ["2"])
    d = folded(tool("diff", f1[0], f2[0]).stdout)
    pair = next((v for k, v in d.items() if k.endswith(SITES["plain_site"])), None)
    delta = folded(tool("diff", "--delta", f1[0], f2[0]).stdout)
    dv = ending(delta, SITES["plain_site"])
    ok = pair == (t1["plain_site"][1], t2["plain_site"][1]) and dv == t2["plain_site"][1] - t1["plain_site"][1]
    svg = tool("diff", "--svg", f1[0], f2[0]).stdout
    ok &= svg.lstrip().startswith("<?xml") and "</svg>" in svg
    result(ok, name, f"plain_site base/new {pair}, delta {dv}; --svg {len(svg)} bytes")


@check("diff-several-dumps")
def _(name):
    # each side a parent and its fork child: merged, then compared
    t1, f1 = profile_run("diffb", ["1", "fork"])
    t2, f2 = profile_run("diffn", ["2", "fork"])
    base = [a for f in f1 for a in ("--base", f)]
    d = folded(tool("diff", *base, *f2).stdout)
    got = {s: next((v for k, v in d.items() if k.endswith(t)), None) for s, t in SITES.items()}
    want = {s: (t1[s][1], t2[s][1]) for s in SITES}
    result(len(f1) == 2 and len(f2) == 2 and got == want, name, f"--base x2 vs 2 dumps: {got}, want {want}")


@check("svg")
def _(name):
    _, files = profile_run("exact", ["1"])
    out = os.path.join(WORK, "out.svg")
    tool("svg", "-o", out, *files)
    import xml.dom.minidom
    doc = xml.dom.minidom.parse(out)
    text = open(out).read()
    ok = doc.documentElement.tagName == "svg" and "plain_site" in text and "Bytes allocated" in text
    result(ok, name, f"{os.path.getsize(out)} bytes of well-formed SVG naming the sites")


@check("svg-in-browser")
def _(name):
    # the tool's SVGs against its own folded output, rendered by chromium
    _, files = profile_run("browser", ["2"])
    pairs = []
    for args in (["-w", "alloc_space"], ["-w", "inuse_space"], ["-w", "alloc_objects"], ["--lines"]):
        stem = os.path.join(WORK, "browser-" + args[-1].strip("-"))
        tool("svg", *args, *files, "-o", stem + ".svg")
        tool("fold", *args, *files, "-o", stem + ".folded")
        pairs += [stem + ".svg", stem + ".folded"]
    r = subprocess.run(["node", os.path.join(HERE, "flamegraph_browser.js"), "--real", *pairs], capture_output=True,
                       text=True, timeout=300)
    last = (r.stdout.strip().splitlines() or ["(no output)"])[-1]
    fails = [l for l in r.stdout.splitlines() if l.startswith("FAIL")]
    result(r.returncode == 0, name, f"4 SVGs against their folded weights in chromium: {last}"
           + (f"; {fails[:3]} {r.stderr.strip()[:200]}" if r.returncode else ""))


@check("pprof")
def _(name):
    truth, files = profile_run("exact", ["1"])
    out = os.path.join(WORK, "out.pb.gz")
    tool("pprof", "-o", out, *files)
    gzip.open(out).read()
    home = os.path.join(WORK, "gohome")
    os.makedirs(home, exist_ok=True)
    env = env_clean(HOME=home, PPROF_TMPDIR=home)
    r = subprocess.run(["go", "tool", "pprof", "-symbolize=none", "-raw", out], capture_output=True, text=True,
                       env=env, timeout=120)
    # -raw: "Samples:" then "alloc_objects/count alloc_space/bytes ..." then a line per sample
    types = re.search(r"^alloc_objects/count alloc_space/bytes\[dflt\] inuse_objects/count inuse_space/bytes$", r.stdout, re.M)
    got = {}
    for m in re.finditer(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+): ([0-9 ]+)$", r.stdout, re.M):
        got[tuple(int(x) for x in m.group(5).split())] = [int(m.group(i)) for i in range(1, 5)]
    locs = dict(re.findall(r"^\s+(\d+): 0x[0-9a-f]+ M=\d+ (\S+)", r.stdout, re.M))
    plain = [v for k, v in got.items() if k and locs.get(str(k[0])) == "plain_site"]
    ok = r.returncode == 0 and types and plain == [truth["plain_site"]]
    result(ok, name, f"go tool pprof -raw: types {bool(types)}, plain_site samples {plain}, want {[truth['plain_site']]}; "
           f"{r.stderr.strip()[:200]}")


@check("bad-input")
def _(name):
    _, files = profile_run("exact", ["1"])
    good = open(files[0], "rb").read()
    lines = good.split(b"\n")
    cases = {  # name: (content or None for a missing file, expected message)
        "missing": (None, r"missing\.prof: No such file or directory"),
        "empty": (b"", r"empty\.prof: empty file"),
        "truncated": (good[: len(good) // 2], r"truncated\.prof:\d+: truncated"),
        "no-end": (b"\n".join(lines[:-2]) + b"\n", r"no-end\.prof:\d+: truncated: no 'end' line"),
        "version": (good.replace(b"poolalloc-profile 3", b"poolalloc-profile 4", 1), r"version\.prof:1: format version 4"),
        "corrupt": (good.replace(b"\nstack ", b"\nstack x", 1), r"corrupt\.prof:\d+: malformed stack line"),
        "binary": (bytes(range(256)) * 4, r"binary\.prof:1: not a poolalloc profile"),
        "count": (good.replace(b"\nend ", b"\nend 9", 1), r"count\.prof:\d+: 'end 9\d*' but \d+ stack lines"),
        "memory-order": (good.replace(b"\nvalues ", b"\nmemory 9.000 1 2 3 4 5\nmemory 0.001 1 2 3 4 5\nvalues ", 1),
                         r"memory-order\.prof:\d+: 'memory' lines out of time order"),
        "memory-count": (good.replace(b"\nvalues ", b"\nmemory 9.000 1 2\nvalues ", 1),
                         r"memory-count\.prof:\d+: malformed 'memory' line"),
    }
    bad = []
    for case, (content, want) in cases.items():
        path = os.path.join(WORK, case + ".prof")
        if content is not None:
            with open(path, "wb") as f:
                f.write(content)
        for cmd in ("fold", "top", "svg"):
            r = tool(cmd, files[0], path, ok=False)
            err = r.stderr.strip().splitlines()
            if r.returncode != 1 or r.stdout or len(err) != 1 or not re.search(want, err[0]):
                bad.append(f"{cmd} {case}: exit {r.returncode}, stdout {len(r.stdout)} bytes, stderr {err}")
    r = tool("fold", WORK, ok=False)
    if r.returncode != 1 or "is a directory" not in r.stderr:
        bad.append(f"directory: {r.stderr.strip()}")
    r = tool("fold", "--weight", "bogus", files[0], ok=False)
    if r.returncode != 2 or "unknown weight 'bogus'" not in r.stderr:
        bad.append(f"--weight bogus: {r.stderr.strip()}")
    result(not bad, name, f"{len(cases)} bad files x fold/top/svg: one line, exit 1, nothing on stdout"
           if not bad else "; ".join(bad))


def run_tool(args, stdin=None):
    return subprocess.run([TOOL, "run", *args], capture_output=True, text=True, timeout=120, env=env_clean(),
                          input=stdin)


# ---- allocation wrappers: wrappers.c's sites named by the callers -------------

WRAPPERS_SOURCE = os.path.join(HERE, "wrappers.c")
XALLOC_SITES = ["site_a", "site_b", "site_c", "site_d", "site_e"]
XGROW_SITES = ["grow_a", "grow_b", "grow_c", "grow_d"]
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def wrappers_run(name, args, rate="1"):
    """Runs wrappers.c's program (rate None: the default); returns (truth
    {site: [objects, bytes]}, [profile paths])."""
    d = tempfile.mkdtemp(prefix=name + ".", dir=WORK)
    env = env_clean(POOLALLOC_PROFILE=os.path.join(d, "p"), LD_PRELOAD=LIB,
                    **({"POOLALLOC_SAMPLE_RATE": rate} if rate else {}))
    out = subprocess.run([os.path.join(BINDIR, "wrappers"), *args], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    truth = {l.split()[0]: [int(x) for x in l.split()[1:]] for l in out.splitlines()}
    return truth, sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".prof"))


def top_rows(text):
    """top's rows as [(function, via or None, file:line, flat)], flat in
    objects or bytes (as printed: bytes to three digits)"""
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s*(-?[0-9.]+)(?: ([KMG]?i?B))?\s+-?[0-9.]+%\s+-?[0-9.]+%\s+\S+(?: \S+B)?\s+-?[0-9.]+%  (.+?)"
                     r"(?:  (\S+:\d+))?$", line)
        if m:
            fn, _, via = m.group(3).partition(" via ")
            rows.append((fn, via or None, m.group(4), float(m.group(1)) * UNITS.get(m.group(2), 1)))
    return rows


def source_line(pattern):
    with open(WRAPPERS_SOURCE) as f:
        return next(n for n, line in enumerate(f, 1) if pattern in line)


@check("wrappers-top-exact")
def _(name):
    # rate 1: every caller of must_get and xgrow is a site of its own with its
    # exact count; make_node and parse_value stay sites; no wrapper is a row
    truth, files = wrappers_run("wrap", ["1"])
    rows = top_rows(tool("top", "-w", "alloc_objects", "-n", "100", *files).stdout)
    fold = folded(tool("fold", "-w", "alloc_objects", *files).stdout)
    got = {(f, v): n for f, v, _, n in rows}
    bad = [f"{s} via must_get: {got.get((s, 'must_get'))}, want {truth[s][0]}" for s in XALLOC_SITES
           if got.get((s, "must_get")) != truth[s][0]]
    bad += [f"{s} at wrappers.c:{l}, want the line of its XALLOC_SITE" for f, v, l, _ in rows for s in [f]
            if s in XALLOC_SITES and l != f"wrappers.c:{source_line('XALLOC_SITE(' + s)}"]
    bad += [f"{s} via xgrow: {got.get((s, 'xgrow'))}, its stacks in fold {ending(fold, s + ';xgrow')}"
            for s in XGROW_SITES if not got.get((s, "xgrow")) or got.get((s, "xgrow")) != ending(fold, s + ";xgrow")]
    bad += [] if got.get(("make_node", None)) == truth["make_node"][0] else [f"make_node: {got.get(('make_node', None))}"]
    parse = [n for f, v, _, n in rows if f == "parse_value" and v is None]
    bad += [] if len(parse) == 4 and sum(parse) == truth["parse_value"][0] else [f"parse_value rows {parse}"]
    one = got.get(("one_caller", "zalloc_usable"))
    bad += [] if one == truth["one_caller"][0] else [f"one_caller via zalloc_usable: {one}, want {truth['one_caller'][0]}"]
    bad += [f"a wrapper is a row: {r}" for r in rows
            if r[0] in ("must_get", "checked", "xgrow", "zalloc_usable", "ztry_alloc_internal")]
    result(not bad, name, "must_get's five callers and xgrow's four (by shape), zalloc_usable's one (by name) named as "
           "the sites, exact; make_node (two callers, under allocate_lists) and parse_value (four lines) stay sites"
           if not bad else "; ".join(bad))


@check("wrappers-report")
def _(name):
    truth, files = wrappers_run("wrap", ["1"])
    out, blocks = report_blocks(files)
    grown = blocks.get("Grown by realloc: preallocate", "")
    stack = blocks.get("Stack candidates: freed before the allocating function returned", "")
    bad = [f"{s} not grown via xgrow" for s in XGROW_SITES
           if not re.search(r"^  %s via xgrow \(wrappers\.c:\d+\)  10 reallocs per object" % s, grown, re.M)]
    bad += [f"{s} not a stack candidate via must_get" for s in XALLOC_SITES
            if not re.search(r"^  %s via must_get \(wrappers\.c:\d+\)  100%% frame-local" % s, stack, re.M)]
    bad += [f"a wrapper named: {l}" for l in out.splitlines() if re.match(r"  (must_get|checked|xgrow) ", l)]
    result(not bad, name, "realloc growth and stack candidates named by the wrappers' callers" if not bad
           else "; ".join(bad) + "\n" + out)


@check("wrappers-options")
def _(name):
    truth, files = wrappers_run("wrap", ["1"])
    bad = []
    off = {(f, v): n for f, v, _, n in top_rows(tool("top", "--no-wrappers", "-w", "alloc_objects", *files).stdout)}
    total = sum(truth[s][0] for s in XALLOC_SITES)
    if off.get(("checked", None)) != total or any(v for _, v in off):
        bad.append(f"--no-wrappers: checked {off.get(('checked', None))}, want {total}, no via: {off}")
    named = {(f, v): n for f, v, _, n in top_rows(tool("top", "--wrapper", "^make_node$", "-w", "alloc_objects",
                                                       *files).stdout)}
    if named.get(("build_list", "make_node")) != 1500 or named.get(("build_queue", "make_node")) != 2500:
        bad.append(f"--wrapper ^make_node$: {named}")
    r = tool("report", "--wrapper", "(", *files, ok=False)
    if r.returncode != 2 or r.stdout or len(r.stderr.splitlines()) != 1 or "--wrapper '('" not in r.stderr:
        bad.append(f"--wrapper '(': exit {r.returncode}, {r.stderr!r}")
    r = tool("fold", "--wrapper", "x", *files, ok=False)
    if r.returncode != 2 or "no option '--wrapper'" not in r.stderr:
        bad.append(f"fold --wrapper: exit {r.returncode}, {r.stderr!r}")
    result(not bad, name, "--no-wrappers, --wrapper REGEX, a bad regex in one line" if not bad else "; ".join(bad))


@check("wrappers-default-rate")
def _(name):
    # the default rate: the same sites, each within 5 sigma (sigma^2 =
    # truth x rate, objects far smaller than the rate)
    truth, files = wrappers_run("wrapd", ["1000", "1"], rate=None)
    rate = 512 * 1024
    rows = top_rows(tool("top", "-n", "100", *files).stdout)
    got = {(f, v): n for f, v, _, n in rows}
    bad = [f"{s} via must_get: {got.get((s, 'must_get'))} B, want {truth[s][1]} +- {5 * (truth[s][1] * rate) ** 0.5:.0f}"
           for s in XALLOC_SITES
           if abs(got.get((s, "must_get"), 0) - truth[s][1]) > 5 * (truth[s][1] * rate) ** 0.5 + 0.005 * truth[s][1]]
    bad += [f"a wrapper is a row: {r}" for r in rows if r[0] in ("must_get", "checked", "xgrow")]
    result(not bad, name, "at 512 KiB the callers of must_get are the sites, each within 5 sigma: " +
           ", ".join(f"{s} {got.get((s, 'must_get'), 0) / truth[s][1]:.3f}x" for s in XALLOC_SITES)
           if not bad else "; ".join(bad))


@check("run-exact")
def _(name):
    # `run` in one command: the program's output and status through, its
    # profile, report and flame graphs in the directory, the exact weights
    d = tempfile.mkdtemp(prefix="run.", dir=WORK)
    r = run_tool(["-o", d, "--rate", "1", os.path.join(BINDIR, "sites"), "1"])
    truth = {l.split()[0]: [int(x) for x in l.split()[1:]] for l in r.stdout.splitlines()}
    files = sorted(os.listdir(d))
    profs = [f for f in files if re.fullmatch(r"sites\.\d+\.1\.prof", f)]
    bad = [] if r.returncode == 0 else [f"exit {r.returncode}: {r.stderr[-300:]}"]
    bad += [] if len(profs) == 1 and {"report.txt", "alloc.svg", "inuse.svg"} <= set(files) else [f"files {files}"]
    if profs:
        f = folded(tool("fold", "-w", "alloc_space", os.path.join(d, profs[0])).stdout)
        for site, tail in SITES.items():
            if site in truth and site != "child_site" and ending(f, tail) != truth[site][1]:
                bad.append(f"{tail}: {ending(f, tail)} bytes, the program says {truth[site][1]}")
    for want in (f"1 profile in {d}/", "allocated ", "the top 5 by flat", "plain_site", "report.txt", "alloc.svg"):
        if want not in r.stderr:
            bad.append(f"the summary lacks {want!r}")
    result(not bad, name, "output, status, files and exact weights as a direct run" if not bad else "; ".join(bad))


@check("run-status-signals-children")
def _(name):
    bad = []
    r = run_tool(["-o", tempfile.mkdtemp(dir=WORK), "bash", "-c", "echo out; echo err >&2; exit 3"])
    if r.returncode != 3 or r.stdout != "out\n" or not r.stderr.startswith("err\n"):
        bad.append(f"exit 3: got {r.returncode}, stdout {r.stdout!r}")
    r = run_tool(["-o", tempfile.mkdtemp(dir=WORK), "bash", "-c", "kill -TERM $$"])
    if r.returncode != -signal.SIGTERM or "killed by signal 15" not in r.stderr:
        bad.append(f"killed by SIGTERM: tool ended {r.returncode}")
    r = run_tool(["-o", tempfile.mkdtemp(dir=WORK), "cat"], stdin="in\n")
    if r.returncode != 0 or r.stdout != "in\n":
        bad.append(f"stdin through cat: {r.returncode} {r.stdout!r}")
    r = run_tool(["/nonexistent/prog"])
    if r.returncode != 127 or len(r.stderr.strip().splitlines()) != 1 or "No such file" not in r.stderr:
        bad.append(f"no such program: {r.returncode} {r.stderr!r}")
    # a script that starts children: only it is profiled, unless --children;
    # a program it execs in its place (same pid) is
    script = "ls / >/dev/null; cat /dev/null; sort </dev/null; true"
    only, every = tempfile.mkdtemp(dir=WORK), tempfile.mkdtemp(dir=WORK)
    run_tool(["-o", only, "bash", "-c", script])
    run_tool(["-o", every, "--children", "bash", "-c", script])
    p_only = [f for f in os.listdir(only) if f.endswith(".prof")]
    p_every = [f for f in os.listdir(every) if f.endswith(".prof")]
    if len(p_only) != 1 or not p_only[0].startswith("bash."):
        bad.append(f"without --children: {p_only}")
    if len(p_every) < 3:
        bad.append(f"with --children: {p_every}")
    fk, fk_all = tempfile.mkdtemp(dir=WORK), tempfile.mkdtemp(dir=WORK)
    run_tool(["-o", fk, os.path.join(BINDIR, "sites"), "1", "fork"])
    run_tool(["-o", fk_all, "--children", os.path.join(BINDIR, "sites"), "1", "fork"])
    n_fk = len([f for f in os.listdir(fk) if f.endswith(".prof")])
    n_fk_all = len([f for f in os.listdir(fk_all) if f.endswith(".prof")])
    if (n_fk, n_fk_all) != (1, 2):
        bad.append(f"a fork child: {n_fk} profiles without --children, {n_fk_all} with (want 1, 2)")
    ex = tempfile.mkdtemp(dir=WORK)
    r = run_tool(["-o", ex, "bash", "-c", f"ls / >/dev/null; exec {os.path.join(BINDIR, 'sites')} 1"])
    p_ex = [f for f in os.listdir(ex) if f.endswith(".prof")]
    if len(p_ex) != 1 or not p_ex[0].startswith("sites."):
        bad.append(f"a script exec'ing the program: {p_ex}")
    result(not bad, name, "exit status, death by signal, stdin/stdout/stderr, a missing program; only the "
           "program profiled (its exec'd successor too), every process with --children" if not bad else "; ".join(bad))


@check("html-in-browser")
def _(name):
    # `run` writes report.html: in chromium, the chart over the profile's
    # memory points with the peak, each flame graph with fold's total, the
    # switch, top's and report's text, no errors and no network
    d = tempfile.mkdtemp(prefix="html.", dir=WORK)
    r = run_tool(["-o", d, "--rate", "1", os.path.join(BINDIR, "sites"), "1"])
    profs = [os.path.join(d, f) for f in os.listdir(d) if f.endswith(".prof")]
    page = os.path.join(d, "report.html")
    if r.returncode != 0 or len(profs) != 1 or not os.path.exists(page):
        result(False, name, f"run: exit {r.returncode}, files {os.listdir(d)}")
        return
    def total(w):
        return sum(folded(tool("fold", "-w", w, profs[0]).stdout).values())
    want = {"points": sum(1 for l in open(profs[0]) if l.startswith("memory ")), "peak": True,
            "flames": {"alloc": total("alloc_space"), "inuse": total("inuse_space"), "peak": total("peak_space"),
                       "churn": total("churn_objects")},
            "top": tool("top", profs[0]).stdout.splitlines()[0], "report": tool("report", profs[0]).stdout.splitlines()[0]}
    exp = os.path.join(d, "expect.json")
    with open(exp, "w") as f:
        json.dump(want, f)
    b = subprocess.run(["node", os.path.join(HERE, "html_browser.js"), page, exp], capture_output=True, text=True,
                       timeout=120)
    fails = [l for l in b.stdout.splitlines() if l.startswith("FAIL")]
    last = (b.stdout.strip().splitlines() or ["no output"])[-1]
    result(b.returncode == 0 and not fails, name, last if not fails else "; ".join(fails)[:600] + b.stderr[-300:])


@check("truncated-root")
def _(name):
    # a stack the profiler cut at 64 frames ends with the mark 0x1: fold,
    # top and pprof name it [truncated], a root of its own
    _, files = profile_run("exact", ["1"])
    text = open(files[0]).read()
    line = next(l for l in text.splitlines() if l.startswith("stack ") and l.count(" 0x") >= 2)
    parts = line.split()
    frames = [p for p in parts if p.startswith("0x")]
    cut = " ".join(parts[:len(parts) - len(frames)] + frames[:2] + ["0x1"])
    n = sum(1 for l in text.splitlines() if l.startswith("stack "))
    text = text.replace(f"\nend {n}", f"\n{cut}\nend {n + 1}")
    path = os.path.join(WORK, "cut.prof")
    with open(path, "w") as f:
        f.write(text)
    f = folded(tool("fold", "-w", "alloc_objects", path).stdout)
    roots = [k for k in f if k.startswith("[truncated];")]
    bad = [] if len(roots) == 1 and f[roots[0]] == int(parts[1]) else [f"folded roots {roots}"]
    result(not bad, name, f"the cut stack folds as {roots[0][:60]}..." if not bad else "; ".join(bad))


@check("output-file-whole")
def _(name):
    _, files = profile_run("exact", ["1"])
    out = os.path.join(WORK, "kept.folded")
    with open(out, "w") as f:
        f.write("precious\n")
    r = tool("fold", "-o", out, files[0], os.path.join(WORK, "nope.prof"), ok=False)
    kept = open(out).read() == "precious\n" and not [f for f in os.listdir(WORK) if ".tmp" in f]
    r2 = tool("fold", "-o", "/nonexistent/dir/x.folded", files[0], ok=False)
    ok = r.returncode == 1 and kept and r2.returncode == 1 and "cannot write /nonexistent/dir/x.folded" in r2.stderr
    result(ok, name, "a failed run leaves the old output and no temporary file; an unwritable one is one line: "
           + r2.stderr.strip())


@check("moved-binary")
def _(name):
    d = os.path.join(WORK, "moving")
    os.makedirs(d, exist_ok=True)
    exe = os.path.join(d, "sites")
    shutil.copy(os.path.join(BINDIR, "sites"), exe)
    truth, files = profile_run("moved", ["1"], exe=exe)
    away = os.path.join(WORK, "elsewhere")
    os.makedirs(away, exist_ok=True)
    shutil.move(exe, os.path.join(away, "sites"))
    r = tool("fold", *files)
    f = folded(r.stdout)
    warn = [l for l in r.stderr.splitlines() if "sites" in l]
    raw = [k for k in f if re.search(r";sites\+0x[0-9a-f]+$", k)]
    ok = len(warn) == 1 and "warning" in warn[0] and files[0].split("/")[-1] in warn[0] and len(raw) >= 3
    s = folded(tool("fold", "--search", away, *files).stdout)
    ok &= ending(s, SITES["plain_site"]) == truth["plain_site"][1]
    # the same path, another build: its build-id differs
    subprocess.run(["cp", os.path.join(BINDIR, "sites-static"), exe], check=True)
    r = tool("fold", *files)
    bid = [l for l in r.stderr.splitlines() if "build-id" in l]
    ok &= len(bid) == 1 and not any(k.endswith(";plain_site") for k in folded(r.stdout))
    result(ok, name, f"moved: {warn}; {len(raw)} stacks end in sites+0x...; --search finds it; changed: {bid}")


@check("fates-check")
def _(name):
    # format version 2, the computed weights and report on hand-made
    # profiles: its checks count as this file's
    r = subprocess.run([sys.executable, os.path.join(HERE, "fates_check.py"), TOOL], capture_output=True, text=True,
                       timeout=300)
    for line in r.stdout.splitlines():
        m = re.match(r"(PASS|FAIL) ", line)
        if m:
            results[m.group(1)] += 1
            print(line, flush=True)
    if not re.search(r"^\d+ passed, 0 failed$", r.stdout, re.M) and "FAIL" not in r.stdout:
        result(False, name, f"fates_check.py exited {r.returncode}: {r.stderr.strip()[-400:]}")


finish(WORK)
