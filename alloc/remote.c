/* remote.c — frees of blocks that another thread's heap owns, in batches.
 *
 * A free from a thread that does not own the block cannot touch the page's
 * lists; it must hand the block to the owner through the page's atomic xfree
 * word (OWNERSHIP and FULL PAGES, types.h). Doing that per block costs one atomic
 * read-modify-write per free on a cache line the owner also writes: the
 * producer/consumer pattern pays it for every object. So, as snmalloc's
 * message passing does, the freeing thread first gathers the blocks it frees
 * for other heaps in a few per-page batches in its own heap (no atomic), and
 * hands each batch over with one compare-and-swap when:
 *   - a block for another page needs its slot (direct-mapped by page),
 *   - the batch holds PA_REMOTE_BATCH blocks,
 *   - the thread takes its malloc slow path (pa_remote_flush), collects its
 *     heap (reclaim cycles, malloc_trim) or exits,
 *   - it frees for another heap after a reclaim cycle or malloc_trim ran on
 *     any thread (pa_remote_epoch): a thread that only frees still hands
 *     over what it held at the next cycle.
 * Until then the blocks count as used in their page, so the page is neither
 * retired nor reused: what a thread can hold back is bounded by its slots
 * (at most PA_REMOTE_SLOTS pages, PA_REMOTE_BATCH - 1 blocks each) and lasts
 * until it frees or allocates again. A child of fork loses what other threads
 * held (their pages stay in use there). A thread without a heap (exiting)
 * hands each block over at once. */
#include "fast.h"

_Atomic(uint64_t) pa_remote_epoch;

/* Hands the list head..tail (n blocks of page pg) to pg's owner. If the owner
 * marked the page full (bit 0), the list goes to the owner heap's
 * remote_blocks stack instead and the mark is cleared, so the owner learns of
 * it. Everything read from the page and segment is read first: once the list
 * is published the owner may free the page. */
static void send(pa_page_t *pg, pa_block_t *head, pa_block_t *tail, uint32_t n)
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
            uintptr_t count = (old & ~PA_XFREE_PTR) + (uintptr_t)n * PA_XFREE_ONE;
            if (atomic_compare_exchange_weak_explicit(&pg->xfree, &old, (uintptr_t)head | count,
                                                      memory_order_release, memory_order_relaxed))
                return;
        }
    }
}

static void flush_slot(pa_heap_t *h, pa_remote_batch_t *r)
{
    send(r->page, r->head, r->tail, r->count);
    r->page = NULL;
    r->count = 0;
    h->remote_pending--;
}

void pa_remote_flush(pa_heap_t *h)
{
    for (size_t i = 0; h->remote_pending && i < PA_REMOTE_SLOTS; i++)
        if (h->remote_out[i].page) flush_slot(h, &h->remote_out[i]);
}

void pa_free_remote(pa_page_t *pg, pa_block_t *b)
{
    size_t class_id = pg->class_id, bytes = pg->block_size;
    bool large = class_id == PA_CLASS_LARGE;
    /* A block that carries the free mark is free already (pa_free_mark). */
    if (PA_UNLIKELY(b->key == pa_free_mark(pg, b))) pa_fatal("free(): double free %p", (void *)b);
    b->key = pa_free_mark(pg, b);
    pa_heap_t *h = pa_tl_heap;
    if (h == &pa_heap_empty) {             /* a thread without a heap (exiting) */
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
    if (large) {
        PA_STAT_INC(h->large_frees);
        PA_STAT_ADD(h->large_free_bytes, bytes);
        send(pg, b, b, 1);                 /* one block a page: nothing to gather */
        return;
    }
    uint64_t epoch = atomic_load_explicit(&pa_remote_epoch, memory_order_relaxed);
    if (PA_UNLIKELY(h->remote_epoch != epoch)) {
        h->remote_epoch = epoch;
        pa_remote_flush(h);
    }
    /* the slot by page and segment: pages at the same slice of different
     * segments (producers' hot pages) do not share one */
    uintptr_t at = (uintptr_t)pg / sizeof(pa_page_t) ^ (uintptr_t)pg >> PA_SEG_SHIFT;
    pa_remote_batch_t *r = &h->remote_out[at % PA_REMOTE_SLOTS];
    if (r->page != pg) {
        if (r->page) flush_slot(h, r);
        r->page = pg;
        r->tail = b;
        r->head = NULL;
        h->remote_pending++;
    }
    b->next = r->head;
    r->head = b;
    if (++r->count == PA_REMOTE_BATCH) flush_slot(h, r);
}
