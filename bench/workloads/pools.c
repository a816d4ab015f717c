/*
 * pools.c - object pool get+put against malloc+free of the same size.
 *
 * Models: code that recycles fixed-size objects (request structs, buffers,
 * tree nodes) either through an object pool (poolalloc's pa_pool_*, Go's
 * sync.Pool) or by plain malloc and free, and asks what the pool saves.
 *
 * Modes: `pool` dlopen()s libpoolalloc.so (the path in the environment
 * variable POOLBENCH_LIB) with RTLD_NOW|RTLD_LOCAL and calls pa_pool_create,
 * get, put and destroy through pointers from dlsym, so the process's malloc
 * stays whatever is preloaded (glibc's when nothing is). `malloc` calls malloc
 * and free of OBJECT_SIZE bytes: the allocator the runner preloads. `empty`
 * (1t and 2t only) runs the pool loop with get and put pointing at functions
 * that hand back one object per thread and do nothing else: the floor that
 * any get+put or malloc+free pair measured here includes (two calls, the
 * touch, the loop).
 *
 * Scenarios, each moving OBJECT_SIZE-byte objects:
 *   1t  one thread: get, write a word into the object, read it back into the
 *       checksum, put; PAIRS_PER_THREAD times (the pool's private-slot path);
 *   2t  two threads each running the 1t loop, PAIRS_PER_THREAD pairs each, on
 *       the same pool (or the same malloc);
 *   pc  a producer thread gets objects, writes a sequence value into them and
 *       passes them through a bounded single-producer/single-consumer ring to
 *       a consumer thread, which reads the value into its checksum and puts
 *       them: every put crosses threads; PC_OBJECTS objects in all (a
 *       hand-over through the ring costs far more than a 1t pair).
 *
 * Timing: the measured loops only (not dlopen, thread start or exit). The
 * threads meet at a spinning start barrier, each reads CLOCK_MONOTONIC
 * before and after its loop, and wall = latest end - earliest start.
 * Output, one "name value" per line:
 *   ns_per_pair    wall nanoseconds / pairs (all threads together): the
 *                  inverse of throughput, not one thread's latency in 2t;
 *   pairs_per_sec  pairs / wall seconds;
 *   checksum       from the values written and read back, never from an
 *                  address: the same for every mode and allocator;
 *   pool_hits, pool_misses, pool_steals   (pool mode) from pa_pool_stats
 *                  after the loops: where the gets were answered.
 * The loops are timed by the program, so a run's process time (dlopen,
 * startup) does not count; the runner reads ns_per_pair.
 *
 * Usage: pools pool|malloc|empty 1t|2t|pc [scale]   scale (default 1.0, at
 * most 100) multiplies the number of pairs.
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"
#include "../../include/poolalloc.h"

#define NAME "pools"
#define OBJECT_SIZE 64                          /* bytes, every mode and scenario */
#define PAIRS_PER_THREAD (50L * 1000 * 1000)    /* 1t, 2t at scale 1.0: ~0.3 s under glibc */
#define PC_OBJECTS (10L * 1000 * 1000)          /* pc at scale 1.0: ~0.6 s under glibc */
#define RING_SLOTS 256                          /* pc's ring; a power of two */
#define SPINS_BEFORE_YIELD 64

/* The pool API, resolved from POOLBENCH_LIB; the header's own prototypes
 * give the types, so a change in the API breaks this build, not the run. */
static __typeof__(pa_pool_create) *pool_create;
static __typeof__(pa_pool_get) *pool_get;
static __typeof__(pa_pool_put) *pool_put;
static __typeof__(pa_pool_destroy) *pool_destroy;
static __typeof__(pa_pool_stats) *pool_stats;

enum { MODE_MALLOC, MODE_POOL, MODE_EMPTY };
static int mode;
static int use_pool;      /* the loop calls pool_get/pool_put: pool and empty modes */
static pa_pool_t *pool;
static long pairs;        /* per thread in 1t and 2t; objects in all in pc */

