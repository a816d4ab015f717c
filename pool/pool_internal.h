/* pool/pool_internal.h — the object pools' data structures, explained before use.
 *
 * LOCALS. A pool has one local per thread that used it (pa_pool_local_t):
 * a private slot, a shared stack and a victim cache. Get and put try the
 * private slot first; that path is the owner's alone, with plain loads and
 * stores (no lock, no atomic read-modify-write). Everything else in a local
 * is under its spin lock, which only its owner takes in steady state: other
 * threads take it to steal from the shared stack, a reclaim cycle to rotate.
 * Objects are never linked through their own memory (a reset object keeps
 * every byte the user left in it): stacks are arrays of pointers.
 *
 * Threads find their local through a thread-local table indexed by pool id;
 * a slot holds the pool's serial, so a slot left by a destroyed pool whose id
 * was reused never matches. A thread that exits marks its locals ownerless;
 * their objects stay (others steal them) and the next thread to use the pool
 * adopts the local.
 *
 * ROTATION. A reclaim cycle bumps the global epoch; every local is then
 * rotated once: its old victims are dropped, its private slot and shared stack
 * become the victim cache. The cycle may touch a private slot only while its
 * owner is not using it. The owner marks `busy` around each private-slot
 * access and checks the epoch inside; the cycle stores the new epoch, forces a
 * memory barrier on every running thread of the process (membarrier, fence.c),
 * then waits for busy == 0. Either the owner saw the new epoch (and takes the
 * locked path) or the cycle sees it busy: the asymmetric Dekker pattern, so
 * that the owner's side needs only a compiler barrier. */
#ifndef PA_POOL_INTERNAL_H
#define PA_POOL_INTERNAL_H

#include <pthread.h>
#include <sched.h>

#include "fast.h"
#include "poolalloc.h"

typedef struct pa_objstack {
    void   **items;
    uint32_t len, cap;
} pa_objstack_t;

typedef struct pa_pool_local {
    /* --- the owner's private path --- */
    _Atomic(void *)   priv;
    _Atomic(uint32_t) busy;          /* owner inside a private-slot access         */
    _Atomic(uint64_t) gen;           /* the epoch this local was rotated for       */
    _Atomic(uint64_t) hits, puts;    /* owner-written counters (PA_STAT_INC)       */
    /* --- under lock --- */
    _Alignas(64) _Atomic(int) lock;
    void             *owner;         /* the owning thread (THIS_THREAD); NULL: none */
    pa_objstack_t     shared, victim;
    void             *victim_priv;
    _Atomic(uint64_t) misses, steals, victim_hits;   /* written by the owner        */
    struct pa_pool_local *next;      /* the pool's list (fixed once published)      */
} pa_pool_local_t;

typedef struct pa_debug_set pa_debug_set_t;

struct pa_pool {
    uint32_t id;
    bool     debug;
    uint64_t serial;                 /* unique per pool ever created               */
    void   (*reset)(void *, void *);
    void    *arg;
    void  *(*new_object)(void *);
    void   (*destroy)(void *, void *);
    size_t   size, align;
    pthread_mutex_t mutex;           /* adoption, new locals, the debug set        */
    _Atomic(pa_pool_local_t *) locals;
    _Atomic(uint64_t) dropped, orphan_misses;
    pa_debug_set_t *debug_set;
    char     name[48];
};

typedef struct pa_pool_slot { uint64_t serial; pa_pool_local_t *local; } pa_pool_slot_t;
typedef struct pa_pool_table { uint32_t cap; pa_pool_slot_t slot[]; } pa_pool_table_t;

extern PA_TLS pa_pool_table_t *pa_tl_pools;     /* this thread's slots (never NULL) */
PA_HIDDEN extern _Atomic(uint64_t) pa_pool_epoch;

/* Objects a rotation took out of a local: the old victims, released after
 * the local's lock is dropped. */
typedef struct pa_pool_dropped { pa_objstack_t stack; void *priv; } pa_pool_dropped_t;

/* ---- registry.c: ids, the thread tables, thread exit, fork, rotation ---- */
PA_HIDDEN bool pa_pool_register(pa_pool_t *pool);
PA_HIDDEN void pa_pool_unregister(pa_pool_t *pool);
PA_HIDDEN pa_pool_local_t *pa_pool_local_of(pa_pool_t *pool);
PA_HIDDEN bool pa_pool_rotate_locked(pa_pool_local_t *l, pa_pool_dropped_t *out);
PA_HIDDEN uint64_t pa_pool_release_dropped(pa_pool_t *pool, pa_pool_dropped_t *d);
PA_HIDDEN void pa_pool_release(pa_pool_t *pool, void *obj);
PA_HIDDEN void pa_pool_drop(pa_pool_t *pool, void *obj);

/* ---- stack.c ---- */
PA_HIDDEN bool  pa_objstack_push(pa_objstack_t *s, void *obj);
PA_HIDDEN void *pa_objstack_pop(pa_objstack_t *s);
PA_HIDDEN void  pa_objstack_free(pa_objstack_t *s);

/* ---- fence.c ---- */
PA_HIDDEN extern bool pa_fence_asymmetric;
PA_HIDDEN void pa_fence_init(void);
PA_HIDDEN void pa_fence_heavy(void);
PA_HIDDEN void pa_fence_full(void);

/* ---- debug.c: which objects a debug pool handed out and holds ---- */
PA_HIDDEN void pa_debug_got(pa_pool_t *pool, void *obj);
PA_HIDDEN bool pa_debug_put(pa_pool_t *pool, void *obj);
PA_HIDDEN void pa_debug_forget(pa_pool_t *pool, void *obj);
PA_HIDDEN void pa_debug_free(pa_pool_t *pool);

/* ---- the private-slot bracket ---- */
/* `full`: membarrier is not available, so this side needs a real fence. */
static inline __attribute__((always_inline)) void pa_local_enter(pa_pool_local_t *l, bool full)
{
#if defined(__SANITIZE_THREAD__)
    (void)full;
    atomic_store_explicit(&l->busy, 1, memory_order_seq_cst);
#else
    atomic_store_explicit(&l->busy, 1, memory_order_relaxed);
    if (full) pa_fence_full();
    else atomic_signal_fence(memory_order_seq_cst);
#endif
}

static inline void pa_local_leave(pa_pool_local_t *l)
{
    atomic_store_explicit(&l->busy, 0, memory_order_release);
}

/* True when the local was rotated for the current epoch: the private slot may
 * be used. Read inside enter/leave; the acquire orders the slot's load after. */
static inline bool pa_local_current(pa_pool_local_t *l)
{
    return atomic_load_explicit(&l->gen, memory_order_acquire) ==
           atomic_load_explicit(&pa_pool_epoch, memory_order_seq_cst);
}

static inline void pa_spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Local spin lock. No reclaim cycle may start on a thread holding one (it
 * would take the same lock): pa_tl_cycle_hold. */
static inline void pa_local_lock(pa_pool_local_t *l)
{
    pa_tl_cycle_hold++;
    while (atomic_exchange_explicit(&l->lock, 1, memory_order_acquire)) {
        for (unsigned i = 0; atomic_load_explicit(&l->lock, memory_order_relaxed); i++) {
            if (i < 100) pa_spin_pause();
            else sched_yield();
        }
    }
}

static inline void pa_local_unlock(pa_pool_local_t *l)
{
    atomic_store_explicit(&l->lock, 0, memory_order_release);
    pa_tl_cycle_hold--;
}

#endif /* PA_POOL_INTERNAL_H */
