/* internal.h — the allocator's internal API and the inline helpers that the
 * fast paths are made of. Everything named pa_* here is hidden from other
 * shared objects; the exported names live in include/poolalloc.h.
 */
#ifndef PA_INTERNAL_H
#define PA_INTERNAL_H

#include <stdarg.h>
#include <string.h>
#include <sys/types.h>

#include "types.h"

/* ---- globals ----------------------------------------------------------- */
PA_HIDDEN extern pa_heap_t pa_heap_empty;          /* has no pages: forces slow path */
PA_HIDDEN extern pa_page_t pa_page_empty;          /* a page with no free blocks     */
extern PA_TLS pa_heap_t *pa_tl_heap;               /* this thread's heap             */
extern PA_TLS bool pa_tl_exiting;                  /* its heap was given up at exit  */
PA_HIDDEN extern uintptr_t pa_free_key;            /* random, set once at init       */
PA_HIDDEN extern _Atomic(uint8_t) pa_segmap[];     /* one byte per 4 MiB (segmap.c)  */
#define PA_SEGMAP_SIZE ((size_t)1 << (48 - PA_SEG_SHIFT))

/* ---- size classes ------------------------------------------------------
 * Up to 128 bytes: multiples of 16 (classes 1..8). Above: eight classes per
 * doubling, so a request is rounded up by less than 1/8 of itself (at most
 * 12.5% waste). Every class size is a multiple of 16 and every power of two is a
 * class, which is what makes aligned allocation need no special pages. */
static inline size_t pa_class_of(size_t size)
{
    if (size <= 128) {
        size_t c = (size + 15) >> 4;
        return c + (c == 0);
    }
    size_t w = size - 1;
    unsigned b = 63u - (unsigned)__builtin_clzl(w);          /* b >= 7 */
    return 8 + ((size_t)(b - 7) << 3) + ((w >> (b - 3)) & 7) + 1;
}


static inline size_t pa_class_size(size_t c)
{
    if (c <= 8) return c << 4;
    size_t k = c - 9, b = 7 + (k >> 3), j = k & 7;
    return ((size_t)1 << b) + ((j + 1) << (b - 3));
}

/* ---- address to metadata, O(1) ---------------------------------------- */
static inline bool pa_segmap_has(uintptr_t a)
{
    uintptr_t idx = a >> PA_SEG_SHIFT;
    if (PA_UNLIKELY(idx >= PA_SEGMAP_SIZE)) return false;
    return atomic_load_explicit(&pa_segmap[idx], memory_order_relaxed);
}

static inline pa_segment_t *pa_segment_of(const void *p)
{
    return (pa_segment_t *)((uintptr_t)p & ~(uintptr_t)PA_SEG_MASK);
}

static inline pa_page_t *pa_page_of(pa_segment_t *s, const void *p)
{
    return s->pages[((uintptr_t)p & PA_SEG_MASK) >> PA_SLICE_SHIFT].page;
}

/* True iff p is the start of a block of a page (its start, div_magic and
 * carved_limit given) that was carved already (not interior, not header, not
 * the untouched rest of the page), in one multiply and one compare. With
 * off = p - start (p lies in the page's segment, so |off| < 4 MiB) and c =
 * div_magic, (uint32_t)off * c is k * e for off = k * block_size, where e =
 * c * block_size mod 2^64 is in 1..block_size, and at least 2^64 / block_size
 * (far above any limit) for every other off (Lemire et al., "Faster remainder
 * by direct computation", 2019). carved_limit is the number of blocks carved
 * times e. */
static inline bool pa_block_start_below(const uint8_t *start, uint64_t div_magic, const void *p, uint64_t limit)
{
    uint32_t off = (uint32_t)((uintptr_t)p - (uintptr_t)start);
    return (uint64_t)off * div_magic < limit;
}

/* From the page's owner thread (the only writer of carved_limit). */
static inline bool pa_page_is_block_start(const pa_page_t *pg, const void *p)
{
    return pa_block_start_below(pg->start, pg->div_magic, p, pg->carved_limit);
}

