/* test_profile.c — sampled allocation profiling (POOLALLOC_PROFILE) as a
 * program sees it: with every allocation sampled (POOLALLOC_SAMPLE_RATE=1)
 * every entry point still works on sampled objects (contents, zeroing,
 * alignment, usable size, frees from other threads, blocks up to 64 MiB) and
 * double or interior frees of them die with the usual message; the profile
 * written at exit holds exactly what was left allocated; pa_profile_dump,
 * POOLALLOC_PROFILE_INTERVAL (bytes and time), POOLALLOC_PROFILE_SIGNAL and
 * fork write the files they should, under the names they should; every file
 * is complete (last line `end N`, N = its stack lines) and no temporary file
 * is left; bad settings get one line and the default.
 *
 * Settings are read once at process start, so each scenario execs this test
 * binary again with exactly the environment it needs and PL_PROFILE_CHILD
 * naming the scenario (PL_PROFILE_DIR: the test's fresh temporary directory);
 * a constructor runs it before Criterion starts and ends the process with
 * exit() (not _exit: the profile at exit is written by a destructor).
 *
 * The scenarios allocate through the site_* functions, which live in their own
 * section (pl_prof_site); the child prints that section's bounds and the
 * parent counts what the profile attributes to stacks whose innermost frame
 * lies there, so the libc and loader allocations of the process do not blur
 * exact totals. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "poolalloc.h"
#include "pl_util.h"

#define CHILD_VAR "PL_PROFILE_CHILD"
#define DIR_VAR   "PL_PROFILE_DIR"
#define DEFAULT_RATE 524288ull

/* C++ operators, exported by poolalloc under their mangled names. */
extern void *_Znwm(size_t);
extern void *_Znam(size_t);
extern void *_ZnwmRKSt9nothrow_t(size_t, const void *);
extern void *_ZnwmSt11align_val_t(size_t, size_t);
extern void _ZdlPv(void *);
extern void _ZdaPv(void *);
extern void _ZdlPvm(void *, size_t);
extern void _ZdlPvSt11align_val_t(void *, size_t);
extern void _ZdlPvmSt11align_val_t(void *, size_t, size_t);

/* ---- allocation sites (in the child) ------------------------------------------- */

#define SITE __attribute__((noinline, section("pl_prof_site")))
extern const char __start_pl_prof_site[], __stop_pl_prof_site[];

/* pl_launder after the call: never a tail call, so the return address that
 * the profile records lies inside the site. */
SITE static void *site_malloc(size_t n) { return pl_launder(malloc(pl_size(n))); }
SITE static void *site_calloc(size_t c, size_t n) { return pl_launder(calloc(pl_size(c), n)); }
SITE static void *site_realloc(void *p, size_t n) { return pl_launder(realloc(p, pl_size(n))); }
SITE static void *site_aligned_alloc(size_t al, size_t n) { return pl_launder(aligned_alloc(al, pl_size(n))); }
SITE static void *site_memalign(size_t al, size_t n) { return pl_launder(memalign(al, pl_size(n))); }
SITE static void *site_valloc(size_t n) { return pl_launder(valloc(pl_size(n))); }
SITE static void *site_posix_memalign(size_t al, size_t n)
{
    void *p = NULL;
    int r = posix_memalign(&p, al, pl_size(n));
    return pl_launder(r ? NULL : p);
}
SITE static void *site_new(size_t n) { return pl_launder(_Znwm(pl_size(n))); }
SITE static void *site_new_array(size_t n) { return pl_launder(_Znam(pl_size(n))); }
SITE static void *site_new_nothrow(size_t n) { return pl_launder(_ZnwmRKSt9nothrow_t(pl_size(n), NULL)); }
SITE static void *site_new_aligned(size_t n, size_t al) { return pl_launder(_ZnwmSt11align_val_t(pl_size(n), al)); }

/* ---- the scenarios (in the child) ---------------------------------------------- */

static const char *child_dir(void)
{
    const char *d = getenv(DIR_VAR);
    return d ? d : "/nonexistent";
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    dprintf(2, "child: FAIL %s\n", buf);
    _exit(4);
}

#define CHECK(cond, ...) do { if (!(cond)) fail(__VA_ARGS__); } while (0)

/* Tells the parent how many allocations went through the sites, and the
 * sites' addresses. */
static unsigned long long site_calls;

static void say_site(void)
{
    dprintf(2, "child: site %p %p\n", (void *)__start_pl_prof_site, (void *)__stop_pl_prof_site);
}

static void done(void)
{
    dprintf(2, "child: site calls %llu\n", site_calls);
    dprintf(2, "child: done\n");
}

/* A usable object of at least n bytes: fills all of it (seed) and returns
 * its usable size. */
static size_t take(void *p, size_t n, unsigned seed, const char *what)
{
    CHECK(p, "%s(%zu) returned NULL", what, n);
    size_t u = malloc_usable_size(p);
    CHECK(u >= n, "%s(%zu) = %p: usable size %zu", what, n, p, u);
    pl_fill(p, u, seed);
    return u;
}

static const size_t sizes[] = {
    1, 8, 16, 24, 40, 48, 100, 128, 1000, 1024, 4096, 5000, 70000, 130000, 200000,
    PL_MIB, 2 * PL_MIB, 3 * PL_MIB - 272, 3 * PL_MIB, 64 * PL_MIB,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* malloc, usable size, all of it writable, no two objects overlapping, free. */
static void scenario_malloc(void)
{
    void *p[NSIZES][2];
    size_t u[NSIZES][2];
    for (size_t i = 0; i < NSIZES; i++)
        for (size_t k = 0; k < 2; k++) {
            p[i][k] = site_malloc(sizes[i]);
            site_calls++;
            u[i][k] = take(p[i][k], sizes[i], (unsigned)(2 * i + k), "malloc");
            CHECK(pl_aligned(p[i][k], 16), "malloc(%zu) = %p is not 16-aligned", sizes[i], p[i][k]);
        }
    for (size_t i = 0; i < NSIZES; i++)
        for (size_t k = 0; k < 2; k++)
            CHECK(pl_check(p[i][k], u[i][k], (unsigned)(2 * i + k)), "malloc(%zu) = %p: contents changed", sizes[i],
                  p[i][k]);
    for (size_t i = 0; i < NSIZES; i++) {
        free(p[i][0]);
        free(p[i][1]);
    }
}

/* calloc over memory that was just dirtied: small, large, and > 2 MiB (the
 * freed huge mappings are cached dirty and reused). */
static void scenario_calloc(void)
{
    static const size_t cs[] = { 1, 24, 100, 1000, 5000, 70000, 200000, PL_MIB, 3 * PL_MIB - 272, 3 * PL_MIB,
                                 5 * PL_MIB, 9 * PL_MIB };
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
            void *d = site_malloc(cs[i]);
            site_calls++;
            CHECK(d, "malloc(%zu) returned NULL", cs[i]);
            memset(d, 0xff, malloc_usable_size(d));
            free(d);
            unsigned char *z = site_calloc(1, cs[i]);
            site_calls++;
            CHECK(z, "calloc(1, %zu) returned NULL", cs[i]);
            CHECK(malloc_usable_size(z) >= cs[i], "calloc(1, %zu): usable %zu", cs[i], malloc_usable_size(z));
            CHECK(pl_all_zero(z, cs[i]), "calloc(1, %zu) = %p does not read as zero", cs[i], (void *)z);
            memset(z, 0xee, cs[i]);
            free(z);
        }
    unsigned char *z = site_calloc(3, PL_MIB + 16);
    site_calls++;
    CHECK(z && pl_all_zero(z, 3 * (PL_MIB + 16)), "calloc(3, 1 MiB + 16) does not read as zero");
    free(z);
}

