/* site.c -- the table of allocation sites behind `top` and `report`. */
#include <stdlib.h>
#include <string.h>

#include "site.h"

void pp_sites_init(pp_sites_t *t, size_t record_size) { *t = (pp_sites_t){.size = record_size}; }

static const pp_frame_t *key(const pp_sites_t *t, size_t i) { return (const pp_frame_t *)((const char *)t->v + i * t->size); }

static uint64_t site_hash(const pp_frame_t *f)
{
    return pp_hash_mix(pp_hash_mix(pp_hash_mix(0, (uintptr_t)f->function), (uintptr_t)f->file), f->line);
}

static uint64_t site_hash_at(const void *table, size_t i) { return site_hash(key(table, i)); }

void *pp_site_of(pp_sites_t *t, const pp_frame_t *f)
{
    pp_index_reserve(&t->index, t->n, site_hash_at, t);
    size_t j = pp_index_first(&t->index, site_hash(f));
    for (; t->index.slot[j]; j = pp_index_next(&t->index, j)) {
        const pp_frame_t *s = key(t, t->index.slot[j] - 1);
        if (s->function == f->function && s->file == f->file && s->line == f->line)
            return (void *)s;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->v = xrealloc(t->v, t->cap * t->size);
    }
    void *r = (char *)t->v + t->n * t->size;
    memset(r, 0, t->size);
    memcpy(r, f, sizeof *f);
    t->index.slot[j] = ++t->n;
    return r;
}

void pp_sites_free(pp_sites_t *t)
{
    free(t->v);
    pp_index_free(&t->index);
    *t = (pp_sites_t){0};
}