/* The page of p as any thread finds it: through the readers' copy. */
static inline pa_page_t *pa_page_of_any(pa_segment_t *s, const void *p)
{
    return s->pages[((uintptr_t)p & PA_SEG_MASK) >> PA_SLICE_SHIFT].view.page;
}

/* From any thread, on the readers' copy. */
static inline bool pa_page_is_block_start_any(const pa_page_t *pg, const void *p)
{
    return pa_block_start_below(pg->view.start, pg->view.div_magic, p,
                                __atomic_load_n(&pg->view.carved_limit, __ATOMIC_RELAXED));
}

/* Copies the owner's page, start, div_magic, block_size and class_id of pg to
 * the readers' copy (pa_page_view_t); carved_limit goes through
 * pa_page_set_carved. Called after any of them changed. */
static inline void pa_page_publish(pa_page_t *pg)
{
    pg->view.page = pg->page;
    pg->view.start = pg->start;
    pg->view.div_magic = pg->div_magic;
    pg->view.block_size = pg->block_size;
    pg->view.class_id = pg->class_id;
}

/* FULL PAGES (types.h): while in_full, used_m1 counts down the frees that
 * bring the page back (pa_page_to_full, page.c). */
static inline bool pa_page_in_full(const pa_page_t *pg) { return pg->in_full; }
static inline bool pa_page_is_unused(const pa_page_t *pg) { return !pg->in_full && pg->used_m1 == -1; }

/* What a free block holds in its second word: the process's random key xor
 * the block's address. Program data equals it only by a 1-in-2^64 chance, and
 * a copy of bytes from elsewhere (a free block, or stale marks left in the
 * uninitialised part of a block) does not match at another address. (The
 * page descriptor's address alone, which the fast path has in a register,
 * saved 2 instructions but was left everywhere in a page's memory by its
 * frees; the descriptor xor the block is a small integer within a segment.) */
static inline uintptr_t pa_free_mark(const void *b)
{
    return pa_free_key ^ (uintptr_t)b;
}

/* The multiplier of pa_page_is_block_start: ceil(2^64 / d), one more when d
 * is a power of two (there it would leave e = 0). */
static inline uint64_t pa_div_magic(uint32_t d)
{
    return UINT64_MAX / d + 1 + ((d & (d - 1)) == 0);
}

/* Sets what pa_page_is_block_start accepts: the first n blocks. */
static inline void pa_page_set_carved(pa_page_t *pg, uint32_t n)
{
    pg->carved_limit = n * (pg->div_magic * pg->block_size);
    __atomic_store_n(&pg->view.carved_limit, pg->carved_limit, __ATOMIC_RELAXED);
}

/* ---- messages (never allocate) ----------------------------------------- */
PA_HIDDEN void pa_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
PA_HIDDEN void pa_stderr_keep(void);   /* a copy of stderr for output at exit */
PA_HIDDEN void pa_program_name(char *out, size_t cap);   /* argv[0]'s name, "" if unknown */
/* A detached thread of poolalloc's own (256 KiB of stack, every signal
 * blocked, named); 0 or an errno. Called outside malloc. */
PA_HIDDEN int  pa_thread_start(void *(*fn)(void *), const char *name);
/* fn handles sig (SA_RESTART, nothing masked); 0 or an errno. */
PA_HIDDEN int  pa_signal_handle(int sig, void (*fn)(int));
PA_HIDDEN int  pa_stderr_fd(void);     /* 2, that copy once 2 is closed, or -1  */
/* Which file an fd is, to tell later whether the fd still is that file: a
 * program that closes every descriptor may reuse the number for its own. */
