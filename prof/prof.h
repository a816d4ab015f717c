/* prof.h — sampled, stack-attributed allocation profiling (POOLALLOC_PROFILE).
 *
 * SAMPLING. Each heap counts down bytes to its next sample, drawn from an
 * exponential distribution whose mean is the sample rate (cycle.c keeps that
 * budget next to the tick budget, so the malloc fast path pays nothing more).
 * An allocation of s bytes that crosses a sample point is sampled: it stands
 * for 1 / (1 - e^(-s/rate)) allocations of its stack, which makes the totals
 * unbiased. Profiling off: the budget is "never".
 *
 * SAMPLED OBJECTS. A sampled object lives inside an ordinary block, behind a
 * header: [block ... header | object ...]. The object's address is never a
 * block start, so free() leaves its fast path for the generic one, which
 * reads the header just below the pointer and recognises a sampled object in
 * O(1), from any thread, by a magic word (a random key xor the address). The
 * header names the object's stack and the weighted amounts to take off its
 * in-use values. Unsampled objects are untouched: no per-object metadata,
 * no hash table.
 *
 * FATES (docs/lifetimes.md). The header also keeps what deciding the
 * object's fate at free needs: when it was allocated (lifetime), which
 * thread allocated it (freed by another thread?), the heap's countdown right
 * after (unchanged at free: the thread allocated nothing since, a
 * "temporary"), and where the return addresses of the stack's first frames
 * sit on the allocating thread's stack: a frame is still running at free if
 * its slot is above the freeing call and still holds its return address
 * (stacks.c finds the slots by scanning up from the sampler's own frame).
 *
 * STACKS. libunwind (loaded when profiling starts), up to 64 frames, the allocator's own
 * frames cut off the top; identical stacks share one entry of a lock-free
 * hash table in memory the profiler maps itself (stacks.c). A per-thread
 * guard (pa_tl_prof_busy) keeps the profiler from sampling its own
 * allocations, or re-entering itself if the unwinder allocates.
 *
 * DUMPS (dump.c writes one; triggers.c decides when): at exit, every
 * POOLALLOC_PROFILE_INTERVAL, on POOLALLOC_PROFILE_SIGNAL, and on
 * pa_profile_dump(). Format: docs/profile-format.md.
 */
#ifndef PA_PROF_H
#define PA_PROF_H

#include "internal.h"

#define PA_PROF_MAX_FRAMES 64
#define PA_PROF_TRUNCATED  ((void *)1)          /* last frame of a stack cut at 64 */
#define PA_PROF_NEVER      ((int64_t)1 << 62)    /* a sample budget that never runs out */
#define PA_PROF_ONE        ((uint64_t)1 << 16)   /* objects are counted in 1/65536ths    */

/* What became of a stack's sampled objects (docs/lifetimes.md): counters
 * weighted like alloc_objects (PA_PROF_ONE units), but REALLOC_COPIED in
 * bytes. dump.c names them in this order. */
enum pa_prof_fate {
    PA_FATE_LIFE,                              /* 8 buckets: freed < 1 us, < 10 us ... >= 1 s */
    PA_FATE_FRAME = PA_FATE_LIFE + 8,          /* 4: freed while frame k was the innermost running */
    PA_FATE_RETURNED = PA_FATE_FRAME + 4,      /* freed after frames 0..3 returned */
    PA_FATE_THREAD,                            /* freed by another thread */
    PA_FATE_TEMPORARY,                         /* freed before the thread allocated again */
    PA_FATE_MOVED,                             /* moved by realloc (not freed) */
    PA_FATE_REALLOC_OBJECTS,                   /* allocated by a moving realloc */
    PA_FATE_REALLOC_COPIED,                    /* bytes those reallocs copied */
    PA_FATE_POOL_MISSES,                       /* allocated by a pool miss */
    PA_FATES
};
#define PA_PROF_SLOTS 4                        /* frames followed for the escape classes */

/* One allocation stack and what was sampled there. Counters only grow; in
 * use = allocated - freed, where "freed" includes moved. Objects in
 * PA_PROF_ONE units, space in bytes, both already weighted. */
