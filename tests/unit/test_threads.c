/* test_threads.c — blocks crossing threads: frees from a thread that does not
 * own the block (counted as remote, memory reused by the owner), thread exit
 * (heaps parked and adopted, so thread churn does not grow the process),
 * blocks outliving the thread that allocated them, and a concurrent stress
 * with contents checked. Sized so TSan finishes in seconds. */
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "poolalloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

#if defined(__SANITIZE_THREAD__)
#define SCALE 1      /* TSan is ~10x slower */
#else
#define SCALE 4
#endif

static pa_stats_t stats(void)
{
    pa_stats_t s;
    pa_stats_get(&s);
    return s;
}

#define ULL(x) ((unsigned long long)(x))

/* mixed sizes: tiny, small, medium, and an occasional large page */
static size_t mixed_size(size_t i)
{
    static const size_t sz[] = { 8, 24, 64, 100, 256, 1000, 3000, 9000, 20000, 48, 160, 200 * KiB };
    return sz[i % (sizeof sz / sizeof sz[0])] + (i / 12) % 7;
}

static uint8_t tag(const void *p) { return (uint8_t)(((uintptr_t)p >> 4) * 151 + ((uintptr_t)p >> 12)); }

static void stamp(void *p, size_t n)
{
    uint8_t t = tag(p);
    uint8_t *b = p;
    b[0] = t;
    b[n / 2] = t;
    b[n - 1] = t;
}

static bool stamp_ok(const void *p, size_t n)
{
    uint8_t t = tag(p);
    const uint8_t *b = p;
    return b[0] == t && b[n / 2] == t && b[n - 1] == t;
}

/* Criterion's assertions belong to the test's own thread: other threads count
 * what went wrong here, and the test asserts the count after joining them. */
static _Atomic unsigned thread_errors;

static void thread_check(bool ok)
{
    if (!ok) atomic_fetch_add(&thread_errors, 1);
}

#define ASSERT_THREADS_OK() \
    cr_assert_eq(atomic_load(&thread_errors), 0, "%u failed checks in other threads " \
                 "(a NULL from malloc or a block overwritten while live)", atomic_load(&thread_errors))

/* Runs fn(arg) on a new thread to its end, then checks what it reported. */
static void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
    pthread_join(t, NULL);
    ASSERT_THREADS_OK();
}

struct batch { void **p; size_t *n; size_t count; bool with_heap; };

static void *consumer(void *arg)
{
    struct batch *b = arg;
    void *own = b->with_heap ? pa_malloc(32) : NULL;   /* a heap of its own, or none */
    for (size_t i = 0; i < b->count; i++) {
        thread_check(stamp_ok(b->p[i], b->n[i]));
        pa_free(b->p[i]);
    }
    pa_free(own);
    return NULL;
}

static size_t small_size(size_t i) { return 16 + (i * 40) % 2000; }
static size_t large_size(size_t i) { return 256 * KiB + (i % 8) * 100 * KiB; }   /* 256..956 KiB */

/* Rounds of: this thread allocates n blocks, another thread frees them all.
 * Every such free is a remote free, nothing stays live, and this thread
 * reuses the memory: after round 1 the process maps no more. */
