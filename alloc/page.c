/* page.c — a page's free lists and its place in the heap's queues.
 *
 * The owner's rules (see types.h for the structures):
 *   - every class queue's first page is the one malloc allocates from, and
 *     heap->direct[class] points at it (or at pa_page_empty);
 *   - a page without free blocks moves to the full list with bit 0 of xfree set
 *     (remote frees to it then arrive through heap->remote_blocks);
 *   - an empty page is retired (its slices go back to the segment) unless it is
 *     the first of its queue, which is kept so a malloc/free loop does not map
 *     and unmap a page per call. */
#include "fast.h"

/* A page's slices: one up to 8 KiB blocks; then room for 16 blocks up to
 * 32 KiB, 8 above. With few blocks a page, a thread that frees into many
 * pages of a class while another thread's frees trickle back empties and
 * retires pages only to take new ones: the mixed benchmark (8 threads, sizes
 * to 32 KiB) held 12% less at its peak with 16 blocks than with 8 (and 30%
 * more with 4). Above 32 KiB, 16 blocks would take half a segment. */
size_t pa_class_slices(size_t class_id)
{
    size_t bs = pa_class_size(class_id);
    if (bs <= 8192) return 1;
    size_t blocks = bs <= 32768 ? 16 : 8;
    return (blocks * bs + PA_SLICE_SIZE - 1) >> PA_SLICE_SHIFT;
}

void pa_page_setup(pa_page_t *pg, size_t class_id, size_t block_size)
{
    pg->free = pg->local_free = NULL;
    pg->class_id = (uint8_t)class_id;
    pg->block_size = (uint32_t)block_size;
    pg->div_magic = pa_div_magic((uint32_t)block_size);
    pa_page_publish(pg);
    pg->reserved = (uint16_t)(((size_t)pg->slice_count << PA_SLICE_SHIFT) / block_size);
    pg->capacity = 0;
    pa_page_set_carved(pg, 0);
    pg->used_m1 = -1;
    pg->in_full = false;
    pg->next = pg->prev = NULL;
    atomic_store_explicit(&pg->xfree, 0, memory_order_relaxed);
}

/* Carves the next few untouched blocks into the free list: about 8 KiB worth
 * (at least 4 blocks), so a fresh page is faulted in as it is used. */
bool pa_page_extend(pa_page_t *pg)
{
    uint32_t left = pg->reserved - pg->capacity;
    if (!left) return false;
    uint32_t n = 8192 / pg->block_size;
    if (n < 4) n = 4;
    if (n > left) n = left;
    uint8_t *first = pg->start + (size_t)pg->capacity * pg->block_size;
    uint8_t *p = first;
    for (uint32_t i = 0; i + 1 < n; i++, p += pg->block_size) {
        pa_block_t *b = (pa_block_t *)p;
        b->next = (pa_block_t *)(p + pg->block_size);
        b->key = pa_free_mark(b);
    }
    ((pa_block_t *)p)->next = pg->free;
    ((pa_block_t *)p)->key = pa_free_mark(p);
    pg->free = (pa_block_t *)first;
    pg->capacity += n;
    pa_page_set_carved(pg, pg->capacity);
    return true;
}

/* Refills the allocation list from same-thread and remote frees without
 * walking either list: pages are collected when `free` runs dry, so one list
 * becomes `free` and the other, if both have blocks, waits on local_free for
 * the next refill. The remote list comes with its length (PA_XFREE_ONE), so
 * its blocks, still cold in another core's cache, are not touched here. */
void pa_page_collect(pa_page_t *pg)
{
    if (!pg->free) {
        pg->free = pg->local_free;
        pg->local_free = NULL;
    }
    if (atomic_load_explicit(&pg->xfree, memory_order_relaxed) <= PA_XFREE_NOTIFY) return;
    uintptr_t x = atomic_exchange_explicit(&pg->xfree, 0, memory_order_acquire);
    pa_block_t *head = (pa_block_t *)(x & PA_XFREE_PTR);
    if (!head) return;
    pg->used_m1 -= (int32_t)(x / PA_XFREE_ONE);
    pa_block_t **into = !pg->free ? &pg->free : &pg->local_free;
    if (*into) {                             /* both lists had blocks: rare */
        pa_block_t *tail = head;
        while (tail->next) tail = tail->next;
        tail->next = *into;
    }
    *into = head;
}

void pa_queue_push_front(pa_page_queue_t *q, pa_page_t *pg)
{
    pg->prev = NULL;
    pg->next = q->first;
    if (q->first) q->first->prev = pg; else q->last = pg;
    q->first = pg;
}

void pa_queue_push_back(pa_page_queue_t *q, pa_page_t *pg)
{
    pg->next = NULL;
    pg->prev = q->last;
    if (q->last) q->last->next = pg; else q->first = pg;
    q->last = pg;
}

void pa_queue_remove(pa_page_queue_t *q, pa_page_t *pg)
{
    if (pg->prev) pg->prev->next = pg->next; else q->first = pg->next;
    if (pg->next) pg->next->prev = pg->prev; else q->last = pg->prev;
    pg->next = pg->prev = NULL;
}

/* Makes pg the current page of class c: in direct[c] and in every slot of
 * small[] whose sizes round up to c. */
static void point_direct(pa_heap_t *h, size_t c, pa_page_t *pg)
{
    h->direct[c] = pg;
    size_t size = pa_class_size(c);
    if (size > PA_DIRECT_MAX) return;
    size_t first = c == 1 ? 0 : pa_class_size(c - 1) / 16 + 1;
    for (size_t i = first; i <= size / 16; i++) h->small[i] = pg;
}

