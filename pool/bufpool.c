/* bufpool.c — byte buffers of varying capacity: one object pool per
 * power-of-two capacity class, 64 bytes to max_capacity. A buffer put back is
 * classed by its usable size rounded down, so it only serves requests it can
 * hold, and a class nobody asks for empties after two cycles: one big buffer
 * cannot pin memory for every small request (Go's bytes.Buffer problem). */
#include <errno.h>
#include <stdio.h>

#include "pool_internal.h"
#include "prof.h"

#define MIN_SHIFT 6                       /* 64 bytes                    */
#define MAX_SHIFT 40
#define DEFAULT_MAX ((size_t)16 << 20)

struct pa_bufpool {
    unsigned   max_shift;
    pa_pool_t *cls[MAX_SHIFT + 1];        /* [MIN_SHIFT..max_shift]      */
    size_t     top_usable;                /* usable size of a top-class buffer */
};

static unsigned ceil_log2(size_t n) { return n <= 1 ? 0 : 64u - (unsigned)__builtin_clzl(n - 1); }
static unsigned floor_log2(size_t n) { return 63u - (unsigned)__builtin_clzl(n); }

PA_API pa_bufpool_t *pa_bufpool_create(const char *name, size_t max_capacity)
{
    if (!max_capacity) max_capacity = DEFAULT_MAX;
    if (max_capacity > ((size_t)1 << MAX_SHIFT)) { errno = EINVAL; return NULL; }
    pa_bufpool_t *bp = pa_calloc_impl(1, sizeof *bp);
    if (!bp) { errno = ENOMEM; return NULL; }
    unsigned top = ceil_log2(max_capacity);
    bp->max_shift = top < MIN_SHIFT ? MIN_SHIFT : top;
    /* Huge blocks have more usable bytes than asked for: what a top-class
     * buffer really holds separates "pooled" from "too big" in get and put. */
    pa_tl_prof_busy++;                        /* a sampled probe would hold less */
    void *probe = pa_malloc_inline((size_t)1 << bp->max_shift);
    pa_tl_prof_busy--;
    if (!probe) { pa_free_inline(bp); errno = ENOMEM; return NULL; }
    bp->top_usable = pa_block_size(probe);
    pa_free_inline(probe);
    for (unsigned k = MIN_SHIFT; k <= bp->max_shift; k++) {
        char cname[64];
        size_t cap = (size_t)1 << k;
        if (cap >= (1u << 20)) snprintf(cname, sizeof cname, "%s/%zuMiB", name ? name : "buffers", cap >> 20);
        else if (cap >= 1024) snprintf(cname, sizeof cname, "%s/%zuKiB", name ? name : "buffers", cap >> 10);
        else snprintf(cname, sizeof cname, "%s/%zuB", name ? name : "buffers", cap);
        pa_pool_config_t cfg = { .name = cname, .size = cap };
        if (!(bp->cls[k] = pa_pool_create(&cfg))) {
            pa_bufpool_destroy(bp);
            errno = ENOMEM;
            return NULL;
        }
    }
    return bp;
}

PA_API void *pa_bufpool_get(pa_bufpool_t *bp, size_t min_capacity, size_t *capacity)
{
    unsigned k = ceil_log2(min_capacity);
    if (k < MIN_SHIFT) k = MIN_SHIFT;
    void *buf;
    if (k > bp->max_shift) {                  /* too big to pool: put will free it */
        buf = pa_malloc_inline(min_capacity > bp->top_usable ? min_capacity : bp->top_usable + 1);
        if (buf && capacity) *capacity = pa_usable(buf);
        return buf;
    }
    buf = pa_pool_get(bp->cls[k]);
    if (buf && capacity) *capacity = (size_t)1 << k;
    return buf;
}

PA_API void pa_bufpool_put(pa_bufpool_t *bp, void *buf)
{
    if (!buf) return;
    size_t usable = pa_usable_size_checked(buf, "pa_bufpool_put()");
    unsigned k = floor_log2(usable);
    if (k < MIN_SHIFT || usable > bp->top_usable) { pa_free_inline(buf); return; }
    pa_pool_put(bp->cls[k], buf);
}

PA_API void pa_bufpool_destroy(pa_bufpool_t *bp)
{
    if (!bp) return;
    for (unsigned k = MIN_SHIFT; k <= bp->max_shift; k++) pa_pool_destroy(bp->cls[k]);
    pa_free_inline(bp);
}

PA_API void pa_bufpool_stats(pa_bufpool_t *bp, size_t capacity, pa_pool_stats_t *out)
{
    memset(out, 0, sizeof *out);
    unsigned first = MIN_SHIFT, last = bp->max_shift;
    if (capacity) {
        unsigned k = ceil_log2(capacity);
        first = last = k < MIN_SHIFT ? MIN_SHIFT : k;
        if (k > bp->max_shift) return;
    }
    for (unsigned k = first; k <= last; k++) {
        pa_pool_stats_t s;
        pa_pool_stats(bp->cls[k], &s);
        out->gets += s.gets;
        out->puts += s.puts;
        out->hits += s.hits;
        out->misses += s.misses;
        out->steals += s.steals;
        out->victim_hits += s.victim_hits;
        out->dropped += s.dropped;
        out->cached += s.cached;
    }
}
