/* segment.c — 4 MiB segments: carving them into slice runs (pages), handing
 * free slices back to the OS after a delay, and a small global cache of empty
 * segments so that a heap that shrinks and grows again does not pay for
 * mmap/munmap each time.
 *
 * Invariants: slice 0 is never free (it is the header). A slice is either in
 * a page run (its bit clear in free_slices) or free; a free slice whose memory
 * may still be resident has its bit set in dirty_slices, and in fresh_slices
 * too while it was freed since the last purge pass. Passes come one purge
 * delay apart (purge_at_ns) while a segment has dirty slices; each returns
 * the dirty slices that are not fresh (all of them when none was freed for a
 * delay), so a slice goes back to the OS only after it has stayed unused for
 * at least one delay and at most about two: memory about to be reused is not
 * purged and faulted in again (decay, not eager return). The cache lock is
 * taken only when a segment is created, emptied or trimmed: never per object. */
#include <pthread.h>

#include "internal.h"

#define ALL_SLICES (~(uint64_t)1)

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pa_segment_t *cache_first;          /* most recently emptied first */
static size_t cache_count;
static _Atomic(uint64_t) cache_next_expiry;

static void heap_link(pa_heap_t *h, pa_segment_t *s)
{
    s->heap = h;
    pa_segmap_set(s, h->tag != PA_TAG_NONE ? h->tag : PA_MAP_SHARED);
    s->prev = NULL;
    s->next = h->segments;
    if (h->segments) h->segments->prev = s;
    h->segments = s;
}