typedef struct pa_prof_stack {
    uint64_t hash;
    uint32_t depth;
    uint32_t pad_;
    _Atomic(uint64_t) alloc_objects, alloc_space, free_objects, free_space;
    _Atomic(uint64_t) fate[PA_FATES];
    _Atomic(uint64_t) peak_objects, peak_space, peak_version;   /* in use at a peak (peak.c) */
    void *frames[];                       /* return addresses, innermost first */
} pa_prof_stack_t;

/* In front of every sampled object, ending right at the object. */
typedef struct pa_prof_hdr {
    pa_prof_stack_t *stack;
    uint64_t objects, space;              /* what the object added, to take off at free */
    uint64_t alloc_ns;                    /* CLOCK_MONOTONIC at the allocation          */
    uint64_t mark;                        /* bytes the heap had allocated after it: the
                                             same at free = nothing since (temporary)  */
    uintptr_t slot;                       /* where frame 0's return address (frames[1]) is
                                             on the allocating thread's stack; 0: unknown */
    uint32_t slot_up[PA_PROF_SLOTS - 1];  /* frames 1..3's slots, bytes above `slot`; 0: none */
    uint32_t thread;                      /* the allocating thread (pa_prof_thread_id)  */
    uint32_t offset;                      /* object address - block address            */
    uint32_t epoch;                       /* forks before it was sampled (see pa_prof_fork_reset) */
    uintptr_t magic;                      /* pa_prof_key ^ object address              */
    uint64_t usable;                      /* the usable size the program sees: the
                                             block's the request got unsampled, so
                                             realloc keeps or moves the object exactly
                                             when it would unprofiled (sample.c)      */
    uint64_t spare_;
} pa_prof_hdr_t;
_Static_assert(sizeof(pa_prof_hdr_t) % 16 == 0, "objects stay 16-byte aligned");

PA_HIDDEN extern _Atomic(bool) pa_prof_sampling;   /* switch.c: samples are taken now */
PA_HIDDEN extern _Atomic(uint32_t) pa_prof_switches;   /* switches so far: heaps re-draw at their tick */
PA_HIDDEN void pa_prof_switch(bool on);           /* async-signal-safe */
PA_HIDDEN void pa_prof_switch_start(void);        /* POOLALLOC_PROFILE_SWITCH's handler (process start) */
PA_HIDDEN extern bool pa_prof_on;                 /* POOLALLOC_PROFILE is set          */
PA_HIDDEN extern uint64_t pa_prof_process;        /* random; the profiles' "process" key */
extern PA_TLS unsigned pa_tl_prof_busy;           /* > 0: this thread takes no samples */
extern PA_TLS uintptr_t pa_tl_pool_miss;          /* a pool miss's frame: allocations below it are misses */

/* ---- sample.c ---- */
PA_HIDDEN void pa_prof_init(void);                /* at process init, after options    */
PA_HIDDEN int64_t pa_prof_interval(uint64_t *rng);
PA_HIDDEN void *pa_prof_sample(pa_heap_t *h, void *p, size_t size, size_t flags);
PA_HIDDEN bool pa_prof_free(void *p);             /* true: p was a sampled object, now freed */
PA_HIDDEN void pa_prof_free_moved(void *p);       /* realloc copied the sampled object p away */
PA_HIDDEN void pa_prof_realloc_made(void *q, size_t copied);   /* q: a moving realloc's new block */
PA_HIDDEN size_t pa_prof_usable(const void *p);   /* 0 unless p is a live sampled object */
PA_HIDDEN size_t pa_prof_offset(const void *p);   /* its offset in its block, 0 if it is none */
PA_HIDDEN void *pa_prof_kept(void *p, size_t size, size_t usable);   /* realloc kept it, now of size */
PA_HIDDEN uint64_t pa_prof_weight(size_t size, uint64_t *space);
PA_HIDDEN void pa_prof_fork_reset(void);         /* in a fork child: count its own only */