static void set_direct(pa_heap_t *h, size_t c)
{
    if (c < PA_CLASS_LARGE) point_direct(h, c, h->queue[c].first ? h->queue[c].first : &pa_page_empty);
}

/* Takes a page off whatever list holds it and gives its slices back. */
void pa_page_retire(pa_heap_t *h, pa_page_t *pg)
{
    size_t c = pg->class_id;
    if (pa_page_in_full(pg)) pa_queue_remove(&h->full, pg);
    else if (c < PA_CLASS_LARGE) pa_queue_remove(&h->queue[c], pg);
    set_direct(h, c);
    pa_segment_page_free(h, pg);
}

/* An empty page is retired unless it is its queue's first: that one is kept so
 * a malloc/free loop does not give its slices back and take them again. */
static void retire_if_idle(pa_heap_t *h, pa_page_t *pg)
{
    if (pa_page_is_unused(pg) && pg != h->queue[pg->class_id].first) pa_page_retire(h, pg);
}

/* FULL PAGES (types.h): a page leaves the full list after this many frees, a
 * fifth of its blocks (one for pages of fewer than 10, large ones included). */
static int32_t pa_page_wake(const pa_page_t *pg) { return pg->reserved >= 10 ? pg->reserved / 5 : 1; }

/* Puts a page with every block out on the full list, its count replaced by the
 * frees that will bring it back, minus one: pa_page_unfull restores it. */
void pa_page_to_full(pa_heap_t *h, pa_page_t *pg)
{
    pg->in_full = true;
    pg->used_m1 = pa_page_wake(pg) - 1;
    pa_queue_push_back(&h->full, pg);
}

/* Leaves the full list for the back of its queue (large pages: retired once
 * their block has come back). */
void pa_page_unfull(pa_heap_t *h, pa_page_t *pg)
{
    pa_queue_remove(&h->full, pg);
    /* every block was out when it went on the list: the count is back to that,
     * less the frees counted down since (pa_page_wake) */
    pg->used_m1 = (int32_t)pg->reserved - pa_page_wake(pg) + pg->used_m1;
    pg->in_full = false;
    atomic_fetch_and_explicit(&pg->xfree, ~(uintptr_t)1, memory_order_relaxed);
    if (pg->class_id == PA_CLASS_LARGE) {      /* its one block has come back */
        pa_page_collect(pg);
        pa_segment_page_free(h, pg);
        return;
    }
    pa_queue_push_back(&h->queue[pg->class_id], pg);
    set_direct(h, pg->class_id);
}

/* Called by free() when a page became empty, or had the frees that bring it
 * back from the full list (pa_page_wake). */
void pa_page_free_event(pa_heap_t *h, pa_page_t *pg)
{
    if (pa_page_in_full(pg)) {
        if (pg->class_id == PA_CLASS_LARGE) {
            PA_STAT_ADD(h->large_free_bytes, pg->block_size);
            pa_page_unfull(h, pg);               /* gives its slices back */
            return;
        }
        pa_page_unfull(h, pg);
    }
    retire_if_idle(h, pg);
}

/* Frees, as the owner, the blocks other threads sent because their page was
 * full (see types.h). Statistics counted them when they were freed. */
void pa_heap_take_remote_blocks(pa_heap_t *h)
{
    if (!atomic_load_explicit(&h->remote_blocks, memory_order_relaxed)) return;
    pa_block_t *b = atomic_exchange_explicit(&h->remote_blocks, NULL, memory_order_acquire);
    while (b) {
        pa_block_t *next = b->next;
        pa_page_t *pg = pa_page_of(pa_segment_of(b), b);
        b->next = pg->local_free;
        pg->local_free = b;
        pg->used_m1--;
        if (pa_page_in_full(pg)) pa_page_unfull(h, pg);   /* a large page is retired here */
        else retire_if_idle(h, pg);
        b = next;
    }
}

/* Slow path of malloc for a small class: a page of the class with a free
 * block, becoming the queue's first and heap->direct[class]; NULL when out of
 * memory. */
pa_page_t *pa_page_find_free(pa_heap_t *h, size_t c)
{
    pa_heap_take_remote_blocks(h);
    pa_page_queue_t *q = &h->queue[c];
    pa_page_t *pg = q->first;
    while (pg) {
        pa_page_t *next = pg->next;
        if (!pg->free) {
            pa_page_collect(pg);
            if (!pg->free) pa_page_extend(pg);
        }
        if (pg->free) {
            if (pg != q->first) { pa_queue_remove(q, pg); pa_queue_push_front(q, pg); }
            point_direct(h, c, pg);
            return pg;
        }
        uintptr_t expect = 0;
        if (!atomic_compare_exchange_strong_explicit(&pg->xfree, &expect, 1,
                                                     memory_order_acq_rel, memory_order_relaxed))
            continue;                        /* a remote free just came in: look again */
        pa_queue_remove(q, pg);
        pa_page_to_full(h, pg);              /* every block is out (capacity = reserved) */
        pg = next;
    }
    pg = pa_segment_page_alloc(h, pa_class_slices(c));
    if (!pg) { set_direct(h, c); return NULL; }
    pa_page_setup(pg, c, pa_class_size(c));
    pa_page_extend(pg);
    pa_queue_push_front(q, pg);
    point_direct(h, c, pg);
    return pg;
}
