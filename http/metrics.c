/* metrics.c -- the allocator's statistics for machines: /debug/poolalloc/stats
 * (JSON, the pa_stats_t field names) and /metrics (Prometheus's text
 * exposition format: names poolalloc_*, base units, counters ending in
 * _total). Both read one pa_stats_get snapshot. */
#include "http.h"
#include "out.h"
#include "poolalloc.h"

#include <errno.h>

static pa_out_t out;   /* the server's thread is the only writer */

#define FIELDS(X)                                                                            \
    X(alloc_objects, "poolalloc_alloc_objects_total", "counter", "Allocations since start")   \
    X(alloc_bytes, "poolalloc_alloc_bytes_total", "counter", "Bytes allocated since start (usable size)") \
    X(free_objects, "poolalloc_free_objects_total", "counter", "Frees since start")           \
    X(free_bytes, "poolalloc_free_bytes_total", "counter", "Bytes freed since start")         \
    X(live_objects, "poolalloc_live_objects", "gauge", "Objects allocated and not freed")    \
    X(live_bytes, "poolalloc_live_bytes", "gauge", "Bytes allocated and not freed")          \
    X(remote_frees, "poolalloc_remote_frees_total", "counter", "Frees of a block owned by another thread's heap") \
    X(large_allocs, "poolalloc_large_allocs_total", "counter", "Allocations above 128 KiB")  \
    X(large_frees, "poolalloc_large_frees_total", "counter", "Frees of blocks above 128 KiB") \
    X(large_live_bytes, "poolalloc_large_live_bytes", "gauge", "Bytes in live blocks above 128 KiB") \
    X(mapped_bytes, "poolalloc_mapped_bytes", "gauge", "Address space held from the OS")     \
    X(committed_bytes, "poolalloc_committed_bytes", "gauge", "Mapped bytes not handed back with madvise") \
    X(resident_bytes, "poolalloc_resident_bytes", "gauge", "Mapped bytes in RAM now")        \
    X(purged_bytes, "poolalloc_purged_bytes_total", "counter", "Bytes handed back to the OS") \
    X(segments, "poolalloc_segments", "gauge", "4 MiB segments held")                        \
    X(heaps, "poolalloc_heaps_created_total", "counter", "Thread heaps created")              \
    X(heaps_abandoned, "poolalloc_heaps_abandoned", "gauge", "Heaps of exited threads awaiting a new thread") \
    X(cycles, "poolalloc_reclaim_cycles_total", "counter", "Reclaim cycles run")             \
    X(realloc_moves, "poolalloc_realloc_moves_total", "counter", "Reallocs that moved the object") \
    X(realloc_copied_bytes, "poolalloc_realloc_copied_bytes_total", "counter", "Bytes those reallocs copied")

int pa_http_stats_json(int fd)
{
    pa_stats_t s;
    pa_stats_get(&s);
    pa_out_open(&out, fd);
    pa_out_put(&out, "{");
#define JSON(f, name, type, help) pa_out_put(&out, "\"%s\": %llu, ", #f, (unsigned long long)s.f);
    FIELDS(JSON)
#undef JSON
    pa_out_put(&out, "\"uptime_ns\": %llu, \"sample_rate\": %zu, \"profiling\": %s}\n",
               (unsigned long long)s.uptime_ns, pa_options.sample_rate, atomic_load(&pa_prof_sampling) ? "true" : "false");
    return pa_out_flush(&out);
}

int pa_http_metrics(int fd)
{
    pa_stats_t s;
    pa_stats_get(&s);
    pa_out_open(&out, fd);
#define PROM(f, name, type, help) \
    pa_out_put(&out, "# HELP %s %s.\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, (unsigned long long)s.f);
    FIELDS(PROM)
#undef PROM
    pa_out_put(&out, "# HELP poolalloc_uptime_seconds Seconds since the allocator started.\n"
                     "# TYPE poolalloc_uptime_seconds gauge\npoolalloc_uptime_seconds %.3f\n",
               (double)s.uptime_ns / 1e9);
    pa_out_put(&out, "# HELP poolalloc_profile_sample_rate_bytes Mean bytes allocated between profile samples.\n"
                     "# TYPE poolalloc_profile_sample_rate_bytes gauge\npoolalloc_profile_sample_rate_bytes %zu\n",
               pa_options.sample_rate);
    pa_out_put(&out, "# HELP poolalloc_profiling 1 while allocations are sampled for profiles.\n"
                     "# TYPE poolalloc_profiling gauge\npoolalloc_profiling %d\n", atomic_load(&pa_prof_sampling) ? 1 : 0);
    return pa_out_flush(&out);
}
