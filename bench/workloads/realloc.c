/*
 * realloc — buffers grown element by element with realloc.
 *
 * Models the two ways C and C++ programs grow buffers:
 *   - geometric capacity growth, as std::vector, sds or GString do: int
 *     vectors (x2) and 24-byte struct vectors (x1.5), final sizes from
 *     tens of bytes to 4 MiB; half of them shrink to fit when done;
 *   - careless exact growth: string append with realloc(len + n + 1) on
 *     every append (up to 256 KiB), and arrays grown by one element per
 *     realloc (up to 64 KiB).
 * Eight buffers grow at once, interleaved at random, so a buffer's neighbour
 * in memory is usually another growing buffer; each is checked, freed and
 * replaced by a new one when it reaches its final size.
 *
 * Stresses: realloc in place (same size class, or extending into free space
 * after the block) against allocate-copy-free, the copying cost once blocks
 * leave the small size classes, shrinking realloc, and the memory kept while
 * blocks move between size classes.
 *
 * Checksum: every element is a function of its buffer's seed and its index;
 * when a buffer is freed its whole content is read back, checked (a copy
 * that lost data aborts), and folded in.
 *
 * Usage: realloc [scale]   (scale multiplies the number of append steps)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "workload.h"

#define PROG "realloc"
#define BASE_STEPS 36000000.0 /* append steps at scale 1.0 */
#define NACTIVE 8

/* ---- PRNG and checksum (see workload.h) ---------------------------------- */

static uint64_t rng_state = 0x5eed0002u;

static inline uint64_t rnd(void) { return splitmix64(&rng_state); }

static uint64_t checksum = 0x243f6a8885a308d3ULL;

static inline void fold(uint64_t v) { checksum = fold64(checksum, v); }

/* ---- the growing buffers ----------------------------------------------- */

enum kind {
    VEC_INT_X2,      /* std::vector<int32_t>: capacity doubles */
    VEC_REC_X1_5,    /* vector of 24-byte records: capacity x1.5 */
    STR_EXACT,       /* C string: realloc(len + n + 1) on every append */
    ARR_PLUS_ONE,    /* int64 array: realloc((n + 1) * 8) per element */
};

struct rec {
    uint64_t key;
    uint32_t a;
    uint16_t b;
    uint16_t c;
    double x;
};

struct grower {
    enum kind kind;
    unsigned char *buf;
    size_t len;     /* elements (bytes for strings) */
    size_t cap;     /* elements allocated */
    size_t target;  /* final length */
    uint32_t seed;
    int shrink;     /* realloc to the exact length when done */
};

static struct grower active[NACTIVE];
static uint64_t nreallocs, ngrowers, bytes_grown;

/* 'a'..'z' repeated, so an append is one memcpy of a pattern slice, and a
 * finished string is checked with one memcmp against expected_text. */
#define ALPHA 26
#define MAX_APPEND 32
#define MAX_STR (256u << 10)
static char pattern[ALPHA + MAX_APPEND + 1];
static char expected_text[ALPHA + MAX_STR + 1];

static inline uint32_t int_at(uint32_t seed, size_t i)
{
    return seed + (uint32_t)i * 0x9e3779b9u;
}

static inline void rec_at(struct rec *r, uint32_t seed, size_t i)
{
    r->key = ((uint64_t)seed << 32) ^ i;
    r->a = (uint32_t)i;
    r->b = (uint16_t)(i * 3);
    r->c = (uint16_t)seed;
    r->x = (double)i * 0.5;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        die(PROG, "out of memory");
    nreallocs++;
    return p;
}

static void grower_start(struct grower *g)
{
    memset(g, 0, sizeof *g);
    g->seed = (uint32_t)rnd();
    /* Small exact-growth buffers are the most common; big vectors rarer. */
    uint64_t r = rnd() % 100;
    if (r < 20) {
        g->kind = VEC_INT_X2;
        g->target = log_uniform(&rng_state, 4, (4u << 20) / 4);           /* 16 B .. 4 MiB */
    } else if (r < 30) {
        g->kind = VEC_REC_X1_5;
        g->target = log_uniform(&rng_state, 2, (4u << 20) / sizeof(struct rec)); /* .. 4 MiB */
    } else if (r < 75) {
        g->kind = STR_EXACT;
        g->target = log_uniform(&rng_state, 16, MAX_STR);                 /* .. 256 KiB */
    } else {
        g->kind = ARR_PLUS_ONE;
        g->target = log_uniform(&rng_state, 2, (64u << 10) / 8);          /* .. 64 KiB */
    }
    if (g->kind == VEC_INT_X2 || g->kind == VEC_REC_X1_5)
        g->shrink = (int)(rnd() & 1);
    ngrowers++;
}

/* One step: append a batch, as a loop body or a parser would: a row of up
 * to 64 vector elements, a word of up to 32 characters, up to 8 array
 * elements (each with its own realloc). */
