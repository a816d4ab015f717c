/* heap.c — thread heaps: creation, adoption after thread exit, collection,
 * periodic maintenance (purging), fork handling and process initialisation.
 *
 * The heaps lock guards the list of all heaps and the abandoned list; it is
 * taken when a thread starts or ends, for statistics, and around fork. */
#include <pthread.h>
#include <sys/auxv.h>

#include "internal.h"
#include "prof.h"

pa_page_t pa_page_empty;
pa_heap_t pa_heap_empty = { .tag = PA_TAG_NONE, .direct = { [0 ... PA_CLASSES] = &pa_page_empty },
                            .small = { [0 ... PA_DIRECT_SLOTS - 1] = &pa_page_empty } };
PA_TLS pa_heap_t *pa_tl_heap = &pa_heap_empty;
PA_TLS bool pa_tl_exiting;
uintptr_t pa_free_key = 0x9e3779b97f4a7c15u;

static pthread_mutex_t heaps_lock = PTHREAD_MUTEX_INITIALIZER;
static pa_heap_t *all_heaps, *abandoned;
static pthread_key_t exit_key;
uint64_t pa_start_ns;
static _Atomic int init_state;           /* 0 not started, 1 running, 2 done */
static PA_TLS bool in_init;

pa_heap_t *pa_heap_list(void) { return all_heaps; }
void pa_heaps_lock(void) { pthread_mutex_lock(&heaps_lock); }
void pa_heaps_unlock(void) { pthread_mutex_unlock(&heaps_lock); }

/* ---- collection ----------------------------------------------------------- */

/* Brings every remote and local free back into its page and returns empty
 * pages (all of them when `force`, else all but the first of each queue). The
 * freed slices stay resident until their purge delay has passed, or until
 * the caller purges them. */
void pa_heap_collect(pa_heap_t *h, bool force)
{
    pa_remote_flush(h);                  /* its frees to other heaps' pages */
    pa_heap_take_remote_blocks(h);
    for (pa_page_t *pg = h->full.first, *next; pg; pg = next) {
        next = pg->next;
        /* a large page stays full until its one block has come back */
        if (pg->class_id != PA_CLASS_LARGE || atomic_load_explicit(&pg->xfree, memory_order_relaxed) > PA_XFREE_NOTIFY)
            pa_page_unfull(h, pg);
    }
    for (size_t c = 1; c < PA_CLASS_LARGE; c++) {
        pa_page_queue_t *q = &h->queue[c];
        for (pa_page_t *pg = q->first, *next; pg; pg = next) {
            next = pg->next;
            pa_page_collect(pg);
            if (pa_page_is_unused(pg) && (force || pg != q->first)) pa_page_retire(h, pg);
        }
    }
}

/* Runs from the malloc slow path at most once per half purge delay. */
void pa_heap_maintenance(pa_heap_t *h)
{
    uint64_t now = pa_clock_ns();
    if (now < h->next_maintenance_ns) return;
    h->next_maintenance_ns = now + pa_options.purge_delay_ns / 2 + 1;
    pa_purger_maybe_start();
    pa_remote_flush(h);
    pa_heap_take_remote_blocks(h);
    pa_segment_purge_heap(h, now, false);
    pa_segment_cache_trim(now, 0);
    pa_huge_cache_trim(now, 0);
    pa_heap_collect_abandoned(false);
}

/* Collects heaps of exited threads that no new thread has adopted: remote
 * frees to them would otherwise sit in their pages forever. Holds the heaps
 * lock throughout, so a thread starting meanwhile waits and then adopts one
 * instead of creating a heap; without `force`, runs at most once a second. */
bool pa_heap_collect_abandoned(bool force)
{
    static _Atomic(uint64_t) last_ns;
    if (!atomic_load_explicit(&pa_gstats.heaps_abandoned, memory_order_relaxed)) return false;
    uint64_t now = pa_clock_ns(), last = atomic_load_explicit(&last_ns, memory_order_relaxed);
    if (!force && now < last + 1000000000u) return false;
    if (!atomic_compare_exchange_strong(&last_ns, &last, now) && !force) return false;
    pthread_mutex_lock(&heaps_lock);
    bool any = abandoned != NULL;
    for (pa_heap_t *h = abandoned; h; h = h->next_abandoned) {
        pa_heap_collect(h, true);
        pa_segment_purge_heap(h, now, true);
    }
    pthread_mutex_unlock(&heaps_lock);
    return any;
}

/* ---- thread start and exit ---------------------------------------------- */

static pa_heap_t *heap_new(void)
{
    size_t size = (sizeof(pa_heap_t) + PA_OS_PAGE - 1) & ~(size_t)(PA_OS_PAGE - 1);
    pa_heap_t *h = pa_os_map_aligned(size, PA_OS_PAGE, 0);
    if (!h) return NULL;
    for (size_t c = 0; c <= PA_CLASSES; c++) h->direct[c] = &pa_page_empty;
    for (size_t i = 0; i < PA_DIRECT_SLOTS; i++) h->small[i] = &pa_page_empty;
    pthread_mutex_init(&h->segments_lock, NULL);
    h->rng = pa_free_key ^ (uintptr_t)h ^ pa_clock_ns();
    pa_heap_budget_init(h);
    uint64_t made = atomic_fetch_add_explicit(&pa_gstats.heaps, 1, memory_order_relaxed);
    h->tag = made <= PA_TAG_NONE - 1 - PA_TAG_FIRST ? (uint8_t)(PA_TAG_FIRST + made) : PA_TAG_NONE;
    pthread_mutex_lock(&heaps_lock);
    h->next_all = all_heaps;
    all_heaps = h;
    pthread_mutex_unlock(&heaps_lock);
    return h;
}

