/* pool.c — the object pool API: create, get, put, destroy, statistics.
 *
 * get: private slot -> own shared stack -> steal from other threads' shared
 *      stacks (and the private slots of exited threads) -> own victim cache ->
 *      other threads' victim caches -> a new object.
 * put: reset -> private slot if empty -> own shared stack.
 * The private-slot halves of get and put are the fast paths below; the rest
 * is out of line. */
#include <errno.h>
#include <stdio.h>

#include "pool_internal.h"
#include "prof.h"

/* ---- fast paths ------------------------------------------------------------ */

static PA_NOINLINE void *get_slow(pa_pool_t *pool);
static PA_NOINLINE void put_slow(pa_pool_t *pool, void *obj, bool reset_done);

/* The private-slot halves, inlined twice: with a compiler barrier only (the
 * usual case, see fence.c) and with a full fence. */
static inline __attribute__((always_inline)) void *get_private(pa_pool_t *pool, bool full)
{
    pa_pool_table_t *t = pa_tl_pools;
    uint32_t id = pool->id;
    if (PA_LIKELY(id < t->cap && t->slot[id].serial == pool->serial && !pool->debug)) {
        pa_pool_local_t *l = t->slot[id].local;
        pa_local_enter(l, full);
        if (PA_LIKELY(pa_local_current(l))) {
            void *obj = atomic_load_explicit(&l->priv, memory_order_relaxed);
            if (PA_LIKELY(obj != NULL)) {
                atomic_store_explicit(&l->priv, NULL, memory_order_relaxed);
                PA_STAT_INC(l->hits);
                pa_local_leave(l);
                return obj;
            }
        }
        pa_local_leave(l);
    }
    return get_slow(pool);
}

static inline __attribute__((always_inline)) void put_private(pa_pool_t *pool, void *obj, bool full)
{
    pa_pool_table_t *t = pa_tl_pools;
    uint32_t id = pool->id;
    if (PA_LIKELY(id < t->cap && t->slot[id].serial == pool->serial && !pool->debug)) {
        if (pool->reset) pool->reset(obj, pool->arg);     /* outside the bracket: it may use pools */
        pa_pool_local_t *l = t->slot[id].local;
        pa_local_enter(l, full);
        if (PA_LIKELY(pa_local_current(l) && atomic_load_explicit(&l->priv, memory_order_relaxed) == NULL)) {
            atomic_store_explicit(&l->priv, obj, memory_order_relaxed);
            PA_STAT_INC(l->puts);
            pa_local_leave(l);
            return;
        }
        pa_local_leave(l);
        put_slow(pool, obj, true);
        return;
    }
    put_slow(pool, obj, false);
}

static PA_NOINLINE void *get_fenced(pa_pool_t *pool) { return get_private(pool, true); }
static PA_NOINLINE void put_fenced(pa_pool_t *pool, void *obj) { put_private(pool, obj, true); }

PA_API void *pa_pool_get(pa_pool_t *pool)
{
    if (PA_UNLIKELY(!pa_fence_asymmetric)) return get_fenced(pool);
    return get_private(pool, false);
}

PA_API void pa_pool_put(pa_pool_t *pool, void *obj)
{
    if (PA_UNLIKELY(obj == NULL)) return;
    if (PA_UNLIKELY(!pa_fence_asymmetric)) { put_fenced(pool, obj); return; }
    put_private(pool, obj, false);
}

/* ---- slow paths ------------------------------------------------------------- */

/* A steal takes up to half of the other stack, at most STEAL_BATCH objects:
 * a producer fed by a consumer's puts then takes the consumer's lock once per
 * batch instead of once per object. */
#define STEAL_BATCH 32

static uint32_t take_batch(pa_objstack_t *s, void **out)
{
    uint32_t n = (s->len + 1) / 2;
    if (n > STEAL_BATCH) n = STEAL_BATCH;
    if (!n) return 0;                         /* empty: items may be NULL */
    s->len -= n;
    memcpy(out, s->items + s->len, n * sizeof *out);
    return n;
}

/* From another thread's local: its shared stack, or the private slot it left
 * when its thread exited; with `victim`, its victim cache. */
