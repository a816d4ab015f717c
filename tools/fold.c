/* fold.c -- profiles to folded lines. */
#include "fold.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

const char *pp_frame_name(const pp_frame_t *f, bool lines)
{
    pp_buf_t b = {0};
    pp_buf_puts(&b, f->function);
    if (lines && f->file) {
        const char *base = strrchr(f->file, '/');
        pp_buf_printf(&b, " %s:%u", base ? base + 1 : f->file, f->line);
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

/* the folded key of a stack: root first, each location's inlined frames
 * outermost first */
static const char *stack_key(const pp_stack_t *s, bool lines, pp_buf_t *b)
{
    b->len = 0;
    for (uint32_t i = s->nlocs; i-- > 0;) {
        const pp_location_t *l = s->locs[i];
        for (uint32_t f = l->nframes; f-- > 0;) {
            if (b->len)
                pp_buf_put(b, ";", 1);
            pp_buf_puts(b, pp_frame_name(&l->frames[f], lines));
        }
    }
    if (b->len == 0)
        pp_buf_puts(b, "[no stack]");
    return pp_intern_n(b->data, b->len);
}

typedef struct {
    pp_folded_t *v;
    size_t n, cap;
    size_t *slot; /* index + 1 by key address */
    size_t slots;
} table_t;

static pp_folded_t *entry(table_t *t, const char *key)
{
    if (2 * (t->n + 1) > t->slots) {
        size_t slots = t->slots ? t->slots * 2 : 1024;
        free(t->slot);
        t->slot = xcalloc(slots, sizeof *t->slot);
        t->slots = slots;
        for (size_t i = 0; i < t->n; i++) {
            size_t j = pp_hash_mix(0, (uintptr_t)t->v[i].key) & (slots - 1);
            while (t->slot[j])
                j = (j + 1) & (slots - 1);
            t->slot[j] = i + 1;
        }
    }
    size_t j = pp_hash_mix(0, (uintptr_t)key) & (t->slots - 1);
    for (; t->slot[j]; j = (j + 1) & (t->slots - 1))
        if (t->v[t->slot[j] - 1].key == key)
            return &t->v[t->slot[j] - 1];
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->n] = (pp_folded_t){.key = key};
    t->slot[j] = ++t->n;
    return &t->v[t->n - 1];
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const pp_folded_t *)a)->key, ((const pp_folded_t *)b)->key);
}

pp_folded_t *pp_fold(const pp_profile_t *a, const pp_profile_t *b, int v, bool lines, size_t *n)
{
    table_t t = {0};
    pp_buf_t key = {0};
    const pp_profile_t *ps[2] = {a, b};
    for (int which = 0; which < 2; which++)
        for (size_t i = 0; ps[which] && i < ps[which]->nstacks; i++) {
            const pp_stack_t *s = &ps[which]->stacks[i];
            if (s->value[v] == 0)
                continue;
            pp_folded_t *e = entry(&t, stack_key(s, lines, &key));
            if (__builtin_add_overflow(e->value[which], s->value[v], &e->value[which]))
                e->value[which] = INT64_MAX;
        }
    pp_buf_free(&key);
    free(t.slot);
    qsort(t.v, t.n, sizeof *t.v, by_key);
    *n = t.n;
    return t.v;
}
