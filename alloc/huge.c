/* huge.c — blocks above 2 MiB, each in its own mapping, and a small cache of
 * freed mappings.
 *
 * A huge mapping starts 4 MiB aligned with a segment header (kind HUGE), so
 * free() finds it exactly like a segment; the block follows the header at
 * huge_offset (256 bytes, or the requested alignment). For alignments above
 * 2 MiB the block starts at the next 4 MiB boundary (huge_offset = 4 MiB) and
 * free() looks one segment below the block.
 *
 * Freed mappings of default alignment wait in the cache: reused (best fit, the
 * tail cut off if more than half would be spare) by a request that fits,
 * purged (madvise) once the purge delay passes or when more than 64 MiB of
 * them are resident, unmapped after ten delays or when the cache is full.
 * The cache lock is taken only for huge allocations and frees. */
#include <pthread.h>
#include <sys/mman.h>

#include "internal.h"

#define HUGE_HDR        256
#define CACHE_SLOTS     16
#define CACHE_MAX_BYTES ((size_t)256 << 20)
#define CACHE_MAX_DIRTY ((size_t)64 << 20)

_Static_assert(offsetof(pa_segment_t, pages) + sizeof(pa_page_t) <= HUGE_HDR,
               "a huge block must not overlap the page descriptor free() reads");

typedef struct { pa_segment_t *seg; bool dirty; } slot_t;

static pthread_mutex_t huge_lock = PTHREAD_MUTEX_INITIALIZER;
static slot_t cache[CACHE_SLOTS];      /* [0] oldest */
static size_t cache_n, cache_bytes, cache_dirty;
static _Atomic(uint64_t) cache_next_expiry;

/* dirty_slices, unused by huge mappings otherwise, says whether the block's
 * pages still count as committed (1) or were purged but for the header (0). */
static void unmap_now(pa_segment_t *s)
{
    atomic_fetch_sub_explicit(&pa_gstats.committed, s->dirty_slices ? s->map_size : PA_OS_PAGE, memory_order_relaxed);
    pa_os_unmap(s, s->map_size);
}

/* Removes slot i under the lock; returns its segment. */
static pa_segment_t *take_slot(size_t i)
{
    pa_segment_t *s = cache[i].seg;
    cache_bytes -= s->map_size;
    if (cache[i].dirty) cache_dirty -= s->map_size;
    memmove(&cache[i], &cache[i + 1], (cache_n - i - 1) * sizeof(slot_t));
    cache_n--;
    return s;
}

static void purge_slot(size_t i)
{
    pa_segment_t *s = cache[i].seg;
    pa_os_purge((uint8_t *)s + PA_OS_PAGE, s->map_size - PA_OS_PAGE);
    atomic_fetch_sub_explicit(&pa_gstats.committed, s->map_size - PA_OS_PAGE, memory_order_relaxed);
    cache[i].dirty = false;
    s->dirty_slices = 0;
    cache_dirty -= s->map_size;
}

/* The best-fitting cached mapping of at least map_size bytes. One more than
 * twice as large is cut down (its tail unmapped) rather than passed over: its
 * head is still cheaper than a new mapping, which has to be faulted in page by
 * page, and buffers grown by realloc leave mappings of every size behind. Up
 * to twice is kept whole: a growing buffer can then realloc in place. */
static pa_segment_t *cache_take(size_t map_size, bool *dirty)
{
    pa_segment_t *s = NULL;
    pthread_mutex_lock(&huge_lock);
    size_t best = cache_n;
    for (size_t i = 0; i < cache_n; i++) {
        size_t have = cache[i].seg->map_size;
        if (have >= map_size && (best == cache_n || have < cache[best].seg->map_size)) best = i;
    }
    if (best < cache_n) {
        *dirty = cache[best].dirty;
        s = take_slot(best);
        if (!*dirty)
            atomic_fetch_add_explicit(&pa_gstats.committed, s->map_size - PA_OS_PAGE, memory_order_relaxed);
        s->kind = PA_SEG_HUGE;
    }
    pthread_mutex_unlock(&huge_lock);
    if (s && s->map_size - map_size > map_size) {
        size_t tail = s->map_size - map_size;
        pa_os_unmap((uint8_t *)s + map_size, tail);
        atomic_fetch_sub_explicit(&pa_gstats.committed, tail, memory_order_relaxed);
        s->map_size = map_size;
    }
    return s;
}

