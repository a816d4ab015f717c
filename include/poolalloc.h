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
} pa_stats_t;

void pa_stats_get(pa_stats_t *out);

/* Writes the statistics, one "name value" pair per line, to file descriptor fd. */
void pa_stats_print(int fd);

#ifdef __cplusplus
}
#endif
#endif /* POOLALLOC_H */
