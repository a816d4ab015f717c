/* cycle.c — reclaim cycles: Go's GC pacing, for an allocator without a GC.
 *
 * Every heap counts down the bytes it allocates (fast path: one subtraction);
 * when its countdown runs out, pa_heap_tick adds what it counted to one
 * global total. When that total passes the trigger, a cycle runs on the
 * thread that passed it: pools move their cached objects to the victim cache
 * and release the previous victims (through the hook pool/ installs), the
 * caches of empty segments and huge blocks give back what has sat there since
 * before the previous cycle, and the next trigger is set to
 *     allocated now + max(4 MiB, live bytes after the cycle * GOGC / 100).
 * malloc_trim and pa_cycle run one at once. With POOLALLOC_TRACE=1 each
 * cycle prints one line (format in README.md, "Tracing").
 *
 * A cycle never starts inside another, nor on a thread that holds a pool lock
 * (pa_tl_cycle_hold): the next tick tries again. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "fast.h"
#include "poolalloc.h"
#include "prof.h"

#define MIN_GOAL ((uint64_t)4 << 20)

PA_TLS unsigned pa_tl_cycle_hold;

static pthread_mutex_t cycle_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(uint64_t) allocated;                 /* bytes counted by ticks    */
static _Atomic(uint64_t) trigger = MIN_GOAL;
static _Atomic(uint64_t) cycles;
static const pa_cycle_hooks_t *hooks;
/* under cycle_lock: the previous cycle */
static uint64_t last_ns, last_allocated, last_purged, last_pool_gets, last_pool_hits;
static uint64_t last_frees, last_remote_frees, last_moves, last_copied, last_fine_ns;

void pa_cycle_set_hooks(const pa_cycle_hooks_t *h) { hooks = h; }
uint64_t pa_cycle_allocated(void) { return atomic_load_explicit(&allocated, memory_order_relaxed); }

uint64_t pa_cycle_count(void) { return atomic_load_explicit(&cycles, memory_order_relaxed); }

/* Sets the countdown to the nearer budget (TICKS AND SAMPLES, types.h). */
static void rearm(pa_heap_t *h)
{
    h->countdown = h->countdown_set = h->tick_left < h->sample_left ? h->tick_left : h->sample_left;
}

/* Folds the bytes h allocated since its countdown was set into both budgets. */
static void settle(pa_heap_t *h)
{
    int64_t spent = h->countdown_set - h->countdown;
    h->settled += (uint64_t)spent;
    h->tick_left -= spent;
    h->sample_left -= spent;
    rearm(h);
}

void pa_heap_budget_init(pa_heap_t *h)
{
    h->tick_left = PA_TICK_BYTES;
    h->prof_switches = atomic_load_explicit(&pa_prof_switches, memory_order_acquire);
    h->sample_left = pa_prof_interval(&h->rng);
    rearm(h);
}

/* Adds what a settled h allocated since its last tick to the process total. */
static uint64_t count_tick(pa_heap_t *h)
{
    uint64_t spent = (uint64_t)(PA_TICK_BYTES - h->tick_left);
    h->tick_left = PA_TICK_BYTES;
    rearm(h);
    return atomic_fetch_add_explicit(&allocated, spent, memory_order_relaxed) + spent;
}

static uint64_t flush(pa_heap_t *h)
{
    settle(h);
    return count_tick(h);
}

/* The heap's countdown ran out: the allocation at p (size bytes asked for)
 * may be sampled, and every 256 KiB the bytes are counted and may start a
 * cycle. The budgets are settled before sampling, which allocates itself. */
void *pa_heap_tick(pa_heap_t *h, void *p, size_t size, size_t flags)
{
    settle(h);
    uint32_t switches = atomic_load_explicit(&pa_prof_switches, memory_order_acquire);   /* then the state */
    if (PA_UNLIKELY(h->prof_switches != switches)) {   /* sampling was switched on or off: draw again */
        h->prof_switches = switches;
        h->sample_left = pa_prof_interval(&h->rng);
        rearm(h);
    }
    bool sample = h->sample_left < 0;
    if (sample) {
        h->sample_left = pa_prof_interval(&h->rng);
        rearm(h);
    }
    bool ticked = h->tick_left < 0;
    uint64_t total = ticked ? count_tick(h) : 0;
    if (sample && p) p = pa_prof_sample(h, p, size, flags);
    if (ticked) {
        if (pa_options.gogc >= 0 && total >= atomic_load_explicit(&trigger, memory_order_relaxed) && !pa_tl_cycle_hold)
            pa_cycle_run(PA_CYCLE_PACED);
        pa_prof_tick(total);
    }
    return p;
}