/* A chain of reallocs up and down, contents checked at every step. */
static void scenario_realloc(void)
{
    static const size_t chain[] = { 16, 100, 90, 1000, 5000, 70000, 200000, 150000, 3 * PL_MIB, 8 * PL_MIB,
                                    300000, 2000, 24, 8, 1, 4096, 3 * PL_MIB - 272, 3 * PL_MIB + 5000 };
    for (unsigned rep = 0; rep < 2; rep++) {
        unsigned char *p = site_malloc(chain[0]);
        site_calls++;
        take(p, chain[0], rep * 100, "malloc");
        size_t have = chain[0];
        for (size_t i = 1; i < sizeof chain / sizeof chain[0]; i++) {
            unsigned char *q = site_realloc(p, chain[i]);
            CHECK(q, "realloc(%p, %zu) returned NULL", (void *)p, chain[i]);
            size_t keep = have < chain[i] ? have : chain[i];
            CHECK(pl_check(q, keep, (unsigned)(i - 1 + rep * 100)), "realloc %zu -> %zu: contents not preserved", have,
                  chain[i]);
            take(q, chain[i], (unsigned)(i + rep * 100), "realloc");
            p = q;
            have = chain[i];
        }
        free(p);
    }
    void *r = site_realloc(NULL, 500);       /* realloc(NULL) is malloc */
    site_calls++;
    take(r, 500, 7, "realloc(NULL)");
    CHECK(realloc(r, 0) == NULL, "realloc(p, 0) did not free");
}

/* posix_memalign, aligned_alloc, memalign and valloc: aligned, usable,
 * writable, no overlap. */
static void scenario_aligned(void)
{
    static const size_t as[] = { 1, 24, 100, 1000, 5000, 70000, 200000, 3 * PL_MIB };
    enum { NA = 8, NS = sizeof as / sizeof as[0], NF = 3 };
    static void *p[NA][NS][NF];
    static size_t u[NA][NS][NF];
    for (size_t a = 0; a < NA; a++) {
        size_t al = (size_t)32 << a;           /* 32 .. 4096 */
        for (size_t s = 0; s < NS; s++)
            for (size_t f = 0; f < NF; f++) {
                void *q = f == 0 ? site_posix_memalign(al, as[s]) : f == 1 ? site_aligned_alloc(al, as[s])
                                                                           : site_memalign(al, as[s]);
                site_calls++;
                static const char *name[] = { "posix_memalign", "aligned_alloc", "memalign" };
                CHECK(q, "%s(%zu, %zu) failed", name[f], al, as[s]);
                CHECK(pl_aligned(q, al), "%s(%zu, %zu) = %p is not aligned", name[f], al, as[s], q);
                p[a][s][f] = q;
                u[a][s][f] = take(q, as[s], (unsigned)(a * 100 + s * 10 + f), name[f]);
            }
    }
    void *v = site_valloc(3000);
    site_calls++;
    CHECK(v && pl_aligned(v, 4096), "valloc(3000) = %p", v);
    take(v, 3000, 999, "valloc");
    for (size_t a = 0; a < NA; a++)
        for (size_t s = 0; s < NS; s++)
            for (size_t f = 0; f < NF; f++)
                CHECK(pl_check(p[a][s][f], u[a][s][f], (unsigned)(a * 100 + s * 10 + f)),
                      "aligned object %zu/%zu/%zu: contents changed", a, s, f);
    for (size_t a = 0; a < NA; a++)
        for (size_t s = 0; s < NS; s++)
            for (size_t f = 0; f < NF; f++) free(p[a][s][f]);
    CHECK(pl_check(v, 3000, 999), "valloc'd contents changed");
    free(v);
}

/* operator new and delete: plain, array, nothrow, sized, aligned. */
static void scenario_cxx(void)
{
    static const size_t ns[] = { 1, 100, 5000, 200000, 3 * PL_MIB };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        size_t n = ns[i];
        void *a = site_new(n), *b = site_new_array(n), *c = site_new_nothrow(n), *d = site_new(n);
        site_calls += 4;
        size_t ua = take(a, n, 1, "new"), ub = take(b, n, 2, "new[]"), uc = take(c, n, 3, "new(nothrow)");
        take(d, n, 4, "new");
        CHECK(pl_check(a, ua, 1) && pl_check(b, ub, 2) && pl_check(c, uc, 3), "new'd objects overlap (size %zu)", n);
        _ZdlPv(a);
        _ZdaPv(b);
        _ZdlPv(c);
        _ZdlPvm(d, n);
        for (size_t al = 32; al <= 4096; al *= 2) {
            void *e = site_new_aligned(n, al), *f = site_new_aligned(n, al);
            site_calls += 2;
            CHECK(pl_aligned(e, al) && pl_aligned(f, al), "new(%zu, align %zu) = %p, %p", n, al, e, f);
            take(e, n, 5, "new(align)");
            take(f, n, 6, "new(align)");
            _ZdlPvSt11align_val_t(e, al);
            _ZdlPvmSt11align_val_t(f, n, al);
        }
    }
}

/* Sampled objects crossing threads: allocated here and freed, resized and
 * measured there, allocated by a thread that exits and freed here, and a
 * ring of threads each freeing what the previous one allocated. */
enum { XN = 48, RING = 4, RING_ROUNDS = 400 };

static size_t cross_size(size_t i)
{
    static const size_t s[] = { 24, 100, 1000, 5000, 70000, 200000, 3 * PL_MIB };
    return s[i % (sizeof s / sizeof s[0])] + i;
}

static void *free_others(void *arg)
{
    void **objs = arg;
    for (size_t i = 0; i < XN; i++) {
        size_t n = cross_size(i);
        CHECK(malloc_usable_size(objs[i]) >= n, "usable size from another thread");
        CHECK(pl_check(objs[i], n, (unsigned)i), "contents seen from another thread");
        if (i % 2) {                          /* grow or shrink here, then free */
            size_t m = i % 4 == 1 ? 2 * n + 100 : n / 3 + 1;
            unsigned char *q = site_realloc(objs[i], m);
            CHECK(q && pl_check(q, m < n ? m : n, (unsigned)i), "realloc from another thread");
            memset(q, 0x11, m);
            objs[i] = q;
        }
        free(objs[i]);
    }
    return NULL;
}

static void *alloc_and_exit(void *arg)
{
    void **objs = arg;
    for (size_t i = 0; i < XN; i++) {
        objs[i] = site_malloc(cross_size(i));
        CHECK(objs[i], "malloc in a thread");
        pl_fill(objs[i], cross_size(i), (unsigned)i);
    }
    return NULL;
}

static _Atomic(void *) ring_slot[RING];

static void *ring_member(void *arg)
{
    size_t me = (size_t)arg, next = (me + 1) % RING;
    for (size_t r = 0; r < RING_ROUNDS; r++) {
        size_t n = 16 + (r * 37 + me * 11) % 3000;
        unsigned char *p = site_malloc(n);
        CHECK(p, "malloc in the ring");
        memset(p, (int)me, n);
        while (atomic_load(&ring_slot[next])) sched_yield();   /* the next one has not taken the last yet */
        atomic_store(&ring_slot[next], p);
        unsigned char *mine;
        while (!(mine = atomic_exchange(&ring_slot[me], NULL))) sched_yield();
        CHECK(malloc_usable_size(mine) >= 16, "ring object usable size");
        free(mine);
    }
    return NULL;
}

