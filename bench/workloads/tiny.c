/*
 * tiny — tight malloc/free of tiny, young objects, single thread.
 *
 * Models programs whose inner loop is a stream of short-lived small
 * temporaries: bignum arithmetic (cfrac), expression evaluators, string
 * builders, tree rewriters, the "glibc-simple" style loop. Objects are 8
 * to 64 bytes seven times in eight, otherwise 65 to 256 bytes; almost every
 * object dies within a few dozen allocations of its birth, in roughly the
 * reverse order of allocation.
 *
 * Stresses: nothing but the malloc and free fast paths (size-class lookup,
 * the per-thread free list, the free-list push and pop) and how well a block
 * freed a moment ago is handed out again while still in cache. The program
 * does as little work as it can around each call: per object it writes a
 * 4-byte tag at the front and one byte at the end, and checks both before
 * free. The live set never exceeds STACK_MAX objects (a few KiB), so the
 * cost of getting memory from the OS plays no part.
 *
 * Shape: a computation makes ROUND_ALLOCS allocations on a stack of live
 * objects, in bursts: allocate and push 1 to BURST objects, then free 1 to
 * BURST. A free takes the top of the stack three times in four, else one
 * of the top NEAR_TOP, or (one in eight) one anywhere in the stack; the
 * top takes its place, so the order is LIFO-ish, not strictly LIFO. The
 * stack depth wanders between 0 and STACK_MAX. At the end of a computation
 * everything still live is freed, top first.
 *
 * Checksum: each computation adds up the tags, tail bytes and sizes of the
 * objects it frees, and that sum is folded in per computation. Tags come
 * from the PRNG, the order of frees is fixed by the PRNG, and no address is
 * ever hashed, so the checksum is allocator-independent.
 *
 * Usage: tiny [scale]   (scale multiplies the number of allocations)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define PROG "tiny"
#define BASE_ALLOCS 60000000.0 /* allocations (and as many frees) at scale 1.0:
                                  ~1.3 s under glibc on 2 cores */
#define ROUND_ALLOCS 2048      /* allocations per computation */
#define STACK_MAX 128          /* live objects, at most */
#define BURST 8                /* allocations, then frees, in a run: 1..BURST */
#define NEAR_TOP 8             /* "young": one of the top this many */

/* ---- PRNG and checksum (see workload.h) ---------------------------------- */

static uint64_t rng_state = 0x5eed0009u;

static inline uint64_t rnd(void) { return splitmix64(&rng_state); }

static uint64_t checksum = 0x243f6a8885a308d3ULL;

static inline void fold(uint64_t v) { checksum = fold64(checksum, v); }

/* ---- the stack of live objects ------------------------------------------- */

struct obj {
    unsigned char *p;
    uint32_t tag;
    uint32_t size;
};

static struct obj stack[STACK_MAX];
static int depth;
static uint64_t round_sum;
static uint64_t nmallocs, nfrees, big_mallocs;

/* One PRNG draw decides the size: bits 0..3 the class, bits 8.. the size
 * within it. 14 in 16 tiny, the rest small. */
static inline size_t draw_size(uint64_t r)
{
    if ((r & 15) < 14)
        return 8 + (size_t)((r >> 8) % 57);   /* 8..64 */
    big_mallocs++;
    return 65 + (size_t)((r >> 8) % 192);     /* 65..256 */
}

static inline void obj_push(uint64_t r)
{
    size_t size = draw_size(r);
    unsigned char *p = malloc(size);
    if (!p)
        die(PROG, "out of memory");
    uint32_t tag = (uint32_t)(r >> 32);
    memcpy(p, &tag, sizeof tag);
    p[size - 1] = (unsigned char)(tag * 0x9du >> 24);
    stack[depth].p = p;
    stack[depth].tag = tag;
    stack[depth].size = (uint32_t)size;
    depth++;
    nmallocs++;
}

/* Check and free the object at stack slot i; the top object fills the gap. */
static inline void obj_pop(int i)
{
    struct obj o = stack[i];
    uint32_t head;
    memcpy(&head, o.p, sizeof head);
    unsigned char tail = o.p[o.size - 1];
    if (head != o.tag || tail != (unsigned char)(o.tag * 0x9du >> 24))
        die(PROG, "object contents corrupted");
    round_sum += head + ((uint64_t)tail << 32) + ((uint64_t)o.size << 40);
    free(o.p);
    stack[i] = stack[--depth];
    nfrees++;
}

/* One burst: allocate 1..BURST objects, then free 1..BURST (fewer if the
 * stack is full or empty). r decides the counts and how each free picks
 * its victim, q where. Runs rather than a coin flip per call keep the
 * program's own branches predictable, so the time goes to malloc and free. */
static void burst(void)
{
    uint64_t r = rnd(), q = rnd();
    int nalloc = 1 + (int)(r & (BURST - 1));
    int nfree = 1 + (int)((r >> 3) & (BURST - 1));
    for (int k = 0; k < nalloc && depth < STACK_MAX; k++)
        obj_push(rnd());
    for (int k = 0; k < nfree && depth > 0; k++) {
        unsigned how = (unsigned)(r >> (8 + 3 * k)) & 7; /* bits 8..31 */
        unsigned where = (unsigned)(q >> (8 * k)) & 255;
        int i = depth - 1;                                  /* 6 in 8: the top */
        if (how == 6)                                       /* one of the top few */
            i -= (int)(where % (unsigned)(depth < NEAR_TOP ? depth : NEAR_TOP));
        else if (how == 7)                                  /* any */
            i = (int)(where % (unsigned)depth);
        obj_pop(i);
    }
}

int main(int argc, char **argv)
{
    double scale = parse_scale(argc, argv, PROG);
    uint64_t nallocs = (uint64_t)(BASE_ALLOCS * scale);
    if (nallocs < 1)
        nallocs = 1;
    uint64_t nrounds = (nallocs + ROUND_ALLOCS - 1) / ROUND_ALLOCS;
    uint64_t max_depth_sum = 0;

    for (uint64_t round = 0; round < nrounds; round++) {
        int max_depth = 0;
        uint64_t end = nmallocs + ROUND_ALLOCS;
        round_sum = round;
        while (nmallocs < end) {
            burst();
            if (depth > max_depth)
                max_depth = depth;
        }
        while (depth > 0)
            obj_pop(depth - 1);
        fold(round_sum);
        max_depth_sum += (uint64_t)max_depth;
    }
    if (nmallocs != nfrees)
        die(PROG, "lost objects");
    fold(nmallocs);
    fold(big_mallocs);
    fold(max_depth_sum);

    if (getenv("WORKLOAD_VERBOSE"))
        fprintf(stderr, "%s: %llu computations, %llu mallocs (%llu over 64 B), "
                "mean peak depth %.1f\n",
                PROG, (unsigned long long)nrounds, (unsigned long long)nmallocs,
                (unsigned long long)big_mallocs, (double)max_depth_sum / (double)nrounds);
    printf("checksum %016llx\n", (unsigned long long)checksum);
    return 0;
}
