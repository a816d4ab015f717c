/* huge.c — blocks above 2 MiB, each in its own mapping, and a small cache of
 * freed mappings.
 *
 * A huge mapping starts 4 MiB aligned with a segment header (kind HUGE), so
 * free() finds it exactly like a segment; the block follows the header at
 * huge_offset (512 bytes, less a sampled object's profile header, which
 * pa_huge_room_before puts inside it; or the requested alignment). For
 * alignments above 2 MiB the block starts at the next 4 MiB boundary
 * (huge_offset = 4 MiB) and free() looks one segment below the block.
 *
 * New mappings ask for transparent huge pages (pa_os_hugepage): a block of
 * many MiB then costs a few faults, not thousands.
 *
 * Freed mappings of default alignment wait in the cache. A request that one
 * fits reuses it (best fit; a mapping more than twice the request is split at
 * a 4 MiB boundary and its tail cached on its own); a request that none fits
 * gathers the resident pages of several (gather; before Linux 6.17 it grows
 * the largest of at least half its size). Cached mappings are purged
 * (madvise) once the purge delay passes or when more than max(64 MiB, half
 * the live huge bytes) of them are resident, and unmapped after ten delays or
 * when the cache is full (16 mappings, max(256 MiB, the live huge bytes)).
 * calloc clears the bytes it was asked for in a reused mapping that is still
 * resident (a purged one reads zero but for its header page). The cache lock
 * is taken only for huge allocations and frees. */
#include <pthread.h>
#include <sys/mman.h>

#include "internal.h"

#define HUGE_HDR        512
#define HUGE_HDR_USED   (offsetof(pa_segment_t, pages) + offsetof(pa_page_t, xfree))   /* the owner's line and the readers' */
#define CACHE_SLOTS     16
#define CACHE_MAX_BYTES ((size_t)256 << 20)
#define CACHE_MAX_DIRTY ((size_t)64 << 20)

_Static_assert(HUGE_HDR_USED + 256 <= HUGE_HDR,
               "a huge block must not overlap the page descriptor free() reads, and the "
               "header keeps room for a sampled object's profile header (pa_huge_room_before)");

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

/* Unmaps resident (committed) pages of a mapping. */
static void unmap_dirty(void *p, size_t len)
{
    pa_os_unmap(p, len);
    atomic_fetch_sub_explicit(&pa_gstats.committed, len, memory_order_relaxed);
}

/* Takes len bytes off the mapped and committed counts without unmapping
 * them: pages a move took elsewhere, or a range left alone after a failed
 * one (gather_failed). */
