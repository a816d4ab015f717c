/* alloc.c — the allocation entry points behind the fast path: the generic
 * slow path, single-object "large" pages, aligned allocation, calloc, realloc
 * and usable size. */
#include <errno.h>

#include "fast.h"
#include "prof.h"

/* The slices a large block of `size` bytes takes. */
static size_t slices(size_t size) { return (size + PA_SLICE_SIZE - 1) >> PA_SLICE_SHIFT; }

/* One object of 128 KiB..2 MiB in a run of slices of the heap's segments: no
 * system call, and its start is 64 KiB aligned. Large pages live on the full
 * list with the notify bit set, so a remote free tells the owner at once. */
static void *large_alloc(pa_heap_t *h, size_t size)
{
    size_t n = slices(size);
    pa_heap_take_remote_blocks(h);           /* large blocks other threads freed */
    pa_page_t *pg = pa_segment_page_alloc(h, n);
    if (!pg) return NULL;
    pa_page_setup(pg, PA_CLASS_LARGE, n << PA_SLICE_SHIFT);
    pg->capacity = 1;
    pa_page_set_carved(pg, 1);
    atomic_store_explicit(&pg->xfree, 1, memory_order_relaxed);
    pa_page_to_full(h, pg);                  /* its one block: its free brings it back */
    PA_STAT_INC(h->allocs[PA_CLASS_LARGE]);
    PA_STAT_ADD(h->large_alloc_bytes, pg->block_size);
    ((pa_block_t *)pg->start)->key = 0;      /* no stale free key on a reused block */
    return pg->start;
}

/* `align` is 0 or a power of two > 16 that the caller has folded into size
 * where a size class can serve it (see pa_memalign_impl). */
void *pa_malloc_generic(size_t size, pa_heap_t *h, size_t align)
{
    if (PA_UNLIKELY(h == &pa_heap_empty)) {
        h = pa_heap_get_or_init();
        if (!h) { errno = ENOMEM; return NULL; }
    }
    void *p;
    if (size <= PA_SMALL_MAX && align <= PA_SLICE_SIZE) {   /* 1 KiB..128 KiB land here */
        size_t c = pa_class_of(size);
        pa_page_t *pg = h->direct[c];
        if (!pg->free) {
            pa_heap_maintenance(h);
            pg = pa_page_find_free(h, c);
            if (!pg) { errno = ENOMEM; return NULL; }
        }
        pa_block_t *b = pa_page_pop(pg);
        PA_STAT_INC(h->allocs[c]);
        return pa_heap_charge(h, b, size, align);
    }
    pa_heap_maintenance(h);
    if (size <= PA_LARGE_MAX && align <= PA_SLICE_SIZE) p = large_alloc(h, size);
    else p = pa_huge_alloc(size, align, false);
    if (!p) { errno = ENOMEM; return NULL; }
    return pa_heap_charge(h, p, size, align);
}

/* Every class size is a multiple of any power of two up to itself that
 * divides the rounded request, and pages start 64 KiB aligned, so rounding the
 * size up to a multiple of the alignment gives aligned blocks from ordinary
 * pages: aligned memory needs no special free path. */
void *pa_memalign_impl(size_t align, size_t size)
{
    if (align <= PA_MIN_ALIGN) return pa_malloc_inline(size);
    if (size > SIZE_MAX - align) { errno = ENOMEM; return NULL; }
    size_t rounded = (size + align - 1) & ~(align - 1);
    if (rounded == 0) rounded = align;
    if (align <= PA_SLICE_SIZE && rounded <= PA_LARGE_MAX) return pa_malloc_generic(rounded, pa_tl_heap, align);
    pa_heap_t *h = pa_heap_get_or_init();
    void *p = h ? pa_huge_alloc(size ? size : 1, align, false) : NULL;
    if (!p) { errno = ENOMEM; return NULL; }
    return pa_heap_charge(h, p, size, align);
}

void *pa_calloc_impl(size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) { errno = ENOMEM; return NULL; }
    if (total > PA_LARGE_MAX) {
        pa_heap_t *h = pa_heap_get_or_init();
        void *p = h ? pa_huge_alloc(total, 0, true) : NULL;   /* zeroes only if reused dirty */
        if (!p) { errno = ENOMEM; return NULL; }
        return pa_heap_charge(h, p, total, PA_CHARGE_ZERO);
    }
    void *p = pa_malloc_inline(total);
    if (p) memset(p, 0, total);
    return p;
}

/* Usable size of a block, or 0 if p is not a block start of ours. */
size_t pa_block_size(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (pa_segmap_has(a)) {
        pa_segment_t *s = pa_segment_of(p);
        if (s->kind != PA_SEG_NORMAL)        /* never read a huge block's "descriptors" */
            return s->kind == PA_SEG_HUGE && (uint8_t *)s + s->huge_offset == p ? s->map_size - s->huge_offset : 0;
        pa_page_t *pg = pa_page_of_any(s, p);
        return pa_page_is_block_start_any(pg, p) ? pg->view.block_size : 0;
    }
    /* huge blocks aligned to more than half a segment keep their header in the
     * 4 MiB just below the block */
    if (a && (a & PA_SEG_MASK) == 0 && pa_segmap_has(a - PA_SEG_SIZE)) {
        pa_segment_t *s = (pa_segment_t *)(a - PA_SEG_SIZE);
        if (s->kind == PA_SEG_HUGE && s->huge_offset == PA_SEG_SIZE) return s->huge_size;
    }
    return 0;
}

