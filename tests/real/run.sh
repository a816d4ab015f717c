#!/usr/bin/env bash
# tests/real/run.sh LIB — real programs with and without LD_PRELOAD=LIB.
#
# LIB is the path of libpoolalloc.so (`make check-real` passes it). Every check
# runs a real program once with the system malloc and once with poolalloc
# preloaded and compares what it prints (byte for byte) and its exit status,
# or checks a property of the preloaded run (symbol bindings, statistics).
# The helper programs are built from the sources next to this script into a
# temporary directory, removed at exit; nothing is written into the repository.
#
# Output: one line per check, "PASS name" or "FAIL name: reason", then exactly
# one summary line "N passed, N failed". Exit status 1 if any check failed.
# REAL_TIMES=1 also prints each check's duration on stderr.
# Total time is bounded: every command has a timeout, and once the time budget
# (REAL_BUDGET seconds, default 170) is spent the remaining checks fail as skipped.
set -u

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
    echo "usage: $0 /absolute/path/to/libpoolalloc.so" >&2
    echo "FAIL setup: library '${1:-}' not found"
    echo "0 passed, 1 failed"
    exit 1
fi
LIB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
BUDGET=${REAL_BUDGET:-170}
CMD_TIMEOUT=90

# A clean environment for the programs under test: no inherited preload, no
# allocator settings, the C locale, no user Python configuration.
unset LD_PRELOAD LD_DEBUG LD_BIND_NOW LD_DEBUG_OUTPUT POOLALLOC_STATS POOLALLOC_VERBOSE \
      POOLALLOC_PURGE_DELAY POOLALLOC_SEGMENT_CACHE PYTHONMALLOC PYTHONPATH PYTHONHOME \
      PYTHONSTARTUP PYTHONHASHSEED MALLOC_CHECK_ MALLOC_PERTURB_ GLIBC_TUNABLES
export LC_ALL=C

WORK=$(mktemp -d "${TMPDIR:-/tmp}/poolalloc-real.XXXXXX") || { echo "FAIL setup: mktemp"; echo "0 passed, 1 failed"; exit 1; }
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM HUP

