/* fast.h — the two fast paths, inlined into the exported entry points.
 *
 * malloc: thread heap -> current page of the size class -> pop its free list
 *         and prefetch the next block (pa_page_pop) -> subtract the size from the heap's
 *         countdown (TICKS AND SAMPLES, types.h).
 * free:   segment map says "ours" -> owner is this thread -> page from the
 *         address -> block start check -> not marked free -> push on the
 *         page's list.
 * No lock, no atomic read-modify-write; everything else is out of line. */
#ifndef PA_FAST_H
#define PA_FAST_H

#include "internal.h"

/* Counters written only by their owning thread and read by statistics from
 * any thread. On x86-64 an aligned 8-byte add is one instruction and a
 * concurrent reader sees the old or the new value, never a torn one; the asm
 * keeps it one instruction without a lock prefix (and out of TSan's view:
 * readers use atomic loads). Elsewhere: relaxed load + store. */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define PA_STAT_ADD(x, n) __asm__("addq %1, %0" : "+m"(x) : "er"((uint64_t)(n)))
#else
#define PA_STAT_ADD(x, n) atomic_store_explicit(&(x), atomic_load_explicit(&(x), memory_order_relaxed) + (n), memory_order_relaxed)
#endif
#define PA_STAT_INC(x) PA_STAT_ADD(x, 1)

/* Asks for the line of p for writing, without waiting for it. A block freed
 * by another thread, or long ago, is cold: popping it would stall malloc on
 * the read of its link, and the program's first store would wait again for
 * ownership. Fetching the next block while this one is handed out hides both
 * (snmalloc does the same). prefetchw never faults, NULL included; on cores
 * without it the instruction is a no-op. The address goes in as a register, not
 * as a memory operand: *p would tell the compiler p is not NULL. (gcc emits
 * __builtin_prefetch(p, 1) as a read prefetch unless built for a newer CPU.) */
#if defined(__x86_64__)
#define PA_PREFETCH_W(p) __asm__ volatile("prefetchw (%0)" : : "r"(p))
#else
#define PA_PREFETCH_W(p) __builtin_prefetch((p), 1)
#endif

/* Hands out the first block of pg's list (not empty): the page counts it
 * used, its free mark is cleared, and the next block is fetched for the next
 * malloc of the class, often cold. */
static inline __attribute__((always_inline)) pa_block_t *pa_page_pop(pa_page_t *pg)
{
    pa_block_t *b = pg->free, *next = b->next;
    pg->free = next;
    PA_PREFETCH_W(next);
    pg->used_m1++;
    b->key = 0;
    return b;
}

static inline void *pa_malloc_inline(size_t size)
{
    pa_heap_t *h = pa_tl_heap;
    if (PA_LIKELY(size <= PA_DIRECT_MAX)) {
        size_t i = (size + 15) >> 4;
        pa_page_t *pg = h->small[i];         /* the empty page before init */
        if (PA_LIKELY(pg->free != NULL)) {
            pa_block_t *b = pa_page_pop(pg);
            PA_STAT_INC(h->small_allocs[i]);
            return pa_heap_charge(h, b, size, 0);
        }
    }
    return pa_malloc_generic(size, h, 0);
}

/* The owner frees block b of its page pg: a block that carries the free mark
 * is free already; otherwise it goes back on the page. */
static inline __attribute__((always_inline)) void pa_free_own(pa_heap_t *h, pa_page_t *pg, pa_block_t *b)
{
    if (PA_UNLIKELY(b->key == pa_free_mark(b))) pa_free_double(b);
    b->next = pg->free;                      /* LIFO: the next malloc reuses it hot */
    b->key = pa_free_mark(b);
    pg->free = b;
    PA_STAT_INC(h->frees[pg->class_id]);
    /* the page became empty, or has had enough frees to leave the full list */
    if (PA_UNLIKELY(--pg->used_m1 < 0)) pa_page_free_event(h, pg);
}

static inline __attribute__((always_inline)) void pa_free_inline(void *p)
{
    uintptr_t idx = (uintptr_t)p >> PA_SEG_SHIFT;
    pa_heap_t *h = pa_tl_heap;
    /* only a normal segment of this thread's heap gets past the map: its
     * descriptors are real (in a huge block they would be the program's data) */
    if (PA_UNLIKELY(idx >= PA_SEGMAP_SIZE ||
                    atomic_load_explicit(&pa_segmap[idx], memory_order_relaxed) != h->tag)) {
        pa_free_generic(p);
        return;
    }
    pa_page_t *pg = pa_page_of(pa_segment_of(p), p);
    if (PA_UNLIKELY(!pa_page_is_block_start(pg, p))) { pa_free_generic(p); return; }
    pa_free_own(h, pg, (pa_block_t *)p);
}

#endif /* PA_FAST_H */
