#!/usr/bin/env python3
"""bench/run.py — poolalloc against glibc, mimalloc, jemalloc and tcmalloc.

Every workload runs under every allocator in turn (glibc without a preload,
the others through LD_PRELOAD), and the whole rotation is repeated; the
starting allocator shifts each round so none always runs first. Wall time
comes from a monotonic clock around spawn..wait, peak RSS from GNU time's %M
(the largest ru_maxrss of the process and its waited-for children). Medians
are reported. Every run of a workload must print the same
checksum; a mismatch or a failed run marks the row and makes the exit status 1.

The pools section (selected as the workload "pools") runs build/bench/pools:
pool get+put (libpoolalloc.so's pa_pool_* through dlopen, glibc's malloc) and
malloc+free of the same size under every allocator, per scenario; the program
times its own loops and prints ns_per_pair, which the runner takes medians of.

`make bench` is the usual way in; see bench/README.md for the options.
"""
import argparse
import datetime
import hashlib
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WL = os.path.join(HERE, "workloads")

# name, single-threaded?, what it models. The command is built by command().
WORKLOADS = [
    ("powerlaw",    True,  "mixed sizes, power-law lifetimes"),
    ("realloc",     True,  "vectors and strings grown by realloc"),
    ("containers",  True,  "C++ unordered_map / map / string churn"),
    ("large",       True,  "64 KiB - 64 MiB blocks"),
    ("larson",      False, "server threads; successor frees predecessor's objects"),
    ("prodcons",    False, "producer/consumer, every free cross-thread"),
    ("falseshare",  False, "small objects handed between threads and written hard"),
    ("threadchurn", False, "thousands of short-lived threads"),
    ("tiny",        True,  "tight malloc/free of tiny young objects (cfrac, glibc-simple)"),
    ("bigzero",     True,  "5-25 MiB zero-filled blocks replaced in a loop (malloc-large)"),
    ("mixed",       False, "8 threads on 2 cores, mixed sizes, a quarter freed by another thread"),
    ("python3",     True,  "real program: python3 dict/json/str script"),
    ("g++",         True,  "real program: g++ compiling containers.cc"),
]

# The object-pool benchmark: `pools MODE SCENARIO [scale]` (workloads/pools.c);
# selected like a workload, by this name. Scenario, what it measures.
POOLS = "pools"
POOL_SCENARIOS = [
    ("1t", "one thread: get, touch, put (the pool's private-slot path)"),
    ("2t", "two threads, each the 1t loop, on one pool / one malloc"),
    ("pc", "producer gets, consumer puts, through a 256-slot SPSC ring"),
]
POOL_GET = "pool"          # variant: get+put; malloc+free variants are "malloc/<allocator>"
POOL_EMPTY = "empty"       # variant: the same loop calling do-nothing functions (not in pc)

# name, shared object to preload (None: the system's malloc), Debian package.
PEERS = [
    ("glibc",    None,                           None),
    ("mimalloc", "libmimalloc.so.2",             "libmimalloc-dev"),
    ("jemalloc", "libjemalloc.so.2",             "libjemalloc-dev"),
    ("tcmalloc", "libtcmalloc_minimal.so.4",     "libtcmalloc-minimal4"),
]
OURS = "poolalloc"
RUN_TIMEOUT_S = 300
TIME = "/usr/bin/time"     # GNU time (Debian package "time")


def die(msg):
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(2)


def command(name, build, scale, quick):
    """The argv that runs workload `name`; its stdout carries the checksum."""
    if name == "python3":
        # The distribution's interpreter, not a PATH wrapper (pyenv's is a shell
        # script that would itself run under the allocator being measured).
        py = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
        return [py, os.path.join(WL, "script.py"), str(scale)]
    if name == "g++":
        # Assembly to stdout: the runner hashes it, so every allocator must make
        # the compiler produce the same code. Quick runs do not optimise.
        src = os.path.join(WL, "containers.cc")
        return ["g++", "-std=c++17", "-O0" if quick else "-O2", "-S", "-o", "-", src]
    return [os.path.join(build, "bench", name), str(scale)]


