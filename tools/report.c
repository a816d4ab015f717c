/* report.c -- allocation sites ranked by what to change.
 *
 * A site is the call that allocated: the allocating frame of a stack
 * (pp_alloc_frame: not libc's strdup, its caller; past allocation wrappers,
 * wrapper.h), named by its function
 * and the line of the call as top names sites. The values of every stack
 * with the same site add up. Each site gets one finding, the first that
 * applies of those in `findings` below; its thresholds are shares of the
 * site's own objects, chosen so that a finding describes what most of them
 * did. Sites are ranked within a finding by the volume the change would
 * save. */
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "site.h"
#include "top.h"

/* The thresholds (README of tools/ lists them for users). */
#define LEAK_SHARE 0.5          /* in use / allocated */
#define GROWN_SHARE 0.5         /* realloc_objects / allocated, or moved / allocated */
#define MISS_SHARE 0.5          /* pool_misses / allocated */
#define THREAD_SHARE 0.3        /* freed_thread / freed */
#define STACK_SHARE 0.9         /* frame_local / freed */
#define STACK_MAX_SIZE 65536    /* bytes: a bigger object does not belong on a thread's stack */
#define POOL_FREED_SHARE 0.5    /* freed / allocated */
#define POOL_SAME_THREAD 0.7    /* (freed - freed_thread) / freed */
#define POOL_CHURN_SHARE 0.8    /* freed < 1 ms / freed */
#define TEMPORARY_SHARE 0.5     /* temporary / freed */
#define MIN_SAMPLES 3.0         /* estimated samples below which a site's shares are noise */
#define REMOTE_COSTLY 100000.0  /* objects/s freed by other threads worth changing */

enum { F_LEAK, F_GROWN, F_MISSES, F_THREAD, F_STACK, F_POOL, F_TEMPORARY, F_N };

static const char *const titles[F_N] = {
    "Leak suspects: objects never freed",
    "Grown by realloc: preallocate",
    "Pool misses: pa_pool_get made new objects",
    "Freed by another thread",
    "Stack candidates: freed before the allocating function returned",
    "Pool candidates: short-lived objects on one thread",
    "Temporaries: freed before the thread allocated anything else",
};

typedef struct {
    pp_frame_t site;             /* first: the key of pp_sites_t */
    const pp_frame_t *via;       /* the allocation wrapper it calls, or NULL */
    int64_t all[PP_NWEIGHTS];    /* from every dump */
    int64_t fate[PP_NWEIGHTS];   /* from the dumps that recorded the fates */
    bool has_fates;
} site_t;

/* Adds p's stacks to their sites; a stack without frames has no site. */
static void add_sites(pp_sites_t *t, const pp_profile_t *p, bool fates)
{
    for (size_t i = 0; i < p->nstacks; i++) {
        const pp_stack_t *s = &p->stacks[i];
        if (!s->nlocs)
            continue;
        site_t *st = pp_site_of(t, pp_stack_site(s));
        st->via = st->via ? st->via : s->via;
        int64_t *v = fates ? st->fate : st->all;
        for (int k = 0; k < PP_NWEIGHTS; k++)
            v[k] = pp_add_sat(v[k], s->value[k]);
        st->has_fates |= fates;
    }
}

/* 1 - e^-x for x >= 0, the chance that an object of x sample rates is
 * sampled (the tool does not link libm for this one use). */
static double sampled_chance(double x)
{
    if (x < 1e-3)
        return x - x * x / 2 + x * x * x / 6;
    if (x > 40)
        return 1;
    int halvings = 0;
    for (; x > 0.25; x /= 2)
        halvings++;
    double term = 1, e = 1; /* e^-x by its series, then squared back */
    for (int k = 1; k < 12; k++) {
        term *= -x / k;
        e += term;
    }
    while (halvings--)
        e *= e;
    return 1 - e;
}

/* ---- numbers as a reader takes them in: 12.3 k, 2.1 M, 48 B, 97% ---- */

