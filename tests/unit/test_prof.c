/* test_prof.c — the profiler's internals (prof/): the weight of a sample
 * against 1 / (1 - e^(-s/R)), the exponential sample intervals (their mean,
 * rate 1, profiling off), the two together giving unbiased estimates, the
 * stack table (identical frames share one entry, different ones do not, and
 * 4 threads interning the same 1000 stacks at once end with exactly 1000
 * entries: the lock-free insert, under TSan too), the profiler's arena, and a
 * sampled object's header: placed, measured, freed, its stack's counters.
 *
 * These are process globals (pa_options, pa_prof_on, the table). Criterion
 * runs every test in its own process, and each test puts back what it
 * changed; pa_prof_init, which reads the rate, also re-derives the key of
 * sampled objects, harmless here: no sampled object outlives a test. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "poolalloc.h"
#include "prof.h"

#define ULL(x) ((unsigned long long)(x))

/* ---- settings, put back at the end of each test ------------------------------- */

static size_t saved_rate;
static bool saved_on, saved_sampling;

static void save_settings(void)
{
    saved_rate = pa_options.sample_rate;
    saved_on = pa_prof_on;
    saved_sampling = atomic_load(&pa_prof_sampling);
}

static void restore_settings(void)
{
    pa_options.sample_rate = saved_rate;
    pa_prof_init();                           /* rate back, pa_prof_on from pa_options.profile */
    pa_prof_on = saved_on;
    atomic_store(&pa_prof_sampling, saved_sampling);
}

TestSuite(prof, .init = save_settings, .fini = restore_settings);

/* The rate sample.c works with is read by pa_prof_init; sampling switched on
 * (the tests set pa_prof_on themselves). */
static void set_rate(size_t rate)
{
    pa_options.sample_rate = rate;
    pa_prof_init();
    atomic_store(&pa_prof_sampling, true);
}

/* ---- weights --------------------------------------------------------------------- */

/* 1 / (1 - e^(-s/R)) in PA_PROF_ONE units, in long double: for s << R the
 * double 1 - exp() would cancel away most of its digits. */
static long double want_weight(size_t s, size_t rate)
{
    long double x = (long double)(s ? s : 1) / (long double)rate;
    return 1.0L / (1.0L - expl(-x));
}

static void expect_weight(size_t size, size_t rate)
{
    uint64_t space = 0;
    uint64_t w = pa_prof_weight(size, &space);
    long double ww = want_weight(size, rate);
    long double units = ww * (long double)PA_PROF_ONE, bytes = ww * (long double)size;
    long double tol_u = fmaxl(1.0L, units * 1e-9L), tol_b = fmaxl(1.0L, bytes * 1e-9L);
    cr_assert(fabsl((long double)w - units) <= tol_u, "rate %zu, size %zu: weight %llu units, want %.3Lf", rate, size,
              ULL(w), units);
    cr_assert(fabsl((long double)space - bytes) <= tol_b, "rate %zu, size %zu: space %llu, want %.3Lf", rate, size,
              ULL(space), bytes);
}

Test(prof, weight_is_one_over_the_sampling_probability)
{
    static const size_t rates[] = { 512 << 10, 4096, 100, 1 << 30 };
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        size_t rate = rates[r];
        set_rate(rate);
        static const size_t fixed[] = { 1, 24, 4096 };
        for (size_t i = 0; i < 3; i++) expect_weight(fixed[i], rate);
        expect_weight(rate, rate);
        expect_weight(10 * rate, rate);
        expect_weight(rate / 2 + 1, rate);
    }
    /* a few values by hand, at the default rate */
    set_rate(512 << 10);
    uint64_t space;
    cr_assert_eq(pa_prof_weight(512 << 10, &space), 103676, "1 / (1 - 1/e) = 1.581977 objects");
    cr_assert_eq(space, 829411, "1.581977 * 512 KiB");
    cr_assert_eq(pa_prof_weight(10 * (512 << 10), &space), 65539, "1 / (1 - e^-10) = 1.0000454");
    uint64_t w1 = pa_prof_weight(1, &space);
    cr_assert(w1 > (uint64_t)524288 * PA_PROF_ONE && w1 < (uint64_t)524289 * PA_PROF_ONE,
              "a 1-byte sample stands for R + 1/2 objects: %llu", ULL(w1));
    cr_assert_eq(space, 524288 + 1, "and for as many bytes, rounded: %llu", ULL(space));
}

