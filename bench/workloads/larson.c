/*
 * larson.c - a Larson-style server simulation (after Larson & Krishnan,
 * "Memory Allocation for Long-Running Server Applications", ISMM 1998).
 *
 * Models: a server whose worker threads allocate per-request objects that
 * belong to a connection, while connections move from worker to worker.
 * Memory allocated by one thread is therefore freed by another.
 *
 * Stresses: a steady stream of cross-thread (remote) frees of small blocks
 * (16-512 B, uniform), the free-slot-then-allocate churn of a heap at steady
 * state, and whether the heap stays bounded when the freeing thread is not
 * the allocating one (blowup).
 *
 * Shape: NWORKERS threads and NWORKERS slot arrays ("connections"). The main
 * thread fills every array, so the very first frees are already remote. In
 * round r, worker w serves array (w + r) % NWORKERS: STEPS_PER_ROUND times
 * it frees a random slot and allocates a fresh object into it. A barrier
 * ends the round and every array moves on to the next worker. At the end the
 * main thread frees what is left.
 *
 * Checksum: each array carries its own PRNG and its own running sum of the
 * contents of the objects freed from it; the result is the sum over arrays.
 * Which thread serves an array never changes what it computes, and no
 * address is ever hashed, so the checksum is the same under any allocator
 * and any interleaving.
 *
 * Usage: larson [scale]   scale (default 1.0, at most 100) multiplies the
 * number of rounds.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define NWORKERS 4
#define SLOTS 4096           /* objects per array */
#define STEPS_PER_ROUND 8192 /* with SLOTS, ~40% of the frees in a round hit
                                objects the previous worker allocated */
#define BASE_ROUNDS 3000     /* rounds at scale 1.0: ~2.9 s under glibc on
                                2 cores, ~0.7-1.6 s under the others */
#define MIN_SIZE 16
#define MAX_SIZE 512

/* One connection: its live objects, their sizes, its PRNG and its share of
 * the checksum. Whoever serves it owns all of this for the round. */
struct conn {
    _Alignas(64) uint64_t rng; /* own cache line: no false sharing between */
    uint64_t sum;              /* connections served by different workers */
    _Alignas(64) unsigned char *obj[SLOTS];
    uint16_t size[SLOTS];
};

static struct conn conns[NWORKERS];
static pthread_barrier_t round_end;
static long nrounds;

/* Allocate an object for slot i and stamp it: a tag word at the front and a
 * byte at the very end, so the block is really used. */
static void conn_fill(struct conn *c, int i, uint64_t r)
{
    size_t size = MIN_SIZE + (size_t)((r >> 32) % (MAX_SIZE - MIN_SIZE + 1));
    unsigned char *p = malloc(size);
    if (p == NULL) {
        fprintf(stderr, "larson: out of memory\n");
        exit(1);
    }
    uint64_t tag = r * 0x2545f4914f6cdd1dULL;
    memcpy(p, &tag, sizeof tag);
    p[size - 1] = (unsigned char)r;
    c->obj[i] = p;
    c->size[i] = (uint16_t)size;
}

/* Fold an object's contents into the connection's sum and free it. */
static void conn_release(struct conn *c, int i)
{
    unsigned char *p = c->obj[i];
    uint64_t tag;
    memcpy(&tag, p, sizeof tag);
    c->sum += tag ^ ((uint64_t)p[c->size[i] - 1] << 56);
    free(p);
    c->obj[i] = NULL;
}

static void *worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    for (long r = 0; r < nrounds; r++) {
        struct conn *c = &conns[(w + r) % NWORKERS];
        for (int s = 0; s < STEPS_PER_ROUND; s++) {
            uint64_t x = splitmix64(&c->rng);
            int i = (int)(x % SLOTS);
            conn_release(c, i);
            conn_fill(c, i, x);
        }
        /* The barrier hands every connection to the next worker. */
        pthread_barrier_wait(&round_end);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = parse_scale(argc, argv, "larson");
    nrounds = (long)(BASE_ROUNDS * scale + 0.5);
    if (nrounds < 1)
        nrounds = 1;

    for (int k = 0; k < NWORKERS; k++) {
        struct conn *c = &conns[k];
        c->rng = 0x1a2b3c4d5e6f7081ULL * (uint64_t)(k + 1);
        for (int i = 0; i < SLOTS; i++)
            conn_fill(c, i, splitmix64(&c->rng));
    }

    pthread_barrier_init(&round_end, NULL, NWORKERS);
    pthread_t tid[NWORKERS];
    for (int w = 0; w < NWORKERS; w++) {
        int err = pthread_create(&tid[w], NULL, worker, (void *)(intptr_t)w);
        if (err != 0) {
            fprintf(stderr, "larson: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    for (int w = 0; w < NWORKERS; w++)
        pthread_join(tid[w], NULL);
    pthread_barrier_destroy(&round_end);

    uint64_t checksum = 0;
    for (int k = 0; k < NWORKERS; k++) {
        for (int i = 0; i < SLOTS; i++)
            conn_release(&conns[k], i);
        checksum += conns[k].sum;
    }
    printf("checksum %016" PRIx64 "\n", checksum);
    return 0;
}