static const char *count(char *buf, size_t size, double x)
{
    static const char *const unit[] = {"", " k", " M", " G", " T", " P", " E"};
    int u = 0;
    while (x >= 999.5 && u < 6)
        x /= 1000, u++;
    if (u == 0)
        snprintf(buf, size, "%.0f", x);
    else
        snprintf(buf, size, "%.*f%s", x < 99.95 ? 1 : 0, x, unit[u]);
    return buf;
}

static const char *bytes(char *buf, size_t size, double x)
{
    return pp_format_value(buf, size, x >= 9.2e18 ? INT64_MAX : (int64_t)(x + 0.5), PP_ALLOC_SPACE);
}

static const char *share(char *buf, size_t size, double part, double whole)
{
    double p = whole > 0 ? 100 * part / whole : 0;
    snprintf(buf, size, "%.0f%%", p < 0 ? 0 : p > 100 ? 100 : p); /* counters are read while threads run */
    return buf;
}

/* "40.0 k objects/s", or "40.0 k objects" when the profile has no duration */
static const char *rate(char *buf, size_t size, double x, double seconds, const char *noun)
{
    char n[32];
    if (seconds > 0)
        snprintf(buf, size, "%s %s/s", count(n, sizeof n, x / seconds), noun);
    else
        snprintf(buf, size, "%s %s", count(n, sizeof n, x), noun);
    return buf;
}

/* "  lpInsert via zrealloc_usable (listpack.c:412)" */
static void print_site(FILE *out, const site_t *s)
{
    fprintf(out, "  %s", s->site.function);
    if (s->via)
        fprintf(out, " via %s", s->via->function);
    if (s->site.file)
        fprintf(out, " (%s:%u)", pp_basename(s->site.file), s->site.line);
}

/* ---- findings ---- */

typedef struct {
    const site_t *site;
    double key, key2;            /* the volume it is ranked by, larger first */
    char reason[160];
    char suggestion[160];
} row_t;

typedef struct {
    double seconds;              /* the profile's duration */
    bool at_exit;                /* every dump was written at exit */
    double rate;                 /* the largest sample rate, 1 at rate 1 */
} context_t;

#define V(w) ((double)s->fate[w])