static void cross_thread_rounds(size_t (*size_of)(size_t), size_t n_blocks, int rounds)
{
    void **p = malloc(n_blocks * sizeof *p);         /* glibc's */
    size_t *n = malloc(n_blocks * sizeof *n);
    uint64_t mapped_round1 = 0;
    for (int r = 0; r < rounds; r++) {
        pa_stats_t before = stats();
        for (size_t i = 0; i < n_blocks; i++) {
            n[i] = size_of(i + (size_t)r);
            p[i] = pa_malloc(n[i]);
            cr_assert_not_null(p[i]);
            stamp(p[i], n[i]);
        }
        struct batch b = { p, n, n_blocks, r & 1 };
        run_thread(consumer, &b);
        pa_stats_t after = stats();
        uint64_t own = (r & 1) ? 1 : 0;               /* the consumer's own block */
        cr_assert_eq(after.remote_frees - before.remote_frees, n_blocks,
                     "round %d: remote_frees grew by %llu, expected %zu", r,
                     ULL(after.remote_frees - before.remote_frees), n_blocks);
        cr_assert_eq(after.free_objects - before.free_objects, n_blocks + own);
        cr_assert_eq(after.live_objects, 0, "round %d: %llu objects still live", r, ULL(after.live_objects));
        cr_assert_eq(after.live_bytes, 0);
        if (r == 1) mapped_round1 = after.mapped_bytes;
        if (r > 1)
            cr_assert_leq(after.mapped_bytes, mapped_round1 + PA_SEG_SIZE,
                          "round %d: mapped %llu, round 1 had %llu: blocks freed by another thread "
                          "are not reused by their owner", r, ULL(after.mapped_bytes), ULL(mapped_round1));
    }
    free(p);
    free(n);
}

Test(threads, cross_thread_free_mixed_sizes)
{
    cross_thread_rounds(mixed_size, 1500 * SCALE, 8);
}

Test(threads, cross_thread_free_small_blocks)
{
    cross_thread_rounds(small_size, 3000 * SCALE, 10);
}

/* One object per page (128 KiB..2 MiB): a thread that allocates nothing but
 * large blocks, freed by another thread, must get their slices back too. */
Test(threads, cross_thread_free_large_blocks)
{
    cross_thread_rounds(large_size, 8, 12);
}

static void *free_one(void *p)
{
    pa_free(p);
    return NULL;
}

/* A large block whose memory held a large block freed earlier (same page,
 * same address) is live: another thread may free it. */
Test(threads, remote_free_of_reused_large_block)
{
    for (size_t n = 129 * KiB; n <= 2 * MiB; n *= 2) {
        void *p = pa_malloc(n);
        pa_free(p);                              /* page retired, block memory kept */
        void *q = pa_malloc(n);                  /* usually the same address again */
        cr_assert_not_null(q);
        run_thread(free_one, q);
        pa_stats_t st = stats();
        cr_assert_eq(st.live_objects, 0);
    }
    /* the same through aligned allocation, which also lands in large pages */
    void *p = pa_aligned_alloc(64 * KiB, 300 * KiB);
    pa_free(p);
    void *q = pa_aligned_alloc(64 * KiB, 300 * KiB);
    run_thread(free_one, q);
}

/* ---- a producer and a consumer running at the same time ------------------ */

enum { RING = 256 };
struct ring {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    void *slot[RING];
    size_t size[RING];
    size_t head, tail;       /* head - tail items queued */
    bool done;
};

static void ring_put(struct ring *r, void *p, size_t n)
{
    pthread_mutex_lock(&r->mu);
    while (r->head - r->tail == RING) pthread_cond_wait(&r->nonfull, &r->mu);
    r->slot[r->head % RING] = p;
    r->size[r->head % RING] = n;
    r->head++;
    pthread_cond_signal(&r->nonempty);
    pthread_mutex_unlock(&r->mu);
}

static void *ring_consumer(void *arg)
{
    struct ring *r = arg;
    size_t freed = 0;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->head == r->tail && !r->done) pthread_cond_wait(&r->nonempty, &r->mu);
        if (r->head == r->tail) { pthread_mutex_unlock(&r->mu); break; }
        void *p = r->slot[r->tail % RING];
        size_t n = r->size[r->tail % RING];
        r->tail++;
        pthread_cond_signal(&r->nonfull);
        pthread_mutex_unlock(&r->mu);
        thread_check(stamp_ok(p, n));
        pa_free(p);
        freed++;
    }
    return (void *)freed;
}

