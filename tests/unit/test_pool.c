/* test_pool.c — the object pools (pa_pool_*), the byte-buffer pool
 * (pa_bufpool_*) and reclaim cycles (pa_cycle, pacing by GOGC).
 *
 * Each expectation follows from the documented order:
 *   get: own private slot -> own shared stack -> steal (other threads' shared
 *        stacks, the private slot of a local whose thread exited) -> own
 *        victim cache -> other threads' victim caches -> new object; a steal
 *        takes the top half (at most 32) of the other stack, returns one and
 *        keeps the rest on its own shared stack (model_steals);
 *   put: reset -> private slot if empty -> own shared stack (LIFO);
 *   cycle: old victims released (destroy, counted in dropped), private slot
 *          and shared stack become the victim cache.
 * Stats are exact here because each test runs alone in its own process and
 * allocates far less than the 4 MiB that could start a paced cycle (the
 * tests of pacing excepted). The stress test at the end runs under TSan in
 * build/test-unit-tsan. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "internal.h"
#include "poolalloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define ULL(x) ((unsigned long long)(x))

#if defined(__SANITIZE_THREAD__)
#define SCALE 1      /* TSan is ~10x slower */
#else
#define SCALE 4
#endif

/* ---- helpers ----------------------------------------------------------------- */

static _Atomic unsigned thread_errors;

static void thread_check(bool ok)
{
    if (!ok) atomic_fetch_add(&thread_errors, 1);
}

#define ASSERT_THREADS_OK() \
    cr_assert_eq(atomic_load(&thread_errors), 0, "%u failed checks in other threads", atomic_load(&thread_errors))

static void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
    pthread_join(t, NULL);
    ASSERT_THREADS_OK();
}

static pa_pool_stats_t pstats(pa_pool_t *p)
{
    pa_pool_stats_t s;
    pa_pool_stats(p, &s);
    return s;
}

static pa_stats_t gstats(void)
{
    pa_stats_t s;
    pa_stats_get(&s);
    return s;
}

/* Pools allocate their own bookkeeping (registry, this thread's table of
 * locals) on first use and keep it; a warm-up pool makes those exist, so that
 * afterwards every object a test leaves behind shows in live_objects. */
static uint64_t live_baseline(void)
{
    pa_pool_config_t cfg = { .name = "warm-up", .size = 16 };
    pa_pool_t *p = pa_pool_create(&cfg);
    cr_assert_not_null(p);
    pa_pool_put(p, pa_pool_get(p));
    pa_pool_destroy(p);
    return gstats().live_objects;
}

#define ASSERT_NO_LEAK(base) \
    cr_assert_eq(gstats().live_objects, (base), "%llu objects live, %llu before the test", \
                 ULL(gstats().live_objects), ULL(base))

/* Asserts every field of a pool's statistics. */
#define ASSERT_PSTATS(pool, g, p, h, m, st, vh, dr, ca)                                                        \
    do {                                                                                                     \
        pa_pool_stats_t s_ = pstats(pool);                                                                   \
        cr_assert(s_.gets == (g) && s_.puts == (p) && s_.hits == (h) && s_.misses == (m) &&                  \
                      s_.steals == (st) && s_.victim_hits == (vh) && s_.dropped == (dr) && s_.cached == (ca), \
                  "stats: gets %llu puts %llu hits %llu misses %llu steals %llu victim_hits %llu dropped "   \
                  "%llu cached %llu; want %llu %llu %llu %llu %llu %llu %llu %llu",                          \
                  ULL(s_.gets), ULL(s_.puts), ULL(s_.hits), ULL(s_.misses), ULL(s_.steals),                  \
                  ULL(s_.victim_hits), ULL(s_.dropped), ULL(s_.cached), ULL(g), ULL(p), ULL(h), ULL(m),      \
                  ULL(st), ULL(vh), ULL(dr), ULL(ca));                                                       \
        cr_assert_eq(s_.gets, s_.hits + s_.misses);                                                          \
    } while (0)

/* Objects of the callback tests: a magic number tells a live object from a
 * released one, and the callbacks count their calls. */
#define LIVE 0x11feb0a7c0ffee11ull
#define DEAD 0xdeadbeefdeadbeefull

typedef struct obj {
    uint64_t magic;
    unsigned id;           /* creation order, from 1 */
    unsigned state;        /* the user's: reset sets it to 0 */
    unsigned char data[200];
} obj_t;

typedef struct counts {
    _Atomic unsigned news, resets, destroys;
    bool fail_new;         /* new_object returns NULL */
} counts_t;

static void *cb_new(void *arg)
{
    counts_t *c = arg;
    if (c->fail_new) return NULL;
    obj_t *o = pa_malloc(sizeof *o);
    if (!o) return NULL;
    o->magic = LIVE;
    o->id = atomic_fetch_add(&c->news, 1) + 1;
    o->state = 0;
    return o;
}

static void cb_reset(void *p, void *arg)
{
    counts_t *c = arg;
    obj_t *o = p;
    thread_check(o->magic == LIVE);
    o->state = 0;
    atomic_fetch_add(&c->resets, 1);
}

static void cb_destroy(void *p, void *arg)
{
    counts_t *c = arg;
    obj_t *o = p;
    thread_check(o->magic == LIVE);
    o->magic = DEAD;
    atomic_fetch_add(&c->destroys, 1);
    pa_free(o);
}

static pa_pool_t *counted_pool(const char *name, counts_t *c)
{
    pa_pool_config_t cfg = { .name = name, .size = sizeof(obj_t), .new_object = cb_new, .reset = cb_reset,
                             .destroy = cb_destroy, .arg = c };
    pa_pool_t *p = pa_pool_create(&cfg);
    cr_assert_not_null(p);
    return p;
}

static pa_pool_t *plain_pool(const char *name, size_t size)
{
    pa_pool_config_t cfg = { .name = name, .size = size };
    pa_pool_t *p = pa_pool_create(&cfg);
    cr_assert_not_null(p);
    return p;
}

/* ---- single thread: exact statistics and order ------------------------------ */