/* The finding of site s (F_N: none) and its row. */
static int judge(const site_t *s, const context_t *c, row_t *r)
{
    char a[32], b[32], d[48];
    double allocated = (double)s->all[PP_ALLOC_OBJECTS];
    *r = (row_t){.site = s};

    if ((double)s->all[PP_INUSE_OBJECTS] >= LEAK_SHARE * allocated) {
        r->key = (double)s->all[PP_INUSE_SPACE];
        snprintf(r->reason, sizeof r->reason, "%s live %s, %s of %s objects %s", bytes(a, sizeof a, r->key),
                 c->at_exit ? "at exit" : "when dumped", share(b, sizeof b, (double)s->all[PP_INUSE_OBJECTS], allocated),
                 count(d, sizeof d, allocated), c->at_exit ? "never freed" : "not freed yet");
        snprintf(r->suggestion, sizeof r->suggestion, "free them, or bound the cache that keeps them");
        return F_LEAK;
    }
    if (!s->has_fates)
        return F_N;

    double objects = V(PP_ALLOC_OBJECTS), freed = V(PP_FREED_OBJECTS);
    double size = objects > 0 ? V(PP_ALLOC_SPACE) / objects : 0;
    if (objects <= 0)
        return F_N;
    if (V(PP_REALLOC_OBJECTS) >= GROWN_SHARE * objects || V(PP_MOVED) >= GROWN_SHARE * objects) {
        r->key = V(PP_REALLOC_COPIED);
        r->key2 = V(PP_REALLOC_OBJECTS) > V(PP_MOVED) ? V(PP_REALLOC_OBJECTS) : V(PP_MOVED);
        if (V(PP_REALLOC_OBJECTS) >= GROWN_SHARE * objects) {
            /* every object allocated here that moved on is a link of a
             * chain (a realloc(NULL) beginning one at this line too): the
             * chains that ended here are the rest */
            double chains = V(PP_ALLOC_OBJECTS) - V(PP_MOVED), per = V(PP_REALLOC_OBJECTS) / (chains > 1 ? chains : 1);
            /* chains is the difference of two estimates: a ratio over it is
             * shown only when it stands on enough samples of its own */
            double chain_samples = c->rate > 1 ? chains * sampled_chance(size / c->rate) : chains;
            if (chain_samples >= MIN_SAMPLES)
                snprintf(r->reason, sizeof r->reason, "%.*f reallocs per object, %s copied", per < 9.95 ? 1 : 0, per,
                         bytes(a, sizeof a, r->key));
            else if (c->seconds > 0)
                snprintf(r->reason, sizeof r->reason, "%.0f reallocs/s, %s/s copied", V(PP_REALLOC_OBJECTS) / c->seconds,
                         bytes(a, sizeof a, r->key / c->seconds));
            else
                snprintf(r->reason, sizeof r->reason, "%.0f reallocs, %s copied", V(PP_REALLOC_OBJECTS),
                         bytes(a, sizeof a, r->key));
        } else {
            snprintf(r->reason, sizeof r->reason, "%s of its objects grown by realloc",
                     share(a, sizeof a, V(PP_MOVED), objects));
        }
        snprintf(r->suggestion, sizeof r->suggestion, "reserve the final size up front (the C twin of make(len, cap))");
        return F_GROWN;
    }
    if (V(PP_POOL_MISSES) >= MISS_SHARE * objects) {
        r->key = V(PP_POOL_MISSES);
        snprintf(r->reason, sizeof r->reason, "the pool here misses: %s made by pa_pool_get",
                 rate(d, sizeof d, r->key, c->seconds, "new objects"));
        snprintf(r->suggestion, sizeof r->suggestion,
                 "the pool is emptied by reclaim cycles, or objects are freed instead of put back (pa_pool_put)");
        return F_MISSES;
    }
    if (freed <= 0)
        return F_N;
    if (V(PP_ESCAPED_THREAD) >= THREAD_SHARE * freed) {
        r->key = V(PP_ESCAPED_THREAD);
        snprintf(r->reason, sizeof r->reason, "%s freed by another thread (%s)", share(a, sizeof a, r->key, freed),
                 rate(d, sizeof d, r->key, c->seconds, "objects"));
        if (c->seconds > 0 && r->key / c->seconds >= REMOTE_COSTLY)
            snprintf(r->suggestion, sizeof r->suggestion,
                     "at this rate the hand-offs cost: return the objects to the producing thread to free, or free them in batches");
        else
            snprintf(r->suggestion, sizeof r->suggestion,
                     "a hand-off between threads, fine at this rate (poolalloc frees across threads without locks)");
        return F_THREAD;
    }
    if (V(PP_FRAME_LOCAL) >= STACK_SHARE * freed && size <= STACK_MAX_SIZE) {
        r->key = objects;
        int n = snprintf(r->reason, sizeof r->reason, "%s frame-local, %s each", share(a, sizeof a, V(PP_FRAME_LOCAL), freed),
                         bytes(b, sizeof b, size));
        if (V(PP_TEMPORARY) >= TEMPORARY_SHARE * freed)
            snprintf(r->reason + n, sizeof r->reason - (size_t)n, ", %s temporary", share(a, sizeof a, V(PP_TEMPORARY), freed));
        snprintf(r->suggestion, sizeof r->suggestion, "a local variable or a fixed buffer on the stack");
        return F_STACK;
    }
    if (freed >= POOL_FREED_SHARE * objects && freed - V(PP_ESCAPED_THREAD) >= POOL_SAME_THREAD * freed &&
        V(PP_CHURN_OBJECTS) >= POOL_CHURN_SHARE * freed) {
        r->key = objects;
        double young = V(PP_FREED_LT_1US) + V(PP_FREED_LT_10US);
        bool very = young >= 0.5 * freed;
        char e[32];
        snprintf(r->reason, sizeof r->reason, "%s of %s, %s die < %s, %s on the allocating thread",
                 rate(d, sizeof d, objects, c->seconds, "objects"), bytes(b, sizeof b, size),
                 share(a, sizeof a, very ? young : V(PP_CHURN_OBJECTS), freed), very ? "10 µs" : "1 ms",
                 share(e, sizeof e, freed - V(PP_ESCAPED_THREAD), freed));
        snprintf(r->suggestion, sizeof r->suggestion, "recycle them with a pa_pool_t");
        return F_POOL;
    }
    if (V(PP_TEMPORARY) >= TEMPORARY_SHARE * freed) {
        r->key = objects;
        snprintf(r->reason, sizeof r->reason, "%s of %s, %s heaptrack's temporaries (freed before the thread allocated "
                 "anything else)", rate(d, sizeof d, objects, c->seconds, "objects"), bytes(b, sizeof b, size),
                 share(a, sizeof a, V(PP_TEMPORARY), freed));
        snprintf(r->suggestion, sizeof r->suggestion, "reuse one buffer");
        return F_TEMPORARY;
    }
    return F_N;
}