void *pa_huge_alloc(size_t size, size_t align, bool zero)
{
    size_t off = align <= HUGE_HDR ? HUGE_HDR : align;
    if (align > PA_SEG_SIZE / 2) off = PA_SEG_SIZE;
    if (size > SIZE_MAX - off - PA_SEG_SIZE - align) return NULL;
    size_t map_size = (off + size + PA_OS_PAGE - 1) & ~(size_t)(PA_OS_PAGE - 1);
    bool dirty = false;
    pa_segment_t *s = off == HUGE_HDR ? cache_take(map_size, &dirty) : NULL;
    bool reused = s != NULL;
    if (!s) {
        s = align > PA_SEG_SIZE / 2 ? pa_os_map_aligned(map_size, align, PA_SEG_SIZE)
                                    : pa_os_map_aligned(map_size, PA_SEG_SIZE, 0);
        if (!s) return NULL;
        s->kind = PA_SEG_HUGE;
        s->map_size = map_size;
        s->heap = NULL;
        pa_segmap_set(s, true);
    }
    s->huge_offset = off;
    s->huge_size = s->map_size - off;
    s->dirty_slices = 1;
    if (off < PA_SEG_SIZE) {                 /* the descriptor free() will read */
        pa_page_t *d = &s->pages[off >> PA_SLICE_SHIFT];
        d->start = NULL;
        d->page = d;
    }
    atomic_fetch_add_explicit(&pa_gstats.huge_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pa_gstats.huge_alloc_bytes, s->huge_size, memory_order_relaxed);
    atomic_fetch_add_explicit(&pa_gstats.huge_live_bytes, s->huge_size, memory_order_relaxed);
    uint8_t *p = (uint8_t *)s + off;
    if (zero && dirty) memset(p, 0, s->huge_size);
    else if (zero && reused) memset(p, 0, PA_OS_PAGE - off);   /* a purge keeps page 0 */
    return p;
}

/* Grows a huge block without copying: mremap in place if the address space
 * after it is free, else moves its pages (not their contents) to a fresh
 * 4 MiB aligned reservation. NULL if neither works; the block is unchanged. */
void *pa_huge_realloc(pa_segment_t *s, size_t size)
{
    if (s->huge_offset != HUGE_HDR || size > SIZE_MAX - HUGE_HDR - PA_SEG_SIZE) return NULL;
    size_t map_size = (HUGE_HDR + size + PA_OS_PAGE - 1) & ~(size_t)(PA_OS_PAGE - 1);
    size_t old_map = s->map_size, old_size = s->huge_size;
    if (map_size <= old_map) return NULL;
    pa_segment_t *moved = s;
    if (mremap(s, old_map, map_size, 0) == MAP_FAILED) {
        pa_segment_t *t = pa_os_map_aligned(map_size, PA_SEG_SIZE, 0);
        if (!t) return NULL;
        pa_huge_lock();                      /* statistics read segment headers */
        if (mremap(s, old_map, map_size, MREMAP_MAYMOVE | MREMAP_FIXED, t) == MAP_FAILED) {
            pa_huge_unlock();
            unmap_now(t);
            return NULL;
        }
        pa_segmap_set(s, false);
        pa_segmap_set(t, true);
        pa_huge_unlock();
        moved = t;
        /* the reservation was counted as mapped and committed; the old range is gone */
        atomic_fetch_sub_explicit(&pa_gstats.mapped, old_map, memory_order_relaxed);
        atomic_fetch_sub_explicit(&pa_gstats.committed, old_map, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&pa_gstats.mapped, map_size - old_map, memory_order_relaxed);
        atomic_fetch_add_explicit(&pa_gstats.committed, map_size - old_map, memory_order_relaxed);
    }
    moved->map_size = map_size;
    moved->huge_size = map_size - HUGE_HDR;
    atomic_fetch_add_explicit(&pa_gstats.huge_alloc_bytes, moved->huge_size - old_size, memory_order_relaxed);
    atomic_fetch_add_explicit(&pa_gstats.huge_live_bytes, moved->huge_size - old_size, memory_order_relaxed);
    return (uint8_t *)moved + HUGE_HDR;
}