Test(pool, exact_stats_of_a_scripted_sequence)
{
    uint64_t base = live_baseline();
    counts_t c = { 0 };
    pa_pool_t *p = counted_pool("script", &c);
    ASSERT_PSTATS(p, 0, 0, 0, 0, 0, 0, 0, 0);

    obj_t *a = pa_pool_get(p), *b = pa_pool_get(p), *cc = pa_pool_get(p);     /* 3 misses */
    cr_assert(a && b && cc && a != b && b != cc && a != cc);
    cr_assert_eq(a->id, 1);
    cr_assert_eq(b->id, 2);
    cr_assert_eq(cc->id, 3);
    ASSERT_PSTATS(p, 3, 0, 0, 3, 0, 0, 0, 0);
    cr_assert_eq(c.news, 3);
    cr_assert_eq(c.resets, 0);

    pa_pool_put(p, a);          /* private slot */
    pa_pool_put(p, b);          /* shared: [b] */
    pa_pool_put(p, cc);         /* shared: [b, c] */
    ASSERT_PSTATS(p, 3, 3, 0, 3, 0, 0, 0, 3);
    cr_assert_eq(c.resets, 3);

    /* 5 gets: a (private), c, b (shared, LIFO), then 2 misses */
    obj_t *g[5];
    for (int i = 0; i < 5; i++) g[i] = pa_pool_get(p);
    cr_assert_eq(g[0], a);
    cr_assert_eq(g[1], cc);
    cr_assert_eq(g[2], b);
    cr_assert_eq(g[3]->id, 4);
    cr_assert_eq(g[4]->id, 5);
    ASSERT_PSTATS(p, 8, 3, 3, 5, 0, 0, 0, 0);
    cr_assert_eq(c.news, 5);

    for (int i = 0; i < 5; i++) pa_pool_put(p, g[i]);
    ASSERT_PSTATS(p, 8, 8, 3, 5, 0, 0, 0, 5);
    cr_assert_eq(c.resets, 8);
    cr_assert_eq(c.destroys, 0);

    pa_pool_destroy(p);
    cr_assert_eq(c.destroys, 5, "pa_pool_destroy released %u of the 5 cached objects", c.destroys);
    cr_assert_eq(c.news, 5);
    ASSERT_THREADS_OK();
    ASSERT_NO_LEAK(base);
}

Test(pool, private_slot_is_lifo_then_shared_stack_lifo)
{
    uint64_t base = live_baseline();
    pa_pool_t *p = plain_pool("order", 64);
    void *o[6];
    for (int i = 0; i < 6; i++) o[i] = pa_pool_get(p);
    /* the private slot gives back what was just put, every time */
    for (int r = 0; r < 100; r++) {
        pa_pool_put(p, o[r % 6]);
        cr_assert_eq(pa_pool_get(p), o[r % 6]);
    }
    /* o0 -> private slot, o1..o5 -> shared stack; gets: o0, o5, o4, ..., o1 */
    for (int i = 0; i < 6; i++) pa_pool_put(p, o[i]);
    cr_assert_eq(pa_pool_get(p), o[0]);
    for (int i = 5; i >= 1; i--) cr_assert_eq(pa_pool_get(p), o[i], "shared stack is not LIFO at %d", i);
    ASSERT_PSTATS(p, 6 + 100 + 6, 100 + 6, 100 + 6, 6, 0, 0, 0, 0);
    for (int i = 0; i < 6; i++) pa_pool_put(p, o[i]);
    pa_pool_destroy(p);
    ASSERT_NO_LEAK(base);
}

/* ---- stealing ------------------------------------------------------------------- */

enum { NSTEAL = 10, STEAL_BATCH = 32 };

/* The documented steal (pool.c): take the top half of the other thread's
 * shared stack (rounded up, at most STEAL_BATCH), return the deepest of those,
 * push the rest onto one's own shared stack in order. Given another thread's
 * shared stack `other` (bottom first) and an empty own stack, writes the order
 * in which n gets return its objects and returns how many steals they take. */
static int model_steals(void *const *other, int n, void **order)
{
    void *theirs[128], *mine[128];
    int nt = n, nm = 0, steals = 0;
    cr_assert_leq(n, 128);
    memcpy(theirs, other, (size_t)n * sizeof *theirs);
    for (int i = 0; i < n; i++) {
        if (nm) { order[i] = mine[--nm]; continue; }
        int b = (nt + 1) / 2;
        if (b > STEAL_BATCH) b = STEAL_BATCH;
        nt -= b;
        order[i] = theirs[nt];
        for (int j = 1; j < b; j++) mine[nm++] = theirs[nt + j];
        steals++;
    }
    return steals;
}

struct putter {
    pa_pool_t *pool;
    void **objs;
    int n;
    pthread_barrier_t put_done, may_exit;
};

static void *put_wait_exit(void *arg)
{
    struct putter *w = arg;
    for (int i = 0; i < w->n; i++) pa_pool_put(w->pool, w->objs[i]);
    pthread_barrier_wait(&w->put_done);
    pthread_barrier_wait(&w->may_exit);
    return NULL;
}

/* Thread A puts N objects and stays alive: objs[0] sits in its private slot
 * (nobody else may take it while A lives), objs[1..N-1] on its shared stack.
 * The main thread gets those N-1 (by steals, as model_steals says), then
 * misses; once A exits, its private slot is stolen too. */
Test(pool, steal_from_a_live_thread_takes_the_shared_stack_only)
{
    uint64_t base = live_baseline();
    pa_pool_t *p = plain_pool("steal", 128);
    void *objs[NSTEAL];
    for (int i = 0; i < NSTEAL; i++) objs[i] = pa_pool_get(p);
    ASSERT_PSTATS(p, NSTEAL, 0, 0, NSTEAL, 0, 0, 0, 0);

    struct putter w = { .pool = p, .objs = objs, .n = NSTEAL };
    pthread_barrier_init(&w.put_done, NULL, 2);
    pthread_barrier_init(&w.may_exit, NULL, 2);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, put_wait_exit, &w), 0);
    pthread_barrier_wait(&w.put_done);
    ASSERT_PSTATS(p, NSTEAL, NSTEAL, 0, NSTEAL, 0, 0, 0, NSTEAL);

    void *order[NSTEAL];
    uint64_t steals = (uint64_t)model_steals(objs + 1, NSTEAL - 1, order);   /* 4 for 9 objects */
    for (int i = 0; i < NSTEAL - 1; i++) {
        void *g = pa_pool_get(p);
        cr_assert_eq(g, order[i], "get %d after A's puts: got %p, want %p", i, g, order[i]);
    }
    ASSERT_PSTATS(p, 2 * NSTEAL - 1, NSTEAL, NSTEAL - 1, NSTEAL, steals, 0, 0, 1);
    void *fresh = pa_pool_get(p);      /* A's private slot is A's: a miss */
    cr_assert_neq(fresh, objs[0], "took the private slot of a thread that is alive");
    ASSERT_PSTATS(p, 2 * NSTEAL, NSTEAL, NSTEAL - 1, NSTEAL + 1, steals, 0, 0, 1);

    pthread_barrier_wait(&w.may_exit);
    pthread_join(t, NULL);
    void *last = pa_pool_get(p);       /* A exited: its private slot is fair game */
    cr_assert_eq(last, objs[0], "the exited thread's private slot was not stolen");
    ASSERT_PSTATS(p, 2 * NSTEAL + 1, NSTEAL, NSTEAL, NSTEAL + 1, steals + 1, 0, 0, 0);

    for (int i = 0; i < NSTEAL; i++) pa_pool_put(p, objs[i]);
    pa_pool_put(p, fresh);
    pa_pool_destroy(p);
    pthread_barrier_destroy(&w.put_done);
    pthread_barrier_destroy(&w.may_exit);
    ASSERT_NO_LEAK(base);
}

/* A steal moves at most STEAL_BATCH objects: with 100 on the other stack the
 * first steal leaves 68 there. */
