/*
 * threadchurn.c - many short-lived threads.
 *
 * Models: thread-per-request servers, parallel build tools and thread pools
 * that grow and shrink: threads live for a moment, allocate a little, pass
 * some results back to whoever started them, and exit.
 *
 * Stresses: the allocator's per-thread setup and teardown. Every thread
 * needs a heap (or cache) of its own, and when it exits it leaves blocks
 * behind that are still live: the results it handed back. Those are freed
 * later by the main thread and by threads of the next batch, i.e. after
 * their owner is gone, so the allocator has to let someone adopt (or
 * otherwise reclaim) a dead thread's memory instead of leaking it or
 * taking a lock per free.
 *
 * Shape: NBATCHES batches of 2..8 concurrent threads (batch b runs
 * 2 + b % 7). Each thread first frees the leftovers it inherits from the
 * previous batch, then does OPS steps of "free a random slot of a small
 * working set, allocate a new object (16 B..1 KiB, mostly small)". On exit
 * it frees its working set except HANDBACK objects, which it returns to
 * the main thread. The main thread frees half of those itself and gives
 * the other half to the next batch.
 *
 * Checksum: every object carries a tag drawn from its allocating thread's
 * PRNG (seeded by batch and index); whoever frees it adds the tag and the
 * last byte to their sum, and the sums are added up. Nothing depends on
 * addresses or on which thread runs when.
 *
 * Usage: threadchurn [scale]   scale (default 1.0, at most 100) multiplies
 * the number of batches, i.e. of threads.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

/* 6000 batches of ~5 threads = ~30000 threads. glibc and tcmalloc need
 * ~0.8 s for that on 2 cores, jemalloc and poolalloc ~4x as long (their
 * thread-exit paths return memory to the OS), so no more than this. */
#define BASE_BATCHES 6000   /* batches at scale 1.0 */
#define MAX_THREADS 8       /* per batch */
#define WORKING_SET 64      /* live objects per thread while it runs */
#define OPS 400             /* free+allocate steps per thread */
#define HANDBACK 16         /* objects a thread returns to main at exit */
#define INHERIT_MAX (MAX_THREADS * HANDBACK / 2) /* passed-on objects, at most */
#define STACK_SIZE (128 * 1024)

/* Every object starts with this header; the last byte is stamped too. */
struct obj_header {
    uint64_t tag;
    uint32_t size;
};

static void *obj_new(uint64_t r)
{
    /* mostly small: a power of two 16..512 (favouring the low end), plus
     * up to the same again, so 16 B..1 KiB */
    unsigned shift = (unsigned)(r % 36);
    shift = shift < 16 ? 0 : shift < 26 ? 1 : shift < 31 ? 2 : shift < 34 ? 3 : 4 + shift % 2;
    size_t base = (size_t)16 << shift;
    size_t size = base + (size_t)((r >> 8) % base);
    unsigned char *p = malloc(size);
    if (p == NULL) {
        fprintf(stderr, "threadchurn: out of memory\n");
        exit(1);
    }
    struct obj_header h = { r * 0x2545f4914f6cdd1dULL, (uint32_t)size };
    memcpy(p, &h, sizeof h);
    p[size - 1] = (unsigned char)(r >> 48);
    return p;
}

/* Add an object's contents to *sum and free it. */
static void obj_free(void *obj, uint64_t *sum)
{
    unsigned char *p = obj;
    struct obj_header h;
    memcpy(&h, p, sizeof h);
    *sum += h.tag + h.size + p[h.size - 1];
    free(p);
}

/* One thread's task: set by main before pthread_create, filled in by the
 * thread, read by main after pthread_join (those two order everything). */
struct task {
    _Alignas(64) uint64_t seed; /* own lines: tasks do not share cache lines */
    void *const *inherit; /* leftovers of the previous batch to free */
    int ninherit;
    void *handback[HANDBACK];
    uint64_t sum;
};

static void *churn_thread(void *arg)
{
    struct task *task = arg;
    uint64_t rng = task->seed;
    uint64_t sum = 0;

    for (int i = 0; i < task->ninherit; i++)
        obj_free(task->inherit[i], &sum); /* its allocating thread is gone */

    void *set[WORKING_SET];
    for (int i = 0; i < WORKING_SET; i++)
        set[i] = obj_new(splitmix64(&rng));
    for (int op = 0; op < OPS; op++) {
        uint64_t r = splitmix64(&rng);
        int i = (int)(r % WORKING_SET);
        obj_free(set[i], &sum);
        set[i] = obj_new(r >> 6);
    }
    for (int i = 0; i < WORKING_SET; i++) {
        if (i < HANDBACK)
            task->handback[i] = set[i]; /* outlives this thread */
        else
            obj_free(set[i], &sum);
    }
    task->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = parse_scale(argc, argv, "threadchurn");
    long nbatches = (long)(BASE_BATCHES * scale + 0.5);
    if (nbatches < 1)
        nbatches = 1;

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK_SIZE);

    struct task tasks[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    void *passed[INHERIT_MAX]; /* leftovers passed on to the next batch */
    int npassed = 0;
    uint64_t checksum = 0;

    for (long b = 0; b < nbatches; b++) {
        int n = 2 + (int)(b % 7);
        /* Deal out the previous batch's leftovers: thread i takes every
         * n-th one, starting at i. */
        void *dealt[MAX_THREADS][INHERIT_MAX];
        for (int i = 0; i < n; i++) {
            tasks[i].seed = 0x7468726561640000ULL ^ ((uint64_t)b << 8) ^ (uint64_t)i;
            tasks[i].ninherit = 0;
            tasks[i].inherit = dealt[i];
        }
        for (int k = 0; k < npassed; k++) {
            struct task *t = &tasks[k % n];
            dealt[k % n][t->ninherit++] = passed[k];
        }
        for (int i = 0; i < n; i++) {
            int err = pthread_create(&tid[i], &attr, churn_thread, &tasks[i]);
            if (err != 0) {
                fprintf(stderr, "threadchurn: pthread_create: %s\n", strerror(err));
                return 1;
            }
        }
        npassed = 0;
        for (int i = 0; i < n; i++) {
            pthread_join(tid[i], NULL);
            checksum += tasks[i].sum;
            for (int k = 0; k < HANDBACK; k++) {
                if (k % 2 == 0)
                    obj_free(tasks[i].handback[k], &checksum); /* main frees */
                else
                    passed[npassed++] = tasks[i].handback[k]; /* next batch frees */
            }
        }
    }
    for (int k = 0; k < npassed; k++)
        obj_free(passed[k], &checksum);
    pthread_attr_destroy(&attr);

    printf("checksum %016" PRIx64 "\n", checksum);
    return 0;
}