void pa_huge_free(pa_segment_t *s)
{
    atomic_fetch_add_explicit(&pa_gstats.huge_frees, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pa_gstats.huge_free_bytes, s->huge_size, memory_order_relaxed);
    atomic_fetch_sub_explicit(&pa_gstats.huge_live_bytes, s->huge_size, memory_order_relaxed);
    pa_segment_t *evict[CACHE_SLOTS + 1];
    size_t n_evict = 0;
    uint64_t now = pa_clock_ns();
    pthread_mutex_lock(&huge_lock);
    if (s->kind != PA_SEG_HUGE) {
        pthread_mutex_unlock(&huge_lock);
        pa_fatal("free(): double free %p", (void *)((uint8_t *)s + s->huge_offset));
    }
    if (s->huge_offset == HUGE_HDR && s->map_size <= CACHE_MAX_BYTES / 4) {
        s->kind = PA_SEG_HUGE_CACHED;
        while (cache_n == CACHE_SLOTS || cache_bytes + s->map_size > CACHE_MAX_BYTES)
            evict[n_evict++] = take_slot(0);
        s->cached_at_ns = now;
        cache[cache_n++] = (slot_t){ s, true };
        cache_bytes += s->map_size;
        cache_dirty += s->map_size;
        for (size_t i = 0; cache_dirty > CACHE_MAX_DIRTY && i < cache_n; i++)
            if (cache[i].dirty) purge_slot(i);
        uint64_t exp = atomic_load_explicit(&cache_next_expiry, memory_order_relaxed);
        uint64_t mine = now + pa_options.purge_delay_ns;
        if (!exp || mine < exp) atomic_store_explicit(&cache_next_expiry, mine, memory_order_relaxed);
    } else {
        evict[n_evict++] = s;
    }
    for (size_t i = 0; i < n_evict; i++) pa_segmap_set(evict[i], false);
    pthread_mutex_unlock(&huge_lock);
    for (size_t i = 0; i < n_evict; i++) unmap_now(evict[i]);
}

/* As pa_segment_cache_trim. */
bool pa_huge_cache_trim(uint64_t now, uint64_t evict_before)
{
    uint64_t exp = atomic_load_explicit(&cache_next_expiry, memory_order_relaxed);
    if (!evict_before && (!exp || now < exp)) return false;
    pa_segment_t *evict[CACHE_SLOTS];
    size_t n_evict = 0;
    bool released = false;
    pthread_mutex_lock(&huge_lock);
    uint64_t next = 0;
    for (size_t i = 0; i < cache_n;) {
        pa_segment_t *s = cache[i].seg;
        if (s->cached_at_ns < evict_before || now >= s->cached_at_ns + 10 * pa_options.purge_delay_ns) {
            evict[n_evict++] = take_slot(i);
            pa_segmap_set(s, false);
            continue;
        }
        if (cache[i].dirty && now >= s->cached_at_ns + pa_options.purge_delay_ns) { purge_slot(i); released = true; }
        uint64_t e = cache[i].dirty ? s->cached_at_ns + pa_options.purge_delay_ns
                                    : s->cached_at_ns + 10 * pa_options.purge_delay_ns;
        if (!next || e < next) next = e;
        i++;
    }
    atomic_store_explicit(&cache_next_expiry, next, memory_order_relaxed);
    pthread_mutex_unlock(&huge_lock);
    for (size_t i = 0; i < n_evict; i++) { unmap_now(evict[i]); released = true; }
    return released;
}

void pa_huge_lock(void) { pthread_mutex_lock(&huge_lock); }
void pa_huge_unlock(void) { pthread_mutex_unlock(&huge_lock); }

void pa_huge_fork_child(void) { pthread_mutex_init(&huge_lock, NULL); }