Test(pool, a_steal_takes_a_bounded_batch)
{
    enum { N = 101 };
    uint64_t base = live_baseline();
    pa_pool_t *p = plain_pool("batch", 32);
    void *objs[N];
    for (int i = 0; i < N; i++) objs[i] = pa_pool_get(p);
    struct putter w = { .pool = p, .objs = objs, .n = N };
    pthread_barrier_init(&w.put_done, NULL, 2);
    pthread_barrier_init(&w.may_exit, NULL, 2);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, put_wait_exit, &w), 0);
    pthread_barrier_wait(&w.put_done);
    void *order[N];
    uint64_t steals = (uint64_t)model_steals(objs + 1, N - 1, order);
    void *got[N - 1];
    for (int i = 0; i < N - 1; i++) {
        got[i] = pa_pool_get(p);
        cr_assert_eq(got[i], order[i], "get %d: got %p, want %p", i, got[i], order[i]);
    }
    ASSERT_PSTATS(p, 2 * N - 1, N, N - 1, N, steals, 0, 0, 1);
    cr_assert_geq(steals, (N - 1 + STEAL_BATCH - 1) / STEAL_BATCH);
    pthread_barrier_wait(&w.may_exit);
    pthread_join(t, NULL);
    for (int i = 0; i < N - 1; i++) pa_pool_put(p, got[i]);
    pa_pool_destroy(p);
    pthread_barrier_destroy(&w.put_done);
    pthread_barrier_destroy(&w.may_exit);
    ASSERT_NO_LEAK(base);
}

/* ---- reclaim cycles and the victim cache ------------------------------------------ */

Test(pool, a_cached_object_survives_one_cycle)
{
    counts_t c = { 0 };
    pa_pool_t *p = counted_pool("victim", &c);
    obj_t *o = pa_pool_get(p);
    pa_pool_put(p, o);
    pa_cycle();
    ASSERT_PSTATS(p, 1, 1, 0, 1, 0, 0, 0, 1);          /* still cached, as a victim */
    cr_assert_eq(pa_pool_get(p), o, "the object did not survive one cycle");
    ASSERT_PSTATS(p, 2, 1, 1, 1, 0, 1, 0, 0);
    cr_assert_eq(c.news, 1);
    cr_assert_eq(c.destroys, 0);
    pa_pool_put(p, o);
    pa_pool_destroy(p);
    cr_assert_eq(c.destroys, 1);
    ASSERT_THREADS_OK();
}

Test(pool, idle_objects_are_dropped_after_two_cycles)
{
    uint64_t base = live_baseline();
    counts_t c = { 0 };
    pa_pool_t *p = counted_pool("idle", &c);
    obj_t *o[3];
    for (int i = 0; i < 3; i++) o[i] = pa_pool_get(p);
    for (int i = 0; i < 3; i++) pa_pool_put(p, o[i]);
    pa_cycle();
    cr_assert_eq(c.destroys, 0, "one cycle released %u objects", c.destroys);
    ASSERT_PSTATS(p, 3, 3, 0, 3, 0, 0, 0, 3);
    pa_cycle();
    cr_assert_eq(c.destroys, 3, "two idle cycles released %u of 3 objects", c.destroys);
    ASSERT_PSTATS(p, 3, 3, 0, 3, 0, 0, 3, 0);
    obj_t *n = pa_pool_get(p);
    cr_assert_eq(n->id, 4, "after two idle cycles a get must make a new object");
    ASSERT_PSTATS(p, 4, 3, 0, 4, 0, 0, 3, 0);
    pa_cycle();                       /* nothing cached: nothing more dropped */
    ASSERT_PSTATS(p, 4, 3, 0, 4, 0, 0, 3, 0);
    pa_pool_put(p, n);
    pa_pool_destroy(p);
    cr_assert_eq(c.destroys, 4);
    cr_assert_eq(c.news, 4);
    ASSERT_THREADS_OK();
    ASSERT_NO_LEAK(base);
}

/* A pool used between every two cycles never loses its objects. */
Test(pool, steady_use_keeps_objects_across_cycles)
{
    counts_t c = { 0 };
    pa_pool_t *p = counted_pool("steady", &c);
    enum { K = 3, ROUNDS = 40 };
    obj_t *o[K];
    for (int i = 0; i < K; i++) o[i] = pa_pool_get(p);
    for (int i = 0; i < K; i++) pa_pool_put(p, o[i]);
    for (int r = 0; r < ROUNDS; r++) {
        pa_cycle();
        obj_t *g[K];
        for (int i = 0; i < K; i++) {
            g[i] = pa_pool_get(p);
            cr_assert_leq(g[i]->id, K, "round %d: a new object was made", r);
        }
        for (int i = 0; i < K; i++) pa_pool_put(p, g[i]);
    }
    /* every get after the first K came from the victim cache */
    ASSERT_PSTATS(p, K + ROUNDS * K, K + ROUNDS * K, ROUNDS * K, K, 0, ROUNDS * K, 0, K);
    cr_assert_eq(c.news, K);
    cr_assert_eq(c.destroys, 0);
    pa_pool_destroy(p);
    cr_assert_eq(c.destroys, K);
    ASSERT_THREADS_OK();
}

/* ---- thread exit ---------------------------------------------------------------------- */

struct batch { pa_pool_t *pool; void **objs; int n; void *got; };

static void *put_all_and_exit(void *arg)
{
    struct batch *b = arg;
    for (int i = 0; i < b->n; i++) pa_pool_put(b->pool, b->objs[i]);
    return NULL;
}

static void *get_one_and_exit(void *arg)
{
    struct batch *b = arg;
    b->got = pa_pool_get(b->pool);
    return NULL;
}

Test(pool, objects_of_an_exited_thread_are_stolen_not_lost)
{
    uint64_t base = live_baseline();
    enum { K = 12 };
    pa_pool_t *p = plain_pool("exit", 96);
    void *objs[K];
    for (int i = 0; i < K; i++) objs[i] = pa_pool_get(p);
    struct batch b = { p, objs, K, NULL };
    run_thread(put_all_and_exit, &b);
    ASSERT_PSTATS(p, K, K, 0, K, 0, 0, 0, K);
    void *order[K];
    uint64_t steals = (uint64_t)model_steals(objs + 1, K - 1, order) + 1;
    order[K - 1] = objs[0];             /* the ownerless private slot: last */
    bool seen[K] = { false };
    for (int i = 0; i < K; i++) {
        void *g = pa_pool_get(p);
        int j = 0;
        while (j < K && objs[j] != g) j++;
        cr_assert_lt(j, K, "get %d returned %p, not one of the exited thread's objects", i, g);
        cr_assert(!seen[j], "object %d handed out twice", j);
        seen[j] = true;
        cr_assert_eq(g, order[i], "get %d: object %d", i, j);
    }
    /* the shared stack by steals (and hits of what they moved here), then
     * the ownerless private slot, one more steal; no misses */
    ASSERT_PSTATS(p, 2 * K, K, K, K, steals, 0, 0, 0);
    for (int i = 0; i < K; i++) pa_pool_put(p, objs[i]);
    pa_pool_destroy(p);
    ASSERT_NO_LEAK(base);
}

/* A thread that puts one object and exits leaves it in its private slot; the
 * next new thread adopts that local and gets it as its own (not a steal). */