def pools_command(build, variant, scenario, scale):
    """The argv of one pools run: variant is POOL_GET, POOL_EMPTY or "malloc/<allocator>"."""
    mode = variant if variant in (POOL_GET, POOL_EMPTY) else "malloc"
    return [os.path.join(build, "bench", POOLS), mode, scenario, str(scale)]


def parse_pools(stdout):
    """{name: value} from the pools program's "name value" lines; None if any
    of ns_per_pair, pairs_per_sec and checksum is missing or malformed."""
    vals = {}
    for line in stdout.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 2:
            vals[parts[0]] = parts[1]
    try:
        return {"ns": float(vals["ns_per_pair"]), "pps": float(vals["pairs_per_sec"]),
                "checksum": vals["checksum"]}
    except (KeyError, ValueError):
        return None


def pool_variants_of(variants, scenario):
    """The pools variants that run in scenario (empty mode has no pc)."""
    return [v for v in variants if not (v == POOL_EMPTY and scenario == "pc")]


def pool_api_missing(build, lib, env):
    """The reason pool mode cannot run with this build of the library (it has
    no pa_pool_* yet), or None. Any other failure is left to the real runs."""
    env = dict(env, POOLBENCH_LIB=lib)
    try:
        r = subprocess.run(pools_command(build, POOL_GET, "1t", 0.0001), env=env,
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode == 2 and "symbol missing" in r.stderr:
        return f"this libpoolalloc.so has no {r.stderr.strip().rsplit(': ', 1)[-1]}"
    return None


def checksum_of(stdout):
    """The workload's `checksum X` line, or a hash of its whole output."""
    text = stdout.decode(errors="replace")
    lines = text.strip().splitlines()
    if len(lines) == 1 and lines[0].startswith("checksum "):
        return lines[0].split()[1]
    return "sha1:" + hashlib.sha1(stdout).hexdigest()[:16]


def find_library(soname):
    """The path ldconfig knows for soname (x86-64 or the native ABI), or None."""
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    except OSError:
        out = ""
    for line in out.splitlines():
        parts = line.strip().split(" => ")
        if len(parts) == 2 and parts[0].split()[0] == soname:
            return parts[1]
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"):
        p = os.path.join(d, soname)
        if os.path.exists(p):
            return p
    return None


def package_version(path):
    """'package version' of the Debian package owning path, for the report."""
    try:
        pkg = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True,
                             text=True).stdout.split(":")[0]
        if not pkg:
            pkg = subprocess.run(["dpkg", "-S", path], capture_output=True,
                                 text=True).stdout.split(":")[0]
        ver = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                             capture_output=True, text=True).stdout
        return f"{pkg} {ver}" if pkg and ver else os.path.basename(path)
    except OSError:
        return os.path.basename(path)


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def run_once(argv, env, workdir):
    """Run argv; returns (seconds, peak KiB, stdout bytes, error or None).

    The process is started by GNU time, which reports its peak RSS: a child
    spawned straight from this Python process would inherit the runner's own
    RSS high-water mark (the kernel keeps the largest over exec), hiding the
    peak of any workload smaller than the runner. Wall time is taken here."""
    out_path = os.path.join(workdir, "stdout")
    err_path = os.path.join(workdir, "stderr")
    rss_path = os.path.join(workdir, "rss")
    timed = [TIME, "-q", "-f", "%M", "-o", rss_path] + argv
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.monotonic()
        try:
            pid = os.posix_spawn(TIME, timed, env, file_actions=[
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2)], setsid=True)
        except OSError as e:
            return 0.0, 0, b"", f"cannot run {TIME}: {e.strerror}"
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(RUN_TIMEOUT_S)
        try:
            _, status = os.waitpid(pid, 0)
        except Timeout:
            os.killpg(pid, signal.SIGKILL)      # time and the workload: one group
            os.waitpid(pid, 0)
            return 0.0, 0, b"", f"timed out after {RUN_TIMEOUT_S} s"
        finally:
            signal.alarm(0)
        secs = time.monotonic() - t0
    with open(out_path, "rb") as f:
        stdout = f.read()
    try:
        with open(rss_path) as f:
            kib = int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        kib = 0
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not kib:
        with open(err_path, "rb") as f:
            tail = f.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        how = f"signal {code - 128}" if code > 128 else f"exit {code}"   # time passes it on
        return secs, kib, stdout, f"{how}: {tail[0][:120]}"
    return secs, kib, stdout, None