#undef V

static int by_volume(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    if (x->key2 != y->key2)
        return x->key2 > y->key2 ? -1 : 1;
    int c = strcmp(x->site->site.function, y->site->site.function);
    return c ? c : (x->site->site.line > y->site->site.line) - (x->site->site.line < y->site->site.line);
}

static int by_peak(const void *a, const void *b)
{
    int64_t x = (*(const site_t *const *)a)->all[PP_PEAK_SPACE], y = (*(const site_t *const *)b)->all[PP_PEAK_SPACE];
    return x < y ? 1 : x > y ? -1 : 0;
}

/* What held the heap at its peak (format version 3): the sites by bytes in
 * use then. */
static void peak(FILE *out, const pp_profile_t *all, const pp_sites_t *t, size_t rows)
{
    if (!(all->recorded_any & PP_VALUE_BIT(PP_PEAK_SPACE)) || !all->peak_inuse_space)
        return;
    const site_t **v = xcalloc(t->n ? t->n : 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (((const site_t *)t->v)[i].all[PP_PEAK_SPACE] > 0)
            v[n++] = (const site_t *)t->v + i;
    qsort(v, n, sizeof *v, by_peak);
    char a[32], b[32];
    fprintf(out, "\nAt the peak: %s in use", pp_format_value(a, sizeof a, (int64_t)all->peak_inuse_space, PP_INUSE_SPACE));
    if (all->nprocesses > 1)
        fprintf(out, " (the %zu processes' peaks added)", all->nprocesses);
    else
        fprintf(out, " at %.3f s", all->peak_uptime);
    fputs(", held by\n", out);
    for (size_t i = 0; i < n && i < rows; i++) {
        print_site(out, v[i]);
        fprintf(out, "  %s, %.0f%%, in %s objects\n", pp_format_value(a, sizeof a, v[i]->all[PP_PEAK_SPACE], PP_PEAK_SPACE),
                100.0 * (double)v[i]->all[PP_PEAK_SPACE] / (double)all->peak_inuse_space,
                pp_format_value(b, sizeof b, v[i]->all[PP_PEAK_OBJECTS], PP_PEAK_OBJECTS));
    }
    if (n > rows)
        fprintf(out, "  ... and %zu more (-n to show more)\n", n - rows);
    free(v);
}

static void header(FILE *out, const pp_profile_t *all, const pp_profile_t *fates)
{
    char a[32];
    if (all->command && all->program && strcmp(all->command, pp_basename(all->program)) != 0)
        fprintf(out, "report of %s (%s)", all->command, all->program);   /* run through a symlink */
    else
        fprintf(out, "report of %s", all->program ? all->program : "?");
    fprintf(out, ": %zu process%s", all->nprocesses,
            all->nprocesses == 1 ? "" : "es");
    if (all->uptime_max > 0)
        fprintf(out, ", %.*f s", all->uptime_max < 10 ? 3 : 1, all->uptime_max);
    else
        fputs(", duration unknown (rates are totals)", out);
    if (all->sample_rate)
        fprintf(out, ", sample rate %s%s", pp_format_value(a, sizeof a, (int64_t)(all->sample_rate > INT64_MAX ? INT64_MAX : all->sample_rate),
                                                          PP_ALLOC_SPACE), all->sample_rate == 1 ? " (every allocation)" : "");
    else if (all->nprocesses > 1)
        fputs(", sample rates differ", out);
    fputc('\n', out);
    if (fates->nprocesses == 0)
        fputs("this profile has no lifetime data (format version 1 / older poolalloc): lifetimes, escapes, reallocs\n"
              "and pool misses were not recorded, so only leak suspects are ranked (from what was in use)\n", out);
    else if (fates->nprocesses < all->nprocesses)
        fprintf(out, "%zu of %zu processes have no lifetime data (format version 1 / older poolalloc): their objects\n"
                     "count for leak suspects only\n", all->nprocesses - fates->nprocesses, all->nprocesses);
}

int pp_report_print(FILE *out, const char *what, const pp_profile_t *all, const pp_profile_t *fates, size_t rows)
{
    pp_sites_t t;
    pp_sites_init(&t, sizeof(site_t));
    add_sites(&t, all, false);
    if (fates->nprocesses)
        add_sites(&t, fates, true);

    double rate_bytes = all->sample_rate_max > 1 ? (double)all->sample_rate_max : 1;
    context_t c = {.seconds = all->uptime_max, .at_exit = all->nprocesses && all->nexit == all->nprocesses,
                   .rate = rate_bytes};
    row_t *found[F_N] = {0};
    size_t nfound[F_N] = {0}, unranked = 0;
    for (size_t i = 0; i < t.n; i++) {
        const site_t *s = (const site_t *)t.v + i;
        double objects = (double)s->all[PP_ALLOC_OBJECTS];
        if (objects <= 0)
            continue;
        /* at rate 1 every object is a sample */
        double size = (double)s->all[PP_ALLOC_SPACE] / objects;
        double samples = rate_bytes > 1 ? objects * sampled_chance(size / rate_bytes) : objects;
        if (samples < MIN_SAMPLES) {
            unranked++;
            continue;
        }
        row_t r;
        int f = judge(s, &c, &r);
        if (f == F_N)
            continue;
        found[f] = xrealloc(found[f], (nfound[f] + 1) * sizeof *found[f]);
        found[f][nfound[f]++] = r;
    }

    header(out, all, fates);
    peak(out, all, &t, rows);
    bool any = false;
    for (int f = 0; f < F_N; f++) {
        if (!nfound[f])
            continue;
        any = true;
        qsort(found[f], nfound[f], sizeof *found[f], by_volume);
        if (f == F_LEAK && !c.at_exit)
            fputs("\nLeak suspects: objects still in use when dumped (not an exit dump)\n", out);
        else
            fprintf(out, "\n%s\n", titles[f]);
        for (size_t i = 0; i < nfound[f] && i < rows; i++) {
            const row_t *r = &found[f][i];
            print_site(out, r->site);
            fprintf(out, "  %s; %s\n", r->reason, r->suggestion);
        }
        if (nfound[f] > rows)
            fprintf(out, "  ... and %zu more (-n to show more)\n", nfound[f] - rows);
        free(found[f]);
    }
    if (!any)
        fputs("\nno findings\n", out);
    if (unranked)
        fprintf(out, "\n%zu site%s with fewer than %.0f samples not ranked\n", unranked, unranked == 1 ? "" : "s",
                MIN_SAMPLES);
    pp_sites_free(&t);
    if (fflush(out) != 0 || ferror(out)) {
        pp_error("cannot write %s", what);
        return -1;
    }
    return 0;
}