Test(pool, a_new_thread_adopts_the_local_of_an_exited_one)
{
    uint64_t base = live_baseline();
    pa_pool_t *p = plain_pool("adopt", 48);
    void *o = pa_pool_get(p);               /* the main thread has a local too */
    struct batch b = { p, &o, 1, NULL };
    run_thread(put_all_and_exit, &b);
    run_thread(get_one_and_exit, &b);
    cr_assert_eq(b.got, o, "the new thread did not get the exited thread's private slot object");
    ASSERT_PSTATS(p, 2, 1, 1, 1, 0, 0, 0, 0);
    /* and again through a cycle: the adopted slot's object is a victim hit */
    run_thread(put_all_and_exit, &b);
    pa_cycle();
    b.got = NULL;
    run_thread(get_one_and_exit, &b);
    cr_assert_eq(b.got, o);
    ASSERT_PSTATS(p, 3, 2, 2, 1, 0, 1, 0, 0);
    pa_pool_put(p, o);
    pa_pool_destroy(p);
    ASSERT_NO_LEAK(base);
}

/* ---- callbacks ----------------------------------------------------------------------- */

Test(pool, callbacks_reset_on_put_destroy_on_drop_and_pool_destroy)
{
    uint64_t base = live_baseline();
    counts_t c = { 0 };
    pa_pool_t *p = counted_pool("callbacks", &c);
    obj_t *o[5];
    for (int i = 0; i < 5; i++) {
        o[i] = pa_pool_get(p);
        cr_assert_eq(o[i]->magic, LIVE, "get did not use new_object");
        o[i]->state = 77;
    }
    cr_assert_eq(c.news, 5);
    pa_pool_put(p, NULL);                     /* ignored, not counted, no callback */
    cr_assert_eq(c.resets, 0);
    ASSERT_PSTATS(p, 5, 0, 0, 5, 0, 0, 0, 0);
    for (int i = 0; i < 3; i++) pa_pool_put(p, o[i]);
    cr_assert_eq(c.resets, 3);
    obj_t *g = pa_pool_get(p);
    cr_assert_eq(g, o[0]);
    cr_assert_eq(g->state, 0, "reset did not run before the object was cached");
    pa_pool_put(p, g);
    cr_assert_eq(c.resets, 4);
    pa_cycle();
    pa_cycle();                               /* the 3 cached objects are dropped */
    cr_assert_eq(c.destroys, 3);
    ASSERT_PSTATS(p, 6, 4, 1, 5, 0, 0, 3, 0);
    pa_pool_put(p, o[3]);
    pa_pool_put(p, o[4]);
    cr_assert_eq(c.resets, 6);
    pa_pool_stats_t s = pstats(p);
    cr_assert_eq(s.cached, 2);
    pa_pool_destroy(p);
    cr_assert_eq(c.destroys, 3 + s.cached, "pool destroy released %u objects, %llu were cached",
                 c.destroys - 3, ULL(s.cached));
    cr_assert_eq(c.news, 5);
    ASSERT_THREADS_OK();
    ASSERT_NO_LEAK(base);
}

Test(pool, new_object_failure_is_enomem)
{
    counts_t c = { .fail_new = true };
    pa_pool_t *p = counted_pool("nomem", &c);
    errno = 0;
    cr_assert_null(pa_pool_get(p));
    cr_assert_eq(errno, ENOMEM);
    c.fail_new = false;
    obj_t *o = pa_pool_get(p);
    cr_assert_not_null(o);
    pa_pool_put(p, o);
    pa_pool_destroy(p);
    cr_assert_eq(c.destroys, 1);
}

/* ---- configuration ---------------------------------------------------------------------- */

Test(pool, config_errors_are_einval)
{
    errno = 0;
    cr_assert_null(pa_pool_create(NULL));
    cr_assert_eq(errno, EINVAL);

    pa_pool_config_t no_size = { .name = "x" };
    errno = 0;
    cr_assert_null(pa_pool_create(&no_size));
    cr_assert_eq(errno, EINVAL);

    static const size_t bad_align[] = { 3, 24, 4096 + 16, (size_t)1 << 30 };
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        pa_pool_config_t cfg = { .size = 64, .align = bad_align[i] };
        errno = 0;
        cr_assert_null(pa_pool_create(&cfg), "align %zu accepted", bad_align[i]);
        cr_assert_eq(errno, EINVAL, "align %zu: errno %d", bad_align[i], errno);
    }

    counts_t c = { 0 };
    pa_pool_config_t only_new = { .new_object = cb_new, .destroy = cb_destroy, .arg = &c };   /* size 0 is fine */
    pa_pool_t *p = pa_pool_create(&only_new);
    cr_assert_not_null(p);
    cr_assert_str_eq(pa_pool_name(p), "pool", "a pool without a name is called \"pool\"");
    pa_pool_put(p, pa_pool_get(p));
    pa_pool_destroy(p);
    cr_assert_eq(c.news, 1);
    cr_assert_eq(c.destroys, 1);

    char longname[100];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    pa_pool_config_t named = { .name = longname, .size = 8 };
    p = pa_pool_create(&named);
    cr_assert_not_null(p);
    longname[0] = 'X';                          /* the name was copied */
    const char *nm = pa_pool_name(p);
    cr_assert_geq(strlen(nm), 16, "name \"%s\"", nm);
    cr_assert_eq(strspn(nm, "n"), strlen(nm), "name \"%s\" is not a prefix of the one given", nm);
    pa_pool_destroy(p);
}

Test(pool, aligned_objects)
{
    uint64_t base = live_baseline();
    static const size_t aligns[] = { 0, 16, 64, 256, 4096, 65536 };
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
        size_t want = aligns[a] ? aligns[a] : 16;
        pa_pool_config_t cfg = { .name = "aligned", .size = 100, .align = aligns[a] };
        pa_pool_t *p = pa_pool_create(&cfg);
        cr_assert_not_null(p, "align %zu", aligns[a]);
        void *o[8];
        for (int i = 0; i < 8; i++) {
            o[i] = pa_pool_get(p);
            cr_assert_not_null(o[i]);
            cr_assert_eq((uintptr_t)o[i] % want, 0, "align %zu: object %p", want, o[i]);
            cr_assert_geq(pa_usable_size(o[i]), 100);
            memset(o[i], 0xa5, 100);
        }
        for (int i = 0; i < 8; i++) pa_pool_put(p, o[i]);
        pa_pool_destroy(p);
    }
    ASSERT_NO_LEAK(base);
}

/* The pool never writes into an object: every byte survives the private
 * slot, the shared stack, a steal and the victim cache. */
static void fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 131 + seed * 7 + 1);
}

static bool intact(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(i * 131 + seed * 7 + 1)) return false;
    return true;
}

static void *get_all(void *arg)
{
    struct batch *b = arg;
    for (int i = 0; i < b->n; i++) b->objs[i] = pa_pool_get(b->pool);
    return NULL;
}

