/* test_pool.c — what the pools and reclaim cycles print, checked in child
 * processes: debug pools (POOLALLOC_POOL_DEBUG=1 or config.debug) report a
 * double put and a foreign pointer, ignore them and run on; POOLALLOC_TRACE=1
 * prints one line per cycle in the documented format (README, "Tracing");
 * POOLALLOC_GOGC=off stops paced cycles.
 *
 * Settings are read once at process start, so the children that need them
 * exec this test binary again with exactly the environment they need and
 * PL_POOL_CHILD naming the scenario; a constructor runs it before Criterion
 * starts and exits. The scenario writes "child: ..." lines on stderr with
 * the pointers and statistics the parent checks against poolalloc's lines. */
#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poolalloc.h"
#include "pl_util.h"

#define CHILD_VAR "PL_POOL_CHILD"

/* ---- the scenarios (in the child) ---------------------------------------------- */

static void say_stats(pa_pool_t *p)
{
    pa_pool_stats_t s;
    pa_pool_stats(p, &s);
    dprintf(2, "child: stats gets %llu puts %llu hits %llu misses %llu dropped %llu cached %llu\n",
            (unsigned long long)s.gets, (unsigned long long)s.puts, (unsigned long long)s.hits,
            (unsigned long long)s.misses, (unsigned long long)s.dropped, (unsigned long long)s.cached);
}

/* A double put and a foreign put, then a get/put round trip that must not be
 * reported. cfg_debug: 0 relies on POOLALLOC_POOL_DEBUG=1. */
static void debug_scenario(const char *name, int cfg_debug)
{
    pa_pool_config_t cfg = { .name = name, .size = 64, .debug = cfg_debug };
    pa_pool_t *p = pa_pool_create(&cfg);
    if (!p) { dprintf(2, "child: pa_pool_create failed\n"); _exit(2); }
    void *a = pa_pool_get(p);
    void *f = pa_malloc(64);                  /* never handed out by the pool */
    dprintf(2, "child: a=%p f=%p\n", a, f);
    pa_pool_put(p, a);
    pa_pool_put(p, a);                        /* double put: reported, ignored */
    pa_pool_put(p, f);                        /* foreign: reported, ignored */
    dprintf(2, "child: after bad puts\n");
    void *x = pa_pool_get(p), *y = pa_pool_get(p);
    dprintf(2, "child: x=%p y=%p\n", x, y);
    pa_pool_put(p, x);                        /* legitimate: silent */
    pa_pool_put(p, y);
    void *z = pa_pool_get(p);                 /* and once more round */
    pa_pool_put(p, z);
    dprintf(2, "child: z=%p\n", z);
    say_stats(p);
    pa_pool_destroy(p);
    pa_free(f);
    dprintf(2, "child: done\n");
}

static void churn(size_t total, size_t block)
{
    for (size_t done = 0; done < total; done += block) {
        char *p = pa_malloc(block);
        if (!p) _exit(2);
        p[0] = 1;
        pa_free(p);
    }
}

/* 2 MiB allocated, then 14 gets of which 4 hit, two pa_cycle calls (the
 * second drops the 10 cached objects), then 12 MiB more: paced cycles. */
static void *free_them(void *arg)
{
    void **v = arg;
    for (int i = 0; i < 1000; i++) free(v[i]);
    return NULL;
}

static void trace_scenario(void)
{
    churn(2 << 20, 16 << 10);
    void *r = malloc(100);                  /* six reallocs that move: 200 ... 6400 bytes */
    for (size_t n = 200; n <= 6400; n *= 2) r = realloc(r, n);
    free(r);
    static void *v[1000];                   /* 1000 frees by another thread */
    for (int i = 0; i < 1000; i++) v[i] = malloc(64);
    pthread_t t;
    if (pthread_create(&t, NULL, free_them, v) || pthread_join(t, NULL)) _exit(4);
    pa_pool_config_t cfg = { .name = "traced", .size = 256 };
    pa_pool_t *p = pa_pool_create(&cfg);
    void *o[10];
    for (int i = 0; i < 10; i++) o[i] = pa_pool_get(p);
    for (int i = 0; i < 10; i++) pa_pool_put(p, o[i]);
    for (int i = 0; i < 4; i++) o[i] = pa_pool_get(p);
    for (int i = 0; i < 4; i++) pa_pool_put(p, o[i]);
    unsigned long long n1 = pa_cycle();
    dprintf(2, "child: pa_cycle returned %llu\n", n1);
    unsigned long long n2 = pa_cycle();
    dprintf(2, "child: pa_cycle returned %llu\n", n2);
    say_stats(p);
    churn(12 << 20, 64 << 10);
    pa_stats_t s;
    pa_stats_get(&s);
    dprintf(2, "child: cycles %llu\n", (unsigned long long)s.cycles);
    pa_pool_destroy(p);
    dprintf(2, "child: done\n");
}