Test(threads, concurrent_producer_consumer)
{
    enum { N = 20000 * SCALE };
    static struct ring r = { .mu = PTHREAD_MUTEX_INITIALIZER, .nonempty = PTHREAD_COND_INITIALIZER,
                             .nonfull = PTHREAD_COND_INITIALIZER };
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, ring_consumer, &r), 0);
    uint64_t mapped_mid = 0;
    for (size_t i = 0; i < N; i++) {
        size_t n = mixed_size(i);
        void *p = pa_malloc(n);
        cr_assert_not_null(p);
        stamp(p, n);
        ring_put(&r, p, n);
        if (i == N / 4) mapped_mid = stats().mapped_bytes;
    }
    pthread_mutex_lock(&r.mu);
    r.done = true;
    pthread_cond_signal(&r.nonempty);
    pthread_mutex_unlock(&r.mu);
    void *freed;
    pthread_join(t, &freed);
    ASSERT_THREADS_OK();
    cr_assert_eq((size_t)freed, N);
    pa_stats_t st = stats();
    cr_assert_eq(st.alloc_objects, N);
    cr_assert_eq(st.free_objects, N, "free_objects %llu, expected %d", ULL(st.free_objects), N);
    cr_assert_eq(st.remote_frees, N);
    cr_assert_eq(st.live_objects, 0);
    cr_assert_eq(st.live_bytes, 0);
    /* at most RING blocks are live at a time: the producer must have kept
     * reusing what the consumer gave back */
    cr_assert_leq(st.mapped_bytes, mapped_mid + 2 * PA_SEG_SIZE,
                  "mapped grew from %llu to %llu with at most %d blocks live",
                  ULL(mapped_mid), ULL(st.mapped_bytes), RING);
}

/* ---- thread exit ---------------------------------------------------------- */

struct churn { void *kept[16]; size_t kept_n[16]; };

static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    void *tmp[64];
    for (size_t i = 0; i < 64; i++) {
        tmp[i] = pa_malloc(mixed_size(i));
        thread_check(tmp[i] != NULL);
        if (tmp[i]) memset(tmp[i], 0x3c, mixed_size(i));
    }
    for (size_t i = 0; i < 16; i++) {       /* kept beyond the thread's life */
        c->kept_n[i] = mixed_size(i * 5 + 1);
        c->kept[i] = pa_malloc(c->kept_n[i]);
        thread_check(c->kept[i] != NULL);
        if (c->kept[i]) stamp(c->kept[i], c->kept_n[i]);
    }
    for (size_t i = 0; i < 64; i++) pa_free(tmp[i]);
    return NULL;
}

Test(threads, thread_churn_reuses_heaps)
{
    enum { T = 200 };
    static struct churn c[T];
    pa_free(pa_malloc(1));                   /* main thread's heap */
    uint64_t mapped_early = 0;
    for (size_t i = 0; i < T; i++) {
        run_thread(churn_thread, &c[i]);
        if (i >= 2) {                        /* free what the thread before last kept */
            for (size_t k = 0; k < 16; k++) {
                cr_assert(stamp_ok(c[i - 2].kept[k], c[i - 2].kept_n[k]), "block kept by thread %zu overwritten", i - 2);
                pa_free(c[i - 2].kept[k]);
            }
        }
        pa_stats_t st = stats();
        cr_assert_lt(st.heaps, 4, "after %zu threads (one at a time) there are %llu heaps", i + 1, ULL(st.heaps));
        if (i == 20) mapped_early = st.mapped_bytes;
        if (i > 20)
            cr_assert_leq(st.mapped_bytes, mapped_early + 2 * PA_SEG_SIZE,
                          "thread %zu: mapped %llu, was %llu after 20 threads", i, ULL(st.mapped_bytes),
                          ULL(mapped_early));
    }
    for (size_t i = T - 2; i < T; i++)
        for (size_t k = 0; k < 16; k++) pa_free(c[i].kept[k]);
    pa_stats_t st = stats();
    cr_assert_eq(st.live_objects, 0, "%llu objects live", ULL(st.live_objects));
    cr_assert_eq(st.live_bytes, 0);
}