static void scenario_threads(void)
{
    void *objs[XN];
    for (size_t i = 0; i < XN; i++) {
        objs[i] = site_malloc(cross_size(i));
        CHECK(objs[i], "malloc");
        pl_fill(objs[i], cross_size(i), (unsigned)i);
    }
    site_calls += XN;
    pthread_t t;
    CHECK(!pthread_create(&t, NULL, free_others, objs), "pthread_create");
    pthread_join(t, NULL);
    CHECK(!pthread_create(&t, NULL, alloc_and_exit, objs), "pthread_create");
    pthread_join(t, NULL);
    site_calls += XN;
    for (size_t i = 0; i < XN; i++) {
        CHECK(pl_check(objs[i], cross_size(i), (unsigned)i), "contents of an exited thread's object");
        free(objs[i]);
    }
    pthread_t ring[RING];
    for (size_t i = 0; i < RING; i++) CHECK(!pthread_create(&ring[i], NULL, ring_member, (void *)i), "pthread_create");
    for (size_t i = 0; i < RING; i++) pthread_join(ring[i], NULL);
    for (size_t i = 0; i < RING; i++) {       /* the last round's objects */
        void *p = atomic_exchange(&ring_slot[i], NULL);
        free(p);
    }
    site_calls += RING * RING_ROUNDS;
}

/* Known blocks, some freed, the rest left allocated at exit: the profile at
 * exit must hold exactly those. */
static void scenario_totals(void)
{
    enum { N = 300 };
    unsigned long long ao = 0, as = 0, io = 0, is = 0;
    for (size_t i = 0; i < N; i++) {
        size_t n = i % 60 == 7 ? 3 * PL_MIB + i : 1 + (i * 7919) % 20000;
        void *p = i % 5 == 4 ? site_calloc(1, n) : site_malloc(n);
        CHECK(p, "allocation %zu", i);
        memset(p, 1, n);
        ao++, as += n;
        if (i % 3 == 0) {
            free(p);
        } else {
            io++, is += n;                    /* left allocated: a leak the profile shows */
        }
    }
    site_calls += N;
    dprintf(2, "child: expect %llu %llu %llu %llu\n", ao, as, io, is);
}

/* Small objects that realloc grows step by step, and large and huge ones;
 * prints what the allocator's statistics counted meanwhile and what
 * malloc_usable_size said: profiling, at any rate, must change none of it
 * (the sampled object's header must not make a realloc move that would not
 * have, nor count as an allocation). Large blocks realloc'd in place are left
 * out: whether the slices after one are free depends on the layout, which
 * the headers change. */
static void scenario_neutral(void)
{
    /* the profiler's own set-up (libunwind's caches) before the count: 4 MiB
     * of allocations hold samples at the default rate too */
    for (size_t i = 0; i < 64; i++) free(site_realloc(site_malloc(100), 64000));
    pa_stats_t a, b;
    pl_stats_get(&a);
    unsigned long long usable = 0;
    for (size_t i = 0; i < 400; i++) {
        size_t n = 1 + (i * 7919) % (i % 50 == 3 ? 3 * PL_MIB : i % 10 == 1 ? 300000 : 3000);
        char *p = site_malloc(n);
        CHECK(p, "malloc %zu", n);
        usable += malloc_usable_size(p);
        for (size_t k = 1; k <= 6 && n <= 3000; k++) {
            n += n / 4 + k * 24;
            p = site_realloc(p, n);
            CHECK(p, "realloc %zu", n);
            usable += malloc_usable_size(p);
        }
        free(p);
    }
    pl_stats_get(&b);
    /* not alloc_bytes: it counts blocks, and a sampled object's block holds its header too */
    dprintf(2, "child: neutral %llu %llu %llu %llu %llu\n", (unsigned long long)(b.alloc_objects - a.alloc_objects),
            (unsigned long long)(b.free_objects - a.free_objects),
            (unsigned long long)(b.realloc_moves - a.realloc_moves),
            (unsigned long long)(b.realloc_copied_bytes - a.realloc_copied_bytes), usable);
}

static void scenario_double_free(size_t n)
{
    char *p = site_malloc(n);
    CHECK(p, "malloc");
    memset(p, 0x42, n);
    dprintf(2, "child: p=%p\n", (void *)p);
    free(p);
    free(pl_launder(p));
    dprintf(2, "child: survived a double free\n");
}

static void scenario_interior(size_t n, size_t off)
{
    char *p = site_malloc(n);
    CHECK(p, "malloc");
    memset(p, 0x5a, n);
    dprintf(2, "child: p=%p\n", (void *)(p + off));
    free(pl_launder(p + off));
    dprintf(2, "child: survived an interior free\n");
}

/* Profiling off: pa_profile_dump refuses and writes nothing. */
static void scenario_api_off(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/off.prof", child_dir());
    errno = 0;
    int r1 = pa_profile_dump(NULL), e1 = errno;
    errno = 0;
    int r2 = pa_profile_dump(path), e2 = errno;
    dprintf(2, "child: off %d %s %d %s\n", r1, e1 == ENOTSUP ? "ENOTSUP" : strerror(e1), r2,
            e2 == ENOTSUP ? "ENOTSUP" : strerror(e2));
}

static void scenario_api_on(void)
{
    char path[PATH_MAX];
    void *p = site_malloc(1000);
    site_calls++;
    int r1 = pa_profile_dump(NULL);
    snprintf(path, sizeof path, "%s/explicit.prof", child_dir());
    int r2 = pa_profile_dump(path);
    errno = 0;
    int r3 = pa_profile_dump("/nonexistent/dir/x.prof");
    int e3 = errno;
    dprintf(2, "child: api %d %d %d %s\n", r1, r2, r3, e3 == ENOENT ? "ENOENT" : strerror(e3));
    free(p);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 }, rem;
    while (nanosleep(&ts, &rem) && errno == EINTR) ts = rem;
}

/* Waits up to ms milliseconds, without allocating, for path to exist. */
static bool wait_for(const char *path, unsigned ms)
{
    for (unsigned waited = 0; access(path, F_OK) != 0; waited += 2) {
        if (waited >= ms) return false;
        sleep_ms(2);
    }
    return true;
}

/* 40 MiB allocated in 1 MiB blocks, each written, then freed. wait: after
 * each 4 MiB, give the dumper thread up to 2 s to write the file for it (it
 * serves crossings that come faster than it writes with a single dump). */
static void alloc_40m(bool wait)
{
    enum { N = 40 };
    void *p[N];
    char path[PATH_MAX];
    unsigned next = 1;
    for (size_t i = 0; i < N; i++) {
        p[i] = site_malloc(PL_MIB);
        CHECK(p[i], "malloc");
        memset(p[i], (int)i, PL_MIB);
        if (wait && i % 4 == 3) {
            snprintf(path, sizeof path, "%s/p.%d.%u.prof", child_dir(), (int)getpid(), next);
            if (wait_for(path, 2000)) next++;
        }
    }
    site_calls += N;
    for (size_t i = 0; i < N; i++) free(p[i]);
}

/* A dump, 700 ms asleep without allocating, a dump: the interval dumps of
 * the sleep are numbered between the two. */
