/* remote.c — frees of blocks that another thread's heap owns.
 *
 * A free from a thread that does not own the block cannot touch the page's
 * lists; it hands the block to the owner through the page's atomic xfree word
 * (OWNERSHIP and FULL PAGES, types.h). One compare-and-swap a block was the
 * design until 2026-12-07; a producer/consumer program (xmalloc-test) then
 * spent a third of its time in that locked instruction, which waits for the
 * block's own cache line (just written by the producer's core) before the
 * next free can start. So, as snmalloc's message passing does, consecutive
 * frees to the same page are gathered in the freeing heap (remote_out) and
 * handed over as one list with one compare-and-swap (REMOTE FREES IN BATCHES,
 * types.h). One page at a time, not several: with eight per-page slots (tried
 * first, alloc/README.md) scattered frees held blocks back from their owners,
 * which carved new ones meanwhile. */
#include "fast.h"

/* Hands the list head..tail (n blocks of page pg) to pg's owner. If the owner
 * marked the page full (bit 0), the list goes to the owner heap's
 * remote_blocks stack instead and the mark is cleared, so the owner learns of
 * it. Everything read from the page and segment is read first: once the list
 * is published the owner may free the page. */
static void send(pa_page_t *pg, pa_block_t *head, pa_block_t *tail, uintptr_t n)
{
    pa_heap_t *owner = pa_segment_of(pg)->heap;
    uintptr_t old = atomic_load_explicit(&pg->xfree, memory_order_relaxed);
    for (;;) {
        if (old & PA_XFREE_NOTIFY) {
            if (atomic_compare_exchange_weak_explicit(&pg->xfree, &old, old & ~PA_XFREE_NOTIFY,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                pa_block_t *top = atomic_load_explicit(&owner->remote_blocks, memory_order_relaxed);
                do tail->next = top;
                while (!atomic_compare_exchange_weak_explicit(&owner->remote_blocks, &top, head,
                                                              memory_order_release, memory_order_relaxed));
                return;
            }
        } else {
            tail->next = (pa_block_t *)(old & PA_XFREE_PTR);
            uintptr_t count = (old & ~PA_XFREE_PTR) + n * PA_XFREE_ONE;
            if (atomic_compare_exchange_weak_explicit(&pg->xfree, &old, (uintptr_t)head | count,
                                                      memory_order_release, memory_order_relaxed))
                return;
        }
    }
}

void pa_remote_flush(pa_heap_t *h)
{
    if (!h->remote_out.page) return;
    send(h->remote_out.page, h->remote_out.head, h->remote_out.tail, h->remote_out.count);
    h->remote_out.page = NULL;
}

void pa_free_remote(pa_page_t *pg, pa_block_t *b)
{
    size_t class_id = pg->view.class_id, bytes = pg->view.block_size;
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
        send(pg, b, b, 1);
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
    if (large) PA_STAT_ADD(h->large_free_bytes, bytes);
    if (bytes > PA_REMOTE_BATCH_BYTES / 2) {   /* large pages: one block each */
        send(pg, b, b, 1);
        return;
    }
    if (h->remote_out.page != pg) {
        pa_remote_flush(h);
        h->remote_out.page = pg;
        h->remote_out.head = NULL;
        h->remote_out.tail = b;
        h->remote_out.count = 0;
    }
    b->next = h->remote_out.head;
    h->remote_out.head = b;
    if (++h->remote_out.count == PA_REMOTE_BATCH || h->remote_out.count * bytes >= PA_REMOTE_BATCH_BYTES)
        pa_remote_flush(h);
}