Test(pool, objects_are_not_written_by_the_pool)
{
    enum { N = 8, SZ = 32 };               /* 32 bytes: room for no more than 4 links */
    pa_pool_t *p = plain_pool("bytes", SZ);
    void *o[N];
    for (int i = 0; i < N; i++) {
        o[i] = pa_pool_get(p);
        fill(o[i], SZ, (unsigned)i);
    }
    for (int i = 0; i < N; i++) pa_pool_put(p, o[i]);          /* private + shared */
    for (int i = 0; i < N; i++) cr_assert(intact(o[i], SZ, (unsigned)i), "object %d written while cached", i);
    void *back[N];
    for (int i = 0; i < N; i++) back[i] = pa_pool_get(p);
    for (int i = 0; i < N; i++) {
        int j = 0;
        while (j < N && o[j] != back[i]) j++;
        cr_assert_lt(j, N);
        cr_assert(intact(back[i], SZ, (unsigned)j), "object %d written by a put/get round trip", j);
    }
    for (int i = 0; i < N; i++) pa_pool_put(p, o[i]);
    pa_cycle();                                                 /* now victims */
    struct batch b = { p, back, N, NULL };
    run_thread(get_all, &b);                              /* another thread's victim get */
    for (int i = 0; i < N; i++) {
        int j = 0;
        while (j < N && o[j] != back[i]) j++;
        cr_assert_lt(j, N, "a victim get returned %p, not a cached object", back[i]);
        cr_assert(intact(back[i], SZ, (unsigned)j), "object %d written by the victim cache", j);
    }
    /* all N were hits from the main thread's victim cache (a steal of
     * victims moves a batch to the thread's own shared stack) */
    ASSERT_PSTATS(p, 3 * N, 2 * N, 2 * N, N, 0, pstats(p).victim_hits, 0, 0);
    cr_assert_geq(pstats(p).victim_hits, 1);
    for (int i = 0; i < N; i++) pa_pool_put(p, o[i]);
    pa_pool_destroy(p);
}

/* A pool id freed by destroy is reused; the thread's slot for the old pool
 * must not serve the new one (its serial differs). */
Test(pool, a_destroyed_pools_slot_does_not_serve_the_next_pool)
{
    counts_t c1 = { 0 }, c2 = { 0 };
    pa_pool_t *p1 = counted_pool("first", &c1);
    obj_t *o = pa_pool_get(p1);
    pa_pool_put(p1, o);                      /* in this thread's private slot of p1 */
    pa_pool_destroy(p1);
    cr_assert_eq(c1.destroys, 1);
    pa_pool_t *p2 = counted_pool("second", &c2);
    obj_t *n = pa_pool_get(p2);
    cr_assert_not_null(n);
    cr_assert_eq(n->magic, LIVE, "the new pool handed out a destroyed pool's object");
    cr_assert_eq(c2.news, 1);
    ASSERT_PSTATS(p2, 1, 0, 0, 1, 0, 0, 0, 0);
    pa_pool_put(p2, n);
    ASSERT_PSTATS(p2, 1, 1, 0, 1, 0, 0, 0, 1);
    cr_assert_eq(pa_pool_get(p2), n);
    pa_pool_put(p2, n);
    pa_pool_destroy(p2);
    cr_assert_eq(c2.destroys, 1);
    ASSERT_THREADS_OK();
}

/* Debug mode: an object got, put, got and put again is not a double put
 * (whichever path the get took), and a real double put is refused. The
 * messages themselves are checked in tests/preload/test_pool.c. */
Test(pool, debug_mode_round_trips_are_not_reported, .init = cr_redirect_stderr)
{
    counts_t c = { 0 };
    pa_pool_config_t cfg = { .name = "dbg", .size = sizeof(obj_t), .new_object = cb_new, .reset = cb_reset,
                             .destroy = cb_destroy, .arg = &c, .debug = 1 };
    pa_pool_t *p = pa_pool_create(&cfg);
    cr_assert_not_null(p);
    obj_t *a = pa_pool_get(p);
    for (int r = 0; r < 5; r++) {
        pa_pool_put(p, a);
        obj_t *g = pa_pool_get(p);
        cr_assert_eq(g, a, "round %d: the object put was not handed back", r);
        pa_pool_stats_t s = pstats(p);
        cr_assert_eq(s.dropped, 0, "round %d: a get/put round trip was refused as a double put", r);
    }
    pa_pool_put(p, a);
    pa_pool_put(p, a);                    /* a real double put: refused */
    pa_pool_stats_t s = pstats(p);
    cr_assert_eq(s.dropped, 1);
    cr_assert_eq(s.cached, 1);
    obj_t *x = pa_pool_get(p), *y = pa_pool_get(p);
    cr_assert_eq(x, a);
    cr_assert_neq(y, a, "a double-put object was handed out twice");
    pa_pool_put(p, x);
    pa_pool_put(p, y);
    pa_pool_destroy(p);
    cr_assert_eq(c.destroys, c.news);
    ASSERT_THREADS_OK();
}

/* ---- bufpool ------------------------------------------------------------------------------- */

Test(pool_buf, capacity_is_the_next_power_of_two_from_64)
{
    uint64_t base = live_baseline();
    pa_bufpool_t *bp = pa_bufpool_create("caps", 0);
    cr_assert_not_null(bp);
    static const struct { size_t n, cap; } cases[] = {
        { 0, 64 }, { 1, 64 }, { 63, 64 }, { 64, 64 }, { 65, 128 }, { 100, 128 }, { 1000, 1024 },
        { 1024, 1024 }, { 1025, 2048 }, { 200 * 1024, 256 * 1024 }, { MiB, MiB }, { 3 * MiB, 4 * MiB },
        { 16 * MiB, 16 * MiB },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t cap = 0;
        void *b = pa_bufpool_get(bp, cases[i].n, &cap);
        cr_assert_not_null(b);
        cr_assert_eq(cap, cases[i].cap, "get(%zu): capacity %zu, want %zu", cases[i].n, cap, cases[i].cap);
        cr_assert_geq(pa_usable_size(b), cap);
        memset(b, 0x5a, cap);
        pa_bufpool_put(bp, b);
        pa_pool_stats_t s;
        pa_bufpool_stats(bp, cap, &s);
        cr_assert_eq(s.cached, 1, "get(%zu) put back: class %zu caches %llu", cases[i].n, cap, ULL(s.cached));
        cr_assert_eq(pa_bufpool_get(bp, cases[i].n, NULL), b, "capacity may be NULL");
        pa_bufpool_put(bp, b);
    }
    pa_bufpool_destroy(bp);
    ASSERT_NO_LEAK(base);
}

