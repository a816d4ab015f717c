/* types.h — every data structure of the allocator, explained before use.
 *
 * SEGMENTS. All small and medium memory lives in segments: 4 MiB regions
 * aligned to 4 MiB, so `ptr & ~(PA_SEG_SIZE-1)` finds the segment of any
 * pointer inside one. A process-wide map (segmap.c) has one byte per 4 MiB of
 * address space, set for every segment start we mapped to the owning heap's
 * tag (or PA_MAP_SHARED); free() compares that byte with its heap's tag
 * first, which is how it tells in O(1) whether a pointer is ours and its own.
 *
 * SLICES AND PAGES. A segment is cut into 64 slices of 64 KiB. Slice 0 holds
 * the segment header (this struct, with its page descriptors); the other 63
 * are handed out in runs called pages. A page of a small size class is 1 slice,
 * of a medium class a few slices, and a "large" page holds a single object of
 * 128 KiB..2 MiB. Each slice has a descriptor in the header; the first slice
 * of a run carries the page state, and every descriptor points (`page`) to
 * the first of its run, so that any address finds its page in O(1).
 *
 * OWNERSHIP. A segment belongs to one heap (a thread's allocator state), and so
 * do all its pages. Only the owning thread touches a page's free, local_free,
 * used and queue links: no lock, no atomic read-modify-write. A free() from any
 * other thread pushes the block onto the page's atomic xfree list (remote.c,
 * in batches: REMOTE FREES IN BATCHES below); the owner collects that list
 * when it next looks at the page for free blocks.
 *
 * FREE LISTS OF A PAGE. `free` is the list malloc pops from, and same-thread
 * free() pushes onto it too: last in, first out, so a block that dies young is
 * reused while still in cache (the powerlaw benchmark runs 6-14% faster than
 * with a separate list for local frees). Other threads
 * push to `xfree`; blocks handed back through remote_blocks, and a list that
 * arrives while `free` still has blocks, wait on `local_free`. Both are
 * collected when `free` runs dry. Blocks not yet carved (capacity < reserved) are
 * untouched memory, so a fresh page costs no RSS until it is used.
 *
 * FULL PAGES. A page found without free blocks leaves its class queue for the
 * heap's full list, and the owner sets bit 0 of xfree ("tell me"). The first
 * remote free that finds the bit clears it and, instead of pushing its block
 * on the page, pushes it on the owner heap's atomic remote_blocks stack; the
 * owner frees those blocks as its own on its next slow path and moves their
 * pages back to their queues. Until the owner has taken it, that block still
 * counts in page->used_m1, so its page cannot be retired or reused meanwhile.
 * Same-thread frees bring a full page back once a fifth of its blocks are
 * free (pa_page_wake): while it is full-listed, used_m1 counts down the frees
 * still needed, so the free that completes them sees it negative and moves the
 * page back. Until then its few free blocks wait: a page with one hole at a
 * time would make malloc hop between pages, handing out scattered blocks where
 * a page with many free ones hands out neighbours (the program reads what it
 * allocated together faster: containers ran 1.13x faster, see alloc/README.md).
 *
 * REMOTE FREES IN BATCHES. A thread freeing blocks of another heap's page
 * gathers them (remote.c) while its frees stay on that page, and hands them
 * over in one compare-and-swap: up to PA_REMOTE_BATCH blocks or
 * PA_REMOTE_BATCH_BYTES, or as soon as it frees for another page, runs its
 * maintenance, collects or exits. The blocks count as used meanwhile.
 *
 * HEAPS. One per thread, reached through a thread-local pointer that starts at
 * a static empty heap whose pages have no free blocks, so the fast path needs no
 * "initialised?" test: the first malloc simply falls to the slow path. Heaps are
 * never unmapped: a thread that exits collects what it can, returns empty
 * segments, and parks its heap on the abandoned list, its free memory still
 * resident (purged within a second if nobody comes); the next new thread adopts
 * it whole. So thread churn reuses memory instead of growing it.
 *
 * TICKS AND SAMPLES. Every allocation subtracts its requested size from the
 * heap's countdown; when it goes below zero the allocation takes pa_heap_tick
 * (cycle.c). The countdown is set to the nearer of two budgets: bytes until
 * the next tick, which adds them to the process total that paces reclaim
 * cycles (every 256 KiB), and bytes until the next profiling sample (prof/;
 * never, when profiling is off). So the fast path pays one subtraction for
 * both, and the global counter is touched once per 256 KiB.
 *
 * HUGE BLOCKS (> 2 MiB) get their own mapping, also 4 MiB aligned with a small
 * header in front (segment kind PA_SEG_HUGE), and go through a small global
 * cache when freed (huge.c).
 */
#ifndef PA_TYPES_H
#define PA_TYPES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PA_SEG_SHIFT    22
#define PA_SEG_SIZE     ((size_t)1 << PA_SEG_SHIFT)            /* 4 MiB   */
#define PA_SEG_MASK     (PA_SEG_SIZE - 1)
#define PA_SLICE_SHIFT  16
#define PA_SLICE_SIZE   ((size_t)1 << PA_SLICE_SHIFT)          /* 64 KiB  */
#define PA_SLICES       (PA_SEG_SIZE / PA_SLICE_SIZE)          /* 64      */
#define PA_OS_PAGE      4096