passed=0
failed=0
START=$SECONDS

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() {
    local reason=${2//$'\n'/; }
    echo "FAIL $1: ${reason:0:400}"
    failed=$((failed + 1))
}

# Seconds left in the budget; the timeout of the next command.
remaining() { echo $((BUDGET - (SECONDS - START))); }
cmd_timeout() {
    local r
    r=$(remaining)
    [ "$r" -gt "$CMD_TIMEOUT" ] && r=$CMD_TIMEOUT
    [ "$r" -lt 5 ] && r=5
    echo "$r"
}

# run OUT ERR cmd... — runs cmd (with a timeout) with stdout in OUT and stderr
# in ERR; returns its exit status. `run_pre` does the same with LIB preloaded.
run() {
    local out=$1 err=$2
    shift 2
    timeout -k 5 "$(cmd_timeout)" "$@" >"$out" 2>"$err" </dev/null
}
run_pre() {
    local out=$1 err=$2
    shift 2
    timeout -k 5 "$(cmd_timeout)" env LD_PRELOAD="$LIB" "$@" >"$out" 2>"$err" </dev/null
}

# A readable description of an exit status.
status() {
    local rc=$1
    if [ "$rc" -eq 124 ]; then echo "timed out"
    elif [ "$rc" -gt 128 ]; then echo "killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"
    else echo "exit $rc"; fi
}

# The last meaningful lines of an error file, for a failure reason.
tail_of() { grep -v '^\s*$' "$1" 2>/dev/null | tail -n "${2:-2}" | cut -c1-200 | tr '\n' ' '; }

# first_diff A B — where two files first differ, in one line.
first_diff() {
    awk -v b="$2" '
        { if ((getline other < b) <= 0) { printf "line %d: only plain has \"%s\"", NR, substr($0, 1, 80); exit }
          if ($0 != other) { printf "line %d: plain \"%s\", preload \"%s\"", NR, substr($0, 1, 80), substr(other, 1, 80); exit } }
        END { if ((getline other < b) > 0) printf "line %d: only preload has \"%s\"", NR + 1, substr(other, 1, 80) }' "$1"
}

# same NAME P Q — compares the runs with prefixes P and Q (files P.out, P.err,
# P.rc): exit status, stdout and stderr. Prints the reason for a difference.
same() {
    local p=$1 q=$2 rp rq
    rp=$(cat "$p.rc") rq=$(cat "$q.rc")
    if [ "$rq" != "$rp" ]; then
        echo "plain $(status "$rp"), preload $(status "$rq"): $(tail_of "$q.err")"
        return 1
    fi
    if ! cmp -s "$p.out" "$q.out"; then echo "stdout differs, $(first_diff "$p.out" "$q.out")"; return 1; fi
    if ! cmp -s "$p.err" "$q.err"; then echo "stderr differs, $(first_diff "$p.err" "$q.err")"; return 1; fi
    return 0
}

# pair PREFIX cmd... — runs cmd plain (PREFIX.0.*) and preloaded (PREFIX.1.*).
pair() {
    local p=$1
    shift
    run "$p.0.out" "$p.0.err" "$@"; echo $? >"$p.0.rc"
    run_pre "$p.1.out" "$p.1.err" "$@"; echo $? >"$p.1.rc"
}

# compare NAME cmd... — the standard check: same output and status either way.
compare() {
    local name=$1 why
    shift
    pair "$WORK/$name" "$@"
    if why=$(same "$WORK/$name.0" "$WORK/$name.1"); then pass "$name"; else fail "$name" "$why"; fi
}

# build NAME OUTPUT compiler args... — builds a helper; on failure the check
# NAME fails with the compiler's message and build returns 1.
build() {
    local name=$1 out=$2
    shift 2
    if [ -e "$out" ]; then return 0; fi
    if ! timeout -k 5 "$(cmd_timeout)" "$@" -o "$out" >"$WORK/build.log" 2>&1; then
        fail "$name" "cannot build $(basename "$out"): $(grep -m1 -i 'error' "$WORK/build.log" || tail_of "$WORK/build.log" 1)"
        return 1
    fi
}

# stat_of FILE NAME — a value from the statistics poolalloc printed at exit.
stat_of() { awk -v n="$2" '$1 == n && $2 ~ /^[0-9]+$/ { v = $2 } END { print v }' "$1"; }

# stats_consistent FILE — checks the invariants of a statistics block printed
# at exit; prints what is wrong, returns 1 if anything is.
stats_consistent() {
    local f=$1 bad="" n
    if ! grep -q '^poolalloc statistics' "$f"; then echo "no statistics printed at exit"; return 1; fi
    local ao fo lo lb llb mb cb rb
    ao=$(stat_of "$f" alloc_objects) fo=$(stat_of "$f" free_objects) lo=$(stat_of "$f" live_objects)
    lb=$(stat_of "$f" live_bytes) llb=$(stat_of "$f" large_live_bytes)
    mb=$(stat_of "$f" mapped_bytes) cb=$(stat_of "$f" committed_bytes) rb=$(stat_of "$f" resident_bytes)
    for n in "$ao" "$fo" "$lo" "$lb" "$llb" "$mb" "$cb" "$rb"; do
        [ -n "$n" ] || { echo "statistics incomplete"; return 1; }
    done
    # bash arithmetic is signed 64-bit: compare as unsigned via awk, exact on integers as strings
    le() { awk -v a="$1" -v b="$2" 'BEGIN { if (length(a) != length(b)) exit !(length(a) < length(b)); exit !(a <= b) }'; }
    le "$cb" "$mb" || bad+="committed_bytes $cb > mapped_bytes $mb; "
    le "$rb" "$cb" || bad+="resident_bytes $rb > committed_bytes $cb; "
    le "$lb" "$cb" || bad+="live_bytes $lb > committed_bytes $cb; "
    le "$llb" "$lb" || bad+="large_live_bytes $llb > live_bytes $lb; "
    le "$fo" "$ao" || bad+="free_objects $fo > alloc_objects $ao; "
    [ -n "$bad" ] && { echo "${bad%; }"; return 1; }
    return 0
}

# timed "NAMES" fn — runs a check function (which reports the checks NAMES)
# unless the time budget is spent, in which case those checks fail as skipped.
timed() {
    local names=$1 t0 n
    shift
    if [ "$(remaining)" -le 0 ]; then
        for n in $names; do fail "$n" "skipped: time budget of ${BUDGET}s spent"; done
        return
    fi
    t0=$(date +%s%N)
    "$@"
    [ -n "${REAL_TIMES:-}" ] && echo "time $(( ($(date +%s%N) - t0) / 1000000 )) ms: $names" >&2
    return 0
}

CC=(gcc -std=gnu11 -O2 -Wall -g)
CXX=(g++ -std=c++17 -O2 -Wall -g)

# ---- python3 -----------------------------------------------------------------
check_python() {
    local w=$WORK/py why
    run "$w.0.out" "$w.0.err" "$PY" -s "$HERE/workload.py"; echo $? >"$w.0.rc"
    run_pre "$w.1.out" "$w.1.err" "$PY" -s "$HERE/workload.py"; echo $? >"$w.1.rc"
    if [ "$(cat "$w.0.rc")" != 0 ]; then fail python3 "plain run failed ($(status "$(cat "$w.0.rc")")): $(tail_of "$w.0.err")"
    elif why=$(same "$w.0" "$w.1"); then pass python3; else fail python3 "$why"; fi

    # every Python object through malloc (no pymalloc arenas), with statistics at exit
    run_pre "$w.2.out" "$w.2.err" env PYTHONMALLOC=malloc POOLALLOC_STATS=1 "$PY" -s "$HERE/workload.py"; echo $? >"$w.2.rc"
    grep -v -e '^poolalloc statistics' -e '^  [a-z_]* *[0-9.]*\( *(.*)\)\?$' "$w.2.err" >"$w.2.err.rest"
    cp "$w.0.err" "$w.0.err.rest"
    if [ "$(cat "$w.2.rc")" != "$(cat "$w.0.rc")" ]; then fail python3-PYTHONMALLOC=malloc "preload $(status "$(cat "$w.2.rc")"): $(tail_of "$w.2.err")"
    elif ! cmp -s "$w.0.out" "$w.2.out"; then fail python3-PYTHONMALLOC=malloc "stdout differs, $(first_diff "$w.0.out" "$w.2.out")"
    elif ! cmp -s "$w.0.err.rest" "$w.2.err.rest"; then fail python3-PYTHONMALLOC=malloc "unexpected stderr: $(tail_of "$w.2.err.rest")"
    else pass python3-PYTHONMALLOC=malloc; fi

    if why=$(stats_consistent "$w.2.err"); then pass stats-consistent-python3; else fail stats-consistent-python3 "$why"; fi
}

# ---- g++ ---------------------------------------------------------------------
check_gxx() {
    local w=$WORK/gxx why
    run "$w.c0.out" "$w.c0.err" "${CXX[@]}" -o "$WORK/tpl0" "$HERE/templates.cpp"; echo $? >"$w.c0.rc"
    run_pre "$w.c1.out" "$w.c1.err" "${CXX[@]}" -o "$WORK/tpl1" "$HERE/templates.cpp"; echo $? >"$w.c1.rc"
    if [ "$(cat "$w.c0.rc")" != 0 ]; then
        fail g++-compile "plain compile failed ($(status "$(cat "$w.c0.rc")")): $(grep -m1 error "$w.c0.err")"
        fail g++-program-preload "not built"
        return
    fi
    if ! why=$(same "$w.c0" "$w.c1"); then
        fail g++-compile "compiling under preload: $why"
    else
        run "$w.r0.out" "$w.r0.err" "$WORK/tpl0"; echo $? >"$w.r0.rc"
        run "$w.r1.out" "$w.r1.err" "$WORK/tpl1"; echo $? >"$w.r1.rc"
        if [ "$(cat "$w.r0.rc")" != 0 ]; then fail g++-compile "program built without preload fails: $(status "$(cat "$w.r0.rc")")"
        elif why=$(same "$w.r0" "$w.r1"); then pass g++-compile
        else fail g++-compile "program compiled under preload prints differently: $why"; fi
    fi
    run_pre "$w.r2.out" "$w.r2.err" "$WORK/tpl0"; echo $? >"$w.r2.rc"
    if why=$(same "$w.r0" "$w.r2"); then pass g++-program-preload; else fail g++-program-preload "$why"; fi
}

# ---- sqlite3 -------------------------------------------------------------------
check_sqlite() {
    local w=$WORK/sq why
    if ! command -v sqlite3 >/dev/null; then fail sqlite3-build "sqlite3 not installed (make deps)"; fail sqlite3-queries "sqlite3 not installed"; return; fi
    # build the database twice: plain and preloaded; their dumps must be identical
    run "$w.g0.out" "$w.g0.err" sqlite3 -batch "$WORK/db0.sqlite" ".read $HERE/sqlite_gen.sql"; echo $? >"$w.g0.rc"
    run_pre "$w.g1.out" "$w.g1.err" sqlite3 -batch "$WORK/db1.sqlite" ".read $HERE/sqlite_gen.sql"; echo $? >"$w.g1.rc"
    if [ "$(cat "$w.g0.rc")" != 0 ] || [ -s "$w.g0.err" ]; then
        fail sqlite3-build "plain build failed: $(tail_of "$w.g0.err")"; fail sqlite3-queries "no database"; return
    fi
    if ! why=$(same "$w.g0" "$w.g1"); then
        fail sqlite3-build "$why"
    else
        run "$w.d0.out" "$w.d0.err" sqlite3 -batch "$WORK/db0.sqlite" .dump
        run "$w.d1.out" "$w.d1.err" sqlite3 -batch "$WORK/db1.sqlite" .dump
        if [ "$(md5sum <"$w.d0.out")" = "$(md5sum <"$w.d1.out")" ] && [ -s "$w.d0.out" ]; then pass sqlite3-build
        else fail sqlite3-build "the database built under preload has different contents: $(first_diff "$w.d0.out" "$w.d1.out")"; fi
    fi
    # queries: plain on the plain-built database, preloaded on the other one
    run "$w.q0.out" "$w.q0.err" sqlite3 -batch "$WORK/db0.sqlite" ".read $HERE/sqlite_queries.sql"; echo $? >"$w.q0.rc"
    run_pre "$w.q1.out" "$w.q1.err" sqlite3 -batch "$WORK/db1.sqlite" ".read $HERE/sqlite_queries.sql"; echo $? >"$w.q1.rc"
    if [ "$(cat "$w.q0.rc")" != 0 ] || [ -s "$w.q0.err" ]; then fail sqlite3-queries "plain run failed: $(tail_of "$w.q0.err")"
    elif why=$(same "$w.q0" "$w.q1"); then pass sqlite3-queries; else fail sqlite3-queries "$why"; fi
}

# ---- sort ----------------------------------------------------------------------
check_sort() {
    local w=$WORK/sort in=$WORK/sort-input.txt name args
    # 3 million deterministic lines (~96 MB): a Park-Miller generator in awk
    awk 'BEGIN { x = 12345
        for (i = 0; i < 3000000; i++) {
            x = (x * 16807) % 2147483647; y = (x * 48271) % 2147483647
            printf "%010d %s%d line-%d\n", x % 1000000007, substr("qwertyuiopasdfghjklzxcvbnm", 1 + x % 26, 1 + y % 9), y % 1000, i
        } }' >"$in"
    for name in sort sort-keys; do
        if [ "$name" = sort ]; then args=(); else args=("-k2,2" "-k1,1nr"); fi
        run "$w.0.out" "$w.0.err" sort --parallel=2 -S 100M -T "$WORK" "${args[@]}" "$in"; echo $? >"$w.0.rc"
        run_pre "$w.1.out" "$w.1.err" sort --parallel=2 -S 100M -T "$WORK" "${args[@]}" "$in"; echo $? >"$w.1.rc"
        local m0 m1
        m0=$(md5sum <"$w.0.out") m1=$(md5sum <"$w.1.out")
        if [ "$(cat "$w.0.rc")" != 0 ]; then fail "$name" "plain sort failed: $(tail_of "$w.0.err")"
        elif [ "$(cat "$w.1.rc")" != 0 ]; then fail "$name" "preload $(status "$(cat "$w.1.rc")"): $(tail_of "$w.1.err")"
        elif [ "$m0" != "$m1" ]; then fail "$name" "md5 differs: plain ${m0%% *}, preload ${m1%% *}"
        elif [ "$(wc -l <"$w.1.out")" != 3000000 ]; then fail "$name" "sorted output has $(wc -l <"$w.1.out") lines"
        else pass "$name"; fi
        rm -f "$w".*
    done
    rm -f "$in"
}