Test(pool_buf, same_class_reuses_the_buffer_other_classes_do_not)
{
    uint64_t base = live_baseline();
    pa_bufpool_t *bp = pa_bufpool_create("reuse", 0);
    size_t cap;
    void *b = pa_bufpool_get(bp, 100, &cap);
    cr_assert_eq(cap, 128);
    pa_bufpool_put(bp, b);
    void *c = pa_bufpool_get(bp, 65, &cap);          /* same class: the same buffer */
    cr_assert_eq(c, b);
    pa_bufpool_put(bp, c);
    void *small = pa_bufpool_get(bp, 64, &cap);      /* smaller class: not the 128 */
    cr_assert_neq(small, b);
    cr_assert_eq(cap, 64);
    void *big = pa_bufpool_get(bp, 129, &cap);       /* bigger class: not the 128 */
    cr_assert_neq(big, b);
    cr_assert_eq(cap, 256);
    pa_pool_stats_t s;
    pa_bufpool_stats(bp, 128, &s);
    cr_assert_eq(s.cached, 1);
    cr_assert_eq(s.gets, 2);
    cr_assert_eq(s.hits, 1);
    /* a buffer from pa_malloc whose usable size is 1024 <= u < 2048 serves
     * requests up to 1024 only */
    void *m = pa_malloc(1100);
    size_t u = pa_usable_size(m);
    cr_assert(u >= 1100 && u < 2048);
    pa_bufpool_put(bp, m);
    void *x = pa_bufpool_get(bp, 1025, &cap);
    cr_assert_neq(x, m, "a %zu-byte buffer served a 1025-byte request", u);
    cr_assert_eq(cap, 2048);
    cr_assert_eq(pa_bufpool_get(bp, 1024, &cap), m);
    cr_assert_eq(cap, 1024);
    pa_bufpool_put(bp, m);
    pa_bufpool_put(bp, x);
    pa_bufpool_put(bp, small);
    pa_bufpool_put(bp, big);
    pa_bufpool_destroy(bp);
    ASSERT_NO_LEAK(base);
}

Test(pool_buf, a_buffer_grown_by_realloc_goes_to_its_new_class)
{
    uint64_t base = live_baseline();
    pa_bufpool_t *bp = pa_bufpool_create("grow", 64 * KiB);
    size_t cap;
    void *b = pa_bufpool_get(bp, 100, &cap);
    cr_assert_eq(cap, 128);
    fill(b, 100, 3);
    void *g = pa_realloc(b, 5000);
    cr_assert_not_null(g);
    cr_assert(intact(g, 100, 3));
    size_t u = pa_usable_size(g);
    size_t cls = 4096;
    cr_assert(u >= 5000 && u < 8192, "usable %zu", u);
    pa_bufpool_put(bp, g);
    pa_pool_stats_t s;
    pa_bufpool_stats(bp, 128, &s);
    cr_assert_eq(s.cached, 0, "a grown buffer went back to its old class");
    pa_bufpool_stats(bp, cls, &s);
    cr_assert_eq(s.cached, 1, "the grown buffer is not in the %zu class", cls);
    cr_assert_eq(pa_bufpool_get(bp, 4096, &cap), g);
    cr_assert_eq(cap, 4096);
    /* grown beyond max_capacity (usable >= 128 KiB, above the 64 KiB class): put frees it */
    void *h = pa_realloc(g, 200 * KiB);
    uint64_t live = gstats().live_objects;
    pa_bufpool_put(bp, h);
    cr_assert_eq(gstats().live_objects, live - 1, "a buffer above max_capacity was kept");
    pa_bufpool_stats(bp, 0, &s);
    cr_assert_eq(s.cached, 0);
    /* and too small for any class (usable < 64): put frees it */
    void *tiny = pa_malloc(10);
    live = gstats().live_objects;
    pa_bufpool_put(bp, tiny);
    cr_assert_eq(gstats().live_objects, live - 1);
    pa_bufpool_put(bp, NULL);
    pa_bufpool_destroy(bp);
    ASSERT_NO_LEAK(base);
}

Test(pool_buf, requests_above_max_capacity_are_not_pooled)
{
    uint64_t base = live_baseline();
    pa_bufpool_t *bp = pa_bufpool_create("max", 4096);
    size_t cap = 0;
    void *b = pa_bufpool_get(bp, 10000, &cap);
    cr_assert_not_null(b);
    cr_assert_geq(cap, 10000);
    cr_assert_eq(cap, pa_usable_size(b));
    memset(b, 1, cap);
    pa_pool_stats_t s;
    pa_bufpool_stats(bp, 0, &s);
    cr_assert_eq(s.gets, 0, "an oversize request went through a class pool");
    pa_bufpool_stats(bp, 10000, &s);
    cr_assert_eq(s.gets + s.cached, 0, "stats of a capacity above max must be empty");
    uint64_t live = gstats().live_objects;
    pa_bufpool_put(bp, b);
    cr_assert_eq(gstats().live_objects, live - 1, "put of an oversize buffer did not free it");
    pa_bufpool_stats(bp, 0, &s);
    cr_assert_eq(s.puts + s.cached, 0);
    void *c = pa_bufpool_get(bp, 4096, &cap);     /* the largest class is pooled */
    cr_assert_eq(cap, 4096);
    pa_bufpool_put(bp, c);
    pa_bufpool_stats(bp, 4096, &s);
    cr_assert_eq(s.cached, 1);
    pa_bufpool_destroy(bp);
    ASSERT_NO_LEAK(base);
}

/* The header: "A request above max_capacity gets a plain allocation that put
 * frees." That holds for requests just above the maximum too, whose usable
 * size is below twice the maximum (so it rounds down to the top class). */
