/* registry.c — every live pool by id, each thread's table of its locals,
 * thread exit, fork, and the pools' part of a reclaim cycle (rotation).
 *
 * Lock order: the cycle lock (alloc/cycle.c), the registry lock, a pool's
 * mutex, a local's spin lock. */
#include "pool_internal.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pa_pool_t **registry;              /* by id; NULL: free id            */
static uint32_t registry_cap;
static uint64_t next_serial = 1;
static uint64_t retired_gets, retired_hits; /* of destroyed pools             */
static pthread_key_t exit_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static pa_pool_table_t empty_table;       /* cap 0: every lookup misses      */
PA_TLS pa_pool_table_t *pa_tl_pools = &empty_table;
_Atomic(uint64_t) pa_pool_epoch = 1;

static void rotate_all(pa_cycle_pools_t *out);
static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);
static void thread_exit(void *table);

static const pa_cycle_hooks_t hooks = { rotate_all, fork_prepare, fork_parent, fork_child };

static void init_once(void)
{
    pa_process_init();
    pa_fence_init();
    pthread_key_create(&exit_key, thread_exit);
    pa_cycle_set_hooks(&hooks);
}

/* ---- ids ------------------------------------------------------------------ */

bool pa_pool_register(pa_pool_t *pool)
{
    pthread_once(&once, init_once);
    pthread_mutex_lock(&registry_lock);
    pa_tl_cycle_hold++;
    uint32_t id = 0;
    while (id < registry_cap && registry[id]) id++;
    if (id == registry_cap) {
        uint32_t cap = registry_cap ? registry_cap * 2 : 64;
        pa_pool_t **r = pa_realloc_impl(registry, cap * sizeof *r);
        if (!r) { pa_tl_cycle_hold--; pthread_mutex_unlock(&registry_lock); return false; }
        memset(r + registry_cap, 0, (cap - registry_cap) * sizeof *r);
        registry = r;
        registry_cap = cap;
    }
    pool->id = id;
    pool->serial = next_serial++;
    registry[id] = pool;
    pa_tl_cycle_hold--;
    pthread_mutex_unlock(&registry_lock);
    return true;
}

static void add_counts(pa_pool_t *pool, uint64_t *gets, uint64_t *hits)
{
    for (pa_pool_local_t *l = atomic_load_explicit(&pool->locals, memory_order_acquire); l; l = l->next) {
        uint64_t h = atomic_load_explicit(&l->hits, memory_order_relaxed);
        *hits += h;
        *gets += h + atomic_load_explicit(&l->misses, memory_order_relaxed);
    }
    *gets += atomic_load_explicit(&pool->orphan_misses, memory_order_relaxed);
}

void pa_pool_unregister(pa_pool_t *pool)
{
    pthread_mutex_lock(&registry_lock);
    registry[pool->id] = NULL;
    add_counts(pool, &retired_gets, &retired_hits);
    pthread_mutex_unlock(&registry_lock);
}

/* ---- this thread's local of a pool ---------------------------------------- */

/* A local's owner is named by the address of the owning thread's table
 * pointer: unique per live thread, and it does not move when the table grows. */
#define THIS_THREAD ((void *)&pa_tl_pools)

static pa_pool_table_t *table_with(uint32_t id)
{
    pa_pool_table_t *t = pa_tl_pools;
    if (id < t->cap) return t;
    uint32_t cap = t->cap ? t->cap : 8;
    while (cap <= id) cap *= 2;
    pa_pool_table_t *n = pa_calloc_impl(1, sizeof *n + cap * sizeof n->slot[0]);
    if (!n) return NULL;
    n->cap = cap;
    if (t != &empty_table) {
        memcpy(n->slot, t->slot, t->cap * sizeof t->slot[0]);
        pa_free_inline(t);
    }
    pa_tl_pools = n;
    pthread_setspecific(exit_key, n);
    return n;
}

/* The calling thread's local of pool: its own, an ownerless one adopted, or a
 * new one. NULL when out of memory. */
pa_pool_local_t *pa_pool_local_of(pa_pool_t *pool)
{
    pa_pool_table_t *t = pa_tl_pools;
    if (pool->id < t->cap && t->slot[pool->id].serial == pool->serial) return t->slot[pool->id].local;
    pthread_mutex_lock(&pool->mutex);
    pa_tl_cycle_hold++;
    pa_pool_local_t *l = NULL;
    t = table_with(pool->id);
    if (!t) goto out;
    for (l = atomic_load_explicit(&pool->locals, memory_order_acquire); l; l = l->next) {
        pa_local_lock(l);
        bool free = l->owner == NULL;
        if (free) l->owner = THIS_THREAD;
        pa_local_unlock(l);
        if (free) break;
    }
    if (!l) {
        l = pa_memalign_impl(64, sizeof *l);
        if (!l) goto out;
        memset(l, 0, sizeof *l);
        l->owner = THIS_THREAD;
        atomic_store_explicit(&l->gen, atomic_load(&pa_pool_epoch), memory_order_relaxed);
        l->next = atomic_load_explicit(&pool->locals, memory_order_relaxed);
        atomic_store_explicit(&pool->locals, l, memory_order_release);
    }
    t->slot[pool->id] = (pa_pool_slot_t){ pool->serial, l };
out:
    pa_tl_cycle_hold--;
    pthread_mutex_unlock(&pool->mutex);
    return l;
}

/* A thread's locals outlive it, ownerless, with their objects: others steal
 * them, and the next thread to use the pool adopts the local. */