static void heap_unlink(pa_heap_t *h, pa_segment_t *s)
{
    if (s->prev) s->prev->next = s->next; else h->segments = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

/* Points a slice's descriptor at the first of its run, in the owner's
 * fields and the readers' copy (pa_page_view_t) alike. */
static void point_slice(pa_page_t *slice, pa_page_t *first)
{
    slice->page = slice->view.page = first;
}

static pa_segment_t *segment_new(void)
{
    pa_segment_t *s = NULL;
    pthread_mutex_lock(&cache_lock);
    if (cache_first) {
        s = cache_first;
        cache_first = s->next;
        cache_count--;
    }
    pthread_mutex_unlock(&cache_lock);
    if (s) return s;

    s = pa_os_map_aligned(PA_SEG_SIZE, PA_SEG_SIZE, 0);
    if (!s) return NULL;
    s->kind = PA_SEG_NORMAL;
    s->map_size = PA_SEG_SIZE;
    s->free_slices = ALL_SLICES;
    s->dirty_slices = s->fresh_slices = 0;   /* fresh from mmap: nothing resident */
    for (size_t i = 0; i < PA_SLICES; i++) point_slice(&s->pages[i], &s->pages[i]);
    atomic_fetch_sub_explicit(&pa_gstats.committed, PA_SEG_SIZE - PA_SLICE_SIZE, memory_order_relaxed);
    atomic_fetch_add_explicit(&pa_gstats.segments, 1, memory_order_relaxed);
    pa_segmap_set(s, PA_MAP_SHARED);
    return s;
}

/* A purge pass (all dirty slices if `all`, else those not fresh); true if
 * it returned anything. */
static bool purge_dirty(pa_segment_t *s, bool all, uint64_t now)
{
    if (now >= s->freed_at_ns + pa_options.purge_delay_ns) all = true;
    uint64_t d = s->dirty_slices & s->free_slices & (all ? ~(uint64_t)0 : ~s->fresh_slices);
    s->dirty_slices &= ~d;
    s->fresh_slices = 0;
    s->purge_at_ns = s->dirty_slices ? now + pa_options.purge_delay_ns : 0;
    bool any = d != 0;
    while (d) {
        unsigned i = (unsigned)__builtin_ctzll(d);
        unsigned n = (unsigned)__builtin_ctzll(~(d >> i));   /* run length */
        if (i + n > 64) n = 64 - i;
        pa_os_purge((uint8_t *)s + ((size_t)i << PA_SLICE_SHIFT), (size_t)n << PA_SLICE_SHIFT);
        atomic_fetch_sub_explicit(&pa_gstats.committed, (size_t)n << PA_SLICE_SHIFT, memory_order_relaxed);
        d = (n + i >= 64) ? 0 : d & ~((((uint64_t)1 << n) - 1) << i);
    }
    return any;
}

/* The caller has cleared the segment's segmap bit under the cache lock, so
 * statistics (which hold that lock) never read an unmapped header. */
static void segment_destroy(pa_segment_t *s)
{
    atomic_fetch_sub_explicit(&pa_gstats.segments, 1, memory_order_relaxed);
    uint64_t committed = PA_SLICE_SIZE + (uint64_t)__builtin_popcountll(s->dirty_slices & ALL_SLICES) * PA_SLICE_SIZE;
    atomic_fetch_sub_explicit(&pa_gstats.committed, committed, memory_order_relaxed);
    pa_os_unmap(s, PA_SEG_SIZE);
}

/* An empty segment goes to the cache; past the cache's size the oldest one is
 * unmapped at once, so a burst that is freed gives its memory back promptly. */
static void segment_release(pa_segment_t *s)
{
    uint64_t now = pa_clock_ns();
    s->heap = NULL;
    pa_segmap_set(s, PA_MAP_SHARED);
    s->cached_at_ns = now;
    if (!s->purge_at_ns) s->purge_at_ns = now + pa_options.purge_delay_ns;
    pa_segment_t *evict = NULL;
    pthread_mutex_lock(&cache_lock);
    s->prev = NULL;
    s->next = cache_first;
    cache_first = s;
    cache_count++;
    if (cache_count > pa_options.segment_cache) {
        pa_segment_t **pp = &cache_first;
        while ((*pp)->next) pp = &(*pp)->next;      /* oldest is last */
        evict = *pp;
        *pp = NULL;
        cache_count--;
        pa_segmap_set(evict, PA_MAP_NOT_OURS);
    }
    uint64_t exp = atomic_load_explicit(&cache_next_expiry, memory_order_relaxed);
    if (!exp || s->purge_at_ns < exp) atomic_store_explicit(&cache_next_expiry, s->purge_at_ns, memory_order_relaxed);
    pthread_mutex_unlock(&cache_lock);
    if (evict) segment_destroy(evict);
}

/* Purges cached segments whose delay has passed and unmaps those that stayed
 * unused for 10 delays or were cached before `evict_before` (0: none;
 * UINT64_MAX: all, as malloc_trim; a reclaim cycle: the previous cycle). */
bool pa_segment_cache_trim(uint64_t now, uint64_t evict_before)
{
    uint64_t exp = atomic_load_explicit(&cache_next_expiry, memory_order_relaxed);
    if (!evict_before && (!exp || now < exp)) return false;
    bool released = false;
    pa_segment_t *doomed = NULL;
    pthread_mutex_lock(&cache_lock);
    uint64_t next = 0;
    for (pa_segment_t **pp = &cache_first; *pp;) {
        pa_segment_t *s = *pp;
        if (s->cached_at_ns < evict_before || now >= s->cached_at_ns + 10 * pa_options.purge_delay_ns) {
            *pp = s->next;
            cache_count--;
            s->next = doomed;
            doomed = s;
            pa_segmap_set(s, PA_MAP_NOT_OURS);
            continue;
        }
        if (s->purge_at_ns && now >= s->purge_at_ns) released |= purge_dirty(s, false, now);
        uint64_t e = s->purge_at_ns ? s->purge_at_ns : s->cached_at_ns + 10 * pa_options.purge_delay_ns;
        if (!next || e < next) next = e;
        pp = &s->next;
    }
    atomic_store_explicit(&cache_next_expiry, next, memory_order_relaxed);
    pthread_mutex_unlock(&cache_lock);
    while (doomed) {
        pa_segment_t *s = doomed;
        doomed = s->next;
        segment_destroy(s);
        released = true;
    }
    return released;
}

/* Bit i set where n slices starting at i are all set in `set`. */
static uint64_t run_starts(uint64_t set, size_t n)
{
    uint64_t starts = set;
    for (size_t i = 1; i < n && starts; i++) starts &= set >> i;
    return starts;
}

static uint64_t run_mask(size_t first, size_t n)
{
    return (n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << first;
}

/* Marks the free slices in `run` used, counting those that were purged as
 * committed again. */
static void claim(pa_segment_t *s, uint64_t run)
{
    uint64_t was_dirty = s->dirty_slices & run;
    s->free_slices &= ~run;
    s->dirty_slices &= ~run;
    s->fresh_slices &= ~run;
    size_t fresh = (size_t)(__builtin_popcountll(run) - __builtin_popcountll(was_dirty)) << PA_SLICE_SHIFT;
    atomic_fetch_add_explicit(&pa_gstats.committed, fresh, memory_order_relaxed);
}

static pa_page_t *take_run_at(pa_segment_t *s, unsigned first, size_t n)
{
    claim(s, run_mask(first, n));
    pa_page_t *pg = &s->pages[first];
    for (size_t i = 1; i < n; i++) point_slice(&pg[i], pg);
    pg->slice_count = (uint8_t)n;
    pg->start = (uint8_t *)s + ((size_t)first << PA_SLICE_SHIFT);
    return pg;                               /* published by pa_page_setup */
}

/* A run of `slices` free slices from one of h's segments, or a new segment
 * (under h's segments lock).
 * Slices still resident are preferred: reusing them costs no page faults and
 * no new memory, while purged ones would have to be faulted back in. */
static pa_page_t *page_alloc(pa_heap_t *h, size_t slices)
{
    pa_segment_t *any = NULL;
    unsigned any_first = 0;
    for (pa_segment_t *s = h->segments; s; s = s->next) {
        uint64_t warm = run_starts(s->free_slices & s->dirty_slices, slices);
        if (warm) return take_run_at(s, (unsigned)__builtin_ctzll(warm), slices);
        if (!any) {
            uint64_t starts = run_starts(s->free_slices, slices);
            if (starts) { any = s; any_first = (unsigned)__builtin_ctzll(starts); }
        }
    }
    if (any) return take_run_at(any, any_first, slices);
    pa_segment_t *s = segment_new();
    if (!s) return NULL;
    heap_link(h, s);
    uint64_t starts = run_starts(s->free_slices, slices);
    return starts ? take_run_at(s, (unsigned)__builtin_ctzll(starts), slices) : NULL;
}

pa_page_t *pa_segment_page_alloc(pa_heap_t *h, size_t slices)
{
    pthread_mutex_lock(&h->segments_lock);
    pa_page_t *pg = page_alloc(h, slices);
    pthread_mutex_unlock(&h->segments_lock);
    return pg;
}

/* Grows pg's run to `slices` in place when the slices after it are free. */
bool pa_segment_page_grow(pa_page_t *pg, size_t slices)
{
    pa_segment_t *s = pa_segment_of(pg);
    size_t first = (size_t)(pg - s->pages), n = pg->slice_count;
    if (slices <= n || first + slices > PA_SLICES) return false;
    uint64_t more = run_mask(first + n, slices - n);
    pthread_mutex_lock(&s->heap->segments_lock);
    bool free = (s->free_slices & more) == more;
    if (free) {
        claim(s, more);
        for (size_t i = n; i < slices; i++) point_slice(&pg[i], pg);
        pg->slice_count = (uint8_t)slices;
    }
    pthread_mutex_unlock(&s->heap->segments_lock);
    return free;
}

/* Gives a page's slices back to its segment; an emptied segment is released. */
void pa_segment_page_free(pa_heap_t *h, pa_page_t *pg)
{
    pa_segment_t *s = pa_segment_of(pg);
    size_t first = (size_t)(pg - s->pages), n = pg->slice_count;
    uint64_t run = run_mask(first, n);
    for (size_t i = 0; i < n; i++) {
        memset(&pg[i], 0, offsetof(pa_page_t, xfree));   /* the readers' copy too */
        point_slice(&pg[i], &pg[i]);
    }
    atomic_store_explicit(&pg->xfree, 0, memory_order_relaxed);
    pthread_mutex_lock(&h->segments_lock);
    s->free_slices |= run;
    s->dirty_slices |= run;
    s->fresh_slices |= run;
    s->freed_at_ns = pa_clock_ns();
    if (!s->purge_at_ns) s->purge_at_ns = s->freed_at_ns + pa_options.purge_delay_ns;
    bool empty = s->free_slices == ALL_SLICES;
    if (empty) heap_unlink(h, s);
    pthread_mutex_unlock(&h->segments_lock);
    if (empty) segment_release(s);
    pa_purger_wake();
}

/* Purges the free slices of h's segments whose delay has passed (all, if
 * force); the caller holds h's segments lock. Returns when the next pass is
 * due (0: nothing left to purge). */
static uint64_t purge_heap(pa_heap_t *h, uint64_t now, bool force)
{
    uint64_t next = 0;
    for (pa_segment_t *s = h->segments; s; s = s->next) {
        if (s->purge_at_ns && (force || now >= s->purge_at_ns)) purge_dirty(s, force, now);
        if (s->purge_at_ns && (!next || s->purge_at_ns < next)) next = s->purge_at_ns;
    }
    return next;
}

void pa_segment_purge_heap(pa_heap_t *h, uint64_t now, bool force)
{
    pthread_mutex_lock(&h->segments_lock);
    purge_heap(h, now, force);
    pthread_mutex_unlock(&h->segments_lock);
}

/* The purger's pass over a heap: skipped (due again a delay later) while its
 * owner is in a page operation; the owner may in turn wait for this pass. */
uint64_t pa_segment_purge_heap_idle(pa_heap_t *h, uint64_t now)
{
    if (pthread_mutex_trylock(&h->segments_lock) != 0) return now + pa_options.purge_delay_ns;
    uint64_t next = purge_heap(h, now, false);
    pthread_mutex_unlock(&h->segments_lock);
    return next;
}

/* When the segment cache next needs a pass (0: empty). */
uint64_t pa_segment_cache_due(void)
{
    return atomic_load_explicit(&cache_next_expiry, memory_order_relaxed);
}

void pa_segment_lock(void) { pthread_mutex_lock(&cache_lock); }
void pa_segment_unlock(void) { pthread_mutex_unlock(&cache_lock); }

void pa_segment_fork_child(void) { pthread_mutex_init(&cache_lock, NULL); }