/* 64 MiB allocated with POOLALLOC_GOGC=off: no paced cycle; pa_cycle still runs. */
static void gogc_off_scenario(void)
{
    churn(64 << 20, 64 << 10);
    unsigned long long n = pa_cycle();
    dprintf(2, "child: pa_cycle returned %llu\n", n);
    dprintf(2, "child: done\n");
}

__attribute__((constructor)) static void pool_child_dispatch(void)
{
    const char *which = getenv(CHILD_VAR);
    if (!which) return;
    if (!strcmp(which, "debug")) debug_scenario("dbg-env", 0);
    else if (!strcmp(which, "trace")) trace_scenario();
    else if (!strcmp(which, "gogc-off")) gogc_off_scenario();
    else { dprintf(2, "child: unknown scenario %s\n", which); _exit(3); }
    _exit(0);
}

/* ---- the parent side ---------------------------------------------------------------- */

/* Runs this binary with exactly the given environment (NULL-terminated). */
static void run_self(const char *const env[], pl_child_t *c)
{
    static char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0, "readlink /proc/self/exe");
    self[n] = 0;
    char *argv[] = { self, NULL };
    pl_run_exec(argv, (char *const *)env, 60, c);
    cr_assert(pl_exited_ok(c), "child %s; stderr:\n%s", pl_describe(c->status), c->err);
    cr_assert_not_null(strstr(c->err, "child: done\n"), "the child did not run to its end; stderr:\n%s", c->err);
}

