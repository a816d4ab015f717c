/* series.c — memory over time, written into every profile.
 *
 * A point (time, live bytes, resident and mapped bytes, bytes allocated so
 * far, sampled in-use bytes) is taken at most every POOLALLOC_MEMORY_INTERVAL
 * (100 ms) while the process allocates: the check rides on the 256 KiB tick
 * (pa_prof_tick), so an idle process takes none, and on each reclaim cycle.
 * The points live in a fixed array: when it is full, every other point is
 * dropped and the interval doubles, so a run of a day still writes at most
 * SERIES_POINTS points, evenly spread. Resident bytes are the process's
 * (/proc/self/statm), what a user's memory chart shows. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "poolalloc.h"
#include "prof.h"

#define SERIES_POINTS 1024

static pa_prof_point_t points[SERIES_POINTS];
static size_t npoints;
static _Atomic(uint64_t) step_ns, last_ns;   /* written under lock, read before it too */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t resident_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *end;
    strtoull(buf, &end, 10);                 /* size, then resident pages */
    return strtoull(end, NULL, 10) * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Under lock: the point now, after halving a full array. */
static void take(uint64_t now, uint64_t allocated)
{
    if (npoints == SERIES_POINTS) {
        for (size_t i = 0; i < SERIES_POINTS / 2; i++) points[i] = points[2 * i];   /* the first stays */
        npoints = SERIES_POINTS / 2;
        atomic_store_explicit(&step_ns, 2 * atomic_load_explicit(&step_ns, memory_order_relaxed), memory_order_relaxed);
    }
    pa_stats_t st;
    pa_stats_counters(&st);
    points[npoints++] = (pa_prof_point_t){
        .ns = now - pa_start_ns, .live = st.live_bytes, .resident = resident_bytes(), .mapped = st.mapped_bytes,
        .allocated = allocated, .sampled = pa_prof_peak_inuse(),
    };
    atomic_store_explicit(&last_ns, now, memory_order_relaxed);
}

void pa_prof_series_tick(uint64_t allocated)
{
    uint64_t now = pa_clock_ns();
    uint64_t last = atomic_load_explicit(&last_ns, memory_order_relaxed), step = atomic_load_explicit(&step_ns, memory_order_relaxed);
    if (now - last < step || pthread_mutex_trylock(&lock)) return;
    if (now - atomic_load_explicit(&last_ns, memory_order_relaxed) >= step) take(now, allocated);
    pthread_mutex_unlock(&lock);
}

/* Cycles can come every few milliseconds: they take a point on the same
 * terms as the tick, so a busy process does not spend its time reading
 * /proc and summing heaps. */
void pa_prof_series_cycle(uint64_t allocated)
{
    if (pa_prof_on) pa_prof_series_tick(allocated);
}

size_t pa_prof_series(pa_prof_point_t *out, size_t cap, uint64_t allocated, bool always)
{
    pthread_mutex_lock(&lock);
    uint64_t now = pa_clock_ns();
    if (always || now - atomic_load_explicit(&last_ns, memory_order_relaxed) >= atomic_load_explicit(&step_ns, memory_order_relaxed))
        take(now, allocated);                /* the dump's own moment ends the series */
    size_t n = npoints < cap ? npoints : cap;
    for (size_t i = 0; i < n; i++) out[i] = points[i];
    pthread_mutex_unlock(&lock);
    return n;
}

void pa_prof_series_init(void)
{
    atomic_store(&step_ns, pa_options.memory_interval_ns);
    atomic_store(&last_ns, 0);
    npoints = 0;
}

/* A fork child's series starts again (its profile counts its own). */
void pa_prof_series_fork_child(void)
{
    pthread_mutex_init(&lock, NULL);
    pa_prof_series_init();
}
