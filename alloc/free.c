/* free.c — everything free() does off its fast path: NULL, huge blocks,
 * pointers that are not ours, frees from another thread (remote.c), sampled
 * objects, and double frees. */
#include "fast.h"
#include "prof.h"

void pa_free_double(void *b)
{
    pa_fatal("free(): double free %p", b);
}

/* True if b is on list (at most `bound` blocks are looked at, so a list a
 * program corrupted cannot hold the walk forever). */
static bool list_holds(const pa_block_t *list, const pa_block_t *b, uint32_t bound)
{
    for (; list && bound; list = list->next, bound--)
        if (list == b) return true;
    return false;
}

/* The owner frees b, which carries its page's free mark: free already, or
 * program data that happens to equal the mark. A walk tells which: every
 * free block of a page is on its free or local_free list, on its remote list
 * or on the owner heap's remote_blocks (only the owner takes from either, so
 * walking them from here is safe). */
void pa_free_marked(pa_heap_t *h, pa_page_t *pg, pa_block_t *b)
{
    uint32_t bound = pg->capacity + 1;
    pa_block_t *remote = (pa_block_t *)(atomic_load_explicit(&pg->xfree, memory_order_acquire) & PA_XFREE_PTR);
    if (list_holds(pg->free, b, bound) || list_holds(pg->local_free, b, bound) ||
        list_holds(remote, b, bound) ||
        list_holds(atomic_load_explicit(&h->remote_blocks, memory_order_acquire), b, (uint32_t)1 << 24))
        pa_free_double(b);
    pa_page_push(h, pg, b);
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
        if (pa_page_is_block_start_any(pg, p) && pg->class_id) {
            pa_free_remote(pg, (pa_block_t *)p);
            return;
        }
    }
    if (s && pa_prof_free(p)) return;                   /* a sampled object, inside a block */
    pa_fatal("free(): invalid pointer %p", p);
}
