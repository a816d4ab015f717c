/* common.c -- allocation, messages, interned strings, buffers. */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *pp_progname = "poolalloc-prof";

static _Noreturn void out_of_memory(size_t n)
{
    fprintf(stderr, "%s: out of memory (asked for %zu bytes)\n", pp_progname, n);
    exit(1);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        out_of_memory(strlen(fmt));
    return s;
}

static void message(const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s", pp_progname, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void pp_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("", fmt, ap);
    va_end(ap);
}

void pp_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("warning: ", fmt, ap);
    va_end(ap);
}

void pp_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("", fmt, ap);
    va_end(ap);
    exit(1);
}

const char *pp_basename(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

uint64_t pp_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* ---- interned strings: open addressing, never shrinks ---- */
typedef struct {
    const char *s;
    size_t len;
    uint64_t hash;
} intern_slot_t;

static intern_slot_t *intern_tab;
static size_t intern_cap, intern_used;

static void intern_grow(void)
{
    size_t cap = intern_cap ? intern_cap * 2 : 4096;
    intern_slot_t *t = xcalloc(cap, sizeof *t);
    for (size_t i = 0; i < intern_cap; i++) {
        if (!intern_tab[i].s)
            continue;
        size_t j = intern_tab[i].hash & (cap - 1);
        while (t[j].s)
            j = (j + 1) & (cap - 1);
        t[j] = intern_tab[i];
    }
    free(intern_tab);
    intern_tab = t;
    intern_cap = cap;
}

const char *pp_intern_n(const char *s, size_t n)
{
    if (2 * (intern_used + 1) > intern_cap)
        intern_grow();
    uint64_t h = pp_hash_bytes(s, n, 0);
    size_t j = h & (intern_cap - 1);
    for (; intern_tab[j].s; j = (j + 1) & (intern_cap - 1))
        if (intern_tab[j].hash == h && intern_tab[j].len == n && memcmp(intern_tab[j].s, s, n) == 0)
            return intern_tab[j].s;
    intern_tab[j] = (intern_slot_t){xstrndup(s, n), n, h};
    intern_used++;
    return intern_tab[j].s;
}

const char *pp_intern(const char *s) { return pp_intern_n(s, strlen(s)); }

/* ---- indexes ---- */
void pp_index_reserve(pp_index_t *ix, size_t n, uint64_t (*hash)(const void *entries, size_t i), const void *entries)
{
    if (2 * (n + 1) <= ix->cap)
        return;
    size_t cap = ix->cap ? ix->cap * 2 : 1024;
    size_t *slot = xcalloc(cap, sizeof *slot);
    for (size_t i = 0; i < n; i++) {
        size_t j = hash(entries, i) & (cap - 1);
        while (slot[j])
            j = (j + 1) & (cap - 1);
        slot[j] = i + 1;
    }
    free(ix->slot);
    *ix = (pp_index_t){slot, cap};
}

void pp_index_free(pp_index_t *ix)
{
    free(ix->slot);
    *ix = (pp_index_t){0};
}

/* ---- pointer maps ---- */
const void **pp_ptrmap_slot(pp_ptrmap_t *m, const void *key)
{
    if (2 * (m->used + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 1024;
        const void **k = xcalloc(cap, sizeof *k), **v = xcalloc(cap, sizeof *v);
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t j = pp_hash_mix(0, (uintptr_t)m->keys[i]) & (cap - 1);
            while (k[j])
                j = (j + 1) & (cap - 1);
            k[j] = m->keys[i];
            v[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        *m = (pp_ptrmap_t){k, v, cap, m->used};
    }
    size_t j = pp_hash_mix(0, (uintptr_t)key) & (m->cap - 1);
    while (m->keys[j] && m->keys[j] != key)
        j = (j + 1) & (m->cap - 1);
    if (!m->keys[j]) {
        m->keys[j] = key;
        m->used++;
    }
    return &m->vals[j];
}

void pp_ptrmap_free(pp_ptrmap_t *m)
{
    free(m->keys);
    free(m->vals);
    *m = (pp_ptrmap_t){0};
}

/* ---- buffers ---- */
static void buf_reserve(pp_buf_t *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void pp_buf_put(pp_buf_t *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void pp_buf_puts(pp_buf_t *b, const char *s) { pp_buf_put(b, s, strlen(s)); }

void pp_buf_printf(pp_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void pp_buf_free(pp_buf_t *b)
{
    free(b->data);
    *b = (pp_buf_t){0};
}

int pp_write_all(FILE *f, const void *p, size_t n, const char *what)
{
    if (n && fwrite(p, 1, n, f) != n) {
        pp_error("cannot write %s: %s", what, strerror(errno));
        return -1;
    }
    return 0;
}
