/* free.c — everything free() does off its fast path: NULL, huge blocks,
 * pointers that are not ours, frees from another thread, sampled objects, and
 * the check that turns a suspected double free into a clear error. */
#include "fast.h"
#include "prof.h"

/* Blocks owned by another thread's heap go on the page's atomic list. If the
 * owner marked the page full (bit 0), the block goes to the owner heap's
 * remote_blocks stack instead and the mark is cleared, so the owner learns of
 * it. Everything read from the page and segment is read first: once the block
 * is published the owner may free the page. */
void pa_free_remote(pa_page_t *pg, pa_block_t *b)
{
    pa_heap_t *owner = pa_segment_of(pg)->heap;
    size_t bytes = pg->block_size;
    size_t class_id = pg->class_id;
    bool large = class_id == PA_CLASS_LARGE;
    /* Only the owner may walk the page's lists, so a key match is taken as a
     * double free without confirmation: with a random per-process key, live
     * data equal to key ^ address does not happen by chance. */
    if (PA_UNLIKELY(b->key == pa_free_mark(pg, b))) pa_fatal("free(): double free %p", (void *)b);
    b->key = pa_free_mark(pg, b);
    uintptr_t old = atomic_load_explicit(&pg->xfree, memory_order_relaxed);
    for (;;) {
        if (old & 1) {
            if (atomic_compare_exchange_weak_explicit(&pg->xfree, &old, old & ~(uintptr_t)1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                pa_block_t *top = atomic_load_explicit(&owner->remote_blocks, memory_order_relaxed);
                do b->next = top;
                while (!atomic_compare_exchange_weak_explicit(&owner->remote_blocks, &top, b,
                                                              memory_order_release, memory_order_relaxed));
                break;
            }
        } else {
            b->next = (pa_block_t *)(old & PA_XFREE_PTR);
            uintptr_t count = (old & ~PA_XFREE_PTR) + PA_XFREE_ONE;
            if (atomic_compare_exchange_weak_explicit(&pg->xfree, &old, (uintptr_t)b | count,
                                                      memory_order_release, memory_order_relaxed))
                break;
        }
    }
    pa_heap_t *h = pa_tl_heap;
    if (h != &pa_heap_empty) {
        PA_STAT_INC(h->frees[class_id]);
        PA_STAT_INC(h->remote_frees);
        if (large) {
            PA_STAT_INC(h->large_frees);
            PA_STAT_ADD(h->large_free_bytes, bytes);
        }
    } else {                               /* a thread without a heap (exiting) */
        atomic_fetch_add_explicit(&pa_gstats.orphan_frees, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&pa_gstats.orphan_free_bytes, bytes, memory_order_relaxed);
        if (large) {
            atomic_fetch_add_explicit(&pa_gstats.orphan_large_frees, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&pa_gstats.orphan_large_free_bytes, bytes, memory_order_relaxed);
        }
    }
}

static bool list_has(const pa_block_t *list, const pa_block_t *b)
{
    for (; list; list = list->next)
        if (list == b) return true;
    return false;
}

/* The block carries the free key, so it is probably free already. Confirm by
 * walking the page's lists (this thread owns the page, so they are stable but
 * for pushes to xfree, which only ever prepend); if it is not there, the key
 * was a coincidence of the program's data and the free goes ahead. */
void pa_free_suspect(pa_heap_t *h, pa_page_t *pg, pa_block_t *b)
{
    const pa_block_t *remote = (const pa_block_t *)(atomic_load_explicit(&pg->xfree, memory_order_acquire) & PA_XFREE_PTR);
    const pa_block_t *sent = atomic_load_explicit(&h->remote_blocks, memory_order_acquire);
    if (list_has(pg->free, b) || list_has(pg->local_free, b) || list_has(remote, b) || list_has(sent, b))
        pa_fatal("free(): double free %p", (void *)b);
    b->key = 0;
    pa_free_inline(b);
}

void pa_free_generic(void *p)
{
    if (!p) return;
    uintptr_t a = (uintptr_t)p;
    pa_segment_t *s = NULL;
    if (pa_segmap_has(a)) s = pa_segment_of(p);
    else if ((a & PA_SEG_MASK) == 0 && a > PA_SEG_SIZE && pa_segmap_has(a - PA_SEG_SIZE))
        s = (pa_segment_t *)(a - PA_SEG_SIZE);          /* over-aligned huge block */
    if (s && s->kind == PA_SEG_HUGE && (uint8_t *)s + s->huge_offset == p) {
        pa_huge_free(s);
        return;
    }
    if (s && s->kind == PA_SEG_HUGE_CACHED && (uint8_t *)s + s->huge_offset == p)
        pa_fatal("free(): double free %p", p);          /* freed already, now cached */
    /* the fast path took this thread's own blocks: what is left is another heap's */
    if (s && s->kind == PA_SEG_NORMAL && s->heap && s->heap != pa_tl_heap) {
        pa_page_t *pg = pa_page_of(s, p);
        if (pa_page_is_block_start(pg, p) && pg->class_id) {
            pa_free_remote(pg, (pa_block_t *)p);
            return;
        }
    }
    if (s && pa_prof_free(p)) return;                   /* a sampled object, inside a block */
    pa_fatal("free(): invalid pointer %p", p);
}
