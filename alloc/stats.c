/* stats.c — always-on statistics. Per-class counters live in each heap and
 * are bumped by their owner on the fast path (no atomic RMW); process-wide
 * counters here are touched only on slow paths. A snapshot sums them. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fast.h"
#include "poolalloc.h"

pa_global_stats_t pa_gstats;

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* One segment or huge block, under the locks that keep it mapped, taken
 * for it alone: a reader of the statistics (a /metrics scrape) holds up
 * allocating threads for one mincore, not one per segment of the heap. */
static void add_resident(pa_segment_t *s, void *arg)
{
    uint64_t *resident = arg;
    unsigned char vec[PA_SEG_SIZE / PA_OS_PAGE];
    pa_segment_lock();
    pa_huge_lock();
    if (!atomic_load_explicit(&pa_segmap[(uintptr_t)s >> PA_SEG_SHIFT], memory_order_acquire)) {
        pa_huge_unlock();                    /* unmapped since the map was read */
        pa_segment_unlock();
        return;
    }
    size_t size = s->map_size;
    for (size_t off = 0; off < size; off += PA_SEG_SIZE) {
        size_t len = size - off < PA_SEG_SIZE ? size - off : PA_SEG_SIZE;
        if (mincore((uint8_t *)s + off, len, vec) != 0) continue;
        for (size_t i = 0; i < (len + PA_OS_PAGE - 1) / PA_OS_PAGE; i++)
            *resident += (vec[i] & 1) ? PA_OS_PAGE : 0;
    }
    pa_huge_unlock();
    pa_segment_unlock();
}

/* Sums the counters: every field but resident_bytes, without touching the
 * segment or huge locks (a reclaim cycle reads live_bytes through this). */
void pa_stats_counters(pa_stats_t *out)
{
    memset(out, 0, sizeof *out);
    uint64_t large_alloc_bytes = 0, large_free_bytes = 0, large_allocs = 0, large_frees = 0;
    pa_heaps_lock();
    for (pa_heap_t *h = pa_heap_list(); h; h = h->next_all) {
        for (size_t c = 1; c < PA_CLASS_LARGE; c++) {
            uint64_t n = LOAD(h->allocs[c]), f = LOAD(h->frees[c]);
            out->alloc_objects += n;
            out->alloc_bytes += n * pa_class_size(c);
            out->free_objects += f;
            out->free_bytes += f * pa_class_size(c);
        }
        for (size_t i = 0; i < PA_DIRECT_SLOTS; i++) {
            uint64_t n = LOAD(h->small_allocs[i]);
            out->alloc_objects += n;
            out->alloc_bytes += n * pa_class_size(pa_class_of(i * 16));
        }
        large_allocs += LOAD(h->allocs[PA_CLASS_LARGE]);
        large_alloc_bytes += LOAD(h->large_alloc_bytes);
        large_frees += LOAD(h->frees[PA_CLASS_LARGE]);
        large_free_bytes += LOAD(h->large_free_bytes);
        out->free_objects += LOAD(h->frees[PA_CLASS_LARGE]);
        out->free_bytes += LOAD(h->large_free_bytes);
        out->remote_frees += LOAD(h->remote_frees);
        out->realloc_moves += LOAD(h->realloc_moves);
        out->realloc_copied_bytes += LOAD(h->realloc_copied);
    }
    pa_heaps_unlock();
    /* frees by threads that had no heap (while exiting) */
    out->free_objects += LOAD(pa_gstats.orphan_frees);
    out->free_bytes += LOAD(pa_gstats.orphan_free_bytes);
    out->remote_frees += LOAD(pa_gstats.orphan_frees);
    large_frees += LOAD(pa_gstats.orphan_large_frees);
    large_free_bytes += LOAD(pa_gstats.orphan_large_free_bytes);

    uint64_t huge_allocs = LOAD(pa_gstats.huge_allocs), huge_frees = LOAD(pa_gstats.huge_frees);
    uint64_t huge_alloc_bytes = LOAD(pa_gstats.huge_alloc_bytes), huge_free_bytes = LOAD(pa_gstats.huge_free_bytes);
    out->large_allocs = large_allocs + huge_allocs;
    out->large_frees = large_frees + huge_frees;
    out->large_live_bytes = (large_alloc_bytes - large_free_bytes) + (huge_alloc_bytes - huge_free_bytes);
    out->alloc_objects += large_allocs + huge_allocs;
    out->alloc_bytes += large_alloc_bytes + huge_alloc_bytes;
    out->free_objects += huge_frees;
    out->free_bytes += huge_free_bytes;
    out->live_objects = out->alloc_objects - out->free_objects;
    out->live_bytes = out->alloc_bytes - out->free_bytes;

    out->mapped_bytes = LOAD(pa_gstats.mapped);
    out->committed_bytes = LOAD(pa_gstats.committed);
    out->purged_bytes = LOAD(pa_gstats.purged_total);
    out->segments = LOAD(pa_gstats.segments);
    out->heaps = LOAD(pa_gstats.heaps);
    out->heaps_abandoned = LOAD(pa_gstats.heaps_abandoned);
    out->cycles = pa_cycle_count();
    out->uptime_ns = pa_start_ns ? pa_clock_fine_ns() - pa_start_ns : 0;   /* the coarse start: within a few ms */
}