static void thread_exit(void *arg)
{
    pa_pool_table_t *t = arg;
    if (!t || t == &empty_table) return;
    pthread_mutex_lock(&registry_lock);
    for (uint32_t i = 0; i < t->cap; i++) {
        pa_pool_t *pool = i < registry_cap ? registry[i] : NULL;
        if (!pool || pool->serial != t->slot[i].serial) continue;   /* destroyed */
        pa_pool_local_t *l = t->slot[i].local;
        pa_local_lock(l);
        if (l->owner == THIS_THREAD) l->owner = NULL;
        pa_local_unlock(l);
    }
    pthread_mutex_unlock(&registry_lock);
    pa_tl_pools = &empty_table;
    pa_free_inline(t);
}

/* ---- rotation -------------------------------------------------------------- */

/* Under l's lock: drops the old victims into *out (the caller
 * releases them after unlocking), makes the private slot and the shared stack
 * the victim cache, and marks l current. False if l was current already. */
bool pa_pool_rotate_locked(pa_pool_local_t *l, pa_pool_dropped_t *out)
{
    uint64_t epoch = atomic_load(&pa_pool_epoch);
    if (atomic_load_explicit(&l->gen, memory_order_relaxed) == epoch) return false;
    out->stack = l->victim;
    out->priv = l->victim_priv;
    l->victim = l->shared;
    l->shared = (pa_objstack_t){ 0 };
    l->victim_priv = atomic_load_explicit(&l->priv, memory_order_relaxed);
    atomic_store_explicit(&l->priv, NULL, memory_order_relaxed);
    atomic_store_explicit(&l->gen, epoch, memory_order_release);
    return true;
}

/* Gives an object the pool no longer keeps back: destroy, or pa_free. */
void pa_pool_release(pa_pool_t *pool, void *obj)
{
    if (pool->debug) pa_debug_forget(pool, obj);
    if (pool->destroy) pool->destroy(obj, pool->arg);
    else pa_free_inline(obj);
}

/* Releases an object the pool cannot keep, counting it as dropped. */
void pa_pool_drop(pa_pool_t *pool, void *obj)
{
    pa_pool_release(pool, obj);
    atomic_fetch_add_explicit(&pool->dropped, 1, memory_order_relaxed);
}

/* Releases what a rotation took out; returns how many objects. */
uint64_t pa_pool_release_dropped(pa_pool_t *pool, pa_pool_dropped_t *d)
{
    uint64_t n = d->stack.len + (d->priv != NULL);
    if (d->priv) pa_pool_release(pool, d->priv);
    for (uint32_t i = 0; i < d->stack.len; i++) pa_pool_release(pool, d->stack.items[i]);
    if (d->stack.items) pa_objstack_free(&d->stack);
    if (n) atomic_fetch_add_explicit(&pool->dropped, n, memory_order_relaxed);   /* not per slow path */
    return n;
}

/* The pools' part of a reclaim cycle (alloc/cycle.c holds the cycle lock and
 * has set pa_tl_cycle_hold). destroy callbacks run here, on this thread. */
static void rotate_all(pa_cycle_pools_t *out)
{
    pthread_mutex_lock(&registry_lock);
    atomic_fetch_add(&pa_pool_epoch, 1);
    pa_fence_heavy();
    out->gets = retired_gets;
    out->hits = retired_hits;
    for (uint32_t i = 0; i < registry_cap; i++) {
        pa_pool_t *pool = registry[i];
        if (!pool) continue;
        add_counts(pool, &out->gets, &out->hits);
        for (pa_pool_local_t *l = atomic_load_explicit(&pool->locals, memory_order_acquire); l; l = l->next) {
            pa_pool_dropped_t drop = { { 0 }, NULL };
            pa_local_lock(l);
            while (atomic_load_explicit(&l->busy, memory_order_acquire)) pa_spin_pause();
            pa_pool_rotate_locked(l, &drop);
            pa_local_unlock(l);
            out->dropped += pa_pool_release_dropped(pool, &drop);
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

/* ---- fork: no lock may be held by a thread that does not exist in the child */

static void each_local(void (*fn)(pa_pool_local_t *))
{
    for (uint32_t i = 0; i < registry_cap; i++)
        if (registry[i])
            for (pa_pool_local_t *l = atomic_load(&registry[i]->locals); l; l = l->next) fn(l);
}

static void lock_local(pa_pool_local_t *l) { pa_local_lock(l); }
static void unlock_local(pa_pool_local_t *l) { pa_local_unlock(l); }

/* In the child only this thread runs: the others' locals become ownerless. */
static void orphan_local(pa_pool_local_t *l)
{
    if (l->owner != THIS_THREAD) { l->owner = NULL; atomic_store(&l->busy, 0); }
    pa_local_unlock(l);
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&registry_lock);
    for (uint32_t i = 0; i < registry_cap; i++) if (registry[i]) pthread_mutex_lock(&registry[i]->mutex);
    each_local(lock_local);
}

static void fork_parent(void)
{
    each_local(unlock_local);
    for (uint32_t i = 0; i < registry_cap; i++) if (registry[i]) pthread_mutex_unlock(&registry[i]->mutex);
    pthread_mutex_unlock(&registry_lock);
}

static void fork_child(void)
{
    each_local(orphan_local);
    for (uint32_t i = 0; i < registry_cap; i++) if (registry[i]) pthread_mutex_init(&registry[i]->mutex, NULL);
    pthread_mutex_init(&registry_lock, NULL);
}