/* Setup errors (usage, library, symbols): one line and exit 2. */
static void fail(const char *what, const char *detail)
{
    fprintf(stderr, NAME ": %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(2);
}

static void *resolve(void *lib, const char *sym)
{
    void *p = dlsym(lib, sym);
    if (p == NULL)
        fail("symbol missing from POOLBENCH_LIB", sym);
    return p;
}

static void load_pool_api(void)
{
    const char *path = getenv("POOLBENCH_LIB");
    if (path == NULL || *path == '\0')
        fail("pool mode needs POOLBENCH_LIB=/path/to/libpoolalloc.so", NULL);
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        fail("cannot load POOLBENCH_LIB", dlerror());
    pool_create = (__typeof__(pool_create))resolve(lib, "pa_pool_create");
    pool_get = (__typeof__(pool_get))resolve(lib, "pa_pool_get");
    pool_put = (__typeof__(pool_put))resolve(lib, "pa_pool_put");
    pool_destroy = (__typeof__(pool_destroy))resolve(lib, "pa_pool_destroy");
    pool_stats = (__typeof__(pool_stats))resolve(lib, "pa_pool_stats");
    /* The library stays loaded to the end: objects and threads outlive main's use. */
}

/* empty mode's get and put: one object per thread, nothing else. */
static __thread uint64_t empty_object[OBJECT_SIZE / sizeof(uint64_t)] __attribute__((aligned(64)));

static __attribute__((noinline)) void *empty_get(pa_pool_t *pl)
{
    (void)pl;
    return empty_object;
}

static __attribute__((noinline)) void empty_put(pa_pool_t *pl, void *obj)
{
    (void)pl;
    (void)obj;
}

static inline void *get_object(void)
{
    void *p = use_pool ? pool_get(pool) : malloc(OBJECT_SIZE);
    if (p == NULL)
        die(NAME, "out of memory");
    return p;
}

static inline void put_object(void *p)
{
    if (use_pool)
        pool_put(pool, p);
    else
        free(p);
}

/* The object escapes and memory may have changed: the compiler can neither
 * drop a malloc+free pair nor forward the stored word to the load. */
static inline void escape(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

static inline void pause_or_yield(unsigned *spins)
{
    if (++*spins < SPINS_BEFORE_YIELD) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        *spins = 0;
        sched_yield();
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The spinning start barrier: the threads start their loops together
 * instead of one at a time as a futex wakes them. */
static atomic_int arrived;
static int nthreads;

static void start_barrier(void)
{
    unsigned spins = 0;
    atomic_fetch_add(&arrived, 1);
    while (atomic_load(&arrived) < nthreads)
        pause_or_yield(&spins);
}

struct worker {
    _Alignas(64) int id;
    uint64_t sum;
    uint64_t start_ns, end_ns;
};

static struct worker workers[2];

/* The value a thread writes into its i-th object. */
static inline uint64_t value(int id, long i)
{
    return (uint64_t)i * GOLDEN + (uint64_t)id;
}

/* 1t and 2t: get, touch, put. Mode is tested outside the loop, so each loop
 * is calls and the touch only. */
static void *loop_thread(void *arg)
{
    struct worker *w = arg;
    uint64_t sum = 0;
    start_barrier();
    w->start_ns = now_ns();
    if (use_pool) {
        pa_pool_t *pl = pool;
        for (long i = 0; i < pairs; i++) {
            uint64_t *o = pool_get(pl);
            if (o == NULL)
                die(NAME, "out of memory");
            *o = value(w->id, i);
            escape(o);
            sum += *o;
            pool_put(pl, o);
        }
    } else {
        for (long i = 0; i < pairs; i++) {
            uint64_t *o = malloc(OBJECT_SIZE);
            if (o == NULL)
                die(NAME, "out of memory");
            *o = value(w->id, i);
            escape(o);
            sum += *o;
            free(o);
        }
    }
    w->end_ns = now_ns();
    w->sum = sum;
    return NULL;
}

/* pc: the ring. Each side keeps its own index and a cached copy of the
 * other's, so the shared cache lines move only when the cached copy says
 * the ring is full (producer) or empty (consumer). */
static struct {
    _Alignas(64) atomic_uint_fast64_t head;   /* next to read; the consumer's */
    _Alignas(64) atomic_uint_fast64_t tail;   /* next to write; the producer's */
    _Alignas(64) void *slot[RING_SLOTS];
} ring;

static void *producer(void *arg)
{
    struct worker *w = arg;
    uint64_t tail = 0, head_seen = 0;
    unsigned spins = 0;
    start_barrier();
    w->start_ns = now_ns();
    for (long i = 0; i < pairs; i++) {
        uint64_t *o = get_object();
        *o = value(w->id, i);
        while (tail - head_seen == RING_SLOTS) {
            head_seen = atomic_load_explicit(&ring.head, memory_order_acquire);
            if (tail - head_seen == RING_SLOTS)
                pause_or_yield(&spins);
        }
        ring.slot[tail % RING_SLOTS] = o;
        atomic_store_explicit(&ring.tail, ++tail, memory_order_release);
    }
    w->end_ns = now_ns();
    return NULL;
}

static void *consumer(void *arg)
{
    struct worker *w = arg;
    uint64_t head = 0, tail_seen = 0, sum = 0;
    unsigned spins = 0;
    start_barrier();
    w->start_ns = now_ns();
    for (long i = 0; i < pairs; i++) {
        while (head == tail_seen) {
            tail_seen = atomic_load_explicit(&ring.tail, memory_order_acquire);
            if (head == tail_seen)
                pause_or_yield(&spins);
        }
        uint64_t *o = ring.slot[head % RING_SLOTS];
        atomic_store_explicit(&ring.head, ++head, memory_order_release);
        sum += *o;
        put_object(o);
    }
    w->end_ns = now_ns();
    w->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4)
        fail("usage: " NAME " pool|malloc|empty 1t|2t|pc [scale]", NULL);
    if (strcmp(argv[1], "pool") == 0)
        mode = MODE_POOL;
    else if (strcmp(argv[1], "empty") == 0)
        mode = MODE_EMPTY;
    else if (strcmp(argv[1], "malloc") != 0)
        fail("mode must be pool, malloc or empty, got", argv[1]);
    use_pool = mode != MODE_MALLOC;
    const char *scenario = argv[2];
    int pc = strcmp(scenario, "pc") == 0;
    if (strcmp(scenario, "1t") == 0)
        nthreads = 1;
    else if (strcmp(scenario, "2t") == 0 || pc)
        nthreads = 2;
    else
        fail("scenario must be 1t, 2t or pc, got", scenario);
    if (pc && mode == MODE_EMPTY)
        fail("empty mode has one object per thread: 1t or 2t only", NULL);
    double scale = parse_scale(argc - 2, argv + 2, NAME);
    pairs = (long)((pc ? PC_OBJECTS : PAIRS_PER_THREAD) * scale + 0.5);
    if (pairs < 1)
        pairs = 1;

    if (mode == MODE_EMPTY) {
        pool_get = empty_get;
        pool_put = empty_put;
    } else if (mode == MODE_POOL) {
        load_pool_api();
        pa_pool_config_t cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.name = "bench";
        cfg.size = OBJECT_SIZE;
        pool = pool_create(&cfg);
        if (pool == NULL)
            die(NAME, "pa_pool_create failed");
    }

    pthread_t tid[2];
    for (int t = 0; t < nthreads; t++) {
        workers[t].id = t;
        void *(*fn)(void *) = !pc ? loop_thread : t == 0 ? producer : consumer;
        int err = pthread_create(&tid[t], NULL, fn, &workers[t]);
        if (err != 0)
            die(NAME, strerror(err));
    }
    for (int t = 0; t < nthreads; t++)
        pthread_join(tid[t], NULL);

    uint64_t start = workers[0].start_ns, end = workers[0].end_ns, sum = 0;
    for (int t = 0; t < nthreads; t++) {
        start = workers[t].start_ns < start ? workers[t].start_ns : start;
        end = workers[t].end_ns > end ? workers[t].end_ns : end;
        sum += workers[t].sum;
    }
    pa_pool_stats_t st = { 0 };
    if (mode == MODE_POOL) {
        pool_stats(pool, &st);
        pool_destroy(pool);
    }

    /* In pc, producer (id 0) values reach the consumer's sum. */
    long total = pc ? pairs : pairs * nthreads;
    double wall = (double)(end - start);
    printf("ns_per_pair %.3f\n", wall / (double)total);
    printf("pairs_per_sec %.0f\n", (double)total * 1e9 / (wall > 0 ? wall : 1));
    printf("checksum %016" PRIx64 "\n", fold64(mix64(sum), (uint64_t)total));
    if (mode == MODE_POOL)
        printf("pool_hits %" PRIu64 "\npool_misses %" PRIu64 "\npool_steals %" PRIu64 "\n",
               st.hits, st.misses, st.steals);
    return 0;
}
