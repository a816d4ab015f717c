/* purger.c — gives an idle process's free memory back to the OS.
 *
 * Purge passes (segment.c, huge.c) normally run on the malloc slow path, so
 * a program that frees a lot and then waits — a service between bursts —
 * would keep its free memory resident until its next malloc. Once the
 * process has committed PURGER_MIN bytes, one background thread is started
 * from a malloc slow path (never while an allocator lock is held, since
 * pthread_create may itself allocate). It sleeps until the next pass is due
 * and runs it: every heap's free slices (skipping a heap whose owner is in
 * the middle of a page operation: trylock, so the owner never waits), the
 * empty-segment cache, the huge-block cache and heaps of exited threads. When
 * nothing is left to purge it sleeps until a page is freed again
 * (pa_purger_wake). The same decay rules apply as on the slow path, so it
 * returns only memory that stayed unused for the purge delay.
 *
 * POOLALLOC_PURGE_THREAD=0 turns it off. A fork child starts its own when it
 * needs one. The thread blocks every signal, has a 64 KiB stack, and never
 * allocates. */
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define PURGER_MIN ((uint64_t)16 << 20)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;  /* held during a pass */
static pthread_cond_t wake;
static _Atomic(int) state;              /* 0: not started, 1: starting or running */
static _Atomic(int) idle;               /* 1: asleep with nothing to do */

void pa_purger_wake(void)
{
    if (!atomic_load_explicit(&idle, memory_order_relaxed)) return;
    pthread_mutex_lock(&lock);
    atomic_store_explicit(&idle, 0, memory_order_relaxed);
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

static uint64_t earlier(uint64_t a, uint64_t b) { return !a ? b : !b ? a : a < b ? a : b; }

/* One pass over everything that may hold free memory; returns when the next
 * one is due (0: nothing left). */
static uint64_t pass(uint64_t now)
{
    uint64_t next = 0;
    pa_heaps_lock();
    for (pa_heap_t *h = pa_heap_list(); h; h = h->next_all)
        next = earlier(next, pa_segment_purge_heap_idle(h, now));
    pa_heaps_unlock();
    pa_segment_cache_trim(now, 0);
    pa_huge_cache_trim(now, 0);
    pa_heap_collect_abandoned(false);
    next = earlier(next, pa_segment_cache_due());
    next = earlier(next, pa_huge_cache_due());
    if (atomic_load_explicit(&pa_gstats.heaps_abandoned, memory_order_relaxed))
        next = earlier(next, now + 1000000000u);      /* collect_abandoned runs once a second */
    return next;
}

static void *run(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        uint64_t now = pa_clock_ns();
        uint64_t next = pass(now);
        if (!next) {
            atomic_store_explicit(&idle, 1, memory_order_relaxed);
            while (atomic_load_explicit(&idle, memory_order_relaxed)) pthread_cond_wait(&wake, &lock);
            continue;
        }
        /* the coarse clock lags the fine one by up to a tick: wake a little late */
        uint64_t at = next + 5000000u;
        struct timespec ts = { (time_t)(at / 1000000000u), (long)(at % 1000000000u) };
        pthread_cond_timedwait(&wake, &lock, &ts);
    }
    return NULL;
}

static void start(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 << 10);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* the thread inherits it */
    pthread_t t;
    if (pthread_create(&t, &attr, run, NULL) != 0) atomic_store(&state, 0);   /* try again later */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

/* From the malloc slow path, with no allocator lock held. */
void pa_purger_maybe_start(void)
{
    if (atomic_load_explicit(&state, memory_order_relaxed) || !pa_options.purge_thread) return;
    if (atomic_load_explicit(&pa_gstats.committed, memory_order_relaxed) < PURGER_MIN) return;
    int expect = 0;
    if (atomic_compare_exchange_strong(&state, &expect, 1)) start();
}

/* fork: no pass may be running while the child is made (it would hold a
 * heap's segments lock there); the child has no purger thread. */
void pa_purger_fork_prepare(void) { pthread_mutex_lock(&lock); }
void pa_purger_fork_parent(void) { pthread_mutex_unlock(&lock); }
void pa_purger_fork_child(void)
{
    pthread_mutex_init(&lock, NULL);
    atomic_store(&state, 0);
    atomic_store(&idle, 0);
}