# ---- threads -----------------------------------------------------------------
check_threads() {
    local w=$WORK/thr why heaps
    build threads "$WORK/threads" "${CC[@]}" "$HERE/threads.c" -lpthread || { fail threads-heaps "not built"; return; }
    compare threads "$WORK/threads"
    # 8 waves of 8 threads: with heaps reused after thread exit, 8 heaps + main's suffice
    run_pre "$w.s.out" "$w.s.err" env POOLALLOC_STATS=1 "$WORK/threads" 8 8; echo $? >"$w.s.rc"
    heaps=$(stat_of "$w.s.err" heaps)
    if [ "$(cat "$w.s.rc")" != 0 ]; then fail threads-heaps "$(status "$(cat "$w.s.rc")"): $(tail_of "$w.s.err")"
    elif ! cmp -s "$w.s.out" "$WORK/threads.0.out"; then fail threads-heaps "stdout differs, $(first_diff "$WORK/threads.0.out" "$w.s.out")"
    elif [ -z "$heaps" ]; then fail threads-heaps "no heaps figure in the statistics: $(tail_of "$w.s.err")"
    elif [ "$heaps" -gt 12 ]; then fail threads-heaps "heaps $heaps for 64 threads run 8 at a time (expected <= 12: 8 + main + 3 slack)"
    else pass threads-heaps; fi
    if why=$(stats_consistent "$w.s.err"); then pass stats-consistent-threads; else fail stats-consistent-threads "$why"; fi
}

