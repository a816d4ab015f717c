/* purger.c — gives an idle process's free memory back to the OS.
 *
 * Purge passes (segment.c, huge.c) normally run on the malloc slow path, so
 * a service that frees a lot and then waits between bursts would keep its
 * free memory resident until its next malloc. So one background thread runs
 * them too. It is started from a malloc slow path (never while an allocator
 * lock is held: pthread_create may itself allocate) once the process has
 * committed PURGER_MIN bytes and has a second thread of its own: a
 * single-threaded program stays single-threaded (unshare(CLONE_NEWUSER) and
 * the like need that), and a program that started threads already lives with
 * them. It sleeps until the next pass is due and runs it: every heap's free
 * slices (a heap whose owner is in a page operation is skipped: trylock; the
 * owner may wait for the purge of its own heap's free slices), the
 * empty-segment cache, the huge-block cache and heaps of exited threads. The
 * decay rules of the slow path apply: only memory unused for the purge delay
 * goes back. With nothing left to purge it sleeps until memory is freed again
 * (pa_purger_wake, from page and huge frees), without polling.
 *
 * Two locks: pass_lock is held during a pass (fork waits for it, so a child
 * never inherits a half-done pass); wake_lock only guards the sleep, and is
 * never held while another lock is taken, so a free that wakes the purger
 * never waits for a pass. A wake bumps `work` before it looks at `idle`, and
 * the purger sets `idle` before it looks at `work` again (both seq_cst), so a
 * free during a pass is never missed.
 *
 * POOLALLOC_PURGE_THREAD=0 turns it off. A fork child starts its own when it
 * needs one. The thread blocks every signal, takes no profiling samples, and
 * never allocates itself; if it cannot be started, one line says so and
 * purges stay on the slow path. */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "prof.h"

#define PURGER_MIN ((uint64_t)16 << 20)

enum { NOT_STARTED, RUNNING, GAVE_UP };

static pthread_mutex_t pass_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static _Atomic(int) state;
static _Atomic(int) idle;               /* 1: asleep with nothing to do */
static _Atomic(uint64_t) work;          /* bumped by every wake */
static uint64_t slack_ns;               /* how far the coarse clock may lag */

void pa_purger_wake(void)
{
    if (atomic_load_explicit(&state, memory_order_relaxed) != RUNNING) return;
    atomic_fetch_add(&work, 1);
    if (!atomic_load(&idle)) return;
    pthread_mutex_lock(&wake_lock);
    atomic_store(&idle, 0);
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&wake_lock);
}

static uint64_t earlier(uint64_t a, uint64_t b) { return !a ? b : !b ? a : a < b ? a : b; }

/* One pass over everything that may hold free memory; returns when the next
 * one is due (0: nothing left). Heaps are never unmapped and the list only
 * grows at its head, so it is walked without the heaps lock. */
static uint64_t pass(uint64_t now)
{
    uint64_t next = 0;
    pa_heaps_lock();
    pa_heap_t *first = pa_heap_list();
    pa_heaps_unlock();
    for (pa_heap_t *h = first; h; h = h->next_all)
        next = earlier(next, pa_segment_purge_heap_idle(h, now));
    pa_segment_cache_trim(now, 0);
    pa_huge_cache_trim(now, 0);
    pa_heap_collect_abandoned(false);   /* at most once a second */
    next = earlier(next, pa_segment_cache_due());
    return earlier(next, pa_huge_cache_due());
}

static void *run(void *arg)
{
    (void)arg;
    pa_tl_prof_busy++;                  /* what this thread does is not the program's */
    for (;;) {
        uint64_t seen = atomic_load(&work);
        pthread_mutex_lock(&pass_lock);
        uint64_t next = pass(pa_clock_ns());
        pthread_mutex_unlock(&pass_lock);
        pthread_mutex_lock(&wake_lock);
        if (!next) {
            atomic_store(&idle, 1);
            if (atomic_load(&work) == seen)
                while (atomic_load(&idle)) pthread_cond_wait(&wake, &wake_lock);
            atomic_store(&idle, 0);
        } else {
            uint64_t at = next + slack_ns;   /* due times are on the coarse clock */
            struct timespec ts = { (time_t)(at / 1000000000u), (long)(at % 1000000000u) };
            pthread_cond_timedwait(&wake, &wake_lock, &ts);
        }
        pthread_mutex_unlock(&wake_lock);
    }
    return NULL;
}

static void start(void)
{
    struct timespec res;
    slack_ns = 1000000u + (clock_getres(CLOCK_MONOTONIC_COARSE, &res) ? 10000000u
                           : (uint64_t)res.tv_sec * 1000000000u + (uint64_t)res.tv_nsec);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &ca);
    pthread_condattr_destroy(&ca);
    int err = pa_thread_start(run, "poolalloc-purge");
    if (err) {
        atomic_store(&state, GAVE_UP);
        pa_message("cannot start the purge thread (%s); free memory is returned on the malloc slow path only",
                   strerror(err));
    }
}

/* From the malloc slow path, with no allocator lock held. */
void pa_purger_maybe_start(void)
{
    if (atomic_load_explicit(&state, memory_order_relaxed) != NOT_STARTED || !pa_options.purge_thread) return;
    if (atomic_load_explicit(&pa_gstats.committed, memory_order_relaxed) < PURGER_MIN) return;
    if (pa_heap_threads_seen() < 2) return;     /* single-threaded so far */
    int expect = NOT_STARTED;
    if (atomic_compare_exchange_strong(&state, &expect, RUNNING)) start();
}

/* fork: no pass may be running while the child is made; the child has no
 * purger thread until it needs one. */
void pa_purger_fork_prepare(void) { pthread_mutex_lock(&pass_lock); }
void pa_purger_fork_parent(void) { pthread_mutex_unlock(&pass_lock); }
void pa_purger_fork_child(void)
{
    pthread_mutex_init(&pass_lock, NULL);
    pthread_mutex_init(&wake_lock, NULL);
    atomic_store(&idle, 0);
    if (atomic_load(&state) == RUNNING) atomic_store(&state, NOT_STARTED);
}
