/* remote.c — frees of blocks that another thread's heap owns.
 *
 * A free from a thread that does not own the block cannot touch the page's
 * lists; it hands the block to the owner through the page's atomic xfree word
 * (OWNERSHIP and FULL PAGES, types.h), one compare-and-swap a block.
 *
 * Tried and measured (2026-12-07, notes in alloc/README.md): gathering the
 * blocks in per-page batches in the freeing thread's heap and handing each
 * batch over with one CAS, as snmalloc's message passing does. On 2 cores it
 * was 4-7% slower on xmalloc-test, larson-sized and mstress than one CAS a
 * block (the owner sees its blocks later and carves new ones meanwhile), and
 * it held memory back in idle threads and lost it in fork children; so each
 * block goes at once. Retried once consumers had heaps of their own: 1.00×. */
#include "fast.h"

/* Hands block b of page pg to pg's owner. If the owner marked the page full
 * (bit 0), the block goes to the owner heap's remote_blocks stack instead and
 * the mark is cleared, so the owner learns of it. Everything read from the
 * page and segment is read first: once the block is published the owner may
 * free the page. */
static void send(pa_page_t *pg, pa_block_t *b)
{
    pa_heap_t *owner = pa_segment_of(pg)->heap;
    uintptr_t old = atomic_load_explicit(&pg->xfree, memory_order_relaxed);
    for (;;) {
        if (old & PA_XFREE_NOTIFY) {
            if (atomic_compare_exchange_weak_explicit(&pg->xfree, &old, old & ~PA_XFREE_NOTIFY,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                pa_block_t *top = atomic_load_explicit(&owner->remote_blocks, memory_order_relaxed);
                do b->next = top;
                while (!atomic_compare_exchange_weak_explicit(&owner->remote_blocks, &top, b,
                                                              memory_order_release, memory_order_relaxed));
                return;
            }
        } else {
            b->next = (pa_block_t *)(old & PA_XFREE_PTR);
            uintptr_t count = (old & ~PA_XFREE_PTR) + PA_XFREE_ONE;
            if (atomic_compare_exchange_weak_explicit(&pg->xfree, &old, (uintptr_t)b | count,
                                                      memory_order_release, memory_order_relaxed))
                return;
        }
    }
}

void pa_free_remote(pa_page_t *pg, pa_block_t *b)
{
    size_t class_id = pg->class_id, bytes = pg->block_size;
    bool large = class_id == PA_CLASS_LARGE;
    /* A block that carries the free mark is free already (pa_free_mark). */
    if (PA_UNLIKELY(b->key == pa_free_mark(b))) pa_free_double(b);
    b->key = pa_free_mark(b);
    pa_heap_t *h = pa_tl_heap;
    /* A thread that only frees (a consumer) takes a heap for its counters:
     * the global orphan counters below would be shared by every such thread,
     * and their cache line bounced between cores on each free. */
    if (h == &pa_heap_empty && !pa_tl_exiting) h = pa_heap_get_or_init();
    if (!h || h == &pa_heap_empty) {       /* an exiting thread, or no memory */
        send(pg, b);
        atomic_fetch_add_explicit(&pa_gstats.orphan_frees, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&pa_gstats.orphan_free_bytes, bytes, memory_order_relaxed);
        if (large) {
            atomic_fetch_add_explicit(&pa_gstats.orphan_large_frees, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&pa_gstats.orphan_large_free_bytes, bytes, memory_order_relaxed);
        }
        return;
    }
    PA_STAT_INC(h->frees[class_id]);
    PA_STAT_INC(h->remote_frees);
    if (large) {
        PA_STAT_ADD(h->large_free_bytes, bytes);
    }
    send(pg, b);
}