static void scenario_interval_time(void)
{
    void *p = site_malloc(5000);
    site_calls++;
    CHECK(pa_profile_dump(NULL) == 0, "pa_profile_dump before the sleep");
    sleep_ms(700);
    CHECK(pa_profile_dump(NULL) == 0, "pa_profile_dump after the sleep");
    free(p);
}

static void scenario_signal(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/p.%d.1.prof", child_dir(), (int)getpid());
    void *p[16];
    for (size_t i = 0; i < 16; i++) p[i] = site_malloc(1000 * i + 1);
    site_calls += 16;
    CHECK(access(path, F_OK) != 0, "%s exists before the signal", path);
    raise(SIGUSR2);
    unsigned waited = 0;
    while (access(path, F_OK) != 0 && waited < 2000) {
        sleep_ms(5);
        waited += 5;
    }
    CHECK(access(path, F_OK) == 0, "no profile %s within 2 s of the signal", path);
    dprintf(2, "child: signal dump after %u ms\n", waited);
    for (size_t i = 0; i < 16; i++) free(p[i]);
    void *q = site_malloc(777);             /* and on it goes */
    site_calls++;
    CHECK(q, "malloc after the signal");
    free(q);
}

/* Two dumps, a fork; the child dumps (its sequence restarts at 1) and exits;
 * the parent waits for it and exits. */