def clean_env():
    """The caller's environment minus anything that would change an allocator."""
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith(("POOLALLOC_", "MALLOC_", "MIMALLOC_",
                                                      "MI_", "JE_MALLOC_", "TCMALLOC_",
                                                      "POOLBENCH_"))}
    env["LC_ALL"] = "C"
    return env


def profiling_supported(lib, tmp):
    """True once the library knows POOLALLOC_PROFILE. poolalloc names unknown
    POOLALLOC_* settings on stderr; a probe name proves it would have."""
    env = clean_env()
    env.update(LD_PRELOAD=lib, POOLALLOC_PROFILE=os.path.join(tmp, "probe"), POOLALLOC_BENCH_PROBE="1")
    r = subprocess.run(["true"], env=env, capture_output=True, text=True)
    return (r.returncode == 0 and "POOLALLOC_BENCH_PROBE" in r.stderr
            and "POOLALLOC_PROFILE" not in r.stderr)


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f", {kib / 1048576:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    libc = " ".join(platform.libc_ver())
    return (f"{len(os.sched_getaffinity(0))} cores (nproc), {model}{mem}, "
            f"Linux {platform.release()}, {libc}")


def median(xs):
    return statistics.median(xs) if xs else None


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt(x, digits=2):
    return "n/a" if x is None else f"{x:.{digits}f}"


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                       for i, (c, w) in enumerate(zip(r, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":"
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def main():
    ap = argparse.ArgumentParser(description="Benchmark poolalloc against peer allocators.")
    ap.add_argument("--lib", default=os.path.join(ROOT, "build", "libpoolalloc.so"),
                    help="libpoolalloc.so to measure (default: build/libpoolalloc.so)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build directory holding bench/<workload> binaries")
    ap.add_argument("--workloads", default=os.environ.get("BENCH_WORKLOADS", ""),
                    help="comma/space separated subset of workloads, 'pools' for the "
                         "object-pool benchmark (default: all)")
    ap.add_argument("--allocators", default=os.environ.get("BENCH_ALLOCATORS", ""),
                    help="comma/space separated subset of glibc,mimalloc,jemalloc,tcmalloc,poolalloc "
                         "and the --peer names")
    ap.add_argument("--peer", action="append", default=os.environ.get("BENCH_PEERS", "").split(),
                    metavar="NAME=PATH",
                    help="another allocator to compare, a shared object to LD_PRELOAD (repeatable; "
                         "env BENCH_PEERS, space separated), e.g. mimalloc-v3=/tmp/peers/libmimalloc.so")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS") or 0),
                    help="rounds of the rotation (default 5, quick 3; at least 3)")
    ap.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1",
                    help="scaled-down workloads, 3 rounds: the whole suite in a few minutes")
    ap.add_argument("--no-heaptrack", action="store_true", help="skip the heaptrack column")
    ap.add_argument("--check", action="store_true",
                    help="correctness only (make check): every workload once per allocator at "
                         "scale 0.02; exits 1 unless all checksums agree; no timing, no results file")
    ap.add_argument("--results", default=os.path.join(HERE, "results"),
                    help="directory for <date>.md (default bench/results)")
    args = ap.parse_args()

    names = [w[0] for w in WORKLOADS] + [POOLS]
    chosen = [x for x in args.workloads.replace(",", " ").split() if x]
    for x in chosen:
        if x not in names:
            die(f"unknown workload '{x}' (have: {', '.join(names)})")
    workloads = [w for w in WORKLOADS if not chosen or w[0] in chosen]
    scenarios = [sc for sc, _ in POOL_SCENARIOS] if not chosen or POOLS in chosen else []

    extra = {}     # --peer name -> path
    for spec in args.peer:
        name, eq, path = spec.partition("=")
        if not eq or not name or not path:
            die(f"--peer wants NAME=PATH, got '{spec}'")
        if name in [p[0] for p in PEERS] + [OURS, "poolalloc+prof", "heaptrack"] or name in extra:
            die(f"--peer name '{name}' is taken")
        if not os.path.isfile(path):
            die(f"--peer {name}: no file {path}")
        extra[name] = os.path.abspath(path)
    all_allocs = [p[0] for p in PEERS] + list(extra) + [OURS]
    picked = [x for x in args.allocators.replace(",", " ").split() if x]
    for x in picked:
        if x not in all_allocs:
            die(f"unknown allocator '{x}' (have: {', '.join(all_allocs)})")
    if not picked:
        picked = all_allocs
    if OURS not in picked:
        picked.append(OURS)

    runs = 1 if args.check else args.runs or (3 if args.quick else 5)
    if runs < 3 and not args.check:
        die(f"--runs must be at least 3 to take a median, got {runs}")
    args.quick = args.quick or args.check
    scale = 0.02 if args.check else 0.2 if args.quick else 1.0

    if not os.access(TIME, os.X_OK):
        die(f"{TIME} not found: install the Debian package 'time' (make deps does)")
    if not os.path.isfile(args.lib):
        die(f"{args.lib} not found (run 'make' first, or use 'make bench')")
    # Measure a private copy: rebuilding build/ during a run must not change it.
    tmp = tempfile.mkdtemp(prefix="poolalloc-bench.")
    lib = os.path.join(tmp, "libpoolalloc.so")
    shutil.copy2(args.lib, lib)

    preload = {OURS: lib}
    versions = {"glibc": f"glibc {platform.libc_ver()[1]} (no preload)"}
    for name, soname, pkg in PEERS:
        if name not in picked or soname is None:
            continue
        path = find_library(soname)
        if not path:
            die(f"{soname} not found: install {pkg} (make bench does) or leave {name} out")
        preload[name] = path
        versions[name] = package_version(path)
    for name, path in extra.items():
        if name in picked:
            preload[name] = path
            versions[name] = f"{name} ({path})"
    versions[OURS] = f"poolalloc {git_describe()} ({args.lib})"
    allocs = [a for a in all_allocs if a in picked]

    for name, _, _ in workloads:
        argv = command(name, args.build, scale, args.quick)
        if name not in ("python3", "g++") and not os.access(argv[0], os.X_OK):
            die(f"{argv[0]} not built (run 'make bench')")
    if scenarios and not os.access(pools_command(args.build, POOL_GET, "1t", 1)[0], os.X_OK):
        die(f"{pools_command(args.build, POOL_GET, '1t', 1)[0]} not built (run 'make bench')")

    # Extra columns: poolalloc with profiling on, heaptrack over glibc.
    prof = profiling_supported(lib, tmp)
    heaptrack = None if args.no_heaptrack or args.check else shutil.which("heaptrack")
    variants = list(allocs)
    if prof:
        variants.append("poolalloc+prof")
    base_env = clean_env()
    # The pools variants: get+put, unless this library has no pools yet.
    no_pools = pool_api_missing(args.build, lib, base_env) if scenarios else None
    if no_pools:
        print(f"bench: pools: pool mode skipped, {no_pools}", file=sys.stderr)
    pool_variants = ([] if no_pools else [POOL_GET]) + [POOL_EMPTY] + \
                    [f"malloc/{a}" for a in allocs]

    def env_for(variant):
        env = dict(base_env)
        if variant == "poolalloc+prof":
            env.update(LD_PRELOAD=lib, POOLALLOC_PROFILE=os.path.join(tmp, "profile"))
        elif variant == POOL_GET:
            env["POOLBENCH_LIB"] = lib
        elif variant.startswith("malloc/"):
            variant = variant[len("malloc/"):]
        if variant in preload:
            env["LD_PRELOAD"] = preload[variant]
        return env

    times = {}     # (workload, variant) -> [seconds]
    rss = {}       # (workload, variant) -> [KiB]
    sums = {}      # workload -> {checksum: [variants]}
    errors = {}    # (workload, variant) -> message; pools: ("pools 1t", "pool")
    pool_ns = {}   # (scenario, pools variant) -> [ns_per_pair]
    pool_pps = {}  # (scenario, pools variant) -> [pairs_per_sec]
    total = (len(workloads) + len(scenarios)) * runs
    started = time.monotonic()
    pools_what = f", pools {len(scenarios)} scenarios x {len(pool_variants)} modes"
    print(f"bench: {len(workloads)} workloads x {len(variants)} allocators"
          f"{pools_what if scenarios else ''} x {runs} rounds{' (quick)' if args.quick else ''}; "
          f"lib {args.lib}", file=sys.stderr)
    step = 0
    for rnd in range(runs):
        for wl, single, _ in workloads:
            step += 1
            argv = command(wl, args.build, scale, args.quick)
            order = variants[rnd % len(variants):] + variants[:rnd % len(variants)]
            if heaptrack and single and rnd < 3:
                order.append("heaptrack")
            for v in order:
                if (wl, v) in errors:
                    continue
                if v == "heaptrack":
                    hargv = [heaptrack, "-o", os.path.join(tmp, "heaptrack.out")] + argv
                    secs, kib, out, err = run_once(hargv, base_env, tmp)
                    for f in os.listdir(tmp):
                        if f.startswith("heaptrack.out"):
                            os.unlink(os.path.join(tmp, f))
                    out = b""  # heaptrack adds its own lines to stdout
                else:
                    secs, kib, out, err = run_once(argv, env_for(v), tmp)
                if err:
                    errors[(wl, v)] = err
                    print(f"bench: {wl} under {v}: {err}", file=sys.stderr)
                    continue
                times.setdefault((wl, v), []).append(secs)
                rss.setdefault((wl, v), []).append(kib)
                if v != "heaptrack":
                    sums.setdefault(wl, {}).setdefault(checksum_of(out), set()).add(v)
            el = time.monotonic() - started
            if not args.check:
                print(f"bench: [{step}/{total}] round {rnd + 1} {wl:<12} "
                      f"{el:6.0f} s elapsed", file=sys.stderr)
        for sc in scenarios:
            step += 1
            key = f"{POOLS} {sc}"
            these = pool_variants_of(pool_variants, sc)
            first = rnd % len(these)
            order = these[first:] + these[:first]
            for v in order:
                if (key, v) in errors:
                    continue
                _, _, out, err = run_once(pools_command(args.build, v, sc, scale), env_for(v), tmp)
                res = None if err else parse_pools(out)
                if res is None:
                    errors[(key, v)] = err or "no ns_per_pair/pairs_per_sec/checksum in its output"
                    print(f"bench: {key} under {v}: {errors[(key, v)]}", file=sys.stderr)
                    continue
                pool_ns.setdefault((sc, v), []).append(res["ns"])
                pool_pps.setdefault((sc, v), []).append(res["pps"])
                sums.setdefault(key, {}).setdefault(res["checksum"], set()).add(v)
            el = time.monotonic() - started
            if not args.check:
                print(f"bench: [{step}/{total}] round {rnd + 1} {key:<12} "
                      f"{el:6.0f} s elapsed", file=sys.stderr)
    profiles = sum(1 for f in os.listdir(tmp) if f.startswith("profile.") and f.endswith(".prof"))
    shutil.rmtree(tmp, ignore_errors=True)
    pools = {"scenarios": scenarios, "variants": pool_variants, "missing": no_pools,
             "ns": pool_ns, "pps": pool_pps}
    if args.check:
        return report_check(workloads, variants, sums, errors, pools)

    report, ok = render(workloads, allocs, prof, heaptrack, times, rss, sums, errors,
                        runs, args.quick, versions, pools, profiles)
    print(report)
    os.makedirs(args.results, exist_ok=True)
    full = not args.quick and not chosen and allocs == all_allocs
    stem = datetime.date.today().isoformat() + ("" if full else
                                               "-quick" if args.quick else "-partial")
    path = os.path.join(args.results, stem + ".md")
    with open(path, "w") as f:
        f.write(report + "\n")
    print(f"\nbench: written to {os.path.relpath(path)}", file=sys.stderr)
    return 0 if ok else 1


