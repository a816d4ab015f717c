/* common.h -- what every part of poolalloc-prof shares: allocation that
 * never returns NULL, interned strings, messages in one format, growable
 * buffers. */
#ifndef PP_COMMON_H
#define PP_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Out of memory is the one error the tool cannot report usefully: it says
 * so and exits 1. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PP_PRINTF(1, 2);

/* Messages: "poolalloc-prof: ..." on stderr, one line each. */
extern const char *pp_progname;
void pp_error(const char *fmt, ...) PP_PRINTF(1, 2);
void pp_warn(const char *fmt, ...) PP_PRINTF(1, 2);
_Noreturn void pp_die(const char *fmt, ...) PP_PRINTF(1, 2);

/* Interned strings: equal strings get the same pointer, which lives until
 * the process exits, so they can be compared with == and hashed by address. */
const char *pp_intern(const char *s);
const char *pp_intern_n(const char *s, size_t n);

/* FNV-1a over bytes, and a mixer for combining words. */
uint64_t pp_hash_bytes(const void *p, size_t n, uint64_t seed);
static inline uint64_t pp_hash_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 32); /* tables take the low bits: let the high ones reach them */
}

/* Sums of weights stop at INT64_MAX: a corrupt profile can hold any number. */
static inline int64_t pp_add_sat(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

/* The last component of a path ("libc.so.6" of "/lib/x86_64-linux-gnu/libc.so.6"). */
const char *pp_basename(const char *path);

/* What a stack without frames is called in every output. */
#define PP_NO_STACK "[no stack]"

/* An open-addressing index over entries the caller keeps in an array:
 * a slot holds an entry's number + 1, 0 when empty. The caller hashes and
 * compares; the index only finds slots and grows:
 *     pp_index_reserve(&ix, n, hash_of_entry, entries);   (before adding entry n)
 *     for (j = pp_index_first(&ix, h); ix.slot[j]; j = pp_index_next(&ix, j))
 *         if (entry ix.slot[j] - 1 matches) return it;
 *     ix.slot[j] = ++n;                                    (append the entry) */
typedef struct {
    size_t *slot;
    size_t cap; /* a power of two, at least twice the entries */
} pp_index_t;
void pp_index_reserve(pp_index_t *ix, size_t n, uint64_t (*hash)(const void *entries, size_t i), const void *entries);
static inline size_t pp_index_first(const pp_index_t *ix, uint64_t h) { return h & (ix->cap - 1); }
static inline size_t pp_index_next(const pp_index_t *ix, size_t j) { return (j + 1) & (ix->cap - 1); }
void pp_index_free(pp_index_t *ix);

/* Pointer to pointer, open addressing; keys are never NULL. */
typedef struct {
    const void **keys, **vals;
    size_t cap, used;
} pp_ptrmap_t;
/* The value slot of key, added (holding NULL) if key is new. */
const void **pp_ptrmap_slot(pp_ptrmap_t *m, const void *key);
void pp_ptrmap_free(pp_ptrmap_t *m);

/* A growable byte buffer. */
typedef struct {
    char *data;
    size_t len, cap;
} pp_buf_t;
void pp_buf_put(pp_buf_t *b, const void *p, size_t n);
void pp_buf_puts(pp_buf_t *b, const char *s);
void pp_buf_printf(pp_buf_t *b, const char *fmt, ...) PP_PRINTF(2, 3);
void pp_buf_free(pp_buf_t *b);

/* Writes all of p to f; on an error says "cannot write WHAT: reason" and
 * returns -1. */
int pp_write_all(FILE *f, const void *p, size_t n, const char *what);

#endif