static void scenario_fork(void)
{
    void *p = site_malloc(3000);
    site_calls++;
    CHECK(pa_profile_dump(NULL) == 0 && pa_profile_dump(NULL) == 0, "pa_profile_dump before the fork");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        void *q = site_malloc(4000);
        int r = pa_profile_dump(NULL);
        dprintf(2, "child: forked %d dump %d\n", (int)getpid(), r);
        free(q);
        free(p);
        exit(0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    dprintf(2, "child: parent %d child %d %s\n", (int)getpid(), (int)pid, pl_describe(st));
    free(p);
}

/* A fork child of a process with a dumper thread gets its own (the thread did
 * not survive the fork): interval dumps under the child's pid. */
static void scenario_fork_interval(void)
{
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dprintf(2, "child: forked %d\n", (int)getpid());
        sleep_ms(450);
        exit(0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    dprintf(2, "child: parent %d child %d %s\n", (int)getpid(), (int)pid, pl_describe(st));
}

__attribute__((constructor)) static void profile_child_dispatch(void)
{
    const char *which = getenv(CHILD_VAR);
    if (!which) return;
    say_site();
    if (!strcmp(which, "malloc")) scenario_malloc();
    else if (!strcmp(which, "calloc")) scenario_calloc();
    else if (!strcmp(which, "realloc")) scenario_realloc();
    else if (!strcmp(which, "aligned")) scenario_aligned();
    else if (!strcmp(which, "cxx")) scenario_cxx();
    else if (!strcmp(which, "threads")) scenario_threads();
    else if (!strcmp(which, "totals")) scenario_totals();
    else if (!strcmp(which, "neutral")) scenario_neutral();
    else if (!strcmp(which, "double-free")) scenario_double_free(200);
    else if (!strcmp(which, "double-free-huge")) scenario_double_free(3 * PL_MIB);
    else if (!strcmp(which, "interior")) scenario_interior(1000, 64);
    else if (!strcmp(which, "interior-8")) scenario_interior(1000, 8);
    else if (!strcmp(which, "interior-huge")) scenario_interior(3 * PL_MIB, 8192);
    else if (!strcmp(which, "api-off")) scenario_api_off();
    else if (!strcmp(which, "api-on")) scenario_api_on();
    else if (!strcmp(which, "interval-bytes")) alloc_40m(true);
    else if (!strcmp(which, "alloc-40m")) alloc_40m(false);
    else if (!strcmp(which, "interval-time")) scenario_interval_time();
    else if (!strcmp(which, "signal")) scenario_signal();
    else if (!strcmp(which, "fork")) scenario_fork();
    else if (!strcmp(which, "fork-interval")) scenario_fork_interval();
    else if (!strcmp(which, "quiet")) {}
    else { dprintf(2, "child: unknown scenario %s\n", which); _exit(3); }
    done();
    exit(0);                                  /* destructors run: the profile at exit */
}

/* ---- the parent side ---------------------------------------------------------------- */

static char tmpdir[256];

/* A fresh directory for the test's profiles. */
static void make_dir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pa-profile-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void remove_dir(void)
{
    if (!tmpdir[0]) return;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char path[PATH_MAX];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    tmpdir[0] = 0;
}

TestSuite(profile, .init = make_dir, .fini = remove_dir, .timeout = 60);

/* Runs this binary with the scenario, the test's directory, POOLALLOC_PROFILE
 * set to DIR/p unless profile is false, and the extra settings (NULL-ended). */
static void run_scenario(const char *scenario, bool profile, const char *const extra[], pl_child_t *c)
{
    static char self[PATH_MAX], scen[128], dirv[PATH_MAX], prof[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0, "readlink /proc/self/exe");
    self[n] = 0;
    snprintf(scen, sizeof scen, CHILD_VAR "=%s", scenario);
    snprintf(dirv, sizeof dirv, DIR_VAR "=%s", tmpdir);
    snprintf(prof, sizeof prof, "POOLALLOC_PROFILE=%s/p", tmpdir);
    char *env[16];
    size_t k = 0;
    env[k++] = scen;
    env[k++] = dirv;
    if (profile) env[k++] = prof;
    for (size_t i = 0; extra && extra[i] && k < 15; i++) env[k++] = (char *)extra[i];
    env[k] = NULL;
    char *argv[] = { self, NULL };
    pl_run_exec(argv, env, 30, c);
}

/* ... and expects it to run to its end and exit 0. */
static void run_ok(const char *scenario, bool profile, const char *const extra[], pl_child_t *c)
{
    run_scenario(scenario, profile, extra, c);
    cr_assert(pl_exited_ok(c), "scenario %s: child %s; stderr:\n%s", scenario, pl_describe(c->status), c->err);
    cr_assert_not_null(strstr(c->err, "child: done\n"), "scenario %s did not run to its end; stderr:\n%s", scenario,
                       c->err);
}

static const char *const rate1[] = { "POOLALLOC_SAMPLE_RATE=1", NULL };

/* What one profile file says. Parsing checks the format on the way. */
typedef struct prof {
    char reason[16];
    unsigned long long pid, seq, rate, stacks, mappings, process, peak, memory;
    unsigned long long ao, as, io, is;                  /* every stack */
    unsigned long long site_ao, site_as, site_io, site_is, site_stacks;   /* innermost frame in a site */
} prof_t;

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (cap - n < 4096) buf = realloc(buf, cap *= 2);
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (!r) break;
        n += r;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Parses and checks one profile: the header lines in their order, mapping
 * lines, stack lines (in use <= allocated), and last the `end N` line with
 * N = the number of stack lines. site_lo..site_hi: the site section. */
static void parse_profile(const char *path, uintptr_t site_lo, uintptr_t site_hi, prof_t *p)
{
    memset(p, 0, sizeof *p);
    size_t len;
    char *buf = read_file(path, &len);
    cr_assert(len > 0 && buf[len - 1] == '\n', "%s: empty, or the last line is not complete", path);
    static const char *const header[] = { "poolalloc-profile 3", "program ", "command ", "pid ", "time ", "uptime ",
                                          "reason ", "sequence ", "sample_rate ", "profiler_memory ", "process ",
                                          "peak_inuse_space ", "peak_uptime ", "memory_values ", "values " };
    int nvalues = 0;
    size_t lineno = 0;
    bool ended = false;
    for (char *line = buf, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        *nl = 0;
        cr_assert(!ended, "%s: line %zu after the end line: %s", path, lineno + 1, line);
        if (lineno < sizeof header / sizeof header[0]) {
            const char *h = header[lineno];
            cr_assert(!strncmp(line, h, strlen(h)), "%s: line %zu is \"%s\", want \"%s...\"", path, lineno + 1, line, h);
            const char *v = line + strlen(h);
            if (lineno == 0) cr_assert_str_eq(line, "poolalloc-profile 3");
            else if (lineno == 1) cr_assert_gt(strlen(v), 0, "%s: no program", path);
            else if (lineno == 2) cr_assert(strlen(v) > 0 && !strchr(v, '/'), "%s: command '%s'", path, v);
            else if (lineno == 3) cr_assert_eq(sscanf(v, "%llu", &p->pid), 1, "%s: %s", path, line);
            else if (lineno == 6) snprintf(p->reason, sizeof p->reason, "%s", v);
            else if (lineno == 7) cr_assert_eq(sscanf(v, "%llu", &p->seq), 1, "%s: %s", path, line);
            else if (lineno == 8) cr_assert_eq(sscanf(v, "%llu", &p->rate), 1, "%s: %s", path, line);
            else if (lineno == 10)
                cr_assert(strlen(v) == 16 && strspn(v, "0123456789abcdef") == 16 && sscanf(v, "%llx", &p->process) == 1,
                          "%s: %s, want 16 hex digits", path, line);
            else if (lineno == 11) cr_assert_eq(sscanf(v, "%llu", &p->peak), 1, "%s: %s", path, line);
            else if (lineno == 13) cr_assert_str_eq(v, "seconds live resident mapped allocated sampled_inuse");
            else if (lineno == 14) {
                cr_assert(!strncmp(v, "alloc_objects alloc_space inuse_objects inuse_space ", 52), "%s: %s", path, line);
                for (const char *w = v; w; w = strchr(w + 1, ' ')) nvalues++;
                cr_assert_eq(nvalues, 25, "%s: %s: want the 25 names of docs/profile-format.md", path, line);
            } else {
                double x;
                cr_assert_eq(sscanf(v, "%lf", &x), 1, "%s: %s", path, line);
            }
        } else if (!strncmp(line, "memory ", 7)) {   /* memory over time: before the mappings */
            cr_assert_eq(p->mappings, 0, "%s: a memory line after the mappings", path);
            double t;
            unsigned long long live, res, map, alloc, sampled;
            cr_assert_eq(sscanf(line, "memory %lf %llu %llu %llu %llu %llu", &t, &live, &res, &map, &alloc, &sampled), 6,
                         "%s: %s", path, line);
            p->memory++;
        } else if (!strncmp(line, "mapping ", 8)) {
            cr_assert_eq(p->stacks, 0, "%s: a mapping line after the stacks", path);
            unsigned long lo, hi, off;
            cr_assert_eq(sscanf(line, "mapping 0x%lx 0x%lx 0x%lx", &lo, &hi, &off), 3, "%s: %s", path, line);
            cr_assert_lt(lo, hi, "%s: %s", path, line);
            p->mappings++;
        } else if (!strncmp(line, "stack ", 6)) {
            unsigned long long ao, as, io, is;
            int used = 0;
            cr_assert_eq(sscanf(line, "stack %llu %llu %llu %llu%n", &ao, &as, &io, &is, &used), 4, "%s: %s", path,
                         line);
            cr_assert(io <= ao && is <= as, "%s: more in use than allocated: %s", path, line);
            for (int k = 4; k < nvalues; k++) {
                unsigned long long v;
                int more = 0;
                cr_assert(sscanf(line + used, " %llu%n", &v, &more) == 1 && line[used + more] != 'x',
                          "%s: value %d missing: %s", path, k, line);
                used += more;
            }
            p->stacks++;
            p->ao += ao, p->as += as, p->io += io, p->is += is;
            unsigned long first = 0;
            if (sscanf(line + used, " 0x%lx", &first) == 1 && first >= site_lo && first < site_hi) {
                p->site_stacks++;
                p->site_ao += ao, p->site_as += as, p->site_io += io, p->site_is += is;
            }
        } else if (!strncmp(line, "end ", 4)) {
            unsigned long long n;
            cr_assert_eq(sscanf(line, "end %llu", &n), 1, "%s: %s", path, line);
            cr_assert_eq(n, p->stacks, "%s: end %llu, but %llu stack lines", path, n, p->stacks);
            ended = true;
        } else {
            cr_assert_fail("%s: line %zu is unexpected: %s", path, lineno + 1, line);
        }
        lineno++;
    }
    cr_assert(ended, "%s: no end line (incomplete profile)", path);
    cr_assert_geq(p->memory, 1, "%s: no memory line (the dump takes a point of its own)", path);
    cr_assert_gt(p->mappings, 0, "%s: no mapping lines", path);
    free(buf);
}

static void site_range(const pl_child_t *c, uintptr_t *lo, uintptr_t *hi)
{
    void *a = NULL, *b = NULL;
    const char *l = strstr(c->err, "child: site 0x");
    cr_assert(l && sscanf(l, "child: site %p %p", &a, &b) == 2, "stderr:\n%s", c->err);
    *lo = (uintptr_t)a;
    *hi = (uintptr_t)b;
    cr_assert_lt(*lo, *hi);
}

static unsigned long long site_calls_of(const pl_child_t *c)
{
    unsigned long long n = 0;
    const char *l = strstr(c->err, "child: site calls ");
    cr_assert(l && sscanf(l, "child: site calls %llu", &n) == 1, "stderr:\n%s", c->err);
    return n;
}

static void prof_path(char *out, size_t cap, long pid, unsigned long long seq)
{
    snprintf(out, cap, "%s/p.%ld.%llu.prof", tmpdir, pid, seq);
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* Every file in the directory is a complete profile (no temporary left);
 * returns how many there are. */
static size_t check_all_complete(void)
{
    DIR *d = opendir(tmpdir);
    cr_assert_not_null(d);
    struct dirent *e;
    size_t n = 0;
    char path[PATH_MAX];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t len = strlen(e->d_name);
        cr_assert(len > 5 && !strcmp(e->d_name + len - 5, ".prof"), "%s/%s: not a profile (a temporary left?)",
                  tmpdir, e->d_name);
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        prof_t p;
        parse_profile(path, 0, 0, &p);
        n++;
    }
    closedir(d);
    return n;
}

/* The profiles of pid, in sequence order from 1 up to the first missing
 * one; returns how many. */
static size_t profiles_of(long pid, prof_t *out, size_t max, uintptr_t lo, uintptr_t hi)
{
    size_t n = 0;
    char path[PATH_MAX];
    for (; n < max; n++) {
        prof_path(path, sizeof path, pid, n + 1);
        if (!exists(path)) break;
        parse_profile(path, lo, hi, &out[n]);
        cr_assert_eq(out[n].pid, (unsigned long long)pid, "%s: pid %llu", path, out[n].pid);
        cr_assert_eq(out[n].seq, n + 1, "%s: sequence %llu", path, out[n].seq);
    }
    return n;
}

/* The one profile a scenario wrote at exit: PREFIX.PID.1.prof. */
static void exit_profile(const pl_child_t *c, prof_t *p)
{
    uintptr_t lo, hi;
    site_range(c, &lo, &hi);
    prof_t all[4];
    size_t n = profiles_of(c->pid, all, 4, lo, hi);
    cr_assert_eq(n, 1, "%zu profiles for pid %d, want the one at exit", n, (int)c->pid);
    cr_assert_str_eq(all[0].reason, "exit");
    cr_assert_eq(check_all_complete(), 1);
    *p = all[0];
}

/* A scenario at rate 1 that frees all it allocates: every site call was
 * sampled (each with weight 1) and nothing is in use at exit. */
static void expect_all_sampled_and_freed(const char *scenario, bool exact)
{
    pl_child_t c;
    run_ok(scenario, true, rate1, &c);
    prof_t p;
    exit_profile(&c, &p);
    unsigned long long calls = site_calls_of(&c);
    cr_assert_eq(p.rate, 1);
    cr_assert_gt(p.site_stacks, 0, "no stack of the sites in the profile; stderr:\n%s", c.err);
    if (exact) cr_assert_eq(p.site_ao, calls, "%llu allocations sampled at the sites, %llu made", p.site_ao, calls);
    else cr_assert_geq(p.site_ao, calls, "%llu allocations sampled at the sites, at least %llu made", p.site_ao, calls);
    cr_assert_eq(p.site_io, 0, "%llu objects (%llu bytes) still in use at exit, all were freed", p.site_io, p.site_is);
    cr_assert_eq(p.site_is, 0);
}

/* ---- every allocation sampled ------------------------------------------------------- */

Test(profile, rate1_malloc_usable_free_up_to_64mib)
{
    expect_all_sampled_and_freed("malloc", true);
}

Test(profile, rate1_calloc_reads_zero_small_and_huge)
{
    expect_all_sampled_and_freed("calloc", true);
}

Test(profile, rate1_realloc_grow_and_shrink_keeps_contents)
{
    expect_all_sampled_and_freed("realloc", false);
}

Test(profile, rate1_aligned_allocations_32_to_4096)
{
    expect_all_sampled_and_freed("aligned", true);
}

Test(profile, rate1_operator_new_and_delete)
{
    expect_all_sampled_and_freed("cxx", true);
}

Test(profile, rate1_frees_and_reallocs_from_other_threads)
{
    expect_all_sampled_and_freed("threads", false);
}

Test(profile, rate1_exit_profile_holds_exactly_what_was_left_allocated)
{
    pl_child_t c;
    run_ok("totals", true, rate1, &c);
    prof_t p;
    exit_profile(&c, &p);
    unsigned long long ao, as, io, is;
    const char *l = strstr(c.err, "child: expect ");
    cr_assert(l && sscanf(l, "child: expect %llu %llu %llu %llu", &ao, &as, &io, &is) == 4, "stderr:\n%s", c.err);
    cr_assert_eq(p.site_ao, ao, "allocated objects %llu, want %llu", p.site_ao, ao);
    cr_assert_eq(p.site_as, as, "allocated bytes %llu, want %llu", p.site_as, as);
    cr_assert_eq(p.site_io, io, "objects in use %llu, want %llu", p.site_io, io);
    cr_assert_eq(p.site_is, is, "bytes in use %llu, want %llu", p.site_is, is);
    cr_assert_geq(p.io, p.site_io);
    cr_assert_geq(p.is, p.site_is);
    /* one stack per call site (malloc, calloc), however many calls */
    cr_assert_eq(p.site_stacks, 2, "%llu stacks for the two call sites", p.site_stacks);
}

/* Profiling is neutral: STATS counts the same allocations, reallocs move and
 * copy the same bytes, malloc_usable_size says the same, at rate 1 (every
 * object sampled) and at the default rate as without profiling. */
Test(profile, profiling_changes_no_statistics_nor_realloc_moves)
{
    static const char *const defrate[] = { NULL };
    const char *const *rates[] = { NULL, rate1, defrate };
    char lines[3][256];
    for (int r = 0; r < 3; r++) {
        pl_child_t c;
        run_ok("neutral", r > 0, rates[r], &c);
        const char *l = strstr(c.err, "child: neutral ");
        cr_assert_not_null(l, "stderr:\n%s", c.err);
        snprintf(lines[r], sizeof lines[r], "%.*s", (int)strcspn(l, "\n"), l);
    }
    cr_assert_str_eq(lines[1], lines[0], "rate 1: %s; no profiling: %s", lines[1], lines[0]);
    cr_assert_str_eq(lines[2], lines[0], "default rate: %s; no profiling: %s", lines[2], lines[0]);
}

/* ---- misuse of sampled objects -------------------------------------------------------- */

static void expect_death(const char *scenario, const char *message)
{
    pl_child_t c;
    run_scenario(scenario, true, rate1, &c);
    cr_assert(pl_died_by(&c, SIGABRT), "scenario %s: child %s, want SIGABRT; stderr:\n%s", scenario,
              pl_describe(c.status), c.err);
    void *p = NULL;
    const char *l = strstr(c.err, "child: p=");
    cr_assert(l && sscanf(l, "child: p=%p", &p) == 1, "stderr:\n%s", c.err);
    char want[128];
    snprintf(want, sizeof want, "poolalloc: %s %p\n", message, p);
    cr_assert_not_null(strstr(c.err, want), "stderr lacks \"%s\"; stderr:\n%s", want, c.err);
}

Test(profile, double_free_of_a_sampled_object_dies)
{
    expect_death("double-free", "free(): double free");
}

Test(profile, double_free_of_a_sampled_huge_object_dies)
{
    expect_death("double-free-huge", "free(): double free");
}

Test(profile, interior_free_of_a_sampled_object_dies)
{
    expect_death("interior", "free(): invalid pointer");
    expect_death("interior-8", "free(): invalid pointer");
    expect_death("interior-huge", "free(): invalid pointer");
}

/* ---- pa_profile_dump ------------------------------------------------------------------- */

Test(profile, dump_api_with_profiling_off_fails_with_enotsup_and_writes_nothing)
{
    pl_child_t c;
    run_ok("api-off", false, NULL, &c);
    cr_assert_not_null(strstr(c.err, "child: off -1 ENOTSUP -1 ENOTSUP\n"), "stderr:\n%s", c.err);
    cr_assert_eq(check_all_complete(), 0, "files were written with profiling off");
}

Test(profile, dump_api_writes_the_next_file_or_the_path_given)
{
    pl_child_t c;
    run_ok("api-on", true, NULL, &c);
    cr_assert_not_null(strstr(c.err, "child: api 0 0 -1 ENOENT\n"), "stderr:\n%s", c.err);
    uintptr_t lo, hi;
    site_range(&c, &lo, &hi);
    char path[PATH_MAX];
    prof_t first, explicit_, last;
    prof_path(path, sizeof path, c.pid, 1);
    parse_profile(path, lo, hi, &first);
    cr_assert_str_eq(first.reason, "api");
    cr_assert_eq(first.seq, 1);
    cr_assert_eq(first.pid, (unsigned long long)c.pid);
    cr_assert_eq(first.rate, DEFAULT_RATE, "sample_rate %llu, want the default", first.rate);
    snprintf(path, sizeof path, "%s/explicit.prof", tmpdir);
    parse_profile(path, lo, hi, &explicit_);
    cr_assert_str_eq(explicit_.reason, "api");
    cr_assert_eq(explicit_.seq, 2, "the explicit dump is the process's second: sequence %llu", explicit_.seq);
    /* explicit dumps take their numbers from the PREFIX files' counter
     * (docs/profile-format.md): 2 here, 3 the one that failed; the exit
     * profile is PREFIX.PID.4.prof */
    for (unsigned long long k = 2; k <= 3; k++) {
        prof_path(path, sizeof path, c.pid, k);
        cr_assert(!exists(path), "%s written: an explicit dump went to the prefix too", path);
    }
    prof_path(path, sizeof path, c.pid, 4);
    parse_profile(path, lo, hi, &last);
    cr_assert_str_eq(last.reason, "exit");
    cr_assert_eq(last.seq, 4);
    cr_assert_eq(check_all_complete(), 3, "want the api file, the explicit file and the exit file");
}

/* POOLALLOC_PROFILE=off (or 0, no, false) is profiling off, not a prefix. */
Test(profile, profile_off_values_are_off)
{
    static const char *const offs[] = { "POOLALLOC_PROFILE=off", "POOLALLOC_PROFILE=0", "POOLALLOC_PROFILE=no",
                                        "POOLALLOC_PROFILE=false" };
    cr_assert_eq(chdir(tmpdir), 0);           /* were one taken for a relative prefix, its files land here */
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        const char *const env[] = { offs[i], NULL };
        pl_child_t c;
        run_ok("api-off", false, env, &c);
        cr_assert_not_null(strstr(c.err, "child: off -1 ENOTSUP -1 ENOTSUP\n"), "%s: stderr:\n%s", offs[i], c.err);
        cr_assert_eq(pl_count_lines(c.err), 4, "%s: want no warning; stderr:\n%s", offs[i], c.err);
        cr_assert_eq(check_all_complete(), 0, "%s: files were written", offs[i]);
    }
}

/* ---- interval and signal dumps --------------------------------------------------------- */

Test(profile, interval_in_bytes_writes_a_file_per_4mib_allocated)
{
    static const char *const env[] = { "POOLALLOC_PROFILE_INTERVAL=4m", NULL };
    pl_child_t c;
    run_ok("interval-bytes", true, env, &c);
    uintptr_t lo, hi;
    site_range(&c, &lo, &hi);
    prof_t p[32];
    size_t n = profiles_of(c.pid, p, 32, lo, hi);
    /* 40 MiB and a few KiB allocated: 10 interval dumps (not 9: a crossing
     * lost; not more: bytes counted twice), then the one at exit */
    cr_assert_eq(n, 11, "%zu profiles for 40 MiB allocated at a 4 MiB interval; want 10 + exit", n);
    for (size_t i = 0; i + 1 < n; i++)
        cr_assert_str_eq(p[i].reason, "interval", "file %zu: reason %s", i + 1, p[i].reason);
    cr_assert_str_eq(p[n - 1].reason, "exit");
    cr_assert_eq(check_all_complete(), n, "files other than PREFIX.PID.1..%zu.prof", n);
    /* what the sites allocated only grows from one dump to the next */
    for (size_t i = 1; i < n; i++) cr_assert_geq(p[i].site_as, p[i - 1].site_as);
    cr_assert_gt(p[n - 1].site_as, p[0].site_as, "the sampled bytes did not grow over 40 MiB");
}

Test(profile, interval_in_time_dumps_while_the_program_sleeps)
{
    static const char *const env[] = { "POOLALLOC_PROFILE_INTERVAL=100ms", NULL };
    pl_child_t c;
    run_ok("interval-time", true, env, &c);
    uintptr_t lo, hi;
    site_range(&c, &lo, &hi);
    prof_t p[32];
    size_t n = profiles_of(c.pid, p, 32, lo, hi);
    /* api dump, the interval dumps of the 700 ms sleep, api dump, exit */
    size_t before = 0, after = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p[i].reason, "api")) continue;
        if (!before) before = i + 1;
        else after = i + 1;
    }
    cr_assert(before && after, "the two api dumps are not among the %zu files", n);
    size_t during = 0;
    for (size_t i = before; i + 1 < after; i++) {
        cr_assert_str_eq(p[i].reason, "interval", "file %zu: reason %s", i + 1, p[i].reason);
        during++;
    }
    cr_assert_geq(during, 3, "%zu interval dumps during a 700 ms sleep at 100 ms", during);
    cr_assert_leq(during, 8, "%zu interval dumps during a 700 ms sleep at 100 ms", during);
    cr_assert_str_eq(p[n - 1].reason, "exit");
    cr_assert_eq(check_all_complete(), n);
}