static uint32_t take_from(pa_pool_local_t *o, bool victim, void **out)
{
    uint32_t n = 0;
    pa_local_lock(o);
    if (victim) {
        if (o->victim_priv) { out[n++] = o->victim_priv; o->victim_priv = NULL; }
        else n = take_batch(&o->victim, out);
    } else {
        n = take_batch(&o->shared, out);
        if (!n && !o->owner && (out[0] = atomic_load_explicit(&o->priv, memory_order_relaxed))) {
            atomic_store_explicit(&o->priv, NULL, memory_order_relaxed);   /* no owner: nobody uses it unlocked */
            n = 1;
        }
    }
    pa_local_unlock(o);
    return n;
}

/* One object from another thread's local; the rest of the batch goes onto
 * self's shared stack, or its victim cache when it came from one (so it is
 * still dropped at the next cycle). */
static void *steal(pa_pool_t *pool, pa_pool_local_t *self, bool victim)
{
    void *batch[STEAL_BATCH];
    for (pa_pool_local_t *o = atomic_load_explicit(&pool->locals, memory_order_acquire); o; o = o->next) {
        if (o == self) continue;
        uint32_t n = take_from(o, victim, batch);
        if (!n) continue;
        uint32_t kept = 1;
        if (n > 1) {
            pa_local_lock(self);
            pa_objstack_t *to = victim ? &self->victim : &self->shared;
            while (kept < n && pa_objstack_push(to, batch[kept])) kept++;
            pa_local_unlock(self);
        }
        for (uint32_t i = kept; i < n; i++) pa_pool_drop(pool, batch[i]);   /* out of memory */
        return batch[0];
    }
    return NULL;
}

/* A miss: the profiler counts what is allocated below this frame as pool
 * misses (a frame address, not a flag: a callback that longjmps out leaves
 * nothing set behind). */
static PA_NOINLINE void *new_object(pa_pool_t *pool)
{
    uintptr_t outer = pa_tl_pool_miss;
    pa_tl_pool_miss = (uintptr_t)__builtin_frame_address(0);
    void *obj = pool->new_object ? pool->new_object(pool->arg) : pa_memalign_impl(pool->align, pool->size);
    pa_tl_pool_miss = outer;
    return obj;
}

static PA_NOINLINE void *get_slow(pa_pool_t *pool)
{
    pa_pool_local_t *l = pa_pool_local_of(pool);
    void *obj = NULL;
    if (l) {
        pa_pool_dropped_t d = { { 0 }, NULL };
        pa_local_lock(l);
        pa_pool_rotate_locked(l, &d);            /* if a cycle has not reached l yet */
        obj = atomic_load_explicit(&l->priv, memory_order_relaxed);
        if (obj) atomic_store_explicit(&l->priv, NULL, memory_order_relaxed);
        else obj = pa_objstack_pop(&l->shared);
        pa_local_unlock(l);
        pa_pool_release_dropped(pool, &d);
        if (obj) {
            PA_STAT_INC(l->hits);
        } else if ((obj = steal(pool, l, false))) {
            PA_STAT_INC(l->hits);
            PA_STAT_INC(l->steals);
        } else {
            pa_local_lock(l);
            obj = l->victim_priv;
            if (obj) l->victim_priv = NULL;
            else obj = pa_objstack_pop(&l->victim);
            pa_local_unlock(l);
            if (!obj) obj = steal(pool, l, true);
            if (obj) {
                PA_STAT_INC(l->hits);
                PA_STAT_INC(l->victim_hits);
            } else {
                PA_STAT_INC(l->misses);
            }
        }
    }
    if (!obj) {
        if (!l) atomic_fetch_add_explicit(&pool->orphan_misses, 1, memory_order_relaxed);
        obj = new_object(pool);
        if (!obj) { errno = ENOMEM; return NULL; }
    }
    if (pool->debug) pa_debug_got(pool, obj);
    return obj;
}