#define PA_MIN_ALIGN    16
#define PA_SMALL_MAX    ((size_t)128 << 10)   /* largest size class            */
#define PA_LARGE_MAX    ((size_t)2 << 20)     /* largest single-object page    */
#define PA_CLASSES      89                    /* classes 1..88; 0 = not a page */
#define PA_CLASS_LARGE  PA_CLASSES            /* marks a single-object page    */
#define PA_DIRECT_MAX   1024                  /* malloc's fast path: sizes up to */
#define PA_DIRECT_SLOTS (PA_DIRECT_MAX / 16 + 1)  /* ... by (size + 15) / 16     */

#define PA_LIKELY(x)    __builtin_expect(!!(x), 1)
#define PA_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#define PA_NOINLINE     __attribute__((noinline))
#define PA_HIDDEN       __attribute__((visibility("hidden")))
#define PA_API          __attribute__((visibility("default")))
#define PA_TLS          __thread __attribute__((tls_model("initial-exec")))

typedef struct pa_block {
    struct pa_block *next;
    uintptr_t key;          /* pa_free_mark while free: a second free aborts          */
} pa_block_t;

struct pa_heap;
struct pa_segment;

/* What any thread's free() reads to find a block's page and check the block:
 * a copy of the owner's fields of the same names (pa_page_publish), written
 * when the page is set up, carved or resized, never per block. */
typedef struct pa_page_view {
    struct pa_page *page;
    uint8_t    *start;
    uint64_t    div_magic;
    uint64_t    carved_limit;  /* read and written with __atomic_*_n         */
    uint32_t    block_size;
    uint8_t     class_id;
} pa_page_view_t;

/* Three cache lines, by who writes them, and a pad. The owner pops and pushes
 * blocks on the first, which also holds what its own free() reads; other
 * threads read the second, the same fields copied, so a free from another
 * thread never takes the line the owner writes on each malloc and free out of
 * its core's cache (until 2026-12-07 they read the first, and the owner's next
 * malloc or free waited to get it back); remote frees swap xfree on the
 * third. The pad makes the size a power of two, so free() finds a descriptor
 * with a shift and a mask (64 of them take 16 KiB of the segment's first
 * slice, which holds nothing else). */
typedef struct pa_page {
    /* --- first cache line: the owner's fast path --- */
    pa_block_t *free;          /* blocks to allocate                              */
    pa_block_t *local_free;    /* blocks waiting for the next refill of free      */
    uint8_t    *start;         /* address of block 0 (NULL: not a page)          */
    uint64_t    div_magic;     /* pa_page_is_block_start's multiplier           */
    int32_t     used_m1;       /* blocks handed out and not yet collected back,
                                  minus one (-1: none); on the full list, the
                                  frees still needed to bring it back, minus
                                  one: so free() learns "now empty, or back
                                  from the full list" from one sign          */
    uint32_t    block_size;
    uint32_t    capacity;      /* blocks carved into lists so far                 */
    uint16_t    reserved;      /* blocks that fit in the page (at most 4096)      */
    uint8_t     class_id;      /* 1..88, PA_CLASS_LARGE, or 0 for no page        */
    uint8_t     slice_count;   /* length of the run (first descriptor only)      */
    uint64_t    carved_limit;  /* blocks carved so far, scaled for
                                  pa_page_is_block_start: free() refuses what
                                  lies beyond; only grows while the page lives.
                                  Other threads read view.carved_limit     */
    struct pa_page *page;      /* the run's first descriptor (itself if first or
                                  not in a page): free()'s O(1) lookup          */
    /* --- second cache line: what other threads read --- */
    _Alignas(64) pa_page_view_t view;
    /* --- third cache line: written by other threads or rarely --- */
    _Alignas(64) _Atomic(uintptr_t) xfree;  /* remote frees: see PA_XFREE_* below */
    struct pa_page *next, *prev;          /* class queue or full list             */
    bool        in_full;                  /* on the heap's full list              */
    _Alignas(64) uint8_t pad_[64];
} pa_page_t;

_Static_assert(sizeof(pa_page_t) == 256, "page descriptor: three cache lines and a pad");

/* The xfree word: bit 0 asks for a notice (FULL PAGES above), bits 1..47 hold
 * the list's first block (blocks are 16-byte aligned and user addresses lie
 * below 2^48, as the segment map assumes), bits 48..63 how many blocks the
 * list holds, so the owner takes a long list without walking it. A page holds
 * at most 4096 blocks. */
#define PA_XFREE_NOTIFY ((uintptr_t)1)
#define PA_XFREE_PTR    ((((uintptr_t)1) << 48) - 16)
#define PA_XFREE_ONE    (((uintptr_t)1) << 48)