# ---- C++ operator new/delete -------------------------------------------------
check_newdelete() {
    build newdelete "$WORK/newdelete" "${CXX[@]}" "$HERE/newdelete.cpp" || return
    compare newdelete "$WORK/newdelete"
}

# ---- symbol bindings -----------------------------------------------------------
# bindings_ok LOG PROG SYMBOLS... — every symbol is bound from PROG to LIB,
# and nowhere to anything else. Prints what is wrong.
bindings_ok() {
    local log=$1 prog=$2 s bad="" missing="" elsewhere
    shift 2
    for s in "$@"; do
        grep -qF "binding file $prog [0] to $LIB [0]: normal symbol \`$s'" "$log" || missing+=" $s"
        elsewhere=$(grep -F "symbol \`$s'" "$log" | grep -vF " to $LIB [0]: " | head -1 |
                    sed -e 's/^ *[0-9]*:[[:space:]]*//' -e 's/binding file //')
        [ -n "$elsewhere" ] && bad+="$s bound elsewhere ($elsewhere); "
    done
    [ -n "$missing" ] && bad+="not bound from the program to $LIB:$missing; "
    [ -n "$bad" ] && { echo "${bad%; }"; return 1; }
    return 0
}

check_bindings() {
    local why syms
    local malloc_family=(malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc
                         pvalloc malloc_usable_size malloc_trim mallinfo2 malloc_stats)
    if build bindings-c "$WORK/bindings" gcc -std=gnu11 -O0 -fno-builtin -g "$HERE/bindings.c"; then
        run_pre "$WORK/bind.out" "$WORK/bind.err" env LD_BIND_NOW=1 LD_DEBUG=bindings "$WORK/bindings"
        local rc=$?
        if [ $rc != 0 ]; then fail bindings-c "$(status $rc): $(grep -v binding "$WORK/bind.err" | tail -2)"
        elif ! grep -q "all calls ok" "$WORK/bind.out"; then fail bindings-c "program output: $(cat "$WORK/bind.out")"
        elif why=$(bindings_ok "$WORK/bind.err" "$WORK/bindings" "${malloc_family[@]}"); then pass bindings-c
        else fail bindings-c "$why"; fi
    fi
    build bindings-c++ "$WORK/newdelete" "${CXX[@]}" "$HERE/newdelete.cpp" || return
    # the operators the C++ program uses (all 20 forms), and malloc/free
    syms=$(nm -D --undefined-only "$WORK/newdelete" 2>/dev/null | awk '{ sub(/@.*/, "", $2); if ($2 ~ /^_Z(nw|na|dl|da)/) print $2 }' | sort -u)
    [ -n "$syms" ] || syms="_Znwm _Znam _ZdlPv _ZdaPv _ZdlPvm _ZdaPvm"
    run_pre "$WORK/bindx.out" "$WORK/bindx.err" env LD_BIND_NOW=1 LD_DEBUG=bindings "$WORK/newdelete"
    local rc=$?
    # shellcheck disable=SC2086
    if [ $rc != 0 ]; then fail bindings-c++ "$(status $rc): $(grep -v binding "$WORK/bindx.err" | tail -2)"
    elif [ "$(echo "$syms" | wc -w)" -lt 20 ]; then fail bindings-c++ "the program uses only $(echo "$syms" | wc -w) operator forms (expected 20)"
    elif why=$(bindings_ok "$WORK/bindx.err" "$WORK/newdelete" $syms); then pass bindings-c++
    else fail bindings-c++ "$why"; fi
}