Test(prof, weight_falls_with_size_and_never_below_one)
{
    set_rate(64 << 10);
    uint64_t prev = UINT64_MAX, space;
    for (size_t s = 1; s < (size_t)(64 << 10) * 40; s = s * 3 / 2 + 1) {
        uint64_t w = pa_prof_weight(s, &space);
        cr_assert_leq(w, prev, "size %zu weighs more than a smaller one", s);
        cr_assert_geq(w, PA_PROF_ONE, "size %zu weighs less than one object", s);
        cr_assert_geq(space, s, "size %zu: space %llu is less than the object", s, ULL(space));
        prev = w;
    }
    cr_assert_eq(pa_prof_weight((size_t)(64 << 10) * 100, &space), PA_PROF_ONE, "huge: exactly one object");
}

Test(prof, weight_at_rate_1_is_exactly_one_object)
{
    set_rate(1);
    static const size_t sizes[] = { 1, 24, 4096, 100000, (size_t)3 << 20, (size_t)1 << 40 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t space = 0;
        cr_assert_eq(pa_prof_weight(sizes[i], &space), PA_PROF_ONE, "size %zu", sizes[i]);
        cr_assert_eq(space, sizes[i], "size %zu: space %llu", sizes[i], ULL(space));
    }
}

/* ---- intervals ------------------------------------------------------------------- */

Test(prof, interval_mean_is_the_rate_and_exponential)
{
    static const size_t rates[] = { 512 << 10, 4096, 3 };
    enum { N = 200000 };
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        size_t rate = rates[r];
        set_rate(rate);
        pa_prof_on = true;
        uint64_t rng = 0x1234567u + r;
        double sum = 0;
        size_t above = 0, zero = 0;
        int64_t max = 0;
        for (size_t i = 0; i < N; i++) {
            int64_t x = pa_prof_interval(&rng);
            cr_assert_geq(x, 0, "negative interval %lld", (long long)x);
            cr_assert_lt(x, PA_PROF_NEVER);
            sum += (double)x;
            above += (double)x >= (double)rate;
            zero += x == 0;
            if (x > max) max = x;
        }
        double mean = sum / N;
        /* the mean of N exponentials has sd rate/sqrt(N) = 0.22%: 2% is > 9 sd;
         * truncation to integers takes ~0.5 off small rates */
        cr_assert(fabs(mean + (rate < 100 ? 0.5 : 0) - (double)rate) < 0.02 * (double)rate,
                  "rate %zu: mean interval %.1f", rate, mean);
        /* P(X >= R) = 1/e = 0.3679 (sd 0.0011 over N) */
        double frac = (double)above / N;
        if (rate >= 100) cr_assert(fabs(frac - 0.36788) < 0.01, "rate %zu: %.4f of the intervals >= the rate", rate, frac);
        cr_assert_gt((double)max, 8.0 * (double)rate, "rate %zu: the longest of %d intervals is %lld", rate, N,
                     (long long)max);
        if (rate >= 4096) cr_assert_lt(zero, N / 1000, "rate %zu: %zu intervals of 0", rate, zero);
    }
}

Test(prof, interval_draws_are_independent_of_the_seed_value)
{
    /* a zero seed (a fresh heap's) still draws; two seeds give two sequences */
    set_rate(4096);
    pa_prof_on = true;
    uint64_t a = 0, b = 1;
    int64_t xa[8], xb[8];
    size_t same = 0;
    for (int i = 0; i < 8; i++) {
        xa[i] = pa_prof_interval(&a);
        xb[i] = pa_prof_interval(&b);
        same += xa[i] == xb[i];
    }
    cr_assert_neq(a, 0, "the seed was not advanced");
    cr_assert_lt(same, 8, "seeds 0 and 1 draw the same intervals");
    cr_assert(xa[0] != xa[1] || xa[1] != xa[2], "the same interval again and again");
}

Test(prof, interval_is_zero_at_rate_1_and_never_when_off)
{
    uint64_t rng = 42;
    set_rate(1);
    pa_prof_on = true;
    for (int i = 0; i < 1000; i++) cr_assert_eq(pa_prof_interval(&rng), 0);
    pa_prof_on = false;
    for (int i = 0; i < 1000; i++) cr_assert_eq(pa_prof_interval(&rng), PA_PROF_NEVER);
    set_rate(4096);
    pa_prof_on = false;
    cr_assert_eq(pa_prof_interval(&rng), PA_PROF_NEVER);
    pa_prof_on = true;                        /* ready, but sampling switched off */
    atomic_store(&pa_prof_sampling, false);
    for (int i = 0; i < 1000; i++) cr_assert_eq(pa_prof_interval(&rng), PA_PROF_NEVER);
    atomic_store(&pa_prof_sampling, true);
    cr_assert_neq(pa_prof_interval(&rng), PA_PROF_NEVER);
}

