/* poolalloc.h — public API of the poolalloc allocator.
 *
 * Two ways to use it:
 *   - LD_PRELOAD=libpoolalloc.so ./program: malloc, free, new, delete ... of an
 *     unmodified program go through poolalloc; this header is not needed.
 *   - Link it (pkg-config --cflags --libs poolalloc) and call the pa_* functions
 *     below, which are the same allocator under names that never clash with libc.
 *
 * Every pa_* allocation function behaves like its standard namesake (errno,
 * NULL, alignment rules), and memory from one may be released by the other
 * (pa_free(malloc(n)) is fine when poolalloc is the process's malloc).
 */
#ifndef POOLALLOC_H
#define POOLALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POOLALLOC_VERSION "0.1.0"

void  *pa_malloc(size_t size);
void  *pa_calloc(size_t count, size_t size);
void  *pa_realloc(void *ptr, size_t size);
void  *pa_reallocarray(void *ptr, size_t count, size_t size);
void   pa_free(void *ptr);
void  *pa_aligned_alloc(size_t alignment, size_t size);   /* C11 rules            */
int    pa_posix_memalign(void **out, size_t alignment, size_t size);
void  *pa_memalign(size_t alignment, size_t size);        /* any power of two     */
size_t pa_usable_size(const void *ptr);                   /* 0 for NULL           */

/* Return every free page and cached segment to the operating system now
 * (what malloc_trim does). Returns 1 if any memory was released. */
int    pa_trim(void);

/* Always-on statistics, summed over all threads. Object and byte counts are in
 * usable size (the size class a request was rounded to). Counters are read
 * without stopping other threads, so a snapshot taken while they run is
 * approximate; in a quiet process it is exact. */
typedef struct pa_stats {
    uint64_t alloc_objects;   /* allocations since start (all sizes)                 */
    uint64_t alloc_bytes;
    uint64_t free_objects;    /* frees since start                                    */
    uint64_t free_bytes;
    uint64_t live_objects;    /* alloc - free                                         */
    uint64_t live_bytes;
    uint64_t remote_frees;    /* frees of a block owned by another thread's heap      */
    uint64_t large_allocs;    /* blocks above the largest size class (> 128 KiB)      */
    uint64_t large_frees;
    uint64_t large_live_bytes;
    uint64_t mapped_bytes;    /* address space poolalloc holds from the OS            */
    uint64_t committed_bytes; /* mapped minus what was handed back with madvise       */
    uint64_t resident_bytes;  /* of mapped, what is in RAM now (mincore)              */
    uint64_t purged_bytes;    /* total handed back to the OS with madvise or munmap   */
    uint64_t segments;        /* 4 MiB segments held (in use or cached)               */
    uint64_t heaps;           /* thread heaps created (reused across thread exits)    */
    uint64_t heaps_abandoned; /* heaps of exited threads waiting for a new thread     */
    uint64_t cycles;          /* reclaim cycles run (see pa_cycle)                    */
    uint64_t realloc_moves;   /* reallocs that moved the object to a new block        */
    uint64_t realloc_copied_bytes; /* bytes those reallocs copied                     */
    uint64_t uptime_ns;       /* since the allocator started: alloc_bytes / uptime is
                                 the allocation rate, remote_frees / free_objects the
                                 cross-thread free ratio (pa_stats_print shows both)  */
} pa_stats_t;

void pa_stats_get(pa_stats_t *out);

/* Writes the statistics, one "name value" pair per line, to file descriptor fd. */
void pa_stats_print(int fd);

/* ---- reclaim cycles ------------------------------------------------------
 * A cycle runs when the bytes allocated since the last one exceed
 * max(4 MiB, live bytes after the last cycle * POOLALLOC_GOGC / 100) (Go's GC
 * pacing; POOLALLOC_GOGC=off turns pacing off), on malloc_trim/pa_trim, and
 * when pa_cycle is called. In a cycle every pool's cached objects move to its
 * victim cache and the previous victims are released; empty segments and huge
 * blocks cached since before the previous cycle are returned to the OS.
 * POOLALLOC_TRACE=1 prints one line per cycle on stderr (README: "Tracing").
 * Returns the cycle's number (1 for the first). */
uint64_t pa_cycle(void);