# ---- dlopen and early constructors -------------------------------------------
check_dlopen() {
    build dlopen "$WORK/dlplugin.so" "${CC[@]}" -shared -fPIC "$HERE/dlplugin.c" || return
    build dlopen "$WORK/dlhost" "${CC[@]}" "$HERE/dlhost.c" -ldl -lpthread || return
    compare dlopen "$WORK/dlhost" "$WORK/dlplugin.so" 1000
}

check_early() {
    local w=$WORK/early why libdir
    libdir=$(dirname "$LIB")
    build early-constructor "$WORK/libearly.so" "${CC[@]}" -shared -fPIC "$HERE/early_lib.c" || return
    build early-constructor "$WORK/early" "${CC[@]}" "$HERE/early_main.c" -L"$WORK" -Wl,-rpath,"$WORK" -learly || return
    # preloaded: the library's constructor makes the process's first allocations
    pair "$w" "$WORK/early"
    run_pre "$w.s.out" "$w.s.err" env POOLALLOC_STATS=1 "$WORK/early"; echo $? >"$w.s.rc"
    if ! why=$(same "$w.0" "$w.1"); then fail early-constructor "$why"
    elif [ "$(cat "$w.0.rc")" != 0 ]; then fail early-constructor "plain run: $(status "$(cat "$w.0.rc")"): $(cat "$w.0.out")"
    elif ! grep -q '^poolalloc statistics' "$w.s.err"; then fail early-constructor "poolalloc not in use: no statistics with POOLALLOC_STATS=1"
    else pass early-constructor; fi
    # linked: libpoolalloc.so is a dependency of the program instead of preloaded
    build early-constructor-linked "$WORK/early-linked" "${CC[@]}" "$HERE/early_main.c" -L"$WORK" -Wl,-rpath,"$WORK" -learly \
        "$LIB" -Wl,-rpath,"$libdir" || return
    run "$w.2.out" "$w.2.err" env POOLALLOC_STATS=1 "$WORK/early-linked"; echo $? >"$w.2.rc"
    grep -v -e '^poolalloc statistics' -e '^  [a-z_]* *[0-9.]*\( *(.*)\)\?$' "$w.2.err" >"$w.2.err.rest"
    if [ "$(cat "$w.2.rc")" != 0 ]; then fail early-constructor-linked "$(status "$(cat "$w.2.rc")"): $(tail_of "$w.2.err") $(tail_of "$w.2.out")"
    elif ! cmp -s "$w.0.out" "$w.2.out"; then fail early-constructor-linked "stdout differs, $(first_diff "$w.0.out" "$w.2.out")"
    elif ! grep -q '^poolalloc statistics' "$w.2.err"; then fail early-constructor-linked "poolalloc not in use: no statistics with POOLALLOC_STATS=1"
    elif [ -s "$w.2.err.rest" ]; then fail early-constructor-linked "unexpected stderr: $(tail_of "$w.2.err.rest")"
    else pass early-constructor-linked; fi
}

