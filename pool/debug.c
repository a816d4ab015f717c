/* debug.c — a debug pool remembers every object it handed out (OUT) and every
 * object it holds (IN), so put can tell a double put and a pointer the pool
 * never handed out, report it on stderr and refuse it. An open-addressing
 * hash set under the pool's mutex; debug pools always take the locked path. */
#include "pool_internal.h"

enum { EMPTY = 0, OUT = 1, IN = 2, GONE = 3 };

typedef struct { uintptr_t key; uint32_t state; } entry_t;

struct pa_debug_set {
    entry_t *e;
    size_t   cap, used;       /* used counts OUT, IN and GONE entries */
};

static size_t hash(uintptr_t k, size_t cap) { return (size_t)((k >> 4) * 0x9e3779b97f4a7c15u) & (cap - 1); }

static entry_t *find(pa_debug_set_t *s, uintptr_t k)
{
    if (!s || !s->cap) return NULL;
    for (size_t i = hash(k, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->e[i].state == EMPTY) return NULL;
        if (s->e[i].key == k && s->e[i].state != GONE) return &s->e[i];
    }
}

static bool grow(pa_debug_set_t *s)
{
    size_t cap = s->cap ? s->cap * 2 : 256;
    entry_t *e = pa_calloc_impl(cap, sizeof *e);
    if (!e) return false;
    size_t used = 0;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->e[i].state != OUT && s->e[i].state != IN) continue;
        size_t j = hash(s->e[i].key, cap);
        while (e[j].state != EMPTY) j = (j + 1) & (cap - 1);
        e[j] = s->e[i];
        used++;
    }
    pa_free_inline(s->e);
    s->e = e;
    s->cap = cap;
    s->used = used;
    return true;
}

static void set_state(pa_pool_t *pool, uintptr_t k, uint32_t state)
{
    if (!pool->debug_set) {
        pool->debug_set = pa_calloc_impl(1, sizeof *pool->debug_set);
        if (!pool->debug_set) return;           /* out of memory: checks go blind */
    }
    pa_debug_set_t *s = pool->debug_set;
    entry_t *hit = find(s, k);
    if (hit) { hit->state = state; return; }
    if ((s->used + 1) * 2 > s->cap && !grow(s)) return;
    size_t i = hash(k, s->cap);
    while (s->e[i].state == OUT || s->e[i].state == IN) i = (i + 1) & (s->cap - 1);
    if (s->e[i].state == EMPTY) s->used++;
    s->e[i] = (entry_t){ k, state };
}

void pa_debug_got(pa_pool_t *pool, void *obj)
{
    pthread_mutex_lock(&pool->mutex);
    pa_tl_cycle_hold++;
    set_state(pool, (uintptr_t)obj, OUT);
    pa_tl_cycle_hold--;
    pthread_mutex_unlock(&pool->mutex);
}

/* True if obj may be cached: the pool handed it out and does not hold it. */
bool pa_debug_put(pa_pool_t *pool, void *obj)
{
    pthread_mutex_lock(&pool->mutex);
    entry_t *hit = find(pool->debug_set, (uintptr_t)obj);
    uint32_t was = hit ? hit->state : EMPTY;
    if (hit && was == OUT) hit->state = IN;
    pthread_mutex_unlock(&pool->mutex);
    if (was == IN) pa_message("pool \"%s\": double put of %p (ignored)", pool->name, obj);
    else if (was != OUT) pa_message("pool \"%s\": put of %p, which this pool did not hand out (ignored)", pool->name, obj);
    return was == OUT;
}

void pa_debug_forget(pa_pool_t *pool, void *obj)
{
    pthread_mutex_lock(&pool->mutex);
    entry_t *hit = find(pool->debug_set, (uintptr_t)obj);
    if (hit) hit->state = GONE;
    pthread_mutex_unlock(&pool->mutex);
}

void pa_debug_free(pa_pool_t *pool)
{
    if (!pool->debug_set) return;
    pa_free_inline(pool->debug_set->e);
    pa_free_inline(pool->debug_set);
    pool->debug_set = NULL;
}
