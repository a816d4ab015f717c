/* free.c — everything free() does off its fast path: NULL, huge blocks,
 * pointers that are not ours, frees from another thread (remote.c), sampled
 * objects, double frees, and the frees of a thread whose heap has no tag
 * (types.h). */
#include "fast.h"
#include "prof.h"

/* The block carries the free mark (pa_free_mark): it is free already, on one
 * of its page's lists or its owner's remote list. Program data holds the mark
 * only by a 1-in-2^64 chance, so no list walk confirms it. */
void pa_free_double(void *b)
{
    pa_fatal("free(): double free %p", b);
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
    /* another heap's block, or this thread's in a heap without a tag (the
     * fast path took the blocks of a heap with one) */
    if (s && s->kind == PA_SEG_NORMAL && s->heap) {
        pa_page_t *pg = pa_page_of_any(s, p);
        if (pa_page_is_block_start_any(pg, p) && pg->view.class_id) {
            if (s->heap != pa_tl_heap) pa_free_remote(pg, p);
            else pa_free_own(pa_tl_heap, pg, p);
            return;
        }
    }
    if (s && pa_prof_free(p)) return;                   /* a sampled object, inside a block */
    pa_fatal("free(): invalid pointer %p", p);
}