/* The heap's countdown (cycle.c) with these intervals and weights: n
 * allocations of s bytes each; the weights of those sampled add up to n. */
static double estimate(size_t s, size_t n, uint64_t seed, size_t *samples)
{
    uint64_t rng = seed;
    int64_t left = pa_prof_interval(&rng);
    double total = 0;
    *samples = 0;
    for (size_t i = 0; i < n; i++) {
        left -= (int64_t)s;
        if (left < 0) {
            uint64_t space;
            total += (double)pa_prof_weight(s, &space) / PA_PROF_ONE;
            (*samples)++;
            left = pa_prof_interval(&rng);
        }
    }
    return total;
}

Test(prof, sampled_weights_estimate_the_allocation_count)
{
    size_t rate = 4096;
    set_rate(rate);
    pa_prof_on = true;
    static const size_t sizes[] = { 16, 100, 1000, 4096, 20000, 100000 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t s = sizes[i], n = 400000, k;
        double est = estimate(s, n, 99 + i, &k);
        /* sd of the estimate: about n / sqrt(samples) */
        double tol = 6.0 * (double)n / sqrt((double)k) + 1;
        cr_assert(fabs(est - (double)n) < tol, "size %zu: %zu samples estimate %.0f allocations of %zu", s, k, est, n);
        double p = -expm1(-(double)s / (double)rate);
        cr_assert(fabs((double)k - p * (double)n) < 6.0 * sqrt(p * (double)n) + 1,
                  "size %zu: %zu samples, want about %.0f", s, k, p * (double)n);
    }
}

/* ---- the stack table --------------------------------------------------------------- */

static void count_entry(const pa_prof_stack_t *st, void *arg)
{
    (void)st;
    (*(size_t *)arg)++;
}

static size_t table_entries(void)
{
    size_t n = 0;
    pa_prof_stacks_foreach(count_entry, &n);
    return n;
}

/* A distinct, plausible stack for each i: depth 1..64, addresses apart. */
static uint32_t make_frames(size_t i, void **f)
{
    uint32_t depth = (uint32_t)(1 + i % PA_PROF_MAX_FRAMES);
    for (uint32_t k = 0; k < depth; k++) f[k] = (void *)(uintptr_t)(0x400000u + i * 0x1000u + k * 0x10u + 1);
    return depth;
}

Test(prof, identical_frames_share_an_entry_and_different_ones_do_not)
{
    void *a[8] = { (void *)0x401000, (void *)0x402000, (void *)0x403000, (void *)0x404000 };
    void *b[8];
    memcpy(b, a, sizeof a);                   /* the same frames in another buffer */
    pa_prof_stack_t *ea = pa_prof_stack_intern(a, 4), *eb = pa_prof_stack_intern(b, 4);
    cr_assert_not_null(ea);
    cr_assert_eq(ea, eb, "the same frames got two entries");
    cr_assert_eq(ea->depth, 4);
    cr_assert_neq(ea->hash, 0);
    cr_assert_eq(memcmp(ea->frames, a, 4 * sizeof(void *)), 0, "frames not copied");
    cr_assert_neq((void *)ea->frames, (void *)a, "the entry keeps the caller's buffer");

    pa_prof_stack_t *prefix = pa_prof_stack_intern(a, 3);
    cr_assert_neq(prefix, ea, "a prefix of a stack is another stack");
    cr_assert_eq(prefix->depth, 3);
    b[3] = (void *)0x404001;
    pa_prof_stack_t *last = pa_prof_stack_intern(b, 4);
    cr_assert_neq(last, ea, "stacks differing in their last frame share an entry");
    void *swapped[4] = { a[1], a[0], a[2], a[3] };
    pa_prof_stack_t *sw = pa_prof_stack_intern(swapped, 4);
    cr_assert(sw != ea && sw != last && sw != prefix, "frame order ignored");
    cr_assert_eq(pa_prof_stack_intern(a, 4), ea, "lookup after other inserts");
    cr_assert_eq(table_entries(), 4, "4 distinct stacks");

    /* no frames: the shared frameless entry, not in the table */
    pa_prof_stack_t *none = pa_prof_stack_intern(a, 0);
    cr_assert_not_null(none);
    cr_assert_eq(none->depth, 0);
    cr_assert_eq(pa_prof_stack_intern(b, 0), none);
    cr_assert_eq(table_entries(), 4);
}