static PA_NOINLINE void put_slow(pa_pool_t *pool, void *obj, bool reset_done)
{
    if (pool->debug && !pa_debug_put(pool, obj)) {
        atomic_fetch_add_explicit(&pool->dropped, 1, memory_order_relaxed);
        return;
    }
    if (!reset_done && pool->reset) pool->reset(obj, pool->arg);
    pa_pool_local_t *l = pa_pool_local_of(pool);
    if (!l) { pa_pool_drop(pool, obj); return; }      /* out of memory: cannot keep it */
    pa_pool_dropped_t d = { { 0 }, NULL };
    pa_local_lock(l);
    pa_pool_rotate_locked(l, &d);            /* if a cycle has not reached l yet */
    bool kept = true;
    if (atomic_load_explicit(&l->priv, memory_order_relaxed) == NULL)
        atomic_store_explicit(&l->priv, obj, memory_order_relaxed);
    else
        kept = pa_objstack_push(&l->shared, obj);
    pa_local_unlock(l);
    PA_STAT_INC(l->puts);
    pa_pool_release_dropped(pool, &d);
    if (!kept) pa_pool_drop(pool, obj);
}

/* ---- create, destroy, statistics ---------------------------------------------- */

PA_API pa_pool_t *pa_pool_create(const pa_pool_config_t *cfg)
{
    if (!cfg || (!cfg->size && !cfg->new_object) || (cfg->align & (cfg->align - 1)) ||
        cfg->size > PTRDIFF_MAX || cfg->align > PA_SEG_SIZE) {
        errno = EINVAL;
        return NULL;
    }
    pa_pool_t *pool = pa_memalign_impl(64, sizeof *pool);
    if (!pool) { errno = ENOMEM; return NULL; }
    memset(pool, 0, sizeof *pool);
    pool->size = cfg->size;
    pool->align = cfg->align ? cfg->align : PA_MIN_ALIGN;
    pool->new_object = cfg->new_object;
    pool->reset = cfg->reset;
    pool->destroy = cfg->destroy;
    pool->arg = cfg->arg;
    pool->debug = cfg->debug || pa_options.pool_debug;
    snprintf(pool->name, sizeof pool->name, "%s", cfg->name ? cfg->name : "pool");
    pthread_mutex_init(&pool->mutex, NULL);
    if (!pa_pool_register(pool)) {
        pa_free_inline(pool);
        errno = ENOMEM;
        return NULL;
    }
    return pool;
}

PA_API void pa_pool_destroy(pa_pool_t *pool)
{
    if (!pool) return;
    pa_pool_unregister(pool);
    for (pa_pool_local_t *l = atomic_load(&pool->locals), *next; l; l = next) {
        next = l->next;
        void *priv = atomic_load_explicit(&l->priv, memory_order_relaxed);
        if (priv) pa_pool_release(pool, priv);
        if (l->victim_priv) pa_pool_release(pool, l->victim_priv);
        for (uint32_t i = 0; i < l->shared.len; i++) pa_pool_release(pool, l->shared.items[i]);
        for (uint32_t i = 0; i < l->victim.len; i++) pa_pool_release(pool, l->victim.items[i]);
        pa_objstack_free(&l->shared);
        pa_objstack_free(&l->victim);
        pa_free_inline(l);
    }
    pa_debug_free(pool);
    pthread_mutex_destroy(&pool->mutex);
    pa_free_inline(pool);
}

PA_API const char *pa_pool_name(const pa_pool_t *pool) { return pool->name; }

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

PA_API void pa_pool_stats(pa_pool_t *pool, pa_pool_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (pa_pool_local_t *l = atomic_load_explicit(&pool->locals, memory_order_acquire); l; l = l->next) {
        out->hits += LOAD(l->hits);
        out->puts += LOAD(l->puts);
        out->misses += LOAD(l->misses);
        out->steals += LOAD(l->steals);
        out->victim_hits += LOAD(l->victim_hits);
        pa_local_lock(l);
        out->cached += (LOAD(l->priv) != NULL) + (l->victim_priv != NULL) + l->shared.len + l->victim.len;
        pa_local_unlock(l);
    }
    out->misses += LOAD(pool->orphan_misses);
    out->gets = out->hits + out->misses;
    out->dropped = LOAD(pool->dropped);
}