Test(profile, signal_dump_is_written_and_the_program_runs_on)
{
    static const char *const env[] = { "POOLALLOC_PROFILE_SIGNAL=SIGUSR2", NULL };
    pl_child_t c;
    run_ok("signal", true, env, &c);
    uintptr_t lo, hi;
    site_range(&c, &lo, &hi);
    prof_t p[4];
    size_t n = profiles_of(c.pid, p, 4, lo, hi);
    cr_assert_eq(n, 2, "%zu profiles, want the signal one and the exit one; stderr:\n%s", n, c.err);
    cr_assert_str_eq(p[0].reason, "signal");
    cr_assert_str_eq(p[1].reason, "exit");
    cr_assert_eq(check_all_complete(), 2);
    cr_assert_eq(pl_count_lines(c.err), 4, "stderr has more than the child's lines:\n%s", c.err);
}

/* ---- fork ----------------------------------------------------------------------------------- */

Test(profile, fork_parent_and_child_write_their_own_complete_files)
{
    pl_child_t c;
    run_ok("fork", true, NULL, &c);
    int parent = 0, child = 0, child2 = 0, r = -1;
    char status[64];
    const char *l = strstr(c.err, "child: parent ");
    cr_assert(l && sscanf(l, "child: parent %d child %d %63[^\n]", &parent, &child, status) == 3, "stderr:\n%s", c.err);
    cr_assert_str_eq(status, "exited 0", "the fork child %s; stderr:\n%s", status, c.err);
    l = strstr(c.err, "child: forked ");
    cr_assert(l && sscanf(l, "child: forked %d dump %d", &child2, &r) == 2, "stderr:\n%s", c.err);
    cr_assert_eq(parent, c.pid);
    cr_assert_eq(child2, child);
    cr_assert_eq(r, 0);
    uintptr_t lo, hi;
    site_range(&c, &lo, &hi);
    prof_t pp[8], cp[8];
    size_t np = profiles_of(parent, pp, 8, lo, hi), nc = profiles_of(child, cp, 8, lo, hi);
    cr_assert_eq(np, 3, "parent: %zu profiles, want api, api, exit", np);
    cr_assert_str_eq(pp[0].reason, "api");
    cr_assert_str_eq(pp[1].reason, "api");
    cr_assert_str_eq(pp[2].reason, "exit");
    cr_assert_eq(nc, 2, "fork child: %zu profiles, want api (sequence 1 again) and exit", nc);
    cr_assert_str_eq(cp[0].reason, "api");
    cr_assert_str_eq(cp[1].reason, "exit");
    cr_assert_eq(check_all_complete(), 5);
}

