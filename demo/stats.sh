#!/usr/bin/env bash
# demo/stats.sh LIB — what `make demo-stats` runs: two unmodified, allocation-heavy
# programs (a Python log analyser and an sqlite3 sales report) with poolalloc
# preloaded as their malloc, each followed by the statistics poolalloc prints
# at exit. LIB is the path of libpoolalloc.so. Builds nothing; takes ~5-10 s.
# See demo/README.md for how to read the statistics.
set -u

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
    echo "usage: $0 path/to/libpoolalloc.so   (run 'make all' first, or just 'make demo-stats')" >&2
    exit 2
fi
LIB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
unset LD_PRELOAD POOLALLOC_VERBOSE PYTHONPATH PYTHONHOME PYTHONSTARTUP
export LC_ALL=C

TMP=$(mktemp -d "${TMPDIR:-/tmp}/poolalloc-demo.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP

rule() { printf '%s\n' "------------------------------------------------------------------------------"; }

# show TITLE cmd... — runs cmd with poolalloc preloaded and statistics on,
# then prints its output and, separately, poolalloc's statistics.
status=0
show() {
    local title=$1 t0 t1 rc
    shift
    rule
    echo "$title"
    local shown=("$@")
    [ "${shown[0]}" = env ] && shown=("${shown[@]:1}")
    echo "\$ LD_PRELOAD=$LIB POOLALLOC_STATS=1 $(printf '%q ' "${shown[@]}")"
    rule
    t0=$(date +%s%N)
    env LD_PRELOAD="$LIB" POOLALLOC_STATS=1 "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    t1=$(date +%s%N)
    cat "$TMP/out"
    # the program's own messages (if any), then poolalloc's block
    grep -v -e '^poolalloc statistics' -e '^  [a-z_]* *[0-9.]*\( *(.*)\)\?$' "$TMP/err"
    echo
    echo "[exit status $rc, $(( (t1 - t0) / 1000000 )) ms]  poolalloc's statistics at exit (stderr):"
    if grep -q '^poolalloc statistics' "$TMP/err"; then
        sed -n '/^poolalloc statistics/,$p' "$TMP/err" | grep -e '^poolalloc statistics' -e '^  [a-z_]* *[0-9.]*\( *(.*)\)\?$'
        # resident <= committed <= mapped must hold; say so plainly when it does not
        awk '$1 == "mapped_bytes" { m = $2 } $1 == "committed_bytes" { c = $2 } $1 == "resident_bytes" { r = $2 }
             function gt(a, b) { return length(a) != length(b) ? length(a) > length(b) : a > b }
             END { if (gt(c, m) || gt(r, c))
                     print "  warning: these figures are inconsistent (resident <= committed <= mapped does not hold):" \
                           " a poolalloc accounting bug, reported by make check-real (stats-consistent-*)" }' "$TMP/err"
    else
        echo "  (none printed: is $LIB really a poolalloc build?)"
        status=1
    fi
    [ $rc -eq 0 ] || status=1
    echo
}

cat <<EOF
poolalloc demo
==============
poolalloc replaces malloc/free (and C++ new/delete) in programs that were never
built for it: the dynamic linker loads it first because of LD_PRELOAD, so every
allocation of the program and of the libraries it uses goes to poolalloc.
POOLALLOC_STATS=1 makes poolalloc print its statistics when the program exits.

Library: $LIB

Two real programs follow, unmodified:
  1. python3 analysing a synthetic 400,000-line web server log: dicts, lists,
     strings, regular expressions, a 10 MB json round trip. PYTHONMALLOC=malloc
     sends every Python object to malloc (instead of Python's own small-object
     pools), so poolalloc sees tens of millions of allocations.
  2. sqlite3 building a 100,000-order shop database in memory, with indexes,
     and running a sales report (joins, GROUP BY, window functions).

EOF

if [ -x "$PY" ]; then
    show "1. python3: log analysis" env PYTHONMALLOC=malloc "$PY" -s "$HERE/logreport.py"
else
    echo "(skipping python3: $PY not found; 'make deps' installs it)"; echo
fi
if command -v sqlite3 >/dev/null; then
    show "2. sqlite3: sales report" sqlite3 -batch :memory: ".read $HERE/shop.sql"
else
    echo "(skipping sqlite3: not installed; 'make deps' installs it)"; echo
fi

cat <<'EOF'
How to read the statistics (details in demo/README.md):
  alloc_objects / free_objects  allocations and frees the program made
  live_*                        still allocated at exit (leaks, or memory freed later)
  large_*                       blocks above 128 KiB, served from whole pages or own mappings
  mapped / committed / resident address space held, minus what was returned with
                                madvise, and what is in RAM now
  purged_bytes                  memory handed back to the OS over the run
  segments / heaps              4 MiB segments held; one heap per thread (reused)
EOF
exit $status
