#!/usr/bin/env bash
# tests/prof/run.sh LIB TOOL — sampled allocation profiling (POOLALLOC_PROFILE)
# of real programs under LD_PRELOAD=LIB, checked with the profile reader, and
# TOOL (poolalloc-prof)'s report of them.
#
# LIB is the path of libpoolalloc.so (`make check-prof` passes it); the test
# programs are built by the Makefile next to it, in $(dirname LIB)/prof/
# (sources: tests/prof/*.c). Each program runs with POOLALLOC_PROFILE set,
# prints what it really allocated, and check.py compares that with the
# profile written at exit (read and symbolized by profile.py):
#   accuracy-exact           rate 1: per site, objects and bytes exact
#   accuracy-per-run         K runs at the default rate, each within 5 sigma
#   accuracy-mean            the mean of the K runs within 5 % per site
#   threads, threads-total   four threads' functions, sampled at 4 KiB
#   dlopen                   a dlopen()ed library's function and its caller
#   allocator-frames-trimmed no frame of libpoolalloc.so in any stack
#   mappings                 mapping lines match the files (PT_LOAD, build-id)
#   reader-rejects-truncated profiles cut in two, or missing a stack line, are refused
#   fates-exact              rate 1: lifetimes, escape classes, temporaries, realloc
#                            chains, pool misses of one site of each kind, exact
#   fates-edges              rate 1: pthread_getattr_np at a thread's start, malloc on a
#                            signal stack, temporaries around big blocks, a 100 KiB frame,
#                            a block realloc grows in place, a stack cut at 64 frames
#   peak-rate-1, peak-rate-default
#                            a 64 MB structure built and freed, 5 MB kept after: each
#                            site's peak_space, and peak_inuse_space (exact at rate 1)
#   memory-series            memory over time on a long run: bounded, in order, spanning it
#   fates-report-rate-1, fates-report-default-rate
#                            `poolalloc-prof report` puts each of those sites under
#                            its finding (pool, preallocate, stack, hand-off, leak,
#                            pool misses), at rate 1 and at the default rate
# The statistics (and how K is chosen) are explained at the top of check.py.
#
# Output: one line per check, "PASS name: details" or "FAIL name: reason",
# then "N passed, N failed". Exit status 1 if any check failed. Profiles go
# to a temporary directory, removed at exit (PROF_KEEP=1 keeps it).
set -u

if [ $# -ne 2 ] || [ ! -f "$1" ] || [ ! -x "$2" ]; then
    echo "usage: $0 /absolute/path/to/libpoolalloc.so /absolute/path/to/poolalloc-prof" >&2
    echo "FAIL setup: library '${1:-}' or tool '${2:-}' not found"
    echo "0 passed, 1 failed"
    exit 1
fi
LIB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TOOL=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$(dirname "$LIB")/prof
PY=/usr/bin/python3
DEFAULT_RATE=524288          # POOLALLOC_SAMPLE_RATE's default: the profiles must say so
PARALLEL=2                   # accuracy runs at once

# A clean environment: no inherited preload or allocator settings.
unset LD_PRELOAD LD_DEBUG LD_BIND_NOW PYTHONPATH PYTHONHOME PYTHONSTARTUP
for v in $(compgen -e | grep '^POOLALLOC_'); do unset "$v"; done
export LC_ALL=C PYTHONDONTWRITEBYTECODE=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/poolalloc-prof.XXXXXX") || { echo "FAIL setup: mktemp"; echo "0 passed, 1 failed"; exit 1; }
if [ -n "${PROF_KEEP:-}" ]; then trap 'echo "profiles kept in $WORK" >&2' EXIT; else trap 'rm -rf "$WORK"' EXIT; fi
trap 'exit 130' INT TERM HUP

passed=0
failed=0
fail() { echo "FAIL $1: ${2:0:400}"; failed=$((failed + 1)); }

# check NAMES cmd... — runs a check.py command and counts the PASS/FAIL lines
# it prints; the checks NAMES it was to report fail if it printed none.
check() {
    local names=$1 out n
    shift
    out=$(timeout -k 5 120 "$PY" -s "$HERE/check.py" "$@" 2>"$WORK/check.err")
    [ -n "$out" ] && echo "$out"
    passed=$((passed + $(grep -c '^PASS ' <<<"$out")))
    failed=$((failed + $(grep -c '^FAIL ' <<<"$out")))
    for n in $names; do
        grep -q "^\(PASS\|FAIL\) $n:" <<<"$out" || fail "$n" "check.py printed no result: $(tail -n 2 "$WORK/check.err" | tr '\n' ' ')"
    done
}

# profile_run NAME [VAR=VALUE...] cmd... — runs cmd preloaded with
# POOLALLOC_PROFILE=$WORK/NAME (stdout in $WORK/NAME.out); prints the
# profile's path, or the reason there is none, and returns 1.
profile_run() {
    local name=$1 rc f
    shift
    timeout -k 5 60 env POOLALLOC_PROFILE="$WORK/$name" LD_PRELOAD="$LIB" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null
    rc=$?
    if [ $rc -ne 0 ]; then echo "exit status $rc: $(tail -n 2 "$WORK/$name.err" | tr '\n' ' ')"; return 1; fi
    f=$(ls "$WORK/$name".*.prof 2>/dev/null)
    if [ "$(wc -w <<<"$f")" -ne 1 ]; then echo "expected one profile $WORK/$name.PID.1.prof, found: ${f:-none}"; return 1; fi
    echo "$f"
}

for p in accuracy threads dlhost plugin.so fates edges peak; do
    if [ ! -x "$BIN/$p" ] && [ ! -f "$BIN/$p" ]; then
        echo "FAIL setup: $BIN/$p not built (make check-prof builds the test programs)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done

START=$SECONDS
PROFILES=()

# ---- accuracy: three sites, 60/30/10 % of 200 MiB ----------------------------
if f=$(profile_run exact POOLALLOC_SAMPLE_RATE=1 "$BIN/accuracy"); then
    PROFILES+=("$f")
    check accuracy-exact exact "$BIN/accuracy" "$WORK/exact.out" "$f"
    K=$("$PY" -s "$HERE/check.py" runs-needed "$WORK/exact.out" "$DEFAULT_RATE")
else
    fail accuracy-exact "$f"
fi
case ${K:-} in
    [1-9]*) ;;
    *) fail accuracy-runs "no K from the exact run's counts; taking 250"; K=250 ;;