static size_t count_prefixed(const char *s, const char *prefix)
{
    size_t n = 0, len = strlen(prefix);
    for (const char *line = s; *line; ) {
        if (!strncmp(line, prefix, len)) n++;
        const char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return n;
}

static void expect_debug_output(const pl_child_t *c, const char *name)
{
    void *a = NULL, *f = NULL, *x = NULL, *y = NULL, *z = NULL;
    const char *l = strstr(c->err, "child: a=");
    cr_assert(l && sscanf(l, "child: a=%p f=%p", &a, &f) == 2, "stderr:\n%s", c->err);
    l = strstr(c->err, "child: x=");
    cr_assert(l && sscanf(l, "child: x=%p y=%p", &x, &y) == 2, "stderr:\n%s", c->err);
    l = strstr(c->err, "child: z=");
    cr_assert(l && sscanf(l, "child: z=%p", &z) == 1, "stderr:\n%s", c->err);

    char want[256];
    snprintf(want, sizeof want, "poolalloc: pool \"%s\": double put of %p (ignored)\n", name, a);
    const char *dbl = strstr(c->err, want);
    cr_assert_not_null(dbl, "stderr lacks \"%s\"; stderr:\n%s", want, c->err);
    snprintf(want, sizeof want, "poolalloc: pool \"%s\": put of %p, which this pool did not hand out (ignored)\n",
             name, f);
    const char *foreign = strstr(c->err, want);
    cr_assert_not_null(foreign, "stderr lacks \"%s\"; stderr:\n%s", want, c->err);
    const char *after = strstr(c->err, "child: after bad puts\n");
    cr_assert(dbl < foreign && foreign < after, "messages out of order; stderr:\n%s", c->err);
    cr_assert_eq(count_prefixed(c->err, "poolalloc:"), 2,
                 "want exactly the two reports (a legitimate get/put round trip is not a double put); stderr:\n%s",
                 c->err);

    /* the pool kept one copy of a, and not f: a comes back once */
    cr_assert_eq(x, a, "the object put once (then again) did not come back; stderr:\n%s", c->err);
    cr_assert_neq(y, a, "a double-put object was handed out twice");
    cr_assert_neq(y, f, "a foreign pointer was handed out");
    cr_assert_neq(x, f);
    cr_assert(z == x || z == y, "z=%p is neither x nor y", z);
    /* gets a, x, y, z; puts a, x, y, z (the two refused are not counted) */
    cr_assert_not_null(strstr(c->err, "child: stats gets 4 puts 4 hits 2 misses 2 dropped 2 cached 2\n"),
                       "stderr:\n%s", c->err);
}

Test(pool_debug, env_setting_reports_double_and_foreign_puts_and_runs_on)
{
    static const char *const env[] = { CHILD_VAR "=debug", "POOLALLOC_POOL_DEBUG=1", NULL };
    pl_child_t c;
    run_self(env, &c);
    expect_debug_output(&c, "dbg-env");
}

static void debug_in_child(void *arg)
{
    (void)arg;
    debug_scenario("dbg-config", 1);
}

Test(pool_debug, config_debug_reports_double_and_foreign_puts_and_runs_on)
{
    pl_child_t c;
    pl_run_child(debug_in_child, NULL, 30, &c);
    cr_assert(pl_exited_ok(&c), "child %s; stderr:\n%s", pl_describe(c.status), c.err);
    cr_assert_not_null(strstr(c.err, "child: done\n"), "stderr:\n%s", c.err);
    expect_debug_output(&c, "dbg-config");
}

/* Without debug mode nothing is printed (the same puts are simply cached). */
static void no_debug_in_child(void *arg)
{
    (void)arg;
    pa_pool_config_t cfg = { .name = "quiet", .size = 64 };
    pa_pool_t *p = pa_pool_create(&cfg);
    void *a = pa_pool_get(p);
    pa_pool_put(p, a);
    pa_pool_put(p, pa_pool_get(p));
    pa_pool_destroy(p);
}

Test(pool_debug, no_reports_without_debug_mode)
{
    pl_child_t c;
    pl_run_child(no_debug_in_child, NULL, 30, &c);
    cr_assert(pl_exited_ok(&c), "child %s; stderr:\n%s", pl_describe(c.status), c.err);
    cr_assert_eq(c.errlen, 0, "stderr:\n%s", c.err);
}

/* ---- fork ------------------------------------------------------------------------- */

struct holder {
    pa_pool_t *pool;
    void *objs[3];
    pthread_barrier_t put_done, may_exit;
};

static void *put_and_wait(void *arg)
{
    struct holder *h = arg;
    for (int i = 0; i < 3; i++) pa_pool_put(h->pool, h->objs[i]);
    pthread_barrier_wait(&h->put_done);
    pthread_barrier_wait(&h->may_exit);
    return NULL;
}

static void gets_in_child(void *arg)
{
    struct holder *h = arg;
    void *g[3];
    for (int i = 0; i < 3; i++) g[i] = pa_pool_get(h->pool);
    for (int i = 0; i < 3; i++) {
        int j = 0;
        while (j < 3 && h->objs[j] != g[i]) j++;
        dprintf(2, "child: get %d -> %d\n", i, j);
    }
    pa_cycle();                    /* must not wait for the parent thread's busy flag */
    for (int i = 0; i < 3; i++) pa_pool_put(h->pool, g[i]);
    say_stats(h->pool);
    dprintf(2, "child: done\n");
}

/* The child of a process whose other thread holds pool objects (one in its
 * private slot) can have them all: that thread does not exist in the child,
 * so its local is ownerless. */
Test(pool_fork, the_child_gets_the_objects_of_the_parents_other_threads)
{
    pa_pool_config_t cfg = { .name = "forked", .size = 48 };
    struct holder h = { .pool = pa_pool_create(&cfg) };
    cr_assert_not_null(h.pool);
    for (int i = 0; i < 3; i++) h.objs[i] = pa_pool_get(h.pool);
    pthread_barrier_init(&h.put_done, NULL, 2);
    pthread_barrier_init(&h.may_exit, NULL, 2);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, put_and_wait, &h), 0);
    pthread_barrier_wait(&h.put_done);
    pl_child_t c;
    pl_run_child(gets_in_child, &h, 10, &c);
    pthread_barrier_wait(&h.may_exit);
    pthread_join(t, NULL);
    cr_assert(pl_exited_ok(&c), "child %s; stderr:\n%s", pl_describe(c.status), c.err);
    cr_assert_not_null(strstr(c.err, "child: done\n"), "stderr:\n%s", c.err);
    /* the other thread's shared stack (o2, o1), then its private slot (o0) */
    cr_assert_not_null(strstr(c.err, "child: get 0 -> 2\nchild: get 1 -> 1\nchild: get 2 -> 0\n"),
                       "stderr:\n%s", c.err);
    /* 3 misses before the fork, 3 hits in the child; 3 + 3 puts */
    cr_assert_not_null(strstr(c.err, "child: stats gets 6 puts 6 hits 3 misses 3 dropped 0 cached 3\n"),
                       "stderr:\n%s", c.err);
    pa_pool_stats_t s;
    pa_pool_stats(h.pool, &s);
    cr_assert_eq(s.cached, 3, "the parent's pool changed with the child's gets");
    pa_pool_destroy(h.pool);
    pthread_barrier_destroy(&h.put_done);
    pthread_barrier_destroy(&h.may_exit);
}

