/* fast.h — the two fast paths, inlined into the exported entry points.
 *
 * malloc: thread heap -> current page of the size class -> pop its free list.
 * free:   segment bitmap says "ours" -> page from the address -> block start
 *         check -> owner is this thread: push on the page's local list.
 * No lock, no atomic read-modify-write; everything else is out of line. */
#ifndef PA_FAST_H
#define PA_FAST_H

#include "internal.h"

/* Counters written only by their owner: a plain load-add-store, atomic only so
 * that statistics may read them from other threads without a data race. */
#define PA_STAT_ADD(x, n) atomic_store_explicit(&(x), atomic_load_explicit(&(x), memory_order_relaxed) + (n), memory_order_relaxed)
#define PA_STAT_INC(x) PA_STAT_ADD(x, 1)

static inline void *pa_malloc_inline(size_t size)
{
    pa_heap_t *h = pa_tl_heap;
    if (PA_LIKELY(size <= PA_SMALL_MAX)) {
        size_t c = pa_class_of(size);
        pa_page_t *pg = h->direct[c];
        pa_block_t *b = pg->free;
        if (PA_LIKELY(b != NULL)) {
            pg->free = b->next;
            pg->used++;
            b->key = 0;
            PA_STAT_INC(h->stat[c].allocs);
            return b;
        }
    }
    return pa_malloc_generic(h, size, 0);
}

static inline void pa_free_inline(void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (PA_UNLIKELY(!pa_segmap_has(a))) { pa_free_generic(p); return; }
    pa_segment_t *s = pa_segment_of(p);
    pa_page_t *pg = pa_page_of(s, p);
    if (PA_UNLIKELY(!pa_page_is_block_start(pg, p))) { pa_free_generic(p); return; }
    pa_block_t *b = (pa_block_t *)p;
    pa_heap_t *h = pa_tl_heap;
    if (PA_LIKELY(s->heap == h)) {
        if (PA_UNLIKELY(b->key == (pa_free_key ^ a))) pa_check_double_free(pg, b);
        b->next = pg->local_free;
        b->key = pa_free_key ^ a;
        pg->local_free = b;
        PA_STAT_INC(h->stat[pg->class_id].frees);
        if (PA_UNLIKELY(--pg->used == 0 || pg->in_full)) pa_page_free_event(h, pg);
    } else {
        pa_free_remote(pg, b);
    }
}

#endif /* PA_FAST_H */