/* ---- allocation profiling ---------------------------------------------------
 * With POOLALLOC_PROFILE=PREFIX set, allocations are sampled (one every
 * POOLALLOC_SAMPLE_RATE bytes on average, 512k by default) with their stacks,
 * and profiles are written at exit, every POOLALLOC_PROFILE_INTERVAL, on
 * POOLALLOC_PROFILE_SIGNAL, and by this call (README: "Allocation profiling";
 * format: docs/profile-format.md). Writes a profile now: to `path`, or with
 * path NULL to the process's next file PREFIX.PID.SEQ.prof. Returns 0, or -1
 * with errno set (ENOTSUP: profiling is off). */
int pa_profile_dump(const char *path);

/* ---- object pools (Go's sync.Pool) -----------------------------------------
 * get returns a cached object or a new one; put hands one back. Each thread
 * has a private slot (no lock, no atomic read-modify-write) and a shared stack
 * that other threads steal from when theirs are empty. Cached objects may be
 * dropped at any reclaim cycle: a cycle moves them to a victim cache, the next
 * one releases them, so a pool in steady use keeps its objects and an idle one
 * empties after two cycles. Objects cached by a thread that exits stay in the
 * pool. Every function is thread-safe, except that destroy must not race with
 * other calls on the same pool. */
typedef struct pa_pool pa_pool_t;

typedef struct pa_pool_config {
    const char *name;        /* for statistics and traces (copied); NULL: "pool"       */
    size_t size;             /* object size; may be 0 only when new_object is given     */
    size_t align;            /* 0 (16) or a power of two                                */
    void *(*new_object)(void *arg);           /* a new object; NULL: pa_aligned_alloc   */
    void  (*reset)(void *obj, void *arg);     /* on put, before the object is cached    */
    void  (*destroy)(void *obj, void *arg);   /* releases a dropped object; NULL: pa_free */
    void *arg;               /* passed to the callbacks                                  */
    int   debug;             /* report foreign pointers and double puts on stderr and
                                ignore them (POOLALLOC_POOL_DEBUG=1 sets it for all)     */
} pa_pool_config_t;

/* NULL with errno EINVAL (no size and no new_object, bad align) or ENOMEM. */
pa_pool_t *pa_pool_create(const pa_pool_config_t *config);
void *pa_pool_get(pa_pool_t *pool);              /* NULL only when out of memory      */
void  pa_pool_put(pa_pool_t *pool, void *obj);   /* NULL is ignored                   */
/* Destroys every cached object and the pool. Objects still out are the
 * caller's; they may be freed with pa_free (or destroy's counterpart). */
void  pa_pool_destroy(pa_pool_t *pool);
const char *pa_pool_name(const pa_pool_t *pool);

typedef struct pa_pool_stats {
    uint64_t gets, puts;     /* calls (puts of NULL are not counted)                     */
    uint64_t hits;           /* gets answered from the cache (any of the three below)    */
    uint64_t misses;         /* gets that made a new object                              */
    uint64_t steals;         /* hits taken from another thread's shared stack            */
    uint64_t victim_hits;    /* hits taken from a victim cache                           */
    uint64_t dropped;        /* objects released by cycles, and puts refused (debug)     */
    uint64_t cached;         /* objects held now (private + shared + victim)             */
} pa_pool_stats_t;
/* Exact in a quiet pool; approximate while other threads use it. */
void  pa_pool_stats(pa_pool_t *pool, pa_pool_stats_t *out);

/* ---- byte buffers by capacity class ---------------------------------------
 * "A buffer of at least n bytes": one pool per power-of-two capacity from
 * 64 bytes to max_capacity, so a big buffer put back only serves big requests
 * and is released after two idle cycles instead of pinning memory. A request
 * above max_capacity gets a plain allocation that put frees. put takes any
 * buffer from pa_malloc & co, classed by its usable size (a buffer grown with
 * pa_realloc goes to its new class). */
typedef struct pa_bufpool pa_bufpool_t;

pa_bufpool_t *pa_bufpool_create(const char *name, size_t max_capacity);  /* 0: 16 MiB */
void *pa_bufpool_get(pa_bufpool_t *bp, size_t min_capacity, size_t *capacity);
void  pa_bufpool_put(pa_bufpool_t *bp, void *buf);
void  pa_bufpool_destroy(pa_bufpool_t *bp);
/* Statistics of the class that serves capacity (0: the sum of all classes). */
void  pa_bufpool_stats(pa_bufpool_t *bp, size_t capacity, pa_pool_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif /* POOLALLOC_H */
