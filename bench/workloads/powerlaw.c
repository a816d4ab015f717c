/*
 * powerlaw — single-threaded mixed sizes with power-law lifetimes.
 *
 * Models the heap of a long-running program (interpreter, compiler, request
 * server): mostly small objects (8–256 B), some buffers up to 4 KiB, rare ones
 * up to 64 KiB. Lifetimes, counted in subsequent allocations, follow the
 * "generational" shape: most objects die within a few allocations (Pareto,
 * alpha = 1), 5% live very long (Pareto, alpha = 0.5, from 10^4 to 2^23
 * allocations), so long-lived objects end up scattered among short-lived
 * ones. The live set settles around 28k objects / 17 MiB.
 *
 * Stresses: the malloc/free fast paths under a size stream that keeps
 * changing, reuse of recently freed blocks, fragmentation (long-lived objects
 * pin pages that short-lived ones otherwise empty), and memory held compared
 * with the live set.
 *
 * Bookkeeping is a timing wheel over a slot table (O(1) per object), so almost
 * all the time goes to malloc, free and touching the memory.
 *
 * Checksum: each object is filled with a byte and tagged at both ends (one
 * tag below 16 B) with a value derived from its sequence number; before free
 * the tags and a middle byte are read back, checked, and folded in. Frees
 * happen in an order fixed by the PRNG, never by addresses, so the checksum
 * is allocator-independent.
 *
 * Usage: powerlaw [scale]   (scale multiplies the number of allocations)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define PROG "powerlaw"
#define BASE_ALLOCS 28000000.0 /* allocations at scale 1.0 */

/* ---- PRNG and checksum (see workload.h) ---------------------------------- */

static uint64_t rng_state = 0x5eed0001u;

static inline uint64_t rnd(void) { return splitmix64(&rng_state); }

static uint64_t checksum = 0x243f6a8885a308d3ULL;

static inline void fold(uint64_t v) { checksum = fold64(checksum, v); }

/* ---- the distributions ------------------------------------------------- */

static size_t draw_size(void)
{
    uint64_t r = rnd() % 1000;
    if (r < 550)                       /* tiny: list nodes, small strings */
        return 8 + rnd() % 57;         /* 8..64 */
    if (r < 850)                       /* small structs, short strings */
        return 65 + rnd() % 192;       /* 65..256 */
    if (r < 985)                       /* buffers */
        return log_uniform(&rng_state, 257, 4096);
    return log_uniform(&rng_state, 4097, 65536);   /* rare big buffers */
}

#define SHORT_CAP (1u << 16)
#define LONG_MIN 10000.0
#define LONG_CAP (1u << 23)

/* Lifetime in allocations (>= 1). Pareto: x_min * u^(-1/alpha). */
static uint32_t draw_lifetime(void)
{
    double l;
    if (rnd() % 100 < 95) {
        l = 1.0 / unit_interval(&rng_state);                           /* alpha = 1 */
        if (l > SHORT_CAP)
            l = SHORT_CAP;
    } else {
        double u = unit_interval(&rng_state);
        l = LONG_MIN / (u * u);                         /* alpha = 0.5 */
        if (l > LONG_CAP)
            l = LONG_CAP;
    }
    return (uint32_t)l;
}

/* ---- slot table + timing wheel ------------------------------------------ */

#define NIL UINT32_MAX
#define WHEEL_BITS 16
#define WHEEL_SIZE (1u << WHEEL_BITS)

struct slot {
    unsigned char *p;
    uint64_t tag;     /* value written at both ends */
    uint64_t expire;  /* tick at which it is freed */
    uint32_t size;
    uint32_t next;    /* next in wheel bucket or in the free-slot list */
};

static struct slot *slots;
static uint32_t nslots, free_slot = NIL;
static uint32_t wheel[WHEEL_SIZE];
static uint64_t live_objects, max_live_objects, live_bytes, max_live_bytes;

