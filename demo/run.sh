#!/usr/bin/env bash
# demo/run.sh LIB TOOL SERVICE — what `make demo` runs: the sample service
# (demo/service.c, built as SERVICE) under `poolalloc-prof run` (TOOL, which
# preloads LIB with allocation profiling on and writes demo/profiles/, with
# report.html: memory over time, flame graphs, top sites and the report in one
# page), then poolalloc-prof turns its profile into
#   demo/alloc.folded   folded stacks, bytes allocated (flamegraph.pl, speedscope)
#   demo/alloc.svg      flame graph of the bytes allocated
#   demo/inuse.svg      flame graph of the bytes still in use at exit
#   demo/top.txt        the heaviest allocation sites
#   demo/report.txt     what to change: pool, preallocate, stack, hand-off, leak
#   demo/churn.svg      flame graph of the objects freed within 1 ms
# and keeps the profile itself in demo/profiles/. Builds nothing; ~5 s.
set -u

if [ $# -ne 3 ] || [ ! -f "$1" ] || [ ! -x "$2" ] || [ ! -x "$3" ]; then
    echo "usage: $0 libpoolalloc.so poolalloc-prof service   (or just 'make demo')" >&2
    exit 2
fi
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
LIB=$(abs "$1") TOOL=$(abs "$2") SERVICE=$(abs "$3")
OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
unset LD_PRELOAD
for v in $(compgen -e | grep '^POOLALLOC_'); do unset "$v"; done
export LC_ALL=C
START=$PWD
rel() { printf "%s\n" "${1#"$START"/}"; }   # paths as the user would type them

rm -rf "$OUT/profiles" "$OUT/alloc.folded" "$OUT/alloc.svg" "$OUT/inuse.svg" "$OUT/top.txt" "$OUT/report.txt" \
    "$OUT/churn.svg"
mkdir -p "$OUT/profiles" || exit 1

cat <<EOF
poolalloc demo: where does a service's memory go?
==================================================
The sample service (demo/service.c) is a small shop's web server fed with
made-up requests: a generator thread writes them, three workers parse each
into hash tables rebuilt per request, look sessions up in a cache, render
responses into buffers grown by realloc and hand log records to a logger
thread. It leaks a little. It runs unmodified, with poolalloc preloaded as
its malloc and allocation profiling on:

\$ $(rel "$TOOL") run -o $(rel "$OUT")/profiles -- $(rel "$SERVICE")
EOF
t0=$(date +%s%N)
POOLALLOC_LIB="$LIB" "$TOOL" run -o "$OUT/profiles" -- "$SERVICE" 2>&1
rc=$?
t1=$(date +%s%N)
echo "[exit status $rc, $(( (t1 - t0) / 1000000 )) ms]"
[ $rc -eq 0 ] || { echo "demo: the service failed" >&2; exit 1; }
shopt -s nullglob
profiles=("$OUT"/profiles/service.*.prof)
[ ${#profiles[@]} -gt 0 ] || { echo "demo: no profile was written to $(rel "$OUT")/profiles/" >&2; exit 1; }

# prog ARGS... — shows and runs a poolalloc-prof command
prog() {
    local shown=() a
    for a in "$@"; do shown+=("$(rel "$a")"); done
    echo "\$ poolalloc-prof ${shown[*]}"
    "$TOOL" "$@" || { echo "demo: poolalloc-prof $1 failed" >&2; exit 1; }
}

echo
echo "Its profile, sampled every 512 KiB allocated on average: $(rel "${profiles[0]}")"
echo "poolalloc-prof turns it into what you look at:"
prog fold "${profiles[@]}" -o "$OUT/alloc.folded"
prog svg "${profiles[@]}" -o "$OUT/alloc.svg"
prog svg --weight inuse_space "${profiles[@]}" -o "$OUT/inuse.svg"
prog top "${profiles[@]}" -o "$OUT/top.txt"
prog svg --weight churn_objects "${profiles[@]}" -o "$OUT/churn.svg"
prog report "${profiles[@]}" -o "$OUT/report.txt"
echo
echo "Where the bytes are allocated ($(rel "$OUT")/top.txt):"
cat "$OUT/top.txt"
echo
echo "What is still allocated at exit (the sessions it keeps, and its leak):"
prog top --weight inuse_space -n 5 "${profiles[@]}"
echo
echo "What to change, site by site: what became of the objects ($(rel "$OUT")/report.txt):"
cat "$OUT/report.txt"
cat <<EOF

Open $(rel "$OUT")/profiles/report.html first: memory over time with the peak, the
flame graphs (allocated, in use at exit, at the peak, churn) and the report in
one page. The flame graphs on their own (hover: name, bytes, share; click: zoom;
search: highlight matches):
  $(rel "$OUT")/alloc.svg      bytes allocated, by stack
  $(rel "$OUT")/inuse.svg      bytes in use at exit: what was never freed
  $(rel "$OUT")/churn.svg      objects freed within 1 ms of their allocation: churn
  $(rel "$OUT")/alloc.folded   the folded stacks, for flamegraph.pl or speedscope
For pprof:  $(rel "$TOOL") pprof $(rel "$OUT")/profiles/*.prof -o service.pb.gz
            go tool pprof -top service.pb.gz      (or -http=localhost:8080)
More: $(rel "$TOOL") --help, and README.md "Reading profiles".
EOF