Test(pool_buf, a_request_just_above_max_capacity_is_not_pooled_either)
{
    uint64_t base = live_baseline();
    static const struct { size_t max, n; } cases[] = {
        { 4096, 4097 }, { 4096, 6000 }, { 64 * KiB, 64 * KiB + 1 }, { 0, 16 * MiB + 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pa_bufpool_t *bp = pa_bufpool_create("above", cases[i].max);
        size_t max = cases[i].max ? cases[i].max : 16 * MiB, cap = 0;
        void *b = pa_bufpool_get(bp, cases[i].n, &cap);
        cr_assert_not_null(b);
        cr_assert_geq(cap, cases[i].n);
        pa_pool_stats_t s;
        pa_bufpool_stats(bp, 0, &s);
        cr_assert_eq(s.gets, 0);
        uint64_t live = gstats().live_objects;
        pa_bufpool_put(bp, b);
        pa_bufpool_stats(bp, max, &s);
        cr_assert(gstats().live_objects == live - 1 && s.cached == 0,
                  "max %zu: the buffer of an oversize request (%zu bytes, usable %zu) was not freed by put "
                  "but cached in the %zu class (cached %llu)", max, cases[i].n, cap, max, ULL(s.cached));
        pa_bufpool_destroy(bp);
    }
    ASSERT_NO_LEAK(base);
}

Test(pool_buf, two_idle_cycles_empty_a_class)
{
    uint64_t base = live_baseline();
    pa_bufpool_t *bp = pa_bufpool_create("idle", 0);
    void *big = pa_bufpool_get(bp, 1 * MiB, NULL);
    void *small = pa_bufpool_get(bp, 200, NULL);
    pa_bufpool_put(bp, big);
    pa_bufpool_put(bp, small);
    pa_pool_stats_t s;
    pa_cycle();
    void *again = pa_bufpool_get(bp, 200, NULL);     /* the small class is in use */
    cr_assert_eq(again, small);
    pa_bufpool_put(bp, again);
    pa_bufpool_stats(bp, MiB, &s);
    cr_assert_eq(s.cached, 1, "one cycle emptied the 1 MiB class");
    uint64_t live = gstats().live_bytes;
    pa_cycle();
    cr_assert_geq(live - gstats().live_bytes, MiB, "the dropped 1 MiB buffer was not freed");
    pa_bufpool_stats(bp, MiB, &s);
    cr_assert_eq(s.cached, 0, "two idle cycles left %llu buffers in the 1 MiB class", ULL(s.cached));
    cr_assert_eq(s.dropped, 1);
    pa_bufpool_stats(bp, 256, &s);
    cr_assert_eq(s.cached, 1, "the class in use lost its buffer");
    cr_assert_eq(s.dropped, 0);
    pa_bufpool_destroy(bp);
    ASSERT_NO_LEAK(base);
}

Test(pool_buf, per_class_stats_add_up_to_the_sum)
{
    uint64_t base = live_baseline();
    pa_bufpool_t *bp = pa_bufpool_create("sum", 64 * KiB);
    static const size_t req[] = { 1, 64, 65, 100, 128, 1000, 1000, 4000, 64 * KiB, 200 * KiB };
    void *b[sizeof req / sizeof req[0]];
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) b[i] = pa_bufpool_get(bp, req[i], NULL);
    for (size_t i = 0; i < 4; i++) pa_bufpool_put(bp, b[i]);
    pa_bufpool_put(bp, b[9]);                         /* oversize: freed */
    pa_pool_stats_t s, sum = { 0 };
    for (size_t cap = 64; cap <= 64 * KiB; cap *= 2) {
        pa_bufpool_stats(bp, cap, &s);
        sum.gets += s.gets;
        sum.puts += s.puts;
        sum.hits += s.hits;
        sum.misses += s.misses;
        sum.cached += s.cached;
    }
    pa_pool_stats_t all;
    pa_bufpool_stats(bp, 0, &all);
    cr_assert_eq(all.gets, 9);
    cr_assert_eq(all.puts, 4);
    cr_assert_eq(all.misses, 9);
    cr_assert_eq(all.cached, 4);
    cr_assert(sum.gets == all.gets && sum.puts == all.puts && sum.hits == all.hits && sum.misses == all.misses &&
              sum.cached == all.cached, "per-class stats do not add up to the sum");
    pa_bufpool_stats(bp, 64, &s);
    cr_assert_eq(s.gets, 2);
    pa_bufpool_stats(bp, 100, &s);                    /* the class serving 100: 128 */
    cr_assert_eq(s.gets, 3);
    cr_assert_eq(s.cached, 2);
    pa_bufpool_stats(bp, 1000, &s);
    cr_assert_eq(s.gets, 2);
    cr_assert_eq(s.cached, 0);
    for (size_t i = 4; i < 9; i++) pa_bufpool_put(bp, b[i]);
    pa_bufpool_destroy(bp);
    ASSERT_NO_LEAK(base);
}

/* ---- reclaim cycles: numbering and pacing --------------------------------------------------- */

Test(pool_cycle, numbers_increase_and_match_the_stats)
{
    uint64_t before = gstats().cycles;
    uint64_t n1 = pa_cycle();
    cr_assert_eq(n1, before + 1);
    for (uint64_t i = 2; i <= 5; i++) cr_assert_eq(pa_cycle(), before + i);
    cr_assert_eq(gstats().cycles, before + 5);
}

/* pa_trim (malloc_trim) is a cycle too: it counts, and rotates the pools. */
Test(pool_cycle, trim_runs_a_cycle)
{
    counts_t c = { 0 };
    pa_pool_t *p = counted_pool("trimmed", &c);
    pa_pool_put(p, pa_pool_get(p));
    uint64_t before = gstats().cycles;
    pa_trim();
    cr_assert_eq(gstats().cycles, before + 1);
    cr_assert_eq(c.destroys, 0);
    pa_trim();
    cr_assert_eq(gstats().cycles, before + 2);
    cr_assert_eq(c.destroys, 1, "two trims did not release the idle object");
    cr_assert_eq(pa_cycle(), before + 3);
    pa_pool_destroy(p);
    ASSERT_THREADS_OK();
}

/* Allocates and frees `total` bytes in `block`-byte blocks; live stays tiny. */
static void churn(size_t total, size_t block)
{
    for (size_t done = 0; done < total; done += block) {
        void *p = pa_malloc(block);
        cr_assert_not_null(p);
        ((volatile char *)p)[0] = 1;
        pa_free(p);
    }
}

/* Pacing rule: a cycle when the ticked total reaches the trigger; the first
 * trigger is 4 MiB, then total_at_cycle + max(4 MiB, live * gogc / 100). Live
 * stays at one 64 KiB block, so each cycle needs >= 4 MiB more (at most 64/4
 * = 16 cycles for 64 MiB), and a heap ticks every 256 KiB + one block (5
 * blocks = 320 KiB), so a cycle fires at most 320 KiB past its trigger: cycle
 * k fires by 4 MiB + (k-1) * 4.3125 MiB, and 64 MiB minus one tick's slack
 * reach k = 14. */
Test(pool_cycle, paced_cycles_with_gogc_100)
{
    pa_options.gogc = 100;
    pa_options.trace = false;
    uint64_t before = gstats().cycles;
    churn(64 * MiB, 64 * KiB);
    uint64_t n = gstats().cycles - before;
    cr_assert_geq(n, 14, "64 MiB allocated with live ~64 KiB ran %llu paced cycles, want >= 14", ULL(n));
    cr_assert_leq(n, 16, "64 MiB allocated ran %llu paced cycles, at most 16 fit", ULL(n));
}

/* live 40 MiB and gogc 50: the goal after a cycle is 20 MiB, so 64 MiB of
 * churn on top of it runs no more than 64/20 + the first + 1 cycles. */
Test(pool_cycle, the_goal_grows_with_live_bytes)
{
    pa_options.gogc = 50;
    enum { LIVE_BLOCKS = 40 };
    void *keep[LIVE_BLOCKS];
    for (int i = 0; i < LIVE_BLOCKS; i++) keep[i] = pa_malloc(MiB);    /* 40 MiB live */
    uint64_t before = gstats().cycles;
    churn(64 * MiB, 64 * KiB);
    uint64_t n = gstats().cycles - before;
    cr_assert_geq(n, 2, "%llu cycles", ULL(n));
    cr_assert_leq(n, 5, "with 40 MiB live and GOGC=50 each cycle must wait for 20 MiB; ran %llu cycles", ULL(n));
    for (int i = 0; i < LIVE_BLOCKS; i++) pa_free(keep[i]);
}

Test(pool_cycle, no_paced_cycles_with_gogc_off)
{
    pa_options.gogc = -1;                /* as POOLALLOC_GOGC=off */
    uint64_t before = gstats().cycles;
    churn(64 * MiB, 64 * KiB);
    uint64_t n = gstats().cycles - before;
    cr_assert_eq(n, 0, "GOGC off, yet %llu paced cycles ran during 64 MiB of allocation", ULL(n));
    cr_assert_eq(pa_cycle(), before + 1, "pa_cycle still runs with pacing off");
}

/* ---- stress: threads get, put, hand objects to each other, while cycles run ------------------ */

#define SLIVE 0x5717e55a11fe0001ull
#define SDEAD 0x5717e55ad1ed0002ull

typedef struct sobj {
    uint64_t magic;
    _Atomic unsigned in_use;           /* 1 while a thread (or the mailbox) owns it */
    unsigned id;
    uint64_t payload[4];               /* stamped by the owner, checked by the next one */
} sobj_t;