typedef struct pa_file_id { dev_t dev; ino_t ino; } pa_file_id_t;
PA_HIDDEN bool pa_file_id(int fd, pa_file_id_t *id);          /* false if fd is not open */
PA_HIDDEN bool pa_file_is(int fd, const pa_file_id_t *id);
PA_HIDDEN _Noreturn void pa_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- os.c -------------------------------------------------------------- */
PA_HIDDEN void *pa_os_map_aligned(size_t size, size_t align, size_t offset);
PA_HIDDEN void  pa_os_unmap(void *p, size_t size);
PA_HIDDEN void  pa_os_purge(void *p, size_t size);
PA_HIDDEN void  pa_os_hugepage(void *p, size_t size);
PA_HIDDEN bool  pa_os_moves_several_vmas(void);
PA_HIDDEN void  pa_os_set_moves_several_vmas(bool yes);
PA_HIDDEN void *pa_os_move(void *old, size_t old_len, size_t new_len, void *new_addr);
PA_HIDDEN void  pa_os_collapse(void *p, size_t size);
PA_HIDDEN uint64_t pa_clock_ns(void);
PA_HIDDEN uint64_t pa_clock_fine_ns(void);       /* the same clock, to the nanosecond   */

/* ---- segmap.c ---------------------------------------------------------- */
PA_HIDDEN void pa_segmap_set(const void *seg, uint8_t value);   /* a PA_MAP_* value or a heap tag */
PA_HIDDEN void pa_segmap_foreach(void (*fn)(pa_segment_t *, void *), void *arg);

/* ---- segment.c --------------------------------------------------------- */
PA_HIDDEN pa_page_t *pa_segment_page_alloc(pa_heap_t *h, size_t slices);
PA_HIDDEN void pa_segment_page_free(pa_heap_t *h, pa_page_t *pg);
PA_HIDDEN bool pa_segment_page_grow(pa_page_t *pg, size_t slices);
PA_HIDDEN void pa_segment_purge_heap(pa_heap_t *h, uint64_t now, bool force);
PA_HIDDEN uint64_t pa_segment_purge_heap_idle(pa_heap_t *h, uint64_t now);
PA_HIDDEN uint64_t pa_segment_cache_due(void);
PA_HIDDEN bool pa_segment_cache_trim(uint64_t now, uint64_t evict_before);
PA_HIDDEN void pa_segment_lock(void);
PA_HIDDEN void pa_segment_unlock(void);
PA_HIDDEN void pa_segment_fork_child(void);

/* ---- page.c ------------------------------------------------------------ */
PA_HIDDEN void pa_page_setup(pa_page_t *pg, size_t class_id, size_t block_size);
PA_HIDDEN void pa_page_collect(pa_page_t *pg);
PA_HIDDEN bool pa_page_extend(pa_page_t *pg);
PA_HIDDEN void pa_queue_push_front(pa_page_queue_t *q, pa_page_t *pg);
PA_HIDDEN void pa_queue_push_back(pa_page_queue_t *q, pa_page_t *pg);
PA_HIDDEN void pa_queue_remove(pa_page_queue_t *q, pa_page_t *pg);
PA_HIDDEN pa_page_t *pa_page_find_free(pa_heap_t *h, size_t class_id);
PA_HIDDEN void pa_page_free_event(pa_heap_t *h, pa_page_t *pg);
PA_HIDDEN void pa_page_retire(pa_heap_t *h, pa_page_t *pg);
PA_HIDDEN void pa_page_to_full(pa_heap_t *h, pa_page_t *pg);
PA_HIDDEN void pa_page_unfull(pa_heap_t *h, pa_page_t *pg);
PA_HIDDEN void pa_heap_take_remote_blocks(pa_heap_t *h);
PA_HIDDEN size_t pa_class_slices(size_t class_id);

/* ---- heap.c ------------------------------------------------------------ */
PA_HIDDEN pa_heap_t *pa_heap_get_or_init(void);
PA_HIDDEN uint64_t pa_heap_threads_seen(void);
PA_HIDDEN void pa_heap_collect(pa_heap_t *h, bool force);
PA_HIDDEN void pa_heap_maintenance(pa_heap_t *h);
PA_HIDDEN bool pa_heap_collect_abandoned(bool force);
PA_HIDDEN pa_heap_t *pa_heap_list(void);
PA_HIDDEN void pa_heaps_lock(void);
PA_HIDDEN void pa_heaps_unlock(void);
PA_HIDDEN void pa_fork_prepare(void);
PA_HIDDEN void pa_fork_parent(void);
PA_HIDDEN void pa_fork_child(void);
PA_HIDDEN void pa_process_init(void);
PA_HIDDEN extern uint64_t pa_start_ns;            /* clock at process init           */