Test(prof, many_distinct_stacks_each_get_one_entry)
{
    enum { N = 5000 };
    static pa_prof_stack_t *e[N];
    void *f[PA_PROF_MAX_FRAMES];
    size_t before = table_entries();
    for (size_t i = 0; i < N; i++) {
        uint32_t d = make_frames(i, f);
        e[i] = pa_prof_stack_intern(f, d);
        cr_assert_not_null(e[i]);
        cr_assert_eq(e[i]->depth, d);
    }
    for (size_t i = 0; i < N; i++) {
        uint32_t d = make_frames(i, f);
        cr_assert_eq(pa_prof_stack_intern(f, d), e[i], "stack %zu: a second entry", i);
        cr_assert_eq(memcmp(e[i]->frames, f, d * sizeof(void *)), 0, "stack %zu: frames", i);
    }
    cr_assert_eq(table_entries() - before, N);
    cr_assert_gt(pa_prof_memory(), (size_t)N * sizeof(pa_prof_stack_t), "the entries' memory is not counted");
}

enum { THREADS = 4, STACKS = 1000, ROUNDS = 4 };   /* 4 rounds: TSan catches a lost insert */

typedef struct intern_arg {
    size_t id, base;
    pthread_barrier_t *go;
    pa_prof_stack_t *got[STACKS];
} intern_arg_t;

static void *intern_all(void *p)
{
    intern_arg_t *a = p;
    void *f[PA_PROF_MAX_FRAMES];
    pthread_barrier_wait(a->go);
    for (size_t round = 0; round < 2; round++)
        for (size_t k = 0; k < STACKS; k++) {
            /* each thread in its own order: two forwards from different
             * starting points, two backwards */
            size_t i = a->id % 2 ? STACKS - 1 - (k + a->id * 250) % STACKS : (k + a->id * 250) % STACKS;
            uint32_t d = make_frames(a->base + i, f);
            pa_prof_stack_t *e = pa_prof_stack_intern(f, d);
            if (round == 0) a->got[i] = e;
            else if (a->got[i] != e) a->got[i] = NULL;   /* changed its mind: reported below */
            atomic_fetch_add_explicit(&e->alloc_objects, 1, memory_order_relaxed);
        }
    return NULL;
}

Test(prof, four_threads_interning_the_same_stacks_end_with_one_entry_each)
{
    static intern_arg_t args[THREADS];
    for (size_t rep = 0; rep < ROUNDS; rep++) {
        size_t base = rep * STACKS;           /* the table only fills: each round other stacks */
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, THREADS);
        pthread_t t[THREADS];
        size_t before = table_entries();
        for (size_t i = 0; i < THREADS; i++) {
            memset(&args[i], 0, sizeof args[i]);
            args[i].id = i;
            args[i].base = base;
            args[i].go = &go;
            cr_assert_eq(pthread_create(&t[i], NULL, intern_all, &args[i]), 0);
        }
        for (size_t i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        size_t added = table_entries() - before;
        cr_assert_eq(added, STACKS, "round %zu: %zu entries for %d distinct stacks", rep, added, STACKS);
        void *f[PA_PROF_MAX_FRAMES];
        for (size_t i = 0; i < STACKS; i++) {
            pa_prof_stack_t *e = args[0].got[i];
            cr_assert_not_null(e, "stack %zu: thread 0 got two different entries", i);
            for (size_t k = 1; k < THREADS; k++)
                cr_assert_eq(args[k].got[i], e, "stack %zu: threads 0 and %zu got different entries", i, k);
            uint32_t d = make_frames(base + i, f);
            cr_assert_eq(e->depth, d);
            cr_assert_eq(memcmp(e->frames, f, d * sizeof(void *)), 0, "stack %zu: frames", i);
            cr_assert_eq(pa_prof_stack_intern(f, d), e);
            /* every thread's count landed on the one entry */
            cr_assert_eq(atomic_load(&e->alloc_objects), (uint64_t)THREADS * 2, "stack %zu: count %llu", i,
                         ULL(atomic_load(&e->alloc_objects)));
        }
        for (size_t i = 0; i < STACKS; i++)
            for (size_t j = i + 1; j < STACKS; j++)
                cr_assert_neq(args[0].got[i], args[0].got[j], "stacks %zu and %zu share an entry", i, j);
    }
}