static void heap_abandon(void *arg)
{
    pa_heap_t *h = arg;
    if (!h || h == &pa_heap_empty) return;
    pa_tl_heap = &pa_heap_empty;
    pa_tl_exiting = true;
    /* No purge: a thread starting soon adopts this heap and reuses its memory
     * warm; if none does, collect_abandoned purges it within a second. */
    pa_heap_collect(h, true);
    pthread_mutex_lock(&heaps_lock);
    h->abandoned = true;
    h->next_abandoned = abandoned;
    abandoned = h;
    atomic_fetch_add_explicit(&pa_gstats.heaps_abandoned, 1, memory_order_relaxed);
    pthread_mutex_unlock(&heaps_lock);
}

/* Threads that ever took a heap (new or adopted): the purger waits for a
 * second one. */
static _Atomic(uint64_t) threads_seen;
uint64_t pa_heap_threads_seen(void) { return atomic_load_explicit(&threads_seen, memory_order_relaxed); }

pa_heap_t *pa_heap_get_or_init(void)
{
    pa_heap_t *h = pa_tl_heap;
    if (h != &pa_heap_empty) return h;
    pa_process_init();
    pthread_mutex_lock(&heaps_lock);
    /* a heap with a tag first: a heap without one frees on the slow path */
    pa_heap_t **pick = &abandoned;
    for (pa_heap_t **pp = &abandoned; *pp; pp = &(*pp)->next_abandoned)
        if ((*pp)->tag != PA_TAG_NONE) { pick = pp; break; }
    h = *pick;
    if (h) {
        *pick = h->next_abandoned;
        h->abandoned = false;
        h->next_abandoned = NULL;
        atomic_fetch_sub_explicit(&pa_gstats.heaps_abandoned, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&heaps_lock);
    if (!h) h = heap_new();
    if (!h) return NULL;
    atomic_fetch_add_explicit(&threads_seen, 1, memory_order_relaxed);
    pa_tl_heap = h;
    if (atomic_load(&init_state) == 2) pthread_setspecific(exit_key, h);
    return h;
}

/* ---- fork ---------------------------------------------------------------- */

/* Lock order: purger, cycle, pools (through the cycle's hooks), heaps, a
 * heap's segments, segments, huge. */
void pa_fork_prepare(void)
{
    pa_purger_fork_prepare();
    pa_cycle_fork_prepare();
    pthread_mutex_lock(&heaps_lock);
    for (pa_heap_t *h = all_heaps; h; h = h->next_all) pthread_mutex_lock(&h->segments_lock);
    pa_segment_lock();
    pa_huge_lock();
}

void pa_fork_parent(void)
{
    pa_huge_unlock();
    pa_segment_unlock();
    for (pa_heap_t *h = all_heaps; h; h = h->next_all) pthread_mutex_unlock(&h->segments_lock);
    pthread_mutex_unlock(&heaps_lock);
    pa_cycle_fork_parent();
    pa_purger_fork_parent();
}

/* In the child only this thread exists. Heaps that other threads were using
 * may be half-way through an update; they are not on the abandoned list, so
 * they are never adopted or collected: their memory stays with them (a child
 * usually execs soon), and frees to them are still safe (atomic lists).
 * Abandoned heaps were consistent and stay usable. */
void pa_fork_child(void)
{
    pa_huge_fork_child();
    pa_segment_fork_child();
    for (pa_heap_t *h = all_heaps; h; h = h->next_all) pthread_mutex_init(&h->segments_lock, NULL);
    pthread_mutex_init(&heaps_lock, NULL);
    pa_cycle_fork_child();
    pa_prof_fork_child();
    pa_http_fork_child();
    pa_purger_fork_child();
}

/* ---- process ------------------------------------------------------------- */

void pa_process_init(void)
{
    int state = atomic_load_explicit(&init_state, memory_order_acquire);
    if (state == 2 || in_init) return;
    int expect = 0;
    if (!atomic_compare_exchange_strong(&init_state, &expect, 1)) {
        while (atomic_load_explicit(&init_state, memory_order_acquire) != 2) {}
        return;
    }
    in_init = true;
    pa_options_init();
    if (pa_options.stats_at_exit || pa_options.trace || pa_options.profile[0]) pa_stderr_keep();
    pa_start_ns = pa_clock_ns();
    const void *at_random = (const void *)getauxval(AT_RANDOM);   /* 16 bytes, unaligned */
    if (at_random) {
        uint64_t rnd[2];
        memcpy(rnd, at_random, sizeof rnd);
        pa_free_key ^= rnd[0] ^ (rnd[1] << 1);
    }
    pa_free_key |= 1;              /* never 0, so a zeroed key is never "free" */
    pa_prof_init();
    pthread_key_create(&exit_key, heap_abandon);
    pthread_atfork(pa_fork_prepare, pa_fork_parent, pa_fork_child);
    atomic_store_explicit(&init_state, 2, memory_order_release);
    in_init = false;
    if (pa_tl_heap != &pa_heap_empty) pthread_setspecific(exit_key, pa_tl_heap);
}