/* A thread-local destructor that runs after the allocator gave up the
 * thread's heap frees blocks of another thread: the frees are counted, and
 * the exiting thread does not take (and strand) a heap again. */
struct late { void *p[64]; size_t count; };
static pthread_key_t late_key;

static void free_late(void *arg)
{
    struct late *l = arg;
    for (size_t i = 0; i < l->count; i++) pa_free(l->p[i]);
}

static void *exit_with_late_frees(void *arg)
{
    pa_free(pa_malloc(32));                  /* a heap, given up at exit before free_late runs */
    pthread_setspecific(late_key, arg);
    return NULL;
}

Test(threads, frees_in_late_thread_destructors)
{
    static struct late l = { .count = 64 };
    pa_free(pa_malloc(1));                   /* allocator's exit key made before late_key */
    cr_assert_eq(pthread_key_create(&late_key, free_late), 0);
    for (size_t i = 0; i < l.count; i++) l.p[i] = pa_malloc(small_size(i));
    pa_stats_t before = stats();
    run_thread(exit_with_late_frees, &l);
    pa_stats_t after = stats();
    cr_assert_eq(after.free_objects - before.free_objects, l.count + 1);
    cr_assert_eq(after.remote_frees - before.remote_frees, l.count);
    cr_assert_eq(after.live_objects, before.live_objects - l.count);
    cr_assert_leq(after.heaps, before.heaps + 1, "heaps %llu -> %llu", ULL(before.heaps), ULL(after.heaps));
    cr_assert_eq(after.heaps_abandoned, before.heaps_abandoned + (after.heaps - before.heaps),
                 "a heap taken during thread exit was never given back");
}

/* A thread that only frees (a consumer) counts its frees like any other. */
static void *free_only(void *arg)
{
    struct late *l = arg;
    for (size_t i = 0; i < l->count; i++) pa_free(l->p[i]);
    return NULL;
}

Test(threads, frees_from_a_thread_that_never_allocates)
{
    static struct late l = { .count = 64 };
    for (size_t i = 0; i < l.count; i++) l.p[i] = pa_malloc(small_size(i));
    pa_stats_t before = stats();
    run_thread(free_only, &l);
    pa_stats_t after = stats();
    cr_assert_eq(after.free_objects - before.free_objects, l.count);
    cr_assert_eq(after.remote_frees - before.remote_frees, l.count);
    cr_assert_eq(after.live_objects, before.live_objects - l.count);
    cr_assert_eq(after.heaps_abandoned - before.heaps_abandoned, after.heaps - before.heaps,
                 "the freeing thread's heap was not given back at its exit");
}

struct kept { void *p[2000]; size_t n[2000]; size_t count; };

static void *alloc_and_exit(void *arg)
{
    struct kept *k = arg;
    for (size_t i = 0; i < k->count; i++) {
        k->n[i] = mixed_size(i * 7);
        k->p[i] = pa_malloc(k->n[i]);
        thread_check(k->p[i] != NULL);
        if (k->p[i]) memset(k->p[i], (int)(i & 0xff), k->n[i]);
    }
    return NULL;
}

/* A thread allocates and exits; its blocks stay valid, and the main thread
 * frees them; after pa_trim the memory is gone. */