/* ---- the arena ----------------------------------------------------------------------- */

Test(prof, arena_hands_out_aligned_disjoint_memory)
{
    size_t mem0 = pa_prof_memory();
    static const size_t sizes[] = { 1, 8, 24, 100, 4096, 5000, (size_t)1 << 20, ((size_t)1 << 20) + 1, 3 << 20, 40 };
    enum { NS = sizeof sizes / sizeof sizes[0] };
    uint8_t *p[NS];
    for (size_t i = 0; i < NS; i++) {
        p[i] = pa_prof_arena_alloc(sizes[i]);
        cr_assert_not_null(p[i], "arena_alloc(%zu)", sizes[i]);
        cr_assert_eq((uintptr_t)p[i] % 16, 0, "arena_alloc(%zu) = %p", sizes[i], (void *)p[i]);
        memset(p[i], (int)i + 1, sizes[i]);
    }
    for (size_t i = 0; i < NS; i++)
        for (size_t k = 0; k < sizes[i]; k += sizes[i] / 7 + 1)
            cr_assert_eq(p[i][k], (uint8_t)(i + 1), "arena blocks %zu and another overlap", i);
    cr_assert_geq(pa_prof_memory(), mem0 + (5u << 20), "the arena's mappings are not counted");
}

/* ---- sampled objects ------------------------------------------------------------------ */

/* A block for size bytes (aligned), made a sampled object as the slow path
 * would, checked and freed; the stack's counters in and out. */
static void round_trip(size_t size, size_t align)
{
    pa_heap_t *h = pa_tl_heap;
    void *p = align ? pa_memalign(align, size) : pa_malloc(size);
    cr_assert_not_null(p);
    uint8_t *o = pa_prof_sample(h, p, size, align);
    cr_assert_not_null(o);
    cr_assert_neq(pa_prof_offset(o), 0, "size %zu: not made a sampled object", size);
    /* only a huge block of default alignment keeps its place: its profile
     * header goes into the mapping's header (pa_huge_room_before) */
    if ((void *)o == p)
        cr_assert(size > PA_LARGE_MAX && align <= 256, "size %zu align %zu: sampled in place", size, align);
    if (align) cr_assert_eq((uintptr_t)o % align, 0, "size %zu: %p is not %zu-aligned", size, (void *)o, align);
    cr_assert_eq((uintptr_t)o % 16, 0);
    cr_assert_eq(pa_block_size(o), 0, "size %zu align %zu: a sampled object looks like a block start (block %zu, offset %zu)", size, align, pa_block_size(o), pa_prof_offset(o));
    size_t u = pa_prof_usable(o);
    cr_assert_geq(u, size, "size %zu: usable %zu", size, u);
    cr_assert_eq(pa_usable_size(o), u);
    cr_assert_eq(pa_prof_offset(o) % 16, 0);
    cr_assert_geq(pa_prof_offset(o), sizeof(pa_prof_hdr_t));
    memset(o, 0xab, u);                       /* all of it is the program's */
    pa_prof_hdr_t *hd = (pa_prof_hdr_t *)o - 1;
    pa_prof_stack_t *st = hd->stack;
    cr_assert_not_null(st);
    uint64_t ao = atomic_load(&st->alloc_objects), fo = atomic_load(&st->free_objects);
    uint64_t as = atomic_load(&st->alloc_space), fs = atomic_load(&st->free_space);
    cr_assert_geq(ao - fo, hd->objects, "size %zu: the allocation is not counted", size);
    cr_assert_geq(as - fs, hd->space);
    uint64_t space;
    uint64_t objects = hd->objects, bytes = hd->space;   /* the header is the block's: gone after the free */
    cr_assert_eq(objects, pa_prof_weight(size, &space));
    cr_assert_eq(bytes, space);
    cr_assert(pa_prof_free(o), "size %zu: pa_prof_free does not know its own object", size);
    cr_assert_eq(atomic_load(&st->free_objects), fo + objects, "size %zu: the free is not counted", size);
    cr_assert_eq(atomic_load(&st->free_space), fs + bytes);
    cr_assert_eq(atomic_load(&st->alloc_objects), ao);
    cr_assert_eq(atomic_load(&st->alloc_space), as);
}