/* ---- alloc.c / free.c / huge.c ----------------------------------------- */
PA_HIDDEN void *pa_malloc_generic(size_t size, pa_heap_t *h, size_t align);
PA_HIDDEN void  pa_free_generic(void *p);
PA_HIDDEN void *pa_memalign_impl(size_t align, size_t size);
PA_HIDDEN void *pa_calloc_impl(size_t count, size_t size);
PA_HIDDEN void *pa_realloc_impl(void *p, size_t size);
PA_HIDDEN size_t pa_block_size(const void *p);
PA_HIDDEN size_t pa_usable(const void *p);
PA_HIDDEN size_t pa_usable_size_checked(const void *p, const char *fn);
PA_HIDDEN void  pa_free_remote(pa_page_t *pg, pa_block_t *b);
PA_HIDDEN void  pa_remote_flush(pa_heap_t *h);
PA_HIDDEN _Noreturn void pa_free_double(void *b);
PA_HIDDEN void *pa_grow_in_place(void *b, size_t have, size_t size);   /* large or huge block b */
PA_HIDDEN size_t pa_huge_usable_for(size_t size);
PA_HIDDEN void *pa_huge_alloc(size_t size, size_t align, bool zero);
PA_HIDDEN void  pa_huge_free(pa_segment_t *s);
PA_HIDDEN void *pa_huge_realloc(pa_segment_t *s, size_t size);
PA_HIDDEN void *pa_huge_room_before(void *p, size_t hdr);
PA_HIDDEN bool  pa_huge_cache_trim(uint64_t now, uint64_t evict_before);
PA_HIDDEN uint64_t pa_huge_cache_due(void);

/* ---- purger.c ---------------------------------------------------------- */
PA_HIDDEN void pa_purger_maybe_start(void);
PA_HIDDEN void pa_purger_wake(void);
PA_HIDDEN void pa_purger_fork_prepare(void);
PA_HIDDEN void pa_purger_fork_parent(void);
PA_HIDDEN void pa_purger_fork_child(void);
PA_HIDDEN void  pa_huge_lock(void);
PA_HIDDEN void  pa_huge_unlock(void);
PA_HIDDEN void  pa_huge_fork_child(void);

/* ---- cycle.c ----------------------------------------------------------- */
#define PA_TICK_BYTES ((int64_t)256 << 10)
typedef enum { PA_CYCLE_PACED, PA_CYCLE_CALL, PA_CYCLE_TRIM } pa_cycle_reason_t;
/* What pool/ reports from its part of a cycle: cumulative gets and hits of
 * every pool (destroyed ones included), objects this cycle dropped. */
typedef struct pa_cycle_pools { uint64_t gets, hits, dropped; } pa_cycle_pools_t;
typedef struct pa_cycle_hooks {
    void (*rotate)(pa_cycle_pools_t *out);
    void (*fork_prepare)(void), (*fork_parent)(void), (*fork_child)(void);
} pa_cycle_hooks_t;
extern PA_TLS unsigned pa_tl_cycle_hold;          /* > 0: no cycle starts on this thread */
PA_HIDDEN void *pa_heap_tick(pa_heap_t *h, void *p, size_t size, size_t flags);
PA_HIDDEN void pa_heap_budget_init(pa_heap_t *h);
PA_HIDDEN uint64_t pa_cycle_run(pa_cycle_reason_t why);
PA_HIDDEN uint64_t pa_cycle_count(void);
PA_HIDDEN uint64_t pa_cycle_allocated(void);   /* bytes counted by the 256 KiB ticks so far */
PA_HIDDEN void pa_cycle_set_hooks(const pa_cycle_hooks_t *hooks);
PA_HIDDEN void pa_cycle_fork_prepare(void);
PA_HIDDEN void pa_cycle_fork_parent(void);
PA_HIDDEN void pa_cycle_fork_child(void);