/* ---- the trace line ---------------------------------------------------------------- */

#define SZ "([0-9]+B|[0-9]+\\.[0-9](KiB|MiB|GiB|TiB))"
static const char trace_re[] =
    "^poolalloc: cycle [0-9]+ @[0-9]+\\.[0-9]{3}s (paced|call|trim): live " SZ "->" SZ ", allocated " SZ " at " SZ
    "/s, remote frees ([0-9]+\\.[0-9]%|none), realloc [0-9]+ moves " SZ " copied, returned " SZ ", next after (" SZ
    "|off), pools ([0-9]+\\.[0-9]% hit of [0-9]+ gets|no gets), [0-9]+ dropped$";

typedef struct trace_line {
    unsigned long long n, gets, dropped, moves;
    double secs, hit_pct, live_before, live_after, allocated, rate, remote_pct, copied, returned, next;   /* next < 0: off */
    char why[8];
} trace_line_t;

static double parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (!strncmp(end, "KiB", 3)) v *= 1024.0;
    else if (!strncmp(end, "MiB", 3)) v *= 1024.0 * 1024;
    else if (!strncmp(end, "GiB", 3)) v *= 1024.0 * 1024 * 1024;
    else if (!strncmp(end, "TiB", 3)) v *= 1024.0 * 1024 * 1024 * 1024;
    return v;
}

/* Parses every "poolalloc: cycle" line of err into out (at most max), each
 * checked against the documented format first. */
static size_t parse_trace(const char *err, trace_line_t *out, size_t max)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, trace_re, REG_EXTENDED | REG_NOSUB), 0);
    size_t n = 0;
    for (const char *line = err; *line; ) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[512];
        cr_assert_lt(len, sizeof buf);
        memcpy(buf, line, len);
        buf[len] = 0;
        if (!strncmp(buf, "poolalloc: cycle", 16)) {
            cr_assert_eq(regexec(&re, buf, 0, NULL, 0), 0, "trace line does not match the format:\n%s", buf);
            cr_assert_lt(n, max);
            trace_line_t *t = &out[n++];
            memset(t, 0, sizeof *t);
            char before[32], afterv[32], alloc[32], rate[32], remote[32], copied[32], ret[32], next[32], pools[128];
            int k = sscanf(buf, "poolalloc: cycle %llu @%lfs %7[a-z]: live %31[^-]->%31[^,], allocated %31[^ ] at %31[^/]/s, "
                                "remote frees %31[^,], realloc %llu moves %31[^ ] copied, "
                                "returned %31[^,], next after %31[^,], pools %127[^\n]",
                           &t->n, &t->secs, t->why, before, afterv, alloc, rate, remote, &t->moves, copied, ret, next, pools);
            cr_assert_eq(k, 13, "could not parse: %s", buf);
            t->live_before = parse_size(before);
            t->live_after = parse_size(afterv);
            t->allocated = parse_size(alloc);
            t->rate = parse_size(rate);
            t->remote_pct = strcmp(remote, "none") ? strtod(remote, NULL) : -1;
            t->copied = parse_size(copied);
            t->returned = parse_size(ret);
            t->next = strcmp(next, "off") ? parse_size(next) : -1;
            if (!strncmp(pools, "no gets", 7)) {
                cr_assert_eq(sscanf(pools, "no gets, %llu dropped", &t->dropped), 1, "%s", buf);
            } else {
                cr_assert_eq(sscanf(pools, "%lf%% hit of %llu gets, %llu dropped", &t->hit_pct, &t->gets, &t->dropped),
                             3, "%s", buf);
            }
        }
        if (!nl) break;
        line = nl + 1;
    }
    regfree(&re);
    return n;
}

static const trace_line_t *find_cycle(const trace_line_t *t, size_t n, unsigned long long num)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].n == num) return &t[i];
    return NULL;
}