Test(prof, sampled_object_round_trip)
{
    set_rate(512 << 10);
    pa_prof_on = true;
    pa_free(pa_malloc(16));                   /* this thread has a heap */
    static const size_t sizes[] = { 1, 16, 100, 1000, 5000, 70000, 131072, 200000, (size_t)2 << 20,
                                    ((size_t)3 << 20) - 272, (size_t)3 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        round_trip(sizes[i], 0);
        for (size_t al = 32; al <= 4096; al *= 2) round_trip(sizes[i], al);
    }
    pa_prof_on = false;
}

/* A realloc that moves gives the block a quarter more room (alloc.c), but the
 * profile counts what the program asked for: at rate 1 the new object's
 * space is the requested size, while its usable size is the room it got, as
 * it would be unprofiled. */
Test(prof, realloc_room_is_not_counted_as_requested)
{
    set_rate(1);
    pa_prof_on = true;
    pa_free(pa_malloc(16));                   /* this thread has a heap */
    uint8_t *p = pa_malloc(1000);
    size_t had = pa_usable_size(p);
    uint8_t *q = pa_realloc(p, had + 8);
    cr_assert_neq(pa_prof_offset(q), 0, "setup: the moved object was not sampled at rate 1");
    pa_prof_hdr_t *hd = (pa_prof_hdr_t *)q - 1;
    cr_assert_eq(hd->space, had + 8, "the profile counts %llu bytes for a request of %zu",
                 (unsigned long long)hd->space, had + 8);
    cr_assert_geq(pa_usable_size(q), had + had / 4, "usable %zu, had %zu", pa_usable_size(q), had);
    pa_free(q);
    pa_prof_on = false;
}

/* A sampled huge object's profile header goes into its mapping's own header:
 * the mapping keeps the size the request would get unsampled (whole 2 MiB
 * pages here), the object its address and usable size; realloc grows it by
 * whole huge pages, and free gives the mapping back to the cache. */
Test(prof, sampled_huge_object_keeps_its_mapping)
{
    set_rate(1);
    pa_prof_on = true;
    pa_free(pa_malloc(16));                   /* this thread has a heap */
    const size_t MiB = (size_t)1 << 20, want = 4 * MiB - 512;
    uint8_t *p = pa_calloc(1, want);
    cr_assert_neq(pa_prof_offset(p), 0, "setup: not sampled at rate 1");
    pa_segment_t *s = pa_segment_of(p);
    cr_assert_eq(p - (uint8_t *)s, 512, "the object moved %td bytes into its mapping", p - (uint8_t *)s);
    cr_assert_eq(s->map_size, 4 * MiB, "a sampled %zu-byte object has a %zu-byte mapping", want, s->map_size);
    cr_assert_eq(pa_usable_size(p), want);
    for (size_t i = 0; i < want; i += 4096) cr_assert_eq(p[i], 0, "calloc byte %zu", i);
    memset(p, 0x5a, want);
    uint8_t *q = pa_realloc(p, 6 * MiB - 512);
    pa_segment_t *t = pa_segment_of(q);
    cr_assert_eq(t->map_size % (2 * MiB), 0, "grown to a %zu-byte mapping", t->map_size);
    for (size_t i = 0; i < want; i += 4096) cr_assert_eq(q[i], 0x5a, "byte %zu after realloc", i);
    pa_free(q);
    pa_prof_on = false;
}

Test(prof, pointers_that_are_not_sampled_objects_are_not_taken)
{
    set_rate(512 << 10);
    pa_prof_on = true;
    uint8_t *p = pa_malloc(1000);
    memset(p, 0, 1000);
    cr_assert_not(pa_prof_free(p + 64), "an interior pointer of a plain block taken for a sampled object");
    cr_assert_not(pa_prof_free(p + 8));
    cr_assert_eq(pa_prof_usable(p + 64), 0);
    static uint8_t not_ours[4096] __attribute__((aligned(64)));
    cr_assert_not(pa_prof_free(not_ours + 256));
    pa_free(p);
    pa_prof_on = false;
}

Test(prof, double_free_of_a_sampled_object_is_fatal, .signal = SIGABRT)
{
    set_rate(512 << 10);
    pa_prof_on = true;
    pa_free(pa_malloc(16));
    void *p = pa_malloc(200);
    uint8_t *o = pa_prof_sample(pa_tl_heap, p, 200, 0);
    cr_assert_neq((void *)o, p);
    cr_assert(pa_prof_free(o));
    pa_prof_free(o);                          /* dies: free(): double free */
    cr_assert_fail("a double free of a sampled object went through");
}