Test(threads, blocks_outlive_their_thread)
{
    static struct kept k = { .count = 2000 };
    pa_free(pa_malloc(1));
    pa_stats_t base = stats();
    run_thread(alloc_and_exit, &k);
    pa_stats_t mid = stats();
    cr_assert_eq(mid.heaps_abandoned, 1);
    cr_assert_eq(mid.live_objects, k.count);
    for (size_t i = 0; i < k.count; i++) {
        const uint8_t *b = k.p[i];
        for (size_t j = 0; j < k.n[i]; j += 97)
            cr_assert_eq(b[j], (uint8_t)(i & 0xff), "block %zu byte %zu changed after its thread exited", i, j);
        pa_free(k.p[i]);
    }
    pa_stats_t st = stats();
    cr_assert_eq(st.live_objects, 0);
    cr_assert_eq(st.remote_frees, k.count);
    pa_trim();
    st = stats();
    cr_assert_leq(st.mapped_bytes, base.mapped_bytes + 64 * KiB,
                  "after freeing an exited thread's blocks and pa_trim, mapped is %llu (was %llu before the thread)",
                  ULL(st.mapped_bytes), ULL(base.mapped_bytes));
}

/* Without pa_trim: the exited thread's heap is collected by the slow path's
 * maintenance (or by the next thread adopting it), and a new thread reuses it. */
Test(threads, exited_heap_memory_is_reused)
{
    static struct kept k = { .count = 2000 };
    pa_free(pa_malloc(1));
    uint64_t mapped_first = 0;
    for (int round = 0; round < 6; round++) {
        run_thread(alloc_and_exit, &k);
        for (size_t i = 0; i < k.count; i++) pa_free(k.p[i]);
        pa_stats_t st = stats();
        cr_assert_eq(st.live_objects, 0);
        if (round == 0) mapped_first = st.mapped_bytes;
        else cr_assert_leq(st.mapped_bytes, mapped_first + PA_SEG_SIZE,
                           "round %d: mapped %llu, round 0 had %llu", round, ULL(st.mapped_bytes), ULL(mapped_first));
        cr_assert_lt(st.heaps, 3);
    }
}

static void *kept_block;

/* Frees all it allocated but the first block, which keeps its segment from
 * being emptied (an emptied segment goes to the segment cache instead). */
static void *alloc_free_and_exit(void *arg)
{
    size_t n = *(size_t *)arg;
    void *p[512];
    for (size_t i = 0; i < 512; i++) {
        p[i] = pa_malloc(n);
        thread_check(p[i] != NULL);
        if (p[i]) memset(p[i], 1, n);
    }
    kept_block = p[0];
    for (size_t i = 1; i < 512; i++) pa_free(p[i]);
    return NULL;
}

/* Thread exit keeps the heap's free memory resident (the next thread to start
 * adopts it warm: no madvise, no page faults); when no thread adopts it, the
 * slow path's maintenance purges it about a second later. */
Test(threads, exited_heap_purged_later_not_at_exit)
{
    static size_t n = 6 * KiB;               /* 512 x 6 KiB = 3 MiB: one segment */
    pa_free(pa_malloc(1));
    pa_stats_t base = stats();
    run_thread(alloc_free_and_exit, &n);
    pa_stats_t st = stats();
    cr_assert_eq(st.heaps_abandoned, 1);
    cr_assert_geq(st.resident_bytes, base.resident_bytes + 2 * MiB,
                  "exit purged at once: resident %llu, before the thread %llu", ULL(st.resident_bytes),
                  ULL(base.resident_bytes));
    struct timespec ts = { 1, 200 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    pa_free(pa_malloc(200 * KiB));           /* a slow path: runs maintenance */
    st = stats();
    cr_assert_lt(st.resident_bytes, base.resident_bytes + MiB,
                 "1.2 s after exit, resident %llu (before the thread %llu)", ULL(st.resident_bytes),
                 ULL(base.resident_bytes));
    pa_free(kept_block);
}

/* ---- stress: several threads, blocks freed by random threads ------------- */

enum { NT = 4, SLOTS = 512 };
static _Atomic(void *) shared[SLOTS];    /* blocks: a size_t n, then n stamped bytes */

struct worker { unsigned seed; size_t ops; };

static unsigned rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return *s >> 8; }

