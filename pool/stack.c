/* stack.c — a growable array of object pointers: a local's shared stack and
 * victim cache. Objects are never linked through their own memory. */
#include "pool_internal.h"

bool pa_objstack_push(pa_objstack_t *s, void *obj)
{
    if (s->len == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 16;
        void **items = pa_realloc_impl(s->items, (size_t)cap * sizeof *items);
        if (!items) return false;
        s->items = items;
        s->cap = cap;
    }
    s->items[s->len++] = obj;
    return true;
}

void *pa_objstack_pop(pa_objstack_t *s)
{
    return s->len ? s->items[--s->len] : NULL;
}

void pa_objstack_free(pa_objstack_t *s)
{
    pa_free_inline(s->items);
    *s = (pa_objstack_t){ 0 };
}