static uint64_t live_bytes(void)
{
    pa_stats_t s;
    pa_stats_counters(&s);
    return s.live_bytes;
}

/* 12.3MiB: short, and the unit is always there. */
static void human(char *buf, size_t n, uint64_t v)
{
    static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double x = (double)v;
    size_t u = 0;
    while (x >= 1024 && u < 4) { x /= 1024; u++; }
    if (u == 0) snprintf(buf, n, "%lluB", (unsigned long long)v);
    else snprintf(buf, n, "%.1f%s", x, unit[u]);
}

/* What a trace line reports; counts are since the previous cycle. */
typedef struct trace_info {
    uint64_t n, now, before, after, alloc, elapsed, returned, goal;
    uint64_t frees, remote_frees, moves, copied, gets, hits, dropped;
    const char *why;
} trace_info_t;

static void trace(const trace_info_t *t)
{
    char b[7][24], pools[80], remote[16], line[400];
    human(b[0], sizeof b[0], t->before);
    human(b[1], sizeof b[1], t->after);
    human(b[2], sizeof b[2], t->alloc);
    human(b[3], sizeof b[3], t->returned);
    if (t->goal == UINT64_MAX) snprintf(b[4], sizeof b[4], "off");
    else human(b[4], sizeof b[4], t->goal);
    human(b[5], sizeof b[5], t->elapsed ? (uint64_t)((double)t->alloc * 1e9 / (double)t->elapsed) : 0);
    human(b[6], sizeof b[6], t->copied);
    if (t->frees) snprintf(remote, sizeof remote, "%.1f%%", 100.0 * (double)t->remote_frees / (double)t->frees);
    else snprintf(remote, sizeof remote, "none");
    if (t->gets) snprintf(pools, sizeof pools, "%.1f%% hit of %llu gets, %llu dropped", 100.0 * (double)t->hits / (double)t->gets,
                          (unsigned long long)t->gets, (unsigned long long)t->dropped);
    else snprintf(pools, sizeof pools, "no gets, %llu dropped", (unsigned long long)t->dropped);
    int len = snprintf(line, sizeof line,
                       "poolalloc: cycle %llu @%.3fs %s: live %s->%s, allocated %s at %s/s, remote frees %s, "
                       "realloc %llu moves %s copied, returned %s, next after %s, pools %s\n",
                       (unsigned long long)t->n, (double)t->now / 1e9, t->why, b[0], b[1], b[2], b[5], remote,
                       (unsigned long long)t->moves, b[6], b[3], b[4], pools);
    int fd = pa_stderr_fd();
    if (len > 0 && fd >= 0 && write(fd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1) < 0) return;
}

/* Releases allocator caches: for a trim everything free, otherwise what has
 * not been used since the previous cycle and for at least the purge delay
 * (cycles can come every few milliseconds; a block cached a moment ago is
 * about to be reused: the realloc benchmark ran 30% slower without the
 * delay). Returns true if anything went back. */
static bool release_caches(bool all, uint64_t now)
{
    bool released = false;
    pa_heap_t *h = pa_tl_heap;
    if (all && h != &pa_heap_empty) {
        uint64_t before = atomic_load(&pa_gstats.purged_total);
        pa_heap_collect(h, true);
        pa_segment_purge_heap(h, now, true);
        released |= atomic_load(&pa_gstats.purged_total) != before;
    }
    released |= pa_heap_collect_abandoned(all);
    uint64_t settled = now > pa_options.purge_delay_ns ? now - pa_options.purge_delay_ns : 0;
    uint64_t evict_before = all ? UINT64_MAX : last_ns < settled ? last_ns : settled;
    released |= pa_segment_cache_trim(now, evict_before);
    released |= pa_huge_cache_trim(now, evict_before);
    return released;
}

