/* peak.c — the peak-heap profile: what was in use, per stack, when the
 * process's sampled in-use bytes were highest; exact, for no scan.
 *
 * Sampled objects add their weighted bytes to one in-use total when made and
 * take them off when freed (sample.c). Each new high of the total bumps a
 * version. A stack whose counters are about to change first saves its in-use
 * values, tagged with the version, unless it did so since the last high:
 * what it saves is then its in-use at that high, for nothing has changed it
 * since. At a dump, a stack tagged with the current version gives its saved
 * values; any other has not changed since the high, so its values now are
 * its values then. So the cost is a compare per sample, a counter bump per
 * new high, and the profile's peak is the true one (of the samples: exact at
 * POOLALLOC_SAMPLE_RATE=1). Threads racing at the moment of the high may
 * blur it by their own few objects. */
#include "prof.h"

static _Atomic(int64_t) inuse;            /* weighted bytes of live sampled objects */
static _Atomic(int64_t) peak;             /* the highest inuse so far */
static _Atomic(uint64_t) version = 1;     /* bumped at each new high; stacks start at 0 */
static _Atomic(uint64_t) peak_ns;         /* when it was reached, since the start */

static uint64_t in_use(_Atomic(uint64_t) *alloc, _Atomic(uint64_t) *freed)
{
    uint64_t a = atomic_load_explicit(alloc, memory_order_relaxed), f = atomic_load_explicit(freed, memory_order_relaxed);
    return a > f ? a - f : 0;
}

void pa_prof_peak_touch(pa_prof_stack_t *st)
{
    uint64_t v = atomic_load_explicit(&version, memory_order_relaxed);
    if (atomic_load_explicit(&st->peak_version, memory_order_relaxed) == v) return;
    atomic_store_explicit(&st->peak_objects, in_use(&st->alloc_objects, &st->free_objects), memory_order_relaxed);
    atomic_store_explicit(&st->peak_space, in_use(&st->alloc_space, &st->free_space), memory_order_relaxed);
    atomic_store_explicit(&st->peak_version, v, memory_order_relaxed);
}

void pa_prof_peak_add(int64_t bytes)
{
    int64_t now = atomic_fetch_add_explicit(&inuse, bytes, memory_order_relaxed) + bytes;
    if (bytes <= 0) return;
    int64_t high = atomic_load_explicit(&peak, memory_order_relaxed);
    while (now > high)
        if (atomic_compare_exchange_weak_explicit(&peak, &high, now, memory_order_relaxed, memory_order_relaxed)) {
            atomic_fetch_add_explicit(&version, 1, memory_order_relaxed);
            atomic_store_explicit(&peak_ns, pa_clock_ns() - pa_start_ns, memory_order_relaxed);
            return;
        }
}

void pa_prof_peak_of(const pa_prof_stack_t *cst, uint64_t *objects, uint64_t *space)
{
    pa_prof_stack_t *st = (pa_prof_stack_t *)cst;   /* atomics are read, never written */
    if (atomic_load_explicit(&st->peak_version, memory_order_relaxed) == atomic_load_explicit(&version, memory_order_relaxed)) {
        *objects = atomic_load_explicit(&st->peak_objects, memory_order_relaxed);
        *space = atomic_load_explicit(&st->peak_space, memory_order_relaxed);
    } else {                               /* unchanged since the high */
        *objects = in_use(&st->alloc_objects, &st->free_objects);
        *space = in_use(&st->alloc_space, &st->free_space);
    }
}

uint64_t pa_prof_peak_inuse(void)
{
    int64_t v = atomic_load_explicit(&inuse, memory_order_relaxed);
    return v > 0 ? (uint64_t)v : 0;
}

void pa_prof_peak_total(uint64_t *bytes, uint64_t *ns)
{
    int64_t p = atomic_load_explicit(&peak, memory_order_relaxed);
    *bytes = p > 0 ? (uint64_t)p : 0;
    *ns = atomic_load_explicit(&peak_ns, memory_order_relaxed);
}

/* A fork child counts its own objects only (pa_prof_fork_reset, after its
 * stacks were zeroed: tag 0 is no version's). */
void pa_prof_peak_fork_child(void)
{
    atomic_store(&inuse, 0);
    atomic_store(&peak, 0);
    atomic_store(&peak_ns, 0);
    atomic_fetch_add(&version, 1);
}