/* ---- stacks.c ---- */
PA_HIDDEN void pa_prof_stacks_init(void);         /* find our own code (process init) */
PA_HIDDEN void pa_prof_stacks_start(void);        /* load libunwind (a constructor, outside malloc) */
PA_HIDDEN pa_prof_stack_t *pa_prof_stack_capture(void);
PA_HIDDEN uint32_t pa_prof_thread_id(void);      /* this thread's number, from 1, never reused */
PA_HIDDEN int pa_prof_frame_slots(const pa_prof_stack_t *st, uintptr_t slots[PA_PROF_SLOTS]);
PA_HIDDEN int pa_prof_frame_running(const pa_prof_hdr_t *hd);
PA_HIDDEN pa_prof_stack_t *pa_prof_stack_intern(void *const *frames, uint32_t depth);
PA_HIDDEN void pa_prof_stacks_foreach(void (*fn)(const pa_prof_stack_t *, void *), void *arg);
PA_HIDDEN void pa_prof_stacks_zero(void);         /* every record's counters to 0 */
PA_HIDDEN size_t pa_prof_memory(void);            /* bytes the profiler has mapped */
PA_HIDDEN void *pa_prof_arena_alloc(size_t size);

/* ---- peak.c ---- */
PA_HIDDEN void pa_prof_peak_touch(pa_prof_stack_t *st);   /* before st's counters change */
PA_HIDDEN void pa_prof_peak_add(int64_t bytes);  /* after: a sampled object's weighted bytes came or went */
PA_HIDDEN void pa_prof_peak_of(const pa_prof_stack_t *st, uint64_t *objects, uint64_t *space);
PA_HIDDEN void pa_prof_peak_total(uint64_t *bytes, uint64_t *ns);   /* the peak and when */
PA_HIDDEN uint64_t pa_prof_peak_inuse(void);     /* the sampled in-use bytes now */
PA_HIDDEN void pa_prof_peak_fork_child(void);

/* ---- series.c ---- */
typedef struct pa_prof_point {
    uint64_t ns;                          /* since the allocator started */
    uint64_t live, resident, mapped, allocated, sampled;   /* bytes */
} pa_prof_point_t;
#define PA_PROF_SERIES_MAX 1025           /* the points kept, and the dump's own */
PA_HIDDEN void pa_prof_series_init(void);
PA_HIDDEN void pa_prof_series_tick(uint64_t allocated);    /* every 256 KiB a thread allocates */
PA_HIDDEN void pa_prof_series_cycle(uint64_t allocated);   /* after each reclaim cycle */
PA_HIDDEN size_t pa_prof_series(pa_prof_point_t *out, size_t cap, uint64_t allocated, bool always);
PA_HIDDEN void pa_prof_series_fork_child(void);

/* ---- dump.c ---- */
PA_HIDDEN int pa_prof_write(const char *path, const char *reason, uint64_t seq);
PA_HIDDEN int pa_prof_write_fd(int fd, const char *reason, uint64_t seq);   /* the same into fd */
/* A stack's alloc_objects, alloc_space, inuse_objects, inuse_space as a
 * profile gives them; false if this process allocated nothing there. */
PA_HIDDEN bool pa_prof_heap_values(const pa_prof_stack_t *st, uint64_t v[4]);
/* Each executable segment of every loaded object, with its file's build-id. */
typedef struct pa_prof_mapping {
    uintptr_t start, limit, offset;
    const char *name;                     /* the file; "[vdso]" */
    char build_id[130];                   /* hex, "-" if none */
} pa_prof_mapping_t;
PA_HIDDEN void pa_prof_mappings(void (*fn)(const pa_prof_mapping_t *, void *), void *arg);
PA_HIDDEN void pa_prof_dump_fork_child(void);

/* ---- triggers.c ---- */
PA_HIDDEN void pa_prof_tick(uint64_t allocated_total);   /* from pa_heap_tick, every 256 KiB */
PA_HIDDEN void pa_prof_fork_child(void);
PA_HIDDEN void pa_http_fork_child(void);          /* http/server.c: the child serves nothing */

#endif /* PA_PROF_H */