uint64_t pa_cycle_run(pa_cycle_reason_t why)
{
    if (pa_tl_cycle_hold) return 0;                  /* a callback of this cycle */
    if (why == PA_CYCLE_PACED) {
        if (pthread_mutex_trylock(&cycle_lock)) return 0;  /* another thread is at it */
        if (atomic_load(&allocated) < atomic_load(&trigger)) { pthread_mutex_unlock(&cycle_lock); return 0; }
    } else {
        pthread_mutex_lock(&cycle_lock);
    }
    pa_tl_cycle_hold++;
    pa_process_init();
    if (pa_tl_heap != &pa_heap_empty) flush(pa_tl_heap);   /* other threads' last < 256 KiB are not seen */
    uint64_t now = pa_clock_ns(), total = atomic_load(&allocated);
    pa_stats_t st;
    pa_stats_counters(&st);
    uint64_t before = st.live_bytes;
    pa_cycle_pools_t pools = { 0 };
    if (hooks) hooks->rotate(&pools);
    bool released = release_caches(why == PA_CYCLE_TRIM, now);
    /* only objects the pools dropped leave the live bytes meanwhile (releasing
     * caches returns free memory): a second sum of every heap's counters, up to
     * thousands of times a second on a small heap, is needed only then */
    uint64_t after = pools.dropped ? live_bytes() : before;
    uint64_t goal = UINT64_MAX;
    if (pa_options.gogc >= 0) {
        goal = after / 100 * (uint64_t)pa_options.gogc;
        if (goal < MIN_GOAL) goal = MIN_GOAL;
    }
    atomic_store(&trigger, goal == UINT64_MAX ? UINT64_MAX : total + goal);
    uint64_t n = atomic_fetch_add(&cycles, 1) + 1;
    uint64_t purged = atomic_load(&pa_gstats.purged_total);
    if (pa_options.trace) {
        static const char *names[] = { "paced", "call", "trim" };
        uint64_t fine = pa_clock_fine_ns(), since = last_fine_ns ? last_fine_ns : pa_start_ns;
        last_fine_ns = fine;
        trace(&(trace_info_t){ .n = n, .now = now - pa_start_ns, .why = names[why], .before = before, .after = after,
                               .alloc = total - last_allocated, .elapsed = fine > since ? fine - since : 0,
                               .returned = purged - last_purged, .goal = goal,
                               .frees = st.free_objects - last_frees, .remote_frees = st.remote_frees - last_remote_frees,
                               .moves = st.realloc_moves - last_moves, .copied = st.realloc_copied_bytes - last_copied,
                               .gets = pools.gets - last_pool_gets, .hits = pools.hits - last_pool_hits,
                               .dropped = pools.dropped });
    }
    last_frees = st.free_objects;
    last_remote_frees = st.remote_frees;
    last_moves = st.realloc_moves;
    last_copied = st.realloc_copied_bytes;
    last_ns = now;
    last_allocated = total;
    last_purged = purged;
    last_pool_gets = pools.gets;
    last_pool_hits = pools.hits;
    pa_prof_series_cycle(total);                       /* a point of memory over time */
    pa_tl_cycle_hold--;
    pthread_mutex_unlock(&cycle_lock);
    return why == PA_CYCLE_TRIM ? (uint64_t)released : n;
}

PA_API uint64_t pa_cycle(void) { return pa_cycle_run(PA_CYCLE_CALL); }
PA_API int pa_trim(void) { return (int)pa_cycle_run(PA_CYCLE_TRIM); }

void pa_cycle_fork_prepare(void)
{
    pthread_mutex_lock(&cycle_lock);
    if (hooks) hooks->fork_prepare();
}

void pa_cycle_fork_parent(void)
{
    if (hooks) hooks->fork_parent();
    pthread_mutex_unlock(&cycle_lock);
}

void pa_cycle_fork_child(void)
{
    if (hooks) hooks->fork_child();
    pthread_mutex_init(&cycle_lock, NULL);
}