enum { SWORKERS = 4, SWAVES = 2, MAILBOX = 32, HELD = 8 };
static _Atomic(sobj_t *) mailbox[MAILBOX];
static _Atomic uint64_t s_gets, s_puts, s_news, s_destroys, s_cycles;
static _Atomic bool s_stop;

static void *s_new(void *arg)
{
    (void)arg;
    sobj_t *o = pa_malloc(sizeof *o);
    if (!o) return NULL;
    o->magic = SLIVE;
    atomic_init(&o->in_use, 0);
    o->id = (unsigned)atomic_fetch_add(&s_news, 1) + 1;
    memset(o->payload, 0, sizeof o->payload);
    return o;
}

static void s_reset(void *p, void *arg)
{
    (void)arg;
    sobj_t *o = p;
    thread_check(o->magic == SLIVE);
    thread_check(atomic_load(&o->in_use) == 0);       /* put only after release */
}

static void s_destroy(void *p, void *arg)
{
    (void)arg;
    sobj_t *o = p;
    thread_check(o->magic == SLIVE);
    thread_check(atomic_load(&o->in_use) == 0);       /* never destroy an object someone holds */
    o->magic = SDEAD;
    atomic_fetch_add(&s_destroys, 1);
    pa_free(o);
}

static unsigned srnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return *s >> 8; }

static sobj_t *s_get(pa_pool_t *pool, unsigned me)
{
    sobj_t *o = pa_pool_get(pool);
    thread_check(o != NULL);
    if (!o) return NULL;
    atomic_fetch_add(&s_gets, 1);
    thread_check(o->magic == SLIVE);
    unsigned was = atomic_exchange(&o->in_use, 1);
    thread_check(was == 0);                              /* handed to two owners at once */
    for (int i = 0; i < 4; i++) o->payload[i] = ((uint64_t)me << 32) | o->id;
    return o;
}

static void s_put(pa_pool_t *pool, sobj_t *o)
{
    thread_check(o->magic == SLIVE);
    uint64_t want = o->payload[0];
    for (int i = 1; i < 4; i++) thread_check(o->payload[i] == want);
    thread_check((unsigned)want == o->id);
    unsigned was = atomic_exchange(&o->in_use, 0);
    thread_check(was == 1);
    atomic_fetch_add(&s_puts, 1);
    pa_pool_put(pool, o);
}

struct sworker { pa_pool_t *pool; unsigned seed, me; size_t ops; };

static void *s_worker(void *arg)
{
    struct sworker *w = arg;
    sobj_t *held[HELD];
    int n = 0;
    for (size_t i = 0; i < w->ops; i++) {
        unsigned r = srnd(&w->seed);
        switch (r % 5) {
        case 0: case 1:                                  /* get */
            if (n < HELD) {
                sobj_t *o = s_get(w->pool, w->me);
                if (o) held[n++] = o;
            }
            break;
        case 2: case 3:                                  /* put one's own */
            if (n) s_put(w->pool, held[--n]);
            break;
        default: {                                       /* hand off: another thread puts it */
            if (!n) break;
            sobj_t *o = held[--n];
            sobj_t *prev = atomic_exchange(&mailbox[(r >> 8) % MAILBOX], o);
            if (prev) {
                thread_check(atomic_load(&prev->in_use) == 1);
                s_put(w->pool, prev);
            }
        }
        }
    }
    while (n) s_put(w->pool, held[--n]);
    return NULL;
}

static void *s_cycler(void *arg)
{
    pa_pool_t *pool = arg;
    while (!atomic_load(&s_stop)) {
        pa_cycle();
        atomic_fetch_add(&s_cycles, 1);
        pa_pool_stats_t s;
        pa_pool_stats(pool, &s);                         /* approximate, but must not crash */
        thread_check(s.hits <= s.gets);
        struct timespec ts = { 0, 200 * 1000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

Test(pool_stress, threads_cycles_and_hand_offs_keep_ownership_exclusive, .timeout = 120)
{
    uint64_t base = live_baseline();
    pa_pool_config_t cfg = { .name = "stress", .size = sizeof(sobj_t), .new_object = s_new, .reset = s_reset,
                             .destroy = s_destroy };
    pa_pool_t *pool = pa_pool_create(&cfg);
    cr_assert_not_null(pool);
    pthread_t cyc;
    cr_assert_eq(pthread_create(&cyc, NULL, s_cycler, pool), 0);
    for (int wave = 0; wave < SWAVES; wave++) {        /* the second wave adopts the first's locals */
        pthread_t t[SWORKERS];
        struct sworker w[SWORKERS];
        for (int i = 0; i < SWORKERS; i++) {
            w[i] = (struct sworker){ pool, 99u + (unsigned)(wave * SWORKERS + i) * 7919u,
                                     (unsigned)(wave * SWORKERS + i + 1), 100000 * SCALE };
            cr_assert_eq(pthread_create(&t[i], NULL, s_worker, &w[i]), 0);
        }
        for (int i = 0; i < SWORKERS; i++) pthread_join(t[i], NULL);
    }
    atomic_store(&s_stop, true);
    pthread_join(cyc, NULL);
    ASSERT_THREADS_OK();
    cr_assert_gt(atomic_load(&s_cycles), 0);

    uint64_t out = 0;
    for (int i = 0; i < MAILBOX; i++) out += atomic_load(&mailbox[i]) != NULL;
    pa_pool_stats_t s = pstats(pool);
    cr_assert_eq(s.gets, atomic_load(&s_gets), "pool counted %llu gets, threads made %llu", ULL(s.gets),
                 ULL(atomic_load(&s_gets)));
    cr_assert_eq(s.puts, atomic_load(&s_puts), "pool counted %llu puts, threads made %llu", ULL(s.puts),
                 ULL(atomic_load(&s_puts)));
    cr_assert_eq(s.gets - s.puts, out, "gets - puts = %llu, %llu objects are out", ULL(s.gets - s.puts), ULL(out));
    cr_assert_eq(s.misses, atomic_load(&s_news));
    cr_assert_eq(s.dropped, atomic_load(&s_destroys));
    cr_assert_eq(s.cached, atomic_load(&s_news) - atomic_load(&s_destroys) - out,
                 "cached %llu, made %llu, destroyed %llu, out %llu", ULL(s.cached), ULL(atomic_load(&s_news)),
                 ULL(atomic_load(&s_destroys)), ULL(out));
    cr_assert_gt(s.hits, s.misses, "a pool in steady use should mostly hit");
    pa_pool_destroy(pool);
    ASSERT_THREADS_OK();
    cr_assert_eq(atomic_load(&s_news), atomic_load(&s_destroys) + out,
                 "made %llu objects, destroyed %llu, %llu still out", ULL(atomic_load(&s_news)),
                 ULL(atomic_load(&s_destroys)), ULL(out));
    for (int i = 0; i < MAILBOX; i++) {
        sobj_t *o = atomic_exchange(&mailbox[i], NULL);
        if (o) {
            cr_assert_eq(o->magic, SLIVE);
            pa_free(o);
        }
    }
    ASSERT_NO_LEAK(base);
}
