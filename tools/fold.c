/* fold.c -- profiles to folded lines. Stacks are aggregated by their
 * sequence of (interned) frame names, so the joined text of a line is built
 * once per distinct line, not once per stack. */
#include "fold.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char *make_name(const pp_frame_t *f, bool lines)
{
    bool clean = true;
    for (const unsigned char *c = (const unsigned char *)f->function; *c && clean; c++)
        clean = *c != ';' && *c >= 0x20 && *c != 0x7f;
    if (clean && !(lines && f->file))
        return f->function;
    pp_buf_t b = {0};
    pp_buf_puts(&b, f->function);
    if (lines && f->file) {
        pp_buf_printf(&b, " %s:%u", pp_basename(f->file), f->line);
    }
    for (size_t i = 0; i < b.len; i++) {
        if (b.data[i] == ';')
            b.data[i] = ':';
        else if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
            b.data[i] = '?';
    }
    const char *s = pp_intern_n(b.data, b.len);
    pp_buf_free(&b);
    return s;
}

/* names by frame address: a location's frames live as long as the
 * symbolizer, so their names are computed once */
static pp_ptrmap_t names;
static bool names_lines;

const char *pp_frame_name(const pp_frame_t *f, bool lines)
{
    if (lines != names_lines) { /* another setting: start again */
        pp_ptrmap_free(&names);
        names_lines = lines;
    }
    const void **slot = pp_ptrmap_slot(&names, f);
    if (!*slot)
        *slot = make_name(f, lines);
    return *slot;
}

/* distinct lines, keyed by their names (root first) */
typedef struct {
    const char **name;
    uint32_t n;
    int64_t value[2];
} line_t;

typedef struct {
    line_t *v;
    size_t n, cap;
    pp_index_t index;
} table_t;

static uint64_t names_hash(const char *const *name, uint32_t n)
{
    uint64_t h = n;
    for (uint32_t i = 0; i < n; i++)
        h = pp_hash_mix(h, (uintptr_t)name[i]);
    return h;
}

static uint64_t line_hash_at(const void *lines, size_t i)
{
    const line_t *l = (const line_t *)lines + i;
    return names_hash(l->name, l->n);
}

static line_t *line_of(table_t *t, const char **name, uint32_t n)
{
    pp_index_reserve(&t->index, t->n, line_hash_at, t->v);
    size_t j = pp_index_first(&t->index, names_hash(name, n));
    for (; t->index.slot[j]; j = pp_index_next(&t->index, j)) {
        line_t *l = &t->v[t->index.slot[j] - 1];
        if (l->n == n && memcmp(l->name, name, n * sizeof *name) == 0)
            return l;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    line_t *l = &t->v[t->n];
    *l = (line_t){.name = xmalloc(n * sizeof *name), .n = n};
    memcpy(l->name, name, n * sizeof *name);
    t->index.slot[j] = ++t->n;
    return l;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const pp_folded_t *)a)->key, ((const pp_folded_t *)b)->key);
}


pp_folded_t *pp_fold(const pp_profile_t *a, const pp_profile_t *b, int v, bool lines, size_t *n)
{
    table_t t = {0};
    const char **name = NULL;
    size_t cap = 0;
    const pp_profile_t *ps[2] = {a, b};
    for (int which = 0; which < 2; which++)
        for (size_t i = 0; ps[which] && i < ps[which]->nstacks; i++) {
            const pp_stack_t *s = &ps[which]->stacks[i];
            if (s->value[v] == 0)
                continue;
            uint32_t k = 0;
            for (uint32_t l = s->nlocs; l-- > 0;) { /* root first; a location's inlined frames outermost first */
                const pp_location_t *loc = s->locs[l];
                if (k + loc->nframes > cap) {
                    cap = 2 * (k + loc->nframes);
                    name = xrealloc(name, cap * sizeof *name);
                }
                for (uint32_t f = loc->nframes; f-- > 0;)
                    name[k++] = pp_frame_name(&loc->frames[f], lines);
            }
            if (k == 0) {
                if (cap == 0)
                    name = xrealloc(name, (cap = 1) * sizeof *name);
                name[k++] = PP_NO_STACK;
            }
            line_t *e = line_of(&t, name, k);
            e->value[which] = pp_add_sat(e->value[which], s->value[v]);
        }
    free(name);
    pp_index_free(&t.index);
    pp_folded_t *out = xcalloc(t.n ? t.n : 1, sizeof *out);
    pp_buf_t key = {0};
    for (size_t i = 0; i < t.n; i++) {
        key.len = 0;
        for (uint32_t f = 0; f < t.v[i].n; f++) {
            if (f)
                pp_buf_put(&key, ";", 1);
            pp_buf_puts(&key, t.v[i].name[f]);
        }
        out[i] = (pp_folded_t){.key = xstrndup(key.data, key.len), .names = t.v[i].name, .nnames = t.v[i].n,
                               .value = {t.v[i].value[0], t.v[i].value[1]}};
    }
    pp_buf_free(&key);
    free(t.v);
    qsort(out, t.n, sizeof *out, by_key);
    *n = t.n;
    return out;
}