/* Usable size of what the program holds: a block, or a sampled object inside
 * one (prof/sample.c); 0 if p is neither. */
size_t pa_usable(const void *p)
{
    size_t n = pa_block_size(p);
    return n ? n : pa_prof_usable(p);
}

size_t pa_usable_size_checked(const void *p, const char *fn)
{
    if (!p) return 0;
    size_t n = pa_usable(p);
    if (!n) pa_fatal("%s: invalid pointer %p", fn, p);
    return n;
}

/* Grows a large block of the calling thread's heap in place when the slices
 * after it are free: no copy, and realloc growth of a buffer past 128 KiB
 * does not leave a trail of freed runs behind it. */
static bool large_grow(void *p, size_t size)
{
    pa_segment_t *s = pa_segment_of(p);
    pa_heap_t *h = pa_tl_heap;
    if (s->kind != PA_SEG_NORMAL || s->heap != h) return false;
    pa_page_t *pg = pa_page_of(s, p);
    if (pg->class_id != PA_CLASS_LARGE) return false;
    size_t n = slices(size);
    if (!pa_segment_page_grow(pg, n)) return false;
    PA_STAT_ADD(h->large_alloc_bytes, (n << PA_SLICE_SHIFT) - pg->block_size);
    pa_heap_charge(h, NULL, (n << PA_SLICE_SHIFT) - pg->block_size, 0);
    pg->block_size = (uint32_t)(n << PA_SLICE_SHIFT);
    pg->div_magic = pa_div_magic(pg->block_size);
    pa_page_publish(pg);
    pa_page_set_carved(pg, 1);
    return true;
}

/* Grows the block b (have usable bytes) to hold `size` without copying:
 * a large block into the free slices after it, a huge one by remapping.
 * Returns the block (a huge one may have moved) or NULL. */
void *pa_grow_in_place(void *b, size_t have, size_t size)
{
    if (size <= have) return b;          /* a sampled object's block may have room */
    if (have > PA_SMALL_MAX && size <= PA_LARGE_MAX && large_grow(b, size)) return b;
    if (have > PA_LARGE_MAX && pa_segmap_has((uintptr_t)b)) {
        pa_segment_t *s = pa_segment_of(b);
        if (s->kind == PA_SEG_HUGE) return pa_huge_realloc(s, size);
    }
    return NULL;
}

/* A block with room for `room` bytes for an object of `size`: charged to the
 * countdown and sampled as the `size` bytes the program asked for, so that
 * profiles count requests, and a sampled object keeps the usable size of the
 * block it would have had (prof/sample.c place). */
static void *malloc_room(size_t room, size_t size)
{
    pa_heap_t *h = room == size ? NULL : pa_heap_get_or_init();
    if (!h) return pa_malloc_inline(size);
    int64_t before = h->countdown;
    h->countdown = PA_PROF_NEVER;            /* no tick, no sample for the room */
    void *q = pa_malloc_inline(room);
    h->countdown = before;
    return q ? pa_heap_charge(h, q, size, 0) : NULL;
}

void *pa_realloc_impl(void *p, size_t size)
{
    if (!p) return pa_malloc_inline(size);
    size_t have = pa_block_size(p), off = 0;
    if (!have) {                     /* a sampled object, `off` bytes into its block */
        if (!(off = pa_prof_offset(p))) pa_fatal("realloc(): invalid pointer %p", p);
        have = pa_prof_usable(p);    /* what the same object unsampled would have */
    }
    if (size == 0) { pa_free_inline(p); return NULL; }         /* glibc's behaviour */
    if (size <= have && size >= have / 2) return off ? pa_prof_kept(p, size, have) : p;   /* fits, wastes < half */
    if (size > have && size < SIZE_MAX / 2) {
        uint8_t *b = (uint8_t *)p - off;
        if (!off) {
            b = pa_grow_in_place(b, have, size);
            if (b) return b;
        } else if (have > PA_SMALL_MAX) {    /* grown as the object unsampled would be */
            size_t want = size <= PA_LARGE_MAX ? slices(size) << PA_SLICE_SHIFT : pa_huge_usable_for(size);
            b = pa_grow_in_place(b, pa_block_size(b), want + off);
            if (b) return pa_prof_kept(b + off, size, want);   /* the header moved with it */
        }
    }
    /* A block that must move grows by a quarter at least: a buffer grown a
     * few bytes at a time (realloc(len + n)) then moves once per quarter of
     * its size, not at every size class. Huge blocks grow by remapping. */
    size_t room = size;
    if (size > have && have <= PA_LARGE_MAX && size - have < have / 4) room = have + have / 4;
    void *q = malloc_room(room, size);
    if (!q) return NULL;                                        /* p stays valid */
    size_t copied = size < have ? size : have;
    memcpy(q, p, copied);
    pa_heap_t *h = pa_tl_heap;
    PA_STAT_INC(h->realloc_moves);
    PA_STAT_ADD(h->realloc_copied, copied);
    if (PA_UNLIKELY(off)) pa_prof_free_moved(p);               /* its fate: moved, not freed */
    else pa_free_inline(p);
    if (PA_UNLIKELY(pa_prof_on)) pa_prof_realloc_made(q, copied);
    return q;
}