# ---- sanity --------------------------------------------------------------------
check_sanity() {
    local w=$WORK/san rc
    pair "$w.ls" ls -la /usr/bin
    if [ "$(cat "$w.ls.1.rc")" != 0 ]; then fail sanity-ls "$(status "$(cat "$w.ls.1.rc")"): $(tail_of "$w.ls.1.err")"
    elif [ -s "$w.ls.1.err" ]; then fail sanity-ls "stderr: $(tail_of "$w.ls.1.err")"
    elif ! cmp -s "$w.ls.0.out" "$w.ls.1.out"; then fail sanity-ls "listing differs, $(first_diff "$w.ls.0.out" "$w.ls.1.out")"
    else pass sanity-ls; fi

    # shellcheck disable=SC2016
    run_pre "$w.sh.out" "$w.sh.err" bash -c 'for i in $(seq 100); do echo $i; done | tail -1'; rc=$?
    if [ $rc != 0 ]; then fail sanity-bash "$(status $rc): $(tail_of "$w.sh.err")"
    elif [ "$(cat "$w.sh.out")" != 100 ] || [ -s "$w.sh.err" ]; then fail sanity-bash "printed '$(head -c 100 "$w.sh.out")', stderr '$(tail_of "$w.sh.err")'"
    else pass sanity-bash; fi

    pair "$w.gcc" gcc --version
    local why
    if [ "$(cat "$w.gcc.1.rc")" != 0 ]; then fail sanity-gcc-version "$(status "$(cat "$w.gcc.1.rc")"): $(tail_of "$w.gcc.1.err")"
    elif why=$(same "$w.gcc.0" "$w.gcc.1"); then pass sanity-gcc-version; else fail sanity-gcc-version "$why"; fi
}

timed "sanity-ls sanity-bash sanity-gcc-version"                         check_sanity
timed "python3 python3-PYTHONMALLOC=malloc stats-consistent-python3"      check_python
timed "g++-compile g++-program-preload"                                  check_gxx
timed "sqlite3-build sqlite3-queries"                                    check_sqlite
timed "sort sort-keys"                                                   check_sort
timed "threads threads-heaps stats-consistent-threads"                   check_threads
timed "newdelete"                                                        check_newdelete
timed "bindings-c bindings-c++"                                          check_bindings
timed "dlopen"                                                           check_dlopen
timed "early-constructor early-constructor-linked"                       check_early

[ -n "${REAL_TIMES:-}" ] && echo "time total $((SECONDS - START)) s" >&2
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
