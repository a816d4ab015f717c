/* top.c -- allocation sites ranked by flat and cumulative weight. */
#include "top.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "site.h"

typedef struct {
    pp_frame_t site; /* first: the key of pp_sites_t */
    const pp_frame_t *via; /* the allocation wrapper it calls, or NULL */
    int64_t flat, cum;
    size_t seen; /* the last stack that added to cum, + 1 */
} site_t;

/* Weights of a merged profile may already sit at INT64_MAX (profile.c
 * saturates): adding must not overflow. */
static void add_sat(int64_t *sum, int64_t v) { *sum = pp_add_sat(*sum, v); }

static bool sort_by_cum;
static int heavier(const void *a, const void *b)
{
    const site_t *x = a, *y = b;
    int64_t kx = sort_by_cum ? x->cum : x->flat, ky = sort_by_cum ? y->cum : y->flat;
    if (kx != ky)
        return kx > ky ? -1 : 1;
    if (x->flat != y->flat)
        return x->flat > y->flat ? -1 : 1;
    int c = strcmp(x->site.function, y->site.function);
    return c ? c : (x->site.line > y->site.line) - (x->site.line < y->site.line);
}

const char *pp_format_value(char *buf, size_t size, int64_t x, int v)
{
    if (strcmp(pp_weight_units[v], "bytes") != 0) {
        snprintf(buf, size, "%" PRId64, x);
        return buf;
    }
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    uint64_t a = x < 0 ? -(uint64_t)x : (uint64_t)x; /* INT64_MIN too */
    double d = (double)a;
    int u = 0;
    while (d >= 1024 && u < 6)
        d /= 1024, u++;
    if (u == 0)
        snprintf(buf, size, "%s%" PRIu64 " B", x < 0 ? "-" : "", a);
    else
        snprintf(buf, size, "%s%.*f %s", x < 0 ? "-" : "", d < 10 ? 2 : d < 100 ? 1 : 0, d, unit[u]);
    return buf;
}

static const pp_frame_t unknown_site = {PP_NO_STACK, NULL, 0};

int pp_top_print(FILE *out, const char *what, const pp_profile_t *p, int v, size_t rows, bool by_cum)
{
    pp_sites_t t;
    pp_sites_init(&t, sizeof(site_t));
    size_t nstacks = 0; /* of this weight: the others are in no row */
    for (size_t i = 0; i < p->nstacks; i++) {
        const pp_stack_t *s = &p->stacks[i];
        if (s->value[v] == 0)
            continue;
        nstacks++;
        site_t *site = pp_site_of(&t, s->nlocs ? pp_stack_site(s) : &unknown_site);
        add_sat(&site->flat, s->value[v]);
        site->via = site->via ? site->via : s->via;
        if (!s->nlocs)
            add_sat(&site->cum, s->value[v]);
        for (uint32_t l = 0; l < s->nlocs; l++)
            for (uint32_t f = 0; f < s->locs[l]->nframes; f++) {
                site_t *st = pp_site_of(&t, &s->locs[l]->frames[f]);
                if (st->seen != i + 1) { /* recursion: count a stack once */
                    st->seen = i + 1;
                    add_sat(&st->cum, s->value[v]);
                }
            }
    }
    site_t *sites = t.v;
    sort_by_cum = by_cum;
    if (t.n > 1)
        qsort(sites, t.n, sizeof *sites, heavier);

    char a[32], b[32], rate[32];
    int64_t total = p->total[v];
    fprintf(out, "%s, %s", pp_weight_names[v], p->program ? p->program : "?");
    if (p->nprocesses != 1)
        fprintf(out, " and others: %zu processes", p->nprocesses);
    int64_t sr = p->sample_rate > INT64_MAX ? INT64_MAX : (int64_t)p->sample_rate; /* any dec is valid */
    if (sr)
        fprintf(out, ", sample rate %s", pp_format_value(rate, sizeof rate, sr, PP_ALLOC_SPACE));

    size_t shown = 0; /* ranked by flat, the sites that allocate nothing themselves are left out */
    while (shown < t.n && shown < rows && (by_cum || sites[shown].flat != 0))
        shown++;
    size_t allocating = 0;
    for (size_t i = 0; i < t.n; i++)
        allocating += sites[i].flat != 0;
    fprintf(out, "\ntotal %s in %zu stacks from %zu allocation sites; the top %zu by %s:\n",
            pp_format_value(a, sizeof a, total, v), nstacks, allocating, shown, by_cum ? "cum" : "flat");
    fprintf(out, "%12s %6s %6s %12s %6s  %s\n", "flat", "flat%", "sum%", "cum", "cum%", "function  file:line");
    int64_t sum = 0;
    double pct = total ? 100.0 / (double)total : 0;
    for (size_t i = 0; i < shown; i++) {
        site_t *s = &sites[i];
        add_sat(&sum, s->flat);
        fprintf(out, "%12s %5.1f%% %5.1f%% %12s %5.1f%%  %s", pp_format_value(a, sizeof a, s->flat, v),
                (double)s->flat * pct, (double)sum * pct, pp_format_value(b, sizeof b, s->cum, v), (double)s->cum * pct,
                s->site.function);
        if (s->via)
            fprintf(out, " via %s", s->via->function);
        if (s->site.file)
            fprintf(out, "  %s:%u", pp_basename(s->site.file), s->site.line);
        fputc('\n', out);
    }
    pp_sites_free(&t);
    if (fflush(out) != 0 || ferror(out)) {
        pp_error("cannot write %s", what);
        return -1;
    }
    return 0;
}