static void *stress_worker(void *arg)
{
    struct worker *w = arg;
    for (size_t i = 0; i < w->ops; i++) {
        unsigned r = rnd(&w->seed);
        size_t slot = r % SLOTS;
        size_t n = (r >> 10) % 8 == 0 ? (r >> 13) % (300 * KiB) + 1 : (r >> 13) % 2000 + 1;
        void *p = pa_malloc(n);                      /* a private block */
        thread_check(p != NULL);
        if (!p) continue;
        stamp(p, n);
        void *old = atomic_exchange(&shared[slot], NULL);   /* maybe another thread's */
        if (old) {
            thread_check(stamp_ok((uint8_t *)old + sizeof(size_t), ((size_t *)old)[0]));
            pa_free(old);
        }
        thread_check(stamp_ok(p, n));
        pa_free(p);
        void *q = pa_malloc(n + sizeof(size_t));     /* a block to share */
        thread_check(q != NULL);
        if (!q) continue;
        ((size_t *)q)[0] = n;
        stamp((uint8_t *)q + sizeof(size_t), n);
        void *prev = atomic_exchange(&shared[slot], q);
        if (prev) {
            thread_check(stamp_ok((uint8_t *)prev + sizeof(size_t), ((size_t *)prev)[0]));
            pa_free(prev);
        }
    }
    return NULL;
}

Test(threads, stress_random_cross_frees)
{
    pthread_t t[NT];
    struct worker w[NT];
    for (int i = 0; i < NT; i++) {
        w[i] = (struct worker){ .seed = 77u + (unsigned)i * 1000003u, .ops = 5000 * SCALE };
        cr_assert_eq(pthread_create(&t[i], NULL, stress_worker, &w[i]), 0);
    }
    for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
    ASSERT_THREADS_OK();
    for (size_t s = 0; s < SLOTS; s++) {
        void *p = atomic_exchange(&shared[s], NULL);
        if (p) {
            cr_assert(stamp_ok((uint8_t *)p + sizeof(size_t), ((size_t *)p)[0]), "shared block %zu overwritten", s);
            pa_free(p);
        }
    }
    pa_stats_t st = stats();
    cr_assert_eq(st.live_objects, 0, "%llu objects live after every block was freed", ULL(st.live_objects));
    cr_assert_eq(st.live_bytes, 0);
    cr_assert_eq(st.alloc_objects, (uint64_t)NT * 2 * 5000 * SCALE);
    cr_assert_gt(st.remote_frees, 0);
    cr_assert_leq(st.heaps, NT + 1);
}

/* More threads alive at once than there are heap tags (253): the later
 * heaps have none, so their own frees take the slow path, which must free
 * them as the owner (LIFO reuse, not a remote free) and keep blocks intact.
 * Each thread checks its segment's map entry against its heap's tag. */
enum { TAG_THREADS = 300 };
static pthread_barrier_t tag_barrier;
static atomic_int tagless_heaps, tag_errors;

static void *tag_worker(void *arg)
{
    uintptr_t seed = (uintptr_t)arg;
    enum { N = 64 };
    uint64_t *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = pa_malloc(16 + 16 * (size_t)(i % 8));
        b[i][0] = seed * 1000 + (uintptr_t)i;
    }
    pthread_barrier_wait(&tag_barrier);      /* all heaps exist at once */
    pa_heap_t *h = pa_tl_heap;
    uint8_t in_map = atomic_load(&pa_segmap[(uintptr_t)b[0] >> PA_SEG_SHIFT]);
    if (h->tag == PA_TAG_NONE) {
        atomic_fetch_add(&tagless_heaps, 1);
        if (in_map != PA_MAP_SHARED) atomic_fetch_add(&tag_errors, 1);
    } else if (in_map != h->tag) {
        atomic_fetch_add(&tag_errors, 1);
    }
    uint64_t remote_before = h->remote_frees;
    for (int i = 0; i < N; i += 2) {
        void *p = b[i];
        pa_free(p);
        b[i] = pa_malloc(16 + 16 * (size_t)(i % 8));   /* the block just freed, again */
        if (b[i] != p) atomic_fetch_add(&tag_errors, 1);
        b[i][0] = seed * 1000 + (uintptr_t)i;
    }
    if (h->remote_frees != remote_before) atomic_fetch_add(&tag_errors, 1);
    for (int i = 0; i < N; i++) {
        if (b[i][0] != seed * 1000 + (uintptr_t)i) atomic_fetch_add(&tag_errors, 1);
        pa_free(b[i]);
    }
    pthread_barrier_wait(&tag_barrier);      /* no heap is adopted before all are checked */
    return NULL;
}