static void grower_step(struct grower *g)
{
    size_t n = g->kind == STR_EXACT      ? 1 + rnd() % MAX_APPEND
               : g->kind == ARR_PLUS_ONE ? 1 + rnd() % 8
                                         : 1 + rnd() % 64;
    if (n > g->target - g->len)
        n = g->target - g->len;

    switch (g->kind) {
    case VEC_INT_X2: {
        uint32_t *v = (uint32_t *)g->buf;
        for (size_t end = g->len + n, i = g->len; i < end; i++) {
            if (i == g->cap) {
                g->cap = g->cap ? g->cap * 2 : 4;
                g->buf = xrealloc(v, g->cap * sizeof *v);
                v = (uint32_t *)g->buf;
            }
            v[i] = int_at(g->seed, i);
        }
        g->len += n;
        break;
    }
    case VEC_REC_X1_5: {
        struct rec *v = (struct rec *)g->buf;
        for (size_t end = g->len + n, i = g->len; i < end; i++) {
            if (i == g->cap) {
                g->cap = g->cap ? g->cap + g->cap / 2 + 1 : 2;
                g->buf = xrealloc(v, g->cap * sizeof *v);
                v = (struct rec *)g->buf;
            }
            rec_at(&v[i], g->seed, i);
        }
        g->len += n;
        break;
    }
    case STR_EXACT:
        /* strcat-style: exactly enough for the new text and the NUL */
        g->buf = xrealloc(g->buf, g->len + n + 1);
        memcpy(g->buf + g->len, pattern + (g->seed + g->len) % ALPHA, n);
        g->len += n;
        g->buf[g->len] = '\0';
        break;
    case ARR_PLUS_ONE:
        for (size_t k = 0; k < n; k++) {
            g->buf = xrealloc(g->buf, (g->len + 1) * sizeof(uint64_t));
            ((uint64_t *)g->buf)[g->len] = (uint64_t)int_at(g->seed, g->len) << 7;
            g->len++;
        }
        break;
    default:
        break;
    }
}

/* Read the whole buffer back, check it, fold it in, free it. */
static void grower_finish(struct grower *g)
{
    uint64_t sum = 0;
    int bad = 0;
    size_t esize = 1;

    if (g->shrink && g->len) {
        esize = g->kind == VEC_INT_X2 ? sizeof(uint32_t) : sizeof(struct rec);
        g->buf = xrealloc(g->buf, g->len * esize);
    }
    switch (g->kind) {
    case VEC_INT_X2: {
        const uint32_t *v = (const uint32_t *)g->buf;
        for (size_t i = 0; i < g->len; i++) {
            bad |= v[i] != int_at(g->seed, i);
            sum += v[i] ^ i;
        }
        esize = sizeof *v;
        break;
    }
    case VEC_REC_X1_5: {
        const struct rec *v = (const struct rec *)g->buf;
        for (size_t i = 0; i < g->len; i++) {
            struct rec want;
            rec_at(&want, g->seed, i);
            bad |= v[i].key != want.key || v[i].b != want.b || v[i].x != want.x;
            sum += v[i].key + v[i].a;
        }
        esize = sizeof *v;
        break;
    }
    case STR_EXACT: {
        const char *s = (const char *)g->buf;
        bad |= memcmp(s, expected_text + g->seed % ALPHA, g->len) != 0;
        bad |= s[g->len] != '\0';
        for (size_t i = 0; i < g->len; i += 61)
            sum = sum * 31 + (unsigned char)s[i];
        break;
    }
    case ARR_PLUS_ONE: {
        const uint64_t *v = (const uint64_t *)g->buf;
        for (size_t i = 0; i < g->len; i++) {
            bad |= v[i] != (uint64_t)int_at(g->seed, i) << 7;
            sum += v[i] ^ i;
        }
        esize = sizeof *v;
        break;
    }
    default:
        break;
    }
    if (bad)
        die(PROG, "buffer contents corrupted");
    fold(sum);
    fold(((uint64_t)g->kind << 48) ^ g->len);
    bytes_grown += g->len * esize;
    free(g->buf);
    g->buf = NULL;
}

int main(int argc, char **argv)
{
    double scale = parse_scale(argc, argv, PROG);
    uint64_t nsteps = (uint64_t)(BASE_STEPS * scale);

    for (int i = 0; i < ALPHA + MAX_APPEND; i++)
        pattern[i] = (char)('a' + i % ALPHA);
    for (size_t i = 0; i < ALPHA + MAX_STR; i++)
        expected_text[i] = (char)('a' + i % ALPHA);

    for (int i = 0; i < NACTIVE; i++)
        grower_start(&active[i]);

    for (uint64_t step = 0; step < nsteps; step++) {
        struct grower *g = &active[rnd() % NACTIVE];
        grower_step(g);
        if (g->len == g->target) {
            grower_finish(g);
            grower_start(g);
        }
    }
    /* Buffers still growing at the end are checked and freed as they are. */
    for (int i = 0; i < NACTIVE; i++)
        grower_finish(&active[i]);

    if (getenv("WORKLOAD_VERBOSE"))
        fprintf(stderr, "%s: %llu steps, %llu buffers, %llu reallocs, %.1f MiB grown\n", PROG,
                (unsigned long long)nsteps, (unsigned long long)ngrowers,
                (unsigned long long)nreallocs, bytes_grown / 1048576.0);
    printf("checksum %016llx\n", (unsigned long long)checksum);
    return 0;
}