def report_check(workloads, variants, sums, errors, pools):
    """--check: one line per workload and pools scenario, 'ok' when every
    allocator (every mode) ran and agreed."""
    bad = 0
    items = [(wl, variants) for wl, _, _ in workloads] + \
            [(f"{POOLS} {sc}", pool_variants_of(pools["variants"], sc))
             for sc in pools["scenarios"]]
    for wl, vs_all in items:
        failed = [f"{v}: {errors[(wl, v)]}" for v in vs_all if (wl, v) in errors]
        by_sum = sums.get(wl, {})
        if failed or len(by_sum) != 1:
            bad += 1
            why = "; ".join(failed + [f"checksum {c} from {', '.join(sorted(vs))}"
                                      for c, vs in sorted(by_sum.items())])
            print(f"FAIL {wl}: {why}")
        else:
            print(f"ok   {wl}: checksum {next(iter(by_sum))} under {', '.join(vs_all)}")
    if pools["scenarios"] and pools["missing"]:
        print(f"note {POOLS}: pool get+put not checked ({pools['missing']})")
    print(f"{len(items) - bad} passed, {bad} failed")
    return 1 if bad else 0


def git_describe():
    try:
        r = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                           capture_output=True, text=True)
        return r.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def render(workloads, allocs, prof, heaptrack, times, rss, sums, errors, runs, quick, versions,
           pools, profiles=0):
    ok = True
    peers = [a for a in allocs if a != OURS]
    t = {k: median(v) for k, v in times.items()}
    m = {k: median(v) / 1024 if v else None for k, v in rss.items()}
    out = [f"# poolalloc bench, {datetime.date.today().isoformat()}", "",
           f"- machine: {machine()}",
           f"- {'quick (workloads at scale 0.2), ' if quick else ''}{runs} interleaved rounds; "
           f"medians of wall time and of peak RSS (ru_maxrss)",
           "- allocators: " + "; ".join(versions[a] for a in allocs),
           "- reproduce: `make bench` (see bench/README.md)", ""]

    def row_ok(row, key):
        """False if the runs of `key` failed or disagreed (the row is marked)."""
        if len(sums.get(key, {})) > 1:
            row[0] += " (CHECKSUMS DIFFER)"
            return False
        return not any(k[0] == key for k in errors)

    def section(title, val, digits, unit):
        nonlocal ok
        header = ["workload"] + [f"{a} {unit}" for a in allocs] + [f"÷{p}" for p in peers]
        rows, ratios = [], {p: [] for p in peers}
        for wl, _, _ in workloads:
            row = [wl]
            for a in allocs:
                row.append("fail" if (wl, a) in errors else fmt(val.get((wl, a)), digits))
            for p in peers:
                ours, theirs = val.get((wl, OURS)), val.get((wl, p))
                r = ours / theirs if ours and theirs else None
                if r:
                    ratios[p].append(r)
                row.append(fmt(r))
            ok &= row_ok(row, wl)
            rows.append(row)
        rows.append(["geometric mean"] + [""] * len(allocs) + [fmt(geomean(ratios[p])) for p in peers])
        out.extend([f"## {title}", "", table(header, rows), ""])
        return {p: geomean(ratios[p]) for p in peers}, ratios

    tg, mg, prof_targets = {}, {}, []
    if workloads:
        tg, tr = section("Wall time (s, median)", t, 2, "s")
        mg, _ = section("Peak RSS (MiB, median)", m, 1, "MiB")

        # Profiling overhead and heaptrack.
        header = ["workload", "poolalloc s", "+profiling s", "÷poolalloc", "heaptrack s", "÷glibc"]
        rows, prof_r, single_p, single_h = [], [], [], []
        for wl, single, _ in workloads:
            p0, p1 = t.get((wl, OURS)), t.get((wl, "poolalloc+prof"))
            h, g = t.get((wl, "heaptrack")), t.get((wl, "glibc"))
            if prof and p0 and p1:
                prof_r.append(p1 / p0)
                if h and g:
                    single_p.append(p1 / p0)
                    single_h.append(h / g)
            rows.append([wl, fmt(p0), fmt(p1) if prof else "n/a",
                         fmt(p1 / p0) if prof and p0 and p1 else "n/a",
                         fmt(h) if h else ("n/a" if single and heaptrack else "-"),
                         fmt(h / g) if h and g else ("n/a" if single and heaptrack else "-")])
        prof_gm = geomean(prof_r) if prof_r else None
        rows.append(["geometric mean", "", "", fmt(prof_gm) if prof_gm else "n/a", "",
                     fmt(geomean(single_h)) if single_h else "-"])
        out.extend(["## Profiling cost", "",
                    "poolalloc with `POOLALLOC_PROFILE` set (default rate, exit dump) against "
                    "poolalloc alone" + (f" ({profiles} profiles written)" if prof else
                                         " (n/a: this build has no profiling yet)") +
                    "; heaptrack on the single-threaded workloads (3 rounds) against glibc, "
                    "since heaptrack traces the system malloc.", "",
                    table(header, rows), ""])
        if prof_gm:
            prof_targets.append(("profiling geometric-mean time ÷poolalloc ≤ 1.02", prof_gm, 1.02, True))
            # since the churn/escape accounting (docs/lifetimes.md) it is part of every profile
            prof_targets.append(("profiling with churn/escape accounting ÷poolalloc ≤ 1.05", prof_gm, 1.05, True))
        if single_p:
            # slowdowns as fractions; ours below 0.1% counts as 0.1% (noise)
            ours, theirs = geomean(single_p) - 1, geomean(single_h) - 1
            out.extend([f"On the single-threaded workloads heaptrack slows the program by "
                        f"{theirs * 100:.0f}% and profiling by {ours * 100:.1f}% (geometric means).", ""])
            prof_targets.append(("heaptrack's slowdown ÷ profiling's ≥ 20 (single-threaded"
                                 + (", profiling's below noise counted as 0.1%)" if ours < 0.001 else ")"),
                                 theirs / max(ours, 0.001), 20, False))

    # Object pools: ns per pair per scenario, the pool against each malloc.
    pool_targets = []
    if pools["scenarios"]:
        ns = {k: median(v) for k, v in pools["ns"].items()}
        pps = {k: median(v) for k, v in pools["pps"].items()}
        mallocs = [v for v in pools["variants"] if v.startswith("malloc/")]
        header = (["scenario", "pool get+put ns", "empty loop ns"] +
                  [f"{v.split('/', 1)[1]} malloc+free ns" for v in mallocs] +
                  (["mimalloc ÷ pool"] if "malloc/mimalloc" in mallocs else []))
        cols = [POOL_GET, POOL_EMPTY] + mallocs

        def cell(sc, v):
            key = f"{POOLS} {sc}"
            if (key, v) in errors:
                return "fail"
            if v not in pool_variants_of(cols, sc):
                return "-"
            return "n/a" if v == POOL_GET and pools["missing"] else fmt(ns.get((sc, v)))

        def faster(sc):     # how many times faster get+put is than mimalloc's malloc+free
            a, b = ns.get((sc, "malloc/mimalloc")), ns.get((sc, POOL_GET))
            return a / b if a and b else None

        def scaling(v):     # 2-thread throughput over 1-thread
            a, b = pps.get(("2t", v)), pps.get(("1t", v))
            return a / b if a and b else None

        rows = []
        for sc in pools["scenarios"]:
            key = f"{POOLS} {sc}"
            row = [sc] + [cell(sc, v) for v in cols]
            if "malloc/mimalloc" in mallocs:
                row.append(fmt(faster(sc)) + "×" if faster(sc) else "n/a")
            ok &= row_ok(row, key)
            rows.append(row)
        if "1t" in pools["scenarios"] and "2t" in pools["scenarios"]:
            rows.append(["2t throughput ÷ 1t"] + [fmt(scaling(v)) + "×" if scaling(v) else "n/a"
                                                 for v in cols] +
                        ([""] if "malloc/mimalloc" in mallocs else []))
        note = (f" (n/a: {pools['missing']})" if pools["missing"] else "")
        out.extend([f"## Object pools ({POOLS}, 64-byte objects, ns per pair, median)", "",
                    "pool get+put (`pa_pool_*` from libpoolalloc.so through dlopen, glibc's "
                    f"malloc in the process){note} against malloc+free of the same size under "
                    "each allocator. 1t: one thread; 2t: two threads on one pool (one malloc); "
                    "pc: a producer gets, a consumer puts, through a ring. ns per pair = wall "
                    "time of the loops ÷ pairs of all threads (1 / throughput). Empty loop: "
                    "the same loop with get and put calling functions that do nothing, the "
                    "floor every column includes. Ratios come from the same run.", "",
                    table(header, rows), ""])
        if "1t" in pools["scenarios"]:
            if "malloc/mimalloc" in mallocs:
                pool_targets.append(("pool get+put ≥ 3.00× faster than mimalloc malloc+free "
                                     "(1 thread)", faster("1t"), 3.00))
            if "2t" in pools["scenarios"]:
                pool_targets.append(("pool 2-thread throughput ≥ 1.80× 1-thread",
                                     scaling(POOL_GET), 1.80))

    # Targets from issue 3, profiling's (issue 5), and the pools'.
    targets = []
    if "mimalloc" in peers and workloads:
        worst = max(((r, wl) for wl, _, _ in workloads
                     for r in [t.get((wl, OURS)) / t[(wl, "mimalloc")]
                               if t.get((wl, OURS)) and t.get((wl, "mimalloc")) else None]
                     if r), default=None)
        lines = [("geometric-mean time ÷mimalloc ≤ 1.00", tg.get("mimalloc"), 1.00, True)]
        for p in ("jemalloc", "tcmalloc", "glibc"):
            if p in peers:
                lines.append((f"geometric-mean time ÷{p} < 1.00", tg.get(p), 1.00, False))
        lines.append((f"slowest workload ÷mimalloc ≤ 1.25 ({worst[1] if worst else '-'})",
                      worst[0] if worst else None, 1.25, True))
        lines.append(("geometric-mean peak RSS ÷mimalloc ≤ 1.10", mg.get("mimalloc"), 1.10, True))
        for text, val, limit, inclusive in lines:
            met = val is not None and (val <= limit if inclusive else val < limit)
            targets.append(f"- {'met ' if met else 'MISSED'} {text}: {fmt(val, 3)}")
    if workloads and [p for p in peers if p != "glibc"]:
        # Issue 15's: against every allocator a user would pick instead (the
        # Debian ones and the --peer ones), and workload by workload.
        fast = [p for p in peers if p != "glibc"]
        lines = [(f"geometric-mean time ÷{p} ≤ 1.00", tg.get(p), 1.00) for p in fast]
        def worst_of(val, pick):
            worst = None
            for wl, _, _ in workloads:
                best = [val[(wl, p)] for p in fast if val.get((wl, p))]
                if best and val.get((wl, OURS)):
                    r = (val[(wl, OURS)] / pick(best), wl)
                    worst = r if not worst or r > worst else worst
            return worst
        w = worst_of(t, min)
        lines.append((f"slowest workload ÷ the fastest peer on it ≤ 1.10 ({w[1] if w else '-'})",
                      w[0] if w else None, 1.10))
        if "snmalloc" in peers:
            lines.append(("geometric-mean peak RSS ÷snmalloc ≤ 1.00", mg.get("snmalloc"), 1.00))
        w = worst_of(m, min)
        lines.append((f"largest peak RSS ÷ the smallest peer's ≤ 1.25 ({w[1] if w else '-'})",
                       w[0] if w else None, 1.25))
        for text, val, limit in lines:
            met = val is not None and val <= limit
            targets.append(f"- {'met ' if met else 'MISSED'} {text}: {fmt(val, 3)}")
    for text, val, limit, at_most in prof_targets:
        met = val <= limit if at_most else val >= limit
        targets.append(f"- {'met ' if met else 'MISSED'} {text}: {fmt(val, 3)}")
    for text, val, limit in pool_targets:
        met = val is not None and val >= limit
        targets.append(f"- {'met ' if met else 'MISSED'} {text}: "
                       f"{fmt(val) + '×' if val else 'n/a'}")
    if targets:
        out.extend(["## Targets", ""] + targets + [""])
    if not ok:
        out.extend(["## Problems", ""])
        for (wl, v), msg in sorted(errors.items()):
            out.append(f"- {wl} under {v}: {msg}")
        for wl, by_sum in sorted(sums.items()):
            if len(by_sum) > 1:
                out.append(f"- {wl}: checksums differ: " + "; ".join(
                    f"{c} from {', '.join(sorted(vs))}" for c, vs in sorted(by_sum.items())))
    return "\n".join(out).rstrip() + "\n", ok


if __name__ == "__main__":
    sys.exit(main())