Test(threads, more_threads_than_heap_tags)
{
    pthread_t t[TAG_THREADS];
    pthread_barrier_init(&tag_barrier, NULL, TAG_THREADS);
    for (uintptr_t i = 0; i < TAG_THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, tag_worker, (void *)(i + 1)), 0);
    for (int i = 0; i < TAG_THREADS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&tag_barrier);
    cr_assert_gt(atomic_load(&tagless_heaps), 0, "every heap had a tag: the slow path was not tried");
    cr_assert_eq(atomic_load(&tag_errors), 0, "%d wrong map entries, moved or lost blocks, or remote frees",
                 atomic_load(&tag_errors));
}

/* Stale free marks, left in memory by the frees of a page's earlier size
 * class, copied (as indeterminate bytes) into the second word of a live
 * block, are not taken for a mark when another thread frees that block. A
 * mark that was the same for every block of a page (its descriptor's
 * address) failed here with "double free". */
enum { STALE_N = 20000 };
static void *stale_victims[STALE_N / 2];

static void *free_victims(void *arg)
{
    (void)arg;
    for (int i = 0; i < STALE_N / 2; i++) pa_free(stale_victims[i]);
    return NULL;
}

Test(threads, stale_marks_copied_into_a_block_are_no_free_mark)
{
    static void *b32[STALE_N];
    for (int i = 0; i < STALE_N; i++) b32[i] = pa_malloc(32);     /* pages of 32 B blocks */
    for (int i = 0; i < STALE_N; i++) pa_free(b32[i]);            /* they retire */
    for (int i = 0; i < STALE_N / 2; i++) {
        unsigned char *big = pa_malloc(64), *q = pa_malloc(64);  /* the same slices, reused */
        memcpy(q, big + 32, 32);             /* the unwritten half of a buffer */
        stale_victims[i] = q;
        pa_free(big);
    }
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, free_victims, NULL), 0);
    pthread_join(t, NULL);                   /* a false "double free" aborts the test */
}

/* ---- remote frees in batches (REMOTE FREES IN BATCHES, types.h) ---------- */

static uint64_t xfree_count(const void *p)
{
    pa_page_t *pg = pa_page_of(pa_segment_of(p), p);
    return atomic_load(&pg->xfree) / PA_XFREE_ONE;
}

static void *one_page[10 + PA_REMOTE_BATCH + 6], *other_page, *big_block;

static void *free_in_batches(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) pa_free(one_page[i]);
    thread_check(xfree_count(one_page[0]) == 0);        /* held: same page so far */
    pa_free(other_page);                                /* another page: the ten go over */
    thread_check(xfree_count(one_page[0]) == 10);
    for (int i = 10; i < 10 + PA_REMOTE_BATCH; i++) pa_free(one_page[i]);
    thread_check(xfree_count(one_page[0]) == 10 + PA_REMOTE_BATCH);   /* a full batch */
    pa_free(big_block);                                 /* 16 KiB: not held at all */
    thread_check(xfree_count(big_block) == 1);
    for (int i = 10 + PA_REMOTE_BATCH; i < 10 + PA_REMOTE_BATCH + 5; i++) pa_free(one_page[i]);
    thread_check(xfree_count(one_page[0]) == 10 + PA_REMOTE_BATCH);   /* five held ... */
    return NULL;                                        /* ... until this thread exits */
}