esac
mkdir -p "$WORK/acc"
# K runs, $PARALLEL at a time, each process sampling with its own seed
seq "$K" | xargs -P "$PARALLEL" -I{} timeout -k 5 60 sh -c \
    'POOLALLOC_PROFILE="$1/run.$2" LD_PRELOAD="$3" "$4" >"$1/run.$2.out" 2>>"$1/errors" </dev/null || echo "run $2: exit status $?" >>"$1/errors"' \
    sh "$WORK/acc" {} "$LIB" "$BIN/accuracy"
check "accuracy-per-run accuracy-mean" accuracy "$BIN/accuracy" "$DEFAULT_RATE" "$K" "$WORK/acc"
[ -s "$WORK/acc/errors" ] && fail accuracy-runs "$(head -n 3 "$WORK/acc/errors" | tr '\n' ' ')"
f=$(ls "$WORK/acc"/run.1.*.prof 2>/dev/null) && PROFILES+=("$f")

# ---- threads: four threads, each its own function, rate 4 KiB -----------------
if f=$(profile_run threads POOLALLOC_SAMPLE_RATE=4096 "$BIN/threads"); then
    PROFILES+=("$f")
    check "threads threads-total" threads "$BIN/threads" "$WORK/threads.out" "$f"
else
    fail threads "$f"; fail threads-total "no profile"
fi

# ---- dlopen: a library loaded at run time, still loaded at exit ---------------
if f=$(profile_run dlopen POOLALLOC_SAMPLE_RATE=4096 "$BIN/dlhost" "$BIN/plugin.so"); then
    PROFILES+=("$f")
    check dlopen dlopen "$BIN/dlhost" "$BIN/plugin.so" "$WORK/dlopen.out" "$f"
else
    fail dlopen "$f"
fi

# ---- peak: what held the heap at its highest (tests/prof/peak.c) ---------------
for rate in 1 "$DEFAULT_RATE"; do
    if f=$(profile_run "peak-$rate" POOLALLOC_SAMPLE_RATE=$rate "$BIN/peak"); then
        PROFILES+=("$f")
        check "peak-rate-$([ "$rate" = 1 ] && echo 1 || echo default)" peak "$BIN/peak" "$WORK/peak-$rate.out" "$f" "$rate"
    else
        fail "peak-rate-$rate" "$f"
    fi
done

if f=$(profile_run memory-long POOLALLOC_MEMORY_INTERVAL=0 "$BIN/peak" long); then
    check memory-series memory "$f"
else
    fail memory-series "$f"
fi

# ---- fates: one site of each kind (tests/prof/fates.c, docs/lifetimes.md) -------
if f=$(profile_run fates-exact POOLALLOC_SAMPLE_RATE=1 "$BIN/fates" 1); then
    PROFILES+=("$f")
    check fates-exact fates-exact "$BIN/fates" "$WORK/fates-exact.out" "$f"
    check fates-report-rate-1 fates-report "$TOOL" fates-report-rate-1 "$f"
else
    fail fates-exact "$f"; fail fates-report-rate-1 "no profile"
fi
if f=$(profile_run fates-edges POOLALLOC_SAMPLE_RATE=1 "$BIN/edges"); then
    PROFILES+=("$f")
    check fates-edges fates-edges "$BIN/edges" "$WORK/fates-edges.out" "$f"
else
    fail fates-edges "$f"
fi
# the same sites, bigger, at the default rate: the report still classifies them
if f=$(profile_run fates-default "$BIN/fates" 40); then
    PROFILES+=("$f")
    check fates-report-default-rate fates-report "$TOOL" fates-report-default-rate "$f"
else
    fail fates-report-default-rate "$f"
fi

# ---- every stack of every profile above ----------------------------------------
if [ ${#PROFILES[@]} -gt 0 ]; then
    check "allocator-frames-trimmed mappings" trimmed "$LIB" "${PROFILES[@]}"
    check reader-rejects-truncated truncated "${PROFILES[0]}" "$WORK"
else
    fail allocator-frames-trimmed "no profile was written"
    fail mappings "no profile was written"
    fail reader-rejects-truncated "no profile to cut"
fi

[ -n "${PROF_TIMES:-}" ] && echo "time total $((SECONDS - START)) s" >&2
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