PA_API void pa_stats_get(pa_stats_t *out)
{
    pa_stats_counters(out);
    uint64_t resident = 0;
    pa_segmap_foreach(add_resident, &resident);
    out->resident_bytes = resident;
}

static int human(char *buf, size_t n, uint64_t v)
{
    if (v >= ((uint64_t)1 << 30)) return snprintf(buf, n, "  (%.1f GiB)", (double)v / (1 << 30));
    if (v >= ((uint64_t)1 << 20)) return snprintf(buf, n, "  (%.1f MiB)", (double)v / (1 << 20));
    if (v >= ((uint64_t)1 << 10)) return snprintf(buf, n, "  (%.1f KiB)", (double)v / (1 << 10));
    buf[0] = 0;
    return 0;
}

PA_API void pa_stats_print(int fd)
{
    pa_stats_t s;
    pa_stats_get(&s);
    struct { const char *name; uint64_t v; bool bytes; } rows[] = {
        { "alloc_objects", s.alloc_objects, false }, { "alloc_bytes", s.alloc_bytes, true },
        { "free_objects", s.free_objects, false },   { "free_bytes", s.free_bytes, true },
        { "live_objects", s.live_objects, false },   { "live_bytes", s.live_bytes, true },
        { "remote_frees", s.remote_frees, false },
        { "large_allocs", s.large_allocs, false },   { "large_frees", s.large_frees, false },
        { "large_live_bytes", s.large_live_bytes, true },
        { "mapped_bytes", s.mapped_bytes, true },    { "committed_bytes", s.committed_bytes, true },
        { "resident_bytes", s.resident_bytes, true }, { "purged_bytes", s.purged_bytes, true },
        { "segments", s.segments, false },           { "heaps", s.heaps, false },
        { "heaps_abandoned", s.heaps_abandoned, false }, { "cycles", s.cycles, false },
        { "realloc_moves", s.realloc_moves, false }, { "realloc_copied_bytes", s.realloc_copied_bytes, true },
        { "uptime_ns", s.uptime_ns, false },
    };
    char line[160];
    int n = snprintf(line, sizeof line, "poolalloc statistics (pid %d)\n", (int)getpid());
    if (write(fd, line, (size_t)n) < 0) return;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char h[32] = "";
        if (rows[i].bytes) human(h, sizeof h, rows[i].v);
        n = snprintf(line, sizeof line, "  %-20s %20llu%s\n", rows[i].name, (unsigned long long)rows[i].v, h);
        if (write(fd, line, (size_t)n) < 0) return;
    }
    double secs = s.uptime_ns ? (double)s.uptime_ns / 1e9 : 1e-9;
    n = snprintf(line, sizeof line, "  %-20s %20.0f  (%.1f MiB/s, %.0f objects/s)\n", "alloc_rate_bytes_s",
                 (double)s.alloc_bytes / secs, (double)s.alloc_bytes / secs / (1 << 20), (double)s.alloc_objects / secs);
    if (write(fd, line, (size_t)n) < 0) return;
    n = snprintf(line, sizeof line, "  %-20s %20.1f  (%% of frees done by another thread than the owner's)\n",
                 "remote_free_percent", s.free_objects ? 100.0 * (double)s.remote_frees / (double)s.free_objects : 0.0);
    if (write(fd, line, (size_t)n) < 0) return;
}

/* p, a block heap h just allocated and is about to free, was never the
 * program's (the profiler replaced it with a bigger block for a sampled
 * object): its allocation and its free are taken off the counters, so
 * STATS counts one allocation for the program's one. Counters may dip below
 * zero per class; their sums stay exact. */
void pa_stats_forget(pa_heap_t *h, void *p)
{
    pa_segment_t *s = pa_segment_of(p);
    if (s->kind == PA_SEG_HUGE) {
        atomic_fetch_sub_explicit(&pa_gstats.huge_allocs, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&pa_gstats.huge_frees, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&pa_gstats.huge_alloc_bytes, s->huge_size, memory_order_relaxed);
        atomic_fetch_sub_explicit(&pa_gstats.huge_free_bytes, s->huge_size, memory_order_relaxed);
        return;
    }
    pa_page_t *pg = pa_page_of(s, p);
    PA_STAT_ADD(h->allocs[pg->class_id], (uint64_t)-1);
    PA_STAT_ADD(h->frees[pg->class_id], (uint64_t)-1);
    if (pg->class_id == PA_CLASS_LARGE) {
        PA_STAT_ADD(h->large_alloc_bytes, -(uint64_t)pg->block_size);
        PA_STAT_ADD(h->large_free_bytes, -(uint64_t)pg->block_size);
    }
}