/* Every allocation sampled: the child's profiles hold its own 4000-byte
 * object and not the 3000-byte one it inherited (and freed), the parent's
 * the 3000-byte one; added up, each allocation counts once. */
Test(profile, fork_child_counts_only_what_it_allocated)
{
    pl_child_t c;
    run_ok("fork", true, rate1, &c);
    int parent = 0, child = 0;
    char status[64];
    const char *l = strstr(c.err, "child: parent ");
    cr_assert(l && sscanf(l, "child: parent %d child %d %63[^\n]", &parent, &child, status) == 3, "stderr:\n%s", c.err);
    uintptr_t lo, hi;
    site_range(&c, &lo, &hi);
    prof_t pp[8], cp[8];
    size_t np = profiles_of(parent, pp, 8, lo, hi), nc = profiles_of(child, cp, 8, lo, hi);
    cr_assert_eq(np, 3);
    cr_assert_eq(nc, 2);
    /* the child's dump with q live, then its exit dump: p was freed, uncounted */
    cr_assert_eq(cp[0].site_ao, 1, "child api dump: %llu site objects, want 1 (its own)", cp[0].site_ao);
    cr_assert_eq(cp[0].site_as, 4000);
    cr_assert_eq(cp[0].site_io, 1);
    cr_assert_eq(cp[0].site_is, 4000);
    cr_assert_eq(cp[1].site_ao, 1);
    cr_assert_eq(cp[1].site_as, 4000);
    cr_assert_eq(cp[1].site_io, 0, "child exit dump: %llu site objects in use, want 0", cp[1].site_io);
    cr_assert_eq(cp[1].site_is, 0);
    /* one process, one "process" key; the child has its own */
    cr_assert(pp[0].process == pp[1].process && pp[1].process == pp[2].process, "parent: process keys differ");
    cr_assert(cp[0].process == cp[1].process, "child: process keys differ");
    cr_assert_neq(cp[0].process, pp[0].process, "the fork child has its parent's process key");
    /* the parent: p, in use at its dumps, freed before its exit */
    cr_assert_eq(pp[1].site_as, 3000);
    cr_assert_eq(pp[1].site_is, 3000);
    cr_assert_eq(pp[2].site_as, 3000);
    cr_assert_eq(pp[2].site_is, 0);
}