static void count_gone(size_t len)
{
    atomic_fetch_sub_explicit(&pa_gstats.mapped, len, memory_order_relaxed);
    atomic_fetch_sub_explicit(&pa_gstats.committed, len, memory_order_relaxed);
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

/* The cache's bounds grow with the program's live huge bytes, so a program
 * that cycles through a few hundred MiB of big buffers reuses them resident
 * (decay, not eager return: the purge delay still returns what sits unused),
 * while a small program keeps at most 64 MiB dirty and 256 MiB cached. */
static size_t cache_max_bytes(void)
{
    size_t live = atomic_load_explicit(&pa_gstats.huge_live_bytes, memory_order_relaxed);
    return live > CACHE_MAX_BYTES ? live : CACHE_MAX_BYTES;
}

static size_t cache_max_dirty(void)
{
    size_t half = atomic_load_explicit(&pa_gstats.huge_live_bytes, memory_order_relaxed) / 2;
    return half > CACHE_MAX_DIRTY ? half : CACHE_MAX_DIRTY;
}

/* Under the lock: the purger is due at most one purge delay after a mapping
 * cached at cached_at. */
static void arm_expiry(uint64_t cached_at)
{
    uint64_t exp = atomic_load_explicit(&cache_next_expiry, memory_order_relaxed);
    uint64_t mine = cached_at + pa_options.purge_delay_ns;
    if (!exp || mine < exp) atomic_store_explicit(&cache_next_expiry, mine, memory_order_relaxed);
}

/* Under the lock: puts s (kind HUGE_CACHED, cached_at_ns set) in a free
 * slot, which the caller has made sure of. */
static void cache_put(pa_segment_t *s, bool dirty)
{
    cache[cache_n++] = (slot_t){ s, dirty };
    cache_bytes += s->map_size;
    if (dirty) cache_dirty += s->map_size;
}

/* Cuts s (just taken from the cache, `dirty` as it was) down to `keep` bytes.
 * The tail, from the next 4 MiB boundary on, goes back into the cache as a
 * mapping of its own when a huge block fits in it, so its pages stay resident
 * for the next request instead of being unmapped and faulted in again.
 * Returns what s must unmap (under no lock) at *unmap_at, 0 for nothing. */
static size_t cache_split(pa_segment_t *s, size_t keep, bool dirty, uint8_t **unmap_at)
{
    size_t cut = (keep + PA_SEG_MASK) & ~PA_SEG_MASK;
    size_t tail = s->map_size - cut;
    *unmap_at = NULL;
    if (cut < s->map_size && tail > PA_LARGE_MAX + HUGE_HDR && cache_n < CACHE_SLOTS) {
        pa_segment_t *t = (pa_segment_t *)((uint8_t *)s + cut);
        t->kind = PA_SEG_HUGE_CACHED;
        t->heap = NULL;
        t->map_size = tail;
        t->huge_offset = HUGE_HDR;
        t->huge_size = tail - HUGE_HDR;
        t->dirty_slices = dirty;
        t->several_vmas = s->several_vmas;
        t->cached_at_ns = s->cached_at_ns;
        if (!dirty) atomic_fetch_add_explicit(&pa_gstats.committed, PA_OS_PAGE, memory_order_relaxed);
        pa_segmap_set(t, PA_MAP_SHARED);
        cache_put(t, dirty);
        s->map_size = cut;
        return 0;
    }
    if (s->map_size - keep <= keep) return 0;   /* up to twice is kept whole */
    *unmap_at = (uint8_t *)s + keep;
    size_t cut_bytes = s->map_size - keep;
    s->map_size = keep;
    return cut_bytes;
}

/* Resident cached mappings that together hold map_size bytes, or as many as
 * there are, largest first; taken out of the cache (and the segment map)
 * for gather. */
typedef struct { pa_segment_t *seg[CACHE_SLOTS]; size_t n; } pieces_t;

static void cache_take_pieces(size_t map_size, pieces_t *out)   /* out->n is 0 */
{
    size_t have = 0;
    while (have < map_size) {
        size_t big = cache_n;
        for (size_t i = 0; i < cache_n; i++)
            if (cache[i].dirty && (big == cache_n || cache[i].seg->map_size > cache[big].seg->map_size)) big = i;
        if (big == cache_n) break;
        pa_segment_t *s = take_slot(big);
        pa_segmap_set(s, PA_MAP_NOT_OURS);   /* before gather gives its range back */
        out->seg[out->n++] = s;
        have += s->map_size;
    }
}

/* The best-fitting cached mapping of at least map_size bytes. One more than
 * twice as large is split (see cache_split) rather than passed over: its head
 * is still cheaper than a new mapping, which has to be faulted in, and buffers
 * grown by realloc leave mappings of every size behind. Up to twice is kept
 * whole: a growing buffer can then realloc in place. When none is large
 * enough: where mremap moves ranges of several VMAs (Linux 6.17+), NULL, and
 * the resident ones go to *pieces for gather; elsewhere the largest one of at
 * least half the size, which the caller grows (remap_grow), keeping it one
 * VMA, so that realloc can still grow it without copying. */
static pa_segment_t *remap_grow(pa_segment_t *s, size_t map_size);

static pa_segment_t *cache_take(size_t map_size, bool *dirty, pieces_t *pieces)   /* pieces->n is 0 */
{
    pa_segment_t *s = NULL;
    uint8_t *unmap_at = NULL;
    size_t unmap_len = 0;
    pthread_mutex_lock(&huge_lock);
    size_t best = cache_n, largest = cache_n;
    for (size_t i = 0; i < cache_n; i++) {
        size_t have = cache[i].seg->map_size;
        if (have >= map_size && (best == cache_n || have < cache[best].seg->map_size)) best = i;
        if (largest == cache_n || have > cache[largest].seg->map_size) largest = i;
    }
    if (best == cache_n && pa_os_moves_several_vmas()) cache_take_pieces(map_size, pieces);
    else if (best == cache_n && largest < cache_n && cache[largest].seg->map_size >= map_size / 2)
        best = largest;                      /* too small: the caller grows it */
    if (best < cache_n) {
        *dirty = cache[best].dirty;
        s = take_slot(best);
        if (s->map_size > map_size && s->map_size - map_size > map_size) unmap_len = cache_split(s, map_size, *dirty, &unmap_at);
        if (!*dirty)
            atomic_fetch_add_explicit(&pa_gstats.committed, s->map_size + unmap_len - PA_OS_PAGE, memory_order_relaxed);
        s->kind = PA_SEG_HUGE;
    }
    pthread_mutex_unlock(&huge_lock);
    if (unmap_len) unmap_dirty(unmap_at, unmap_len);
    return s;
}

/* A mapping's size: whole 2 MiB huge pages when that wastes less than 1/8 of
 * the request (the bound the size classes keep), so that no partly used 2 MiB
 * range at its end faults in 4 KiB at a time (and stays in 4 KiB pages when
 * the mapping is reused or grown); otherwise whole 4 KiB pages. */
#define THP_SIZE ((size_t)2 << 20)
static size_t thp_round_up(size_t bytes) { return (bytes + THP_SIZE - 1) & ~(THP_SIZE - 1); }

static size_t huge_map_size(size_t bytes)
{
    size_t thp = thp_round_up(bytes);
    if (thp - bytes <= bytes / 8) return thp;
    return (bytes + PA_OS_PAGE - 1) & ~(size_t)(PA_OS_PAGE - 1);
}

/* A move that failed (ENOMEM, say) may have unmapped its destination
 * [t + off, t + off + k) first, and another thread's mapping may be there by
 * now. So the rest of t is given back but that range is left alone: at worst
 * it leaks, where unmapping it could take another thread's memory. The piece
 * is unmapped if it is one VMA (whose move is all or nothing); a move of
 * several may have moved part of it, so that one is left alone too. */
static void gather_failed(uint8_t *t, size_t map_size, size_t off, size_t k, pa_segment_t *piece, size_t piece_size)
{
    if (off) munmap(t, off);
    if (off + k < map_size) munmap(t + off + k, map_size - off - k);
    count_gone(map_size);
    if (!piece->several_vmas) unmap_dirty(piece, piece_size);
    else count_gone(piece_size);
}

/* A block of map_size bytes made of the resident pages of cached mappings
 * (cache_take_pieces): their pages are moved (mremap: page tables only,
 * nothing copied or faulted) one after another into a fresh 4 MiB aligned
 * reservation, whose pages they do not cover stay fresh. A program cycling
 * through buffers of varying sizes then reuses every resident byte of the
 * cache, as if freed mappings had been neighbours and merged, instead of
 * faulting in new pages while freed ones wait to be purged.
 *
 * Everything moves in whole 2 MiB pages, from and to 2 MiB boundaries, so that
 * huge pages stay whole: a block the pieces cover is rounded up to 2 MiB (the
 * extra is resident already), a piece's last partial 2 MiB (4 KiB pages) is
 * unmapped, and the last piece gives its tail and stays cached, or goes whole
 * when what would stay is too small for a huge block. Moved ranges stay kernel
 * VMAs of their own: mremap moves a range of several only since Linux 6.17,
 * so only there is a block gathered (cache_take), and it never resizes one
 * (remap_grow moves it instead). Returns the block's segment (header not yet
 * written), its moved ranges zeroed below `zero_to` (bytes from its start); NULL if no reservation is had
 * (the pieces are unmapped) or a move failed (gather_failed). */
static pa_segment_t *gather(size_t map_size, const pieces_t *pc, size_t zero_to)
{
    size_t have = 0;
    for (size_t i = 0; i < pc->n; i++) {
        pa_segment_t *s = pc->seg[i];
        size_t whole = s->map_size & ~(THP_SIZE - 1);
        if (whole < s->map_size) unmap_dirty((uint8_t *)s + whole, s->map_size - whole);
        s->map_size = whole;
        have += whole;
    }
    if (have >= map_size) {                  /* the last piece gives whole 2 MiB pages */
        map_size = thp_round_up(map_size);
        /* the pieces before the last hold less than map_size, so it gives some */
        if (have - map_size <= PA_LARGE_MAX + HUGE_HDR) map_size = have;
    }
    uint8_t *t = pa_os_map_aligned(map_size, PA_SEG_SIZE, 0);
    if (t) pa_os_hugepage(t, map_size);
    pa_segment_t *left = NULL;
    size_t off = 0;
    for (size_t i = 0; i < pc->n; i++) {
        pa_segment_t *s = pc->seg[i];
        size_t size = s->map_size, k = size < map_size - off ? size : map_size - off;
        if (!t) { unmap_dirty(s, size); continue; }
        if (pa_os_move((uint8_t *)s + size - k, k, k, t + off) == MAP_FAILED) {
            gather_failed(t, map_size, off, k, s, size);
            t = NULL;
            continue;
        }
        count_gone(k);                       /* t counts them already */
        if (k < size) {
            s->map_size = size - k;
            s->huge_size = s->map_size - HUGE_HDR;
            left = s;
        }
        if (off < zero_to) memset(t + off, 0, k < zero_to - off ? k : zero_to - off);
        off += k;
    }
    if (left) {
        pthread_mutex_lock(&huge_lock);
        bool kept = cache_n < CACHE_SLOTS;
        if (kept) {
            pa_segmap_set(left, PA_MAP_SHARED);
            cache_put(left, true);
            arm_expiry(left->cached_at_ns);
        }
        pthread_mutex_unlock(&huge_lock);
        if (!kept) unmap_now(left);
        else pa_purger_wake();               /* it may have run while left was out */
    }
    if (!t) return NULL;
    pa_segment_t *g = (pa_segment_t *)t;
    g->kind = PA_SEG_HUGE;
    g->map_size = map_size;
    g->heap = NULL;
    g->several_vmas = 1;
    pa_segmap_set(g, PA_MAP_SHARED);
    return g;
}

void *pa_huge_alloc(size_t size, size_t align, bool zero)
{
    size_t off = align <= HUGE_HDR ? HUGE_HDR : align;
    if (align > PA_SEG_SIZE / 2) off = PA_SEG_SIZE;
    if (size > SIZE_MAX - off - PA_SEG_SIZE - align) return NULL;
    size_t map_size = huge_map_size(off + size);
    bool dirty = false;
    pieces_t pieces = { .n = 0 };
    pa_segment_t *s = off == HUGE_HDR ? cache_take(map_size, &dirty, &pieces) : NULL;
    if (s && s->map_size < map_size) {
        pa_segment_t *grown = remap_grow(s, map_size);
        if (!grown) { pa_segmap_set(s, PA_MAP_NOT_OURS); unmap_now(s); }
        s = grown;
    }
    bool reused = s != NULL;
    if (!s && pieces.n) s = gather(map_size, &pieces, zero ? off + size : 0);
    if (reused && !dirty && s->map_size >= 2 * THP_SIZE) pa_os_collapse(s, THP_SIZE);   /* os.c says why */
    if (!s) {
        s = align > PA_SEG_SIZE / 2 ? pa_os_map_aligned(map_size, align, PA_SEG_SIZE)
                                    : pa_os_map_aligned(map_size, PA_SEG_SIZE, 0);
        if (!s) return NULL;
        pa_os_hugepage(s, map_size);         /* before the header's first write, or
                                                its 4 KiB page keeps the first 2 MiB
                                                out of huge pages */
        s->kind = PA_SEG_HUGE;
        s->map_size = map_size;
        s->heap = NULL;
        s->several_vmas = 0;
        pa_segmap_set(s, PA_MAP_SHARED);
    }
    s->huge_offset = off;
    s->huge_size = s->map_size - off;
    s->dirty_slices = 1;
    if (off < PA_SEG_SIZE) {                 /* the descriptor free() will read */
        pa_page_t *d = &s->pages[off >> PA_SLICE_SHIFT];
        d->start = NULL;
        d->page = d;
        pa_page_publish(d);
    }
    atomic_fetch_add_explicit(&pa_gstats.huge_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pa_gstats.huge_alloc_bytes, s->huge_size, memory_order_relaxed);
    atomic_fetch_add_explicit(&pa_gstats.huge_live_bytes, s->huge_size, memory_order_relaxed);
    uint8_t *p = (uint8_t *)s + off;
    /* calloc's bytes, not the block's: a cached mapping may be up to twice
     * the request (cache_take), and the rest need not read as zero */
    if (zero && dirty) memset(p, 0, size);
    else if (zero && reused) memset(p, 0, PA_OS_PAGE - off);   /* a purge keeps page 0 */
    return p;
}

/* Grows the mapping of s to map_size bytes without copying: mremap in place
 * if the address space after it is free, else moves its pages (not their
 * contents) to a fresh 4 MiB aligned reservation. A gathered block (several
 * VMAs) cannot be resized: its range moves at its size to the front of the
 * reservation, whose rest stays fresh (Linux 6.17+; gather happens only
 * there). Returns the segment (s or where it moved), or NULL if neither works
 * and s is unchanged. */
static pa_segment_t *remap_grow(pa_segment_t *s, size_t map_size)
{
    size_t old_map = s->map_size;
    pa_segment_t *moved = s;
    if (s->several_vmas || mremap(s, old_map, map_size, 0) == MAP_FAILED) {
        pa_segment_t *t = pa_os_map_aligned(map_size, PA_SEG_SIZE, 0);
        if (!t) return NULL;
        if (s->several_vmas) pa_os_hugepage(t, map_size);   /* the part left fresh */
        size_t new_len = s->several_vmas ? old_map : map_size;
        pa_huge_lock();                      /* statistics read segment headers */
        /* The entry goes before the move gives the old range back: another
         * thread's fresh mapping may land there at once and set its own. */
        pa_segmap_set(s, PA_MAP_NOT_OURS);
        if (pa_os_move(s, old_map, new_len, t) == MAP_FAILED) {
            pa_segmap_set(s, PA_MAP_SHARED);
            pa_huge_unlock();
            /* t is left mapped: as in gather_failed, the kernel may have
             * unmapped it and another thread's mapping be there by now */
            count_gone(map_size);
            return NULL;
        }
        pa_segmap_set(t, PA_MAP_SHARED);
        pa_huge_unlock();
        moved = t;
        /* the reservation was counted as mapped and committed; the old range is gone */
        count_gone(old_map);
    } else {
        atomic_fetch_add_explicit(&pa_gstats.mapped, map_size - old_map, memory_order_relaxed);
        atomic_fetch_add_explicit(&pa_gstats.committed, map_size - old_map, memory_order_relaxed);
    }
    moved->map_size = map_size;
    return moved;
}

/* Makes room for hdr bytes (a sampled object's profile header, prof/sample.c)
 * just before the huge block p, inside its mapping's header: the block then
 * starts hdr bytes earlier and p, with its usable size, stays as it is. So
 * sampling never resizes a mapping (a 4 KiB page more would leave it no
 * longer whole 2 MiB pages). huge_size stays what p has, for the statistics.
 * NULL if p is not a huge block of default alignment. */
void *pa_huge_room_before(void *p, size_t hdr)
{
    if (!pa_segmap_has((uintptr_t)p)) return NULL;
    pa_segment_t *s = pa_segment_of(p);
    if (s->kind != PA_SEG_HUGE || s->huge_offset != HUGE_HDR || (uint8_t *)s + HUGE_HDR != p ||
        hdr > HUGE_HDR - HUGE_HDR_USED) return NULL;
    s->huge_offset = HUGE_HDR - hdr;
    return (uint8_t *)p - hdr;
}

/* The usable size a huge block grown in place to `size` gets. */
size_t pa_huge_usable_for(size_t size)
{
    return huge_map_size(HUGE_HDR + size) - HUGE_HDR;
}

/* Grows a huge block without copying (remap_grow). NULL if it cannot; the
 * block is unchanged. */
void *pa_huge_realloc(pa_segment_t *s, size_t size)
{
    if (s->huge_offset > HUGE_HDR || size > SIZE_MAX - HUGE_HDR - PA_SEG_SIZE) return NULL;
    size_t map_size = huge_map_size(s->huge_offset + size);
    size_t old_size = s->huge_size;
    /* each move of a gathered block adds a VMA: one a 2 MiB page at least,
     * not one a 4 KiB step of a buffer grown byte by byte */
    if (s->several_vmas) map_size = thp_round_up(map_size);
    if (map_size <= s->map_size) return NULL;
    pa_segment_t *moved = remap_grow(s, map_size);
    if (!moved) return NULL;
    moved->huge_size = map_size - HUGE_HDR;
    atomic_fetch_add_explicit(&pa_gstats.huge_alloc_bytes, moved->huge_size - old_size, memory_order_relaxed);
    atomic_fetch_add_explicit(&pa_gstats.huge_live_bytes, moved->huge_size - old_size, memory_order_relaxed);
    return (uint8_t *)moved + moved->huge_offset;
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
    size_t max_bytes = cache_max_bytes(), max_dirty = cache_max_dirty();
    if (s->huge_offset <= HUGE_HDR && s->map_size <= max_bytes / 4) {
        s->kind = PA_SEG_HUGE_CACHED;
        s->huge_offset = HUGE_HDR;           /* a sampled object's block started earlier */
        while (cache_n == CACHE_SLOTS || cache_bytes + s->map_size > max_bytes)
            evict[n_evict++] = take_slot(0);
        s->cached_at_ns = now;
        cache_put(s, true);
        for (size_t i = 0; cache_dirty > max_dirty && i < cache_n; i++)
            if (cache[i].dirty) purge_slot(i);
        arm_expiry(now);
    } else {
        evict[n_evict++] = s;
    }
    for (size_t i = 0; i < n_evict; i++) pa_segmap_set(evict[i], PA_MAP_NOT_OURS);
    pthread_mutex_unlock(&huge_lock);
    for (size_t i = 0; i < n_evict; i++) unmap_now(evict[i]);
    pa_purger_wake();                        /* a cached block to purge in time */
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
            pa_segmap_set(s, PA_MAP_NOT_OURS);
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

uint64_t pa_huge_cache_due(void) { return atomic_load_explicit(&cache_next_expiry, memory_order_relaxed); }

void pa_huge_lock(void) { pthread_mutex_lock(&huge_lock); }
void pa_huge_unlock(void) { pthread_mutex_unlock(&huge_lock); }

void pa_huge_fork_child(void) { pthread_mutex_init(&huge_lock, NULL); }
