#!/bin/sh
# pprof_check.sh -- tools/pprof.c against Go's pprof (Debian golang-go):
# builds tests/tools/pprof_driver.c with tools/pprof.c and tools/common.c
# (or runs $PPROF_DRIVER if set), then checks its gzip, that equal input
# gives equal bytes, the error on a full disk, the decoded contents
# (pprof_check.py) and that `go tool pprof -http` serves the flame graph.
# Run from anywhere; ends with "pprof_check: ok" or exits 1.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CC=${CC:-gcc}
T=$(mktemp -d "${TMPDIR:-/tmp}/pprof_check.XXXXXX")
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill -- -"$SERVER" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "pprof_check: FAIL: $*"; exit 1; }

# go tool pprof keeps settings and fetched files under HOME: a private one,
# and nothing is fetched (-symbolize=none, local files only)
export HOME="$T/home" PPROF_TMPDIR="$T/tmp" GOPATH="$T/gopath" GOFLAGS=
mkdir -p "$HOME"

DRIVER=${PPROF_DRIVER:-}
if [ -z "$DRIVER" ]; then
    DRIVER=$T/pprof_driver
    $CC -std=gnu11 -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$DRIVER" \
        "$ROOT/tests/tools/pprof_driver.c" "$ROOT/tools/pprof.c" "$ROOT/tools/common.c" -lz
fi

"$DRIVER" "$T/main.pb.gz"
gzip -t "$T/main.pb.gz" || fail "gzip -t rejects the profile"
"$DRIVER" - > "$T/again.pb.gz"
cmp -s "$T/main.pb.gz" "$T/again.pb.gz" || fail "the same profile written twice differs"
"$DRIVER" "$T/dflt1.pb.gz" 1
"$DRIVER" "$T/empty.pb.gz" 3 empty
"$DRIVER" "$T/big.pb.gz" 3 big
gzip -t "$T/big.pb.gz" || fail "gzip -t rejects the big profile"
gzip -t "$T/empty.pb.gz" "$T/big.pb.gz" || fail "gzip -t rejects the empty profile"

# a failed write: exit 1 and one line naming the output
if "$DRIVER" /dev/full 2> "$T/full.err"; then fail "writing to /dev/full succeeded"; fi
want="poolalloc-prof: cannot write /dev/full: No space left on device"
[ "$(cat "$T/full.err")" = "$want" ] || fail "/dev/full: got '$(cat "$T/full.err")', want '$want'"
# ... also when it fails in the middle (the big profile fills buffers early)
if "$DRIVER" /dev/full 3 big 2> "$T/full.err"; then fail "writing to /dev/full succeeded"; fi
[ "$(cat "$T/full.err")" = "$want" ] || fail "/dev/full (big): got '$(cat "$T/full.err")', want '$want'"

python3 "$ROOT/tests/tools/pprof_check.py" "$T/main.pb.gz" "$T/dflt1.pb.gz" "$T/empty.pb.gz" "$T/big.pb.gz" || fail "decoded contents"

# the web UI: pprof -http=HOST:0 does not say which port it took, so pick a
# free one first; setsid puts `go tool` and the pprof it runs in one group
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid go tool pprof -http="127.0.0.1:$port" -no_browser "$T/main.pb.gz" > "$T/http.log" 2>&1 &
SERVER=$!
ok=
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    if curl -sf -o "$T/flame.html" "http://127.0.0.1:$port/ui/flamegraph"; then ok=1; break; fi
    sleep 0.25
done
[ -n "$ok" ] || fail "go tool pprof -http served no flame graph: $(cat "$T/http.log")"
for fn in session_new inline_helper 'ns::Wörterbuch::größe' __libc_start_main; do
    grep -qF "$fn" "$T/flame.html" || fail "the flame graph page does not name $fn"
done
echo "pprof_check: ok"