static uint32_t slot_get(void)
{
    if (free_slot == NIL) {
        /* Grow the table; rare (logarithmically many times). */
        uint32_t n = nslots ? nslots * 2 : 4096;
        struct slot *s = realloc(slots, (size_t)n * sizeof *s);
        if (!s)
            die(PROG, "out of memory (slot table)");
        slots = s;
        for (uint32_t i = n; i-- > nslots;) {
            slots[i].next = free_slot;
            free_slot = i;
        }
        nslots = n;
    }
    uint32_t i = free_slot;
    free_slot = slots[i].next;
    return i;
}

static void object_new(uint32_t i, uint64_t seq)
{
    struct slot *s = &slots[i];
    size_t size = draw_size();
    unsigned char *p = malloc(size);
    if (!p)
        die(PROG, "out of memory");
    uint64_t tag = mix64(seq + 1);
    /* Initialise the whole object, as real code does, then tag both ends. */
    memset(p, (int)(tag & 0xff), size);
    memcpy(p, &tag, 8);
    if (size >= 16)
        memcpy(p + size - 8, &tag, 8);
    s->p = p;
    s->tag = tag;
    s->size = (uint32_t)size;
    live_objects++;
    live_bytes += size;
    if (live_objects > max_live_objects)
        max_live_objects = live_objects;
    if (live_bytes > max_live_bytes)
        max_live_bytes = live_bytes;
}

static void object_free(uint32_t i)
{
    struct slot *s = &slots[i];
    uint64_t head, tail = s->tag;
    memcpy(&head, s->p, 8);
    if (s->size >= 16)
        memcpy(&tail, s->p + s->size - 8, 8);
    unsigned char mid = s->p[s->size / 2];
    if (head != s->tag || tail != s->tag ||
        (s->size >= 24 && mid != (unsigned char)(s->tag & 0xff)))
        die(PROG, "object contents corrupted");
    fold(head ^ ((uint64_t)mid << 56) ^ s->size);
    free(s->p);
    live_objects--;
    live_bytes -= s->size;
    s->next = free_slot;
    free_slot = i;
}

int main(int argc, char **argv)
{
    double scale = parse_scale(argc, argv, PROG);
    uint64_t nallocs = (uint64_t)(BASE_ALLOCS * scale);
    if (nallocs < 1)
        nallocs = 1;

    for (uint32_t b = 0; b < WHEEL_SIZE; b++)
        wheel[b] = NIL;

    for (uint64_t t = 0; t < nallocs; t++) {
        /* One allocation per tick ... */
        uint32_t i = slot_get();
        object_new(i, t);
        slots[i].expire = t + draw_lifetime();
        uint32_t *bucket = &wheel[slots[i].expire & (WHEEL_SIZE - 1)];
        slots[i].next = *bucket;
        *bucket = i;

        /* ... then free whatever expires now. A bucket also holds objects
         * due a multiple of WHEEL_SIZE ticks later; they stay. */
        uint32_t *link = &wheel[t & (WHEEL_SIZE - 1)];
        while (*link != NIL) {
            uint32_t j = *link;
            if (slots[j].expire == t) {
                *link = slots[j].next;
                object_free(j);
            } else {
                link = &slots[j].next;
            }
        }
    }

    /* Program exit: free the survivors in wheel order (deterministic). */
    fold(live_objects);
    for (uint32_t b = 0; b < WHEEL_SIZE; b++) {
        while (wheel[b] != NIL) {
            uint32_t j = wheel[b];
            wheel[b] = slots[j].next;
            object_free(j);
        }
    }
    fold(max_live_objects);
    fold(max_live_bytes);
    free(slots);

    if (getenv("WORKLOAD_VERBOSE"))
        fprintf(stderr, "%s: %llu allocations, peak live %llu objects, %.1f MiB\n", PROG,
                (unsigned long long)nallocs, (unsigned long long)max_live_objects,
                max_live_bytes / 1048576.0);
    printf("checksum %016llx\n", (unsigned long long)checksum);
    return 0;
}