/* Charges `size` requested bytes just allocated at p to h's countdown. When
 * the allocation is sampled, what the program gets is not p but a sampled
 * object in its place (prof/sample.c): so callers return what this returns.
 * flags: the alignment asked for (0, or a power of two above 16), or'ed with
 * PA_CHARGE_ZERO for calloc. p == NULL counts bytes that are no new object
 * (realloc growth in place): they never take a sample. */
#define PA_CHARGE_ZERO ((size_t)1)
static inline void *pa_heap_charge(pa_heap_t *h, void *p, size_t size, size_t flags)
{
    if (PA_UNLIKELY((h->countdown -= (int64_t)size) < 0)) return pa_heap_tick(h, p, size, flags);
    return p;
}

/* ---- stats.c ----------------------------------------------------------- */
typedef struct pa_global_stats {
    _Atomic(uint64_t) mapped, purged_total, committed;
    _Atomic(uint64_t) huge_allocs, huge_frees, huge_alloc_bytes, huge_free_bytes, huge_live_bytes;
    _Atomic(uint64_t) orphan_frees, orphan_free_bytes, orphan_large_frees, orphan_large_free_bytes;
    _Atomic(uint64_t) segments;
    _Atomic(uint64_t) heaps, heaps_abandoned;
} pa_global_stats_t;
PA_HIDDEN extern pa_global_stats_t pa_gstats;
struct pa_stats;
PA_HIDDEN void pa_stats_counters(struct pa_stats *out);   /* all but resident_bytes */
PA_HIDDEN void pa_stats_forget(pa_heap_t *h, void *p);     /* p was never the program's */

/* ---- options.c --------------------------------------------------------- */
typedef struct pa_options {
    bool     stats_at_exit;     /* POOLALLOC_STATS                                 */
    uint64_t purge_delay_ns;    /* POOLALLOC_PURGE_DELAY: free memory kept resident */
    size_t   segment_cache;     /* POOLALLOC_SEGMENT_CACHE: empty segments kept     */
    bool     purge_thread;      /* POOLALLOC_PURGE_THREAD: purge an idle process    */
    bool     verbose;           /* POOLALLOC_VERBOSE                               */
    int64_t  gogc;              /* POOLALLOC_GOGC: cycle pacing percent, -1: off   */
    bool     trace;             /* POOLALLOC_TRACE: one line per reclaim cycle     */
    bool     pool_debug;        /* POOLALLOC_POOL_DEBUG: every pool in debug mode   */
    char     profile[4096];     /* POOLALLOC_PROFILE: profile file prefix, "": off   */
    size_t   sample_rate;       /* POOLALLOC_SAMPLE_RATE: mean bytes between samples */
    uint64_t profile_every_bytes, profile_every_ns;  /* POOLALLOC_PROFILE_INTERVAL   */
    int      profile_signal;    /* POOLALLOC_PROFILE_SIGNAL: dump on it, 0: none    */
    size_t   profile_pid;       /* POOLALLOC_PROFILE_PID: only this process, 0: all */
    uint64_t memory_interval_ns; /* POOLALLOC_MEMORY_INTERVAL: memory-over-time step  */
    char     http[256];         /* POOLALLOC_HTTP: the server's address, "": off (http/) */
    size_t   http_pid;          /* POOLALLOC_HTTP_PID: the process that serves, 0: this */
    bool     sampling;          /* POOLALLOC_SAMPLING: sample from the start        */
    int      profile_switch;    /* POOLALLOC_PROFILE_SWITCH: flips sampling, 0: none */
} pa_options_t;
PA_HIDDEN extern pa_options_t pa_options;
PA_HIDDEN void pa_options_init(void);
/* POOLALLOC_HTTP is set and this process serves it: not a program that
 * inherited the setting from the one serving (POOLALLOC_HTTP_PID). */
PA_HIDDEN bool pa_http_serves(void);

#endif /* PA_INTERNAL_H */