Test(threads, remote_frees_to_one_page_go_over_in_one_list)
{
    size_t n = 10 + PA_REMOTE_BATCH + 5;
    for (size_t i = 0; i < n + 1; i++) one_page[i] = pa_malloc(64);   /* the last one stays */
    for (size_t i = 1; i < n + 1; i++)
        cr_assert_eq(pa_page_of(pa_segment_of(one_page[i]), one_page[i]),
                     pa_page_of(pa_segment_of(one_page[0]), one_page[0]), "the test needs one page");
    other_page = pa_malloc(4000);
    big_block = pa_malloc(16 * KiB);
    pa_stats_t before = stats();
    run_thread(free_in_batches, NULL);
    cr_assert_eq(xfree_count(one_page[0]), n, "the exiting thread kept %llu blocks",
                 ULL(n - xfree_count(one_page[0])));
    pa_stats_t after = stats();
    cr_assert_eq(after.remote_frees - before.remote_frees, n + 2);
    cr_assert_eq(after.live_objects, before.live_objects - n - 2);
    pa_trim();                                          /* the owner takes them back */
    cr_assert_eq(xfree_count(one_page[n]), 0);
    pa_free(one_page[n]);
}

/* A block waiting in another thread's batch is free: a second free of it,
 * from that thread or from its owner, aborts as a double free. */
static void *held_block;
static void *free_then_free_again(void *arg)
{
    (void)arg;
    pa_free(held_block);
    pa_free(held_block);                                /* still in this thread's batch */
    return NULL;
}

Test(threads, double_free_of_a_block_held_in_a_batch, .signal = SIGABRT)
{
    held_block = pa_malloc(48);
    pthread_t t;
    pthread_create(&t, NULL, free_then_free_again, NULL);
    pthread_join(t, NULL);
}

static void *free_and_wait(void *arg)
{
    pa_free(held_block);
    pthread_barrier_wait(arg);                          /* main frees it again now */
    pthread_barrier_wait(arg);
    return NULL;
}

Test(threads, owner_freeing_a_block_held_in_a_batch_is_a_double_free, .signal = SIGABRT)
{
    static pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    held_block = pa_malloc(48);
    pthread_t t;
    pthread_create(&t, NULL, free_and_wait, &bar);
    pthread_barrier_wait(&bar);
    pa_free(held_block);
}

/* A batch held when the process forks is still this thread's in the child
 * (its heap is the one the child runs on) and goes over there as in the
 * parent; the owner, another thread, is alive in the parent only. */
static void *owned[20];
static pthread_barrier_t owner_bar;

static void *own_and_wait(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) owned[i] = pa_malloc(64);
    pthread_barrier_wait(&owner_bar);        /* blocks made */
    pthread_barrier_wait(&owner_bar);        /* the test is done with them */
    return NULL;
}

Test(threads, a_batch_held_across_fork_goes_over_in_the_child)
{
    pthread_barrier_init(&owner_bar, NULL, 2);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, own_and_wait, NULL), 0);
    pthread_barrier_wait(&owner_bar);
    pa_free(pa_malloc(16));                  /* this thread has a heap */
    for (int i = 0; i < 10; i++) pa_free(owned[i]);
    cr_assert_eq(xfree_count(owned[0]), 0, "setup: the ten frees were not held");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        pa_trim();                           /* collects this thread's heap: the batch goes */
        uint64_t n = xfree_count(owned[0]);
        for (int i = 10; i < 20; i++) pa_free(owned[i]);
        pa_trim();
        _exit(n == 10 && xfree_count(owned[0]) == 20 ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the child did not hand over the batch it inherited (status %d)", status);
    pa_trim();
    cr_assert_eq(xfree_count(owned[0]), 10, "the parent's batch");
    for (int i = 10; i < 20; i++) pa_free(owned[i]);
    pthread_barrier_wait(&owner_bar);
    pthread_join(t, NULL);
}
