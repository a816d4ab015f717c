#!/usr/bin/env bash
# tests/fastpath.sh LIB — the pools' private-slot paths take no lock and do no
# atomic read-modify-write: in the machine code of pa_pool_get and pa_pool_put
# there is no lock prefix, xchg, cmpxchg, xadd or fence, and the only calls
# are to the out-of-line slow paths and the user's reset callback. Run on the
# built library, so it checks what the compiler made of the source.
set -u
LIB=${1:?usage: tests/fastpath.sh /path/to/libpoolalloc.so}
status=0
for fn in pa_pool_get pa_pool_put; do
    body=$(objdump -d --no-show-raw-insn "$LIB" | awk -v f="<$fn>:" '$2 == f {on=1; next} on && /^$/ {exit} on')
    if [ -z "$body" ]; then echo "FAIL $fn: not found in $LIB"; status=1; continue; fi
    bad=$(echo "$body" | grep -E $'\t(lock|xchg|cmpxchg|xadd|mfence|lfence|sfence)' || true)
    calls=$(echo "$body" | grep -E $'\t(call|jmp) ' | grep -vE '<(get_slow|put_slow|get_fenced|put_fenced)>|<pa_pool_(get|put)\+0x[0-9a-f]+>|call +\*%r[a-z0-9]+$' || true)
    if [ -n "$bad" ]; then echo "FAIL $fn: atomic or fence instruction: $bad"; status=1
    elif [ -n "$calls" ]; then echo "FAIL $fn: unexpected call or jump: $calls"; status=1
    else echo "PASS $fn: $(echo "$body" | wc -l) instructions, no lock, atomic RMW or fence"; fi
done
exit $status