/* A batch of remote frees (REMOTE FREES IN BATCHES above) holds at most this
 * many blocks and bytes; blocks larger than half the bytes go one by one. */
#define PA_REMOTE_BATCH       64
#define PA_REMOTE_BATCH_BYTES ((size_t)16 << 10)

enum { PA_SEG_NORMAL = 1, PA_SEG_HUGE = 2, PA_SEG_HUGE_CACHED = 3 };

typedef struct pa_segment {
    struct pa_heap *heap;        /* owner; NULL while cached                       */
    uint32_t kind;
    uint32_t several_vmas;       /* huge: its range is several kernel mappings     */
    uint64_t free_slices;        /* bit i: slice i is not part of any page         */
    uint64_t dirty_slices;       /* free and possibly resident (not yet purged)    */
    uint64_t fresh_slices;       /* of those, freed since the last purge pass      */
    uint64_t freed_at_ns;        /* when the last slice was freed                  */
    uint64_t purge_at_ns;        /* next purge pass over the dirty slices (0: none) */
    size_t   map_size;           /* bytes mapped, PA_SEG_SIZE or a huge block's    */
    size_t   huge_offset;        /* huge: user block starts at segment + offset    */
    size_t   huge_size;          /* huge: usable bytes                             */
    struct pa_segment *next, *prev;   /* heap's segments, or a cache list          */
    uint64_t cached_at_ns;       /* when it entered a cache                        */
    _Alignas(64) pa_page_t pages[PA_SLICES];
} pa_segment_t;

_Static_assert(sizeof(pa_segment_t) <= PA_SLICE_SIZE, "the segment header fits in slice 0");

typedef struct pa_page_queue {
    pa_page_t *first, *last;
} pa_page_queue_t;

/* Heap tags, the owner's name in the segment map (segmap.c): the first 253
 * heaps get 2..254; the others and the empty heap have PA_TAG_NONE, which
 * never appears in the map, so their frees take the slow path. Heaps are
 * never unmapped, so a tag is never reused. */
#define PA_MAP_NOT_OURS 0
#define PA_MAP_SHARED   1
#define PA_TAG_FIRST    2
#define PA_TAG_NONE     255

/* Statistics counters of a heap are written by its thread only, with plain
 * load-add-store (see PA_STAT_ADD); they are _Atomic so that statistics may
 * read them from any thread. */
typedef struct pa_heap {
    int64_t    countdown;                /* bytes to allocate before the next tick  */
    uint8_t    tag;                      /* in the segment map for its segments     */
    pa_page_t *direct[PA_CLASSES + 1];   /* current page of each class (never NULL) */
    pa_page_t *small[PA_DIRECT_SLOTS];   /* the same pages by (size + 15) / 16 for
                                            sizes up to PA_DIRECT_MAX: the fast path
                                            needs no size-to-class step             */
    _Atomic(uint64_t) small_allocs[PA_DIRECT_SLOTS]; /* fast-path mallocs, by slot  */
    _Atomic(uint64_t) allocs[PA_CLASSES + 1]; /* per class; [PA_CLASS_LARGE]: large
                                                 pages, whose bytes are counted below */
    _Atomic(uint64_t) large_alloc_bytes;
    _Atomic(uint64_t) frees[PA_CLASSES + 1];  /* every free this thread did, per class
                                                 (bytes: class sizes; large ones below) */
    _Atomic(uint64_t) large_free_bytes, remote_frees;   /* large frees: frees[PA_CLASS_LARGE] */
    _Atomic(uint64_t) realloc_moves, realloc_copied; /* reallocs that copied, and the bytes */
    pa_page_queue_t queue[PA_CLASSES + 1];
    pa_page_queue_t full;
    _Atomic(pa_block_t *) remote_blocks; /* remote frees to full pages (see above)  */
    struct {                             /* this thread's frees to one page of another
                                            heap, not handed over yet (remote.c)   */
        pa_page_t  *page;                /* NULL: none                              */
        pa_block_t *head, *tail;
        uint32_t    count;
    } remote_out;
    pa_segment_t *segments;              /* segments this heap owns                 */
    pthread_mutex_t segments_lock;       /* its segments' slice maps and list: the
                                            owner's page alloc/free (per page, not
                                            per object) and the purger (purger.c) */
    uint64_t next_maintenance_ns;
    uint32_t slow_calls;
    bool     abandoned;
    struct pa_heap *next_all;            /* every heap, for statistics              */
    struct pa_heap *next_abandoned;
    /* the budgets behind countdown (TICKS AND SAMPLES above) */
    int64_t    countdown_set;            /* what countdown was last set to          */
    uint64_t   settled;                  /* bytes settled out of the countdown: with
                                            countdown_set - countdown, every byte this
                                            heap allocated (prof/ tells temporaries) */
    int64_t    tick_left, sample_left;   /* bytes to the next tick / sample          */
    uint64_t   rng;                      /* draws the sampling intervals             */
    uint32_t   prof_switches;            /* pa_prof_switches when sample_left was drawn */
} pa_heap_t;

#endif /* PA_TYPES_H */