Test(profile, fork_child_restarts_the_interval_dumper)
{
    static const char *const env[] = { "POOLALLOC_PROFILE_INTERVAL=100ms", NULL };
    pl_child_t c;
    run_ok("fork-interval", true, env, &c);
    int parent = 0, child = 0;
    char status[64];
    const char *l = strstr(c.err, "child: parent ");
    cr_assert(l && sscanf(l, "child: parent %d child %d %63[^\n]", &parent, &child, status) == 3, "stderr:\n%s", c.err);
    cr_assert_str_eq(status, "exited 0");
    uintptr_t lo, hi;
    site_range(&c, &lo, &hi);
    prof_t cp[16], pp[16];
    size_t nc = profiles_of(child, cp, 16, lo, hi), np = profiles_of(parent, pp, 16, lo, hi);
    cr_assert_geq(nc, 3, "fork child: %zu profiles in 450 ms at 100 ms, want at least 2 interval + exit", nc);
    for (size_t i = 0; i + 1 < nc; i++) cr_assert_str_eq(cp[i].reason, "interval");
    cr_assert_str_eq(cp[nc - 1].reason, "exit");
    cr_assert_geq(np, 1);
    cr_assert_str_eq(pp[np - 1].reason, "exit");
    cr_assert_eq(check_all_complete(), nc + np);
}

/* ---- settings ---------------------------------------------------------------------------------- */

Test(profile, bad_sample_rate_warns_once_and_uses_512k)
{
    static const char *const env[] = { "POOLALLOC_SAMPLE_RATE=abc", NULL };
    pl_child_t c;
    run_ok("quiet", true, env, &c);
    const char *want = "poolalloc: POOLALLOC_SAMPLE_RATE=abc is not a size (e.g. 4096, 512k, 1m); using 512k\n";
    cr_assert_not_null(strstr(c.err, want), "stderr lacks \"%s\"; stderr:\n%s", want, c.err);
    cr_assert_eq(pl_count_lines(c.err), 4, "want one line of warning; stderr:\n%s", c.err);   /* + site, calls, done */
    prof_t p;
    exit_profile(&c, &p);
    cr_assert_eq(p.rate, DEFAULT_RATE);
}

Test(profile, bad_sample_rates_each_warn)
{
    static const char *const bad[] = { "POOLALLOC_SAMPLE_RATE=0", "POOLALLOC_SAMPLE_RATE=", "POOLALLOC_SAMPLE_RATE=-1",
                                       "POOLALLOC_SAMPLE_RATE=1x", "POOLALLOC_SAMPLE_RATE=1 k" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const env[] = { bad[i], NULL };
        pl_child_t c;
        run_ok("quiet", false, env, &c);
        char want[128];
        snprintf(want, sizeof want, "poolalloc: %s is not a size (e.g. 4096, 512k, 1m); using 512k\n", bad[i]);
        cr_assert_not_null(strstr(c.err, want), "stderr lacks \"%s\"; stderr:\n%s", want, c.err);
    }
}

Test(profile, bad_interval_warns_and_there_are_no_interval_dumps)
{
    static const char *const bad[] = { "abc", "0", "10x", ",5s", "5s,,1m", "100 ms", "0ms" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char setting[64];
        snprintf(setting, sizeof setting, "POOLALLOC_PROFILE_INTERVAL=%s", bad[i]);
        const char *const env[] = { setting, NULL };
        pl_child_t c;
        run_ok("alloc-40m", true, env, &c);   /* 40 MiB: would be several dumps */
        char want[160];
        snprintf(want, sizeof want, "poolalloc: %s is not bytes and/or seconds (e.g. 1g, 30s, 1g,30s); using none\n",
                 setting);
        cr_assert_not_null(strstr(c.err, want), "stderr lacks \"%s\"; stderr:\n%s", want, c.err);
        cr_assert_eq(pl_count_lines(c.err), 4, "want one line of warning; stderr:\n%s", c.err);
        prof_t p;
        exit_profile(&c, &p);                 /* the exit profile only */
        remove_dir();
        make_dir();
    }
}

Test(profile, bad_signal_warns_and_the_default_is_none)
{
    static const char *const bad[] = { "SIGFOO", "0", "9", "19", "65", "USR", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char setting[64];
        snprintf(setting, sizeof setting, "POOLALLOC_PROFILE_SIGNAL=%s", bad[i]);
        const char *const env[] = { setting, NULL };
        pl_child_t c;
        run_ok("quiet", true, env, &c);
        char want[160];
        snprintf(want, sizeof want, "poolalloc: %s is not a signal (e.g. SIGUSR2); using none\n", setting);
        cr_assert_not_null(strstr(c.err, want), "stderr lacks \"%s\"; stderr:\n%s", want, c.err);
        cr_assert_eq(pl_count_lines(c.err), 4, "want one line of warning; stderr:\n%s", c.err);
    }
}

Test(profile, unwritable_prefix_is_reported_and_the_exit_status_kept)
{
    static const char *const env[] = { "POOLALLOC_PROFILE=/nonexistent/dir/p", NULL };
    pl_child_t c;
    run_ok("quiet", false, env, &c);
    char want[160];
    snprintf(want, sizeof want, "poolalloc: cannot write profile /nonexistent/dir/p.%d.1.prof: No such file or directory\n",
             (int)c.pid);
    cr_assert_not_null(strstr(c.err, want), "stderr lacks \"%s\"; stderr:\n%s", want, c.err);
    cr_assert_eq(pl_count_lines(c.err), 4, "want exactly that line; stderr:\n%s", c.err);
}