Test(pool_trace, one_line_per_cycle_in_the_documented_format)
{
    static const char *const env[] = { CHILD_VAR "=trace", "POOLALLOC_TRACE=1", NULL };
    pl_child_t c;
    run_self(env, &c);
    unsigned long long n1 = 0, n2 = 0, cycles = 0;
    const char *l = strstr(c.err, "child: pa_cycle returned ");
    cr_assert(l && sscanf(l, "child: pa_cycle returned %llu", &n1) == 1, "stderr:\n%s", c.err);
    l = strstr(l + 1, "child: pa_cycle returned ");
    cr_assert(l && sscanf(l, "child: pa_cycle returned %llu", &n2) == 1, "stderr:\n%s", c.err);
    l = strstr(c.err, "child: cycles ");
    cr_assert(l && sscanf(l, "child: cycles %llu", &cycles) == 1, "stderr:\n%s", c.err);
    cr_assert_eq(n2, n1 + 1);
    cr_assert_not_null(strstr(c.err, "child: stats gets 14 puts 14 hits 4 misses 10 dropped 10 cached 0\n"),
                       "stderr:\n%s", c.err);

    trace_line_t t[64];
    size_t n = parse_trace(c.err, t, 64);
    cr_assert_eq(n, cycles, "%zu trace lines for %llu cycles; stderr:\n%s", n, cycles, c.err);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(t[i].n, i + 1, "cycle numbers are not 1, 2, 3...; stderr:\n%s", c.err);
        if (i) cr_assert_geq(t[i].secs, t[i - 1].secs, "time went backwards");
        cr_assert_lt(t[i].secs, 60.0);
        cr_assert_leq(t[i].live_after, t[i].live_before * 1.05 + 1024, "cycle %zu: live grew during the cycle", i + 1);
        cr_assert(t[i].next > 0 && t[i].next == 4.0 * 1024 * 1024,
                  "cycle %zu: with a few KiB live the goal is the 4 MiB minimum; stderr:\n%s", i + 1, c.err);
    }

    const trace_line_t *a = find_cycle(t, n, n1), *b = find_cycle(t, n, n2);
    cr_assert(a && b, "no trace line for cycles %llu and %llu; stderr:\n%s", n1, n2, c.err);
    cr_assert_str_eq(a->why, "call");
    cr_assert_str_eq(b->why, "call");
    /* 14 gets, 4 hits: 28.6% */
    cr_assert_eq(a->gets, 14, "cycle %llu: %llu gets; stderr:\n%s", n1, a->gets, c.err);
    cr_assert(a->hit_pct > 28.55 && a->hit_pct < 28.65, "cycle %llu: %.1f%% hit", n1, a->hit_pct);
    cr_assert_eq(a->dropped, 0);
    cr_assert_geq(a->allocated, 2.0 * 1024 * 1024, "cycle %llu: allocated %.0f, the child allocated 2 MiB first", n1,
                  a->allocated);
    cr_assert_lt(a->allocated, 4.0 * 1024 * 1024);
    cr_assert_geq(a->moves, 6, "cycle %llu: %llu realloc moves, the child made 6; stderr:\n%s", n1, a->moves, c.err);
    cr_assert_geq(a->copied, 6300.0, "cycle %llu: %.0f bytes copied, at least 100 + 200 + ... + 3200", n1, a->copied);
    cr_assert_gt(a->remote_pct, 0.0, "cycle %llu: 1000 frees by another thread, remote frees %.1f%%", n1, a->remote_pct);
    cr_assert_gt(a->rate, 0.0);
    cr_assert_eq(b->moves, 0, "no realloc between the two calls");
    cr_assert_eq(b->gets, 0, "no gets between the two calls");
    cr_assert_eq(b->dropped, 10, "the second cycle drops the 10 objects cached before the first");
    cr_assert_lt(b->allocated, 64.0 * 1024);
    /* 12 MiB more at 4 MiB per paced cycle: at least 2 paced lines after n2 */
    size_t paced = 0;
    for (size_t i = 0; i < n; i++) paced += t[i].n > n2 && !strcmp(t[i].why, "paced");
    cr_assert_geq(paced, 2, "12 MiB allocated after cycle %llu gave %zu paced cycles; stderr:\n%s", n2, paced, c.err);
    cr_assert_leq(paced, 3);
}

Test(pool_trace, gogc_off_runs_no_paced_cycle)
{
    static const char *const env[] = { CHILD_VAR "=gogc-off", "POOLALLOC_TRACE=1", "POOLALLOC_GOGC=off", NULL };
    pl_child_t c;
    run_self(env, &c);
    trace_line_t t[8];
    size_t n = parse_trace(c.err, t, 8);
    cr_assert_eq(n, 1, "with POOLALLOC_GOGC=off, 64 MiB of allocation and one pa_cycle gave %zu trace lines:\n%s", n,
                 c.err);
    cr_assert_str_eq(t[0].why, "call");
    cr_assert_eq(t[0].n, 1);
    cr_assert_lt(t[0].next, 0, "\"next after\" is not \"off\" with POOLALLOC_GOGC=off");
    cr_assert_geq(t[0].allocated, 60.0 * 1024 * 1024);
}
