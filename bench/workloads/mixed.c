/*
 * mixed.c - many threads, mixed sizes, some objects handed to other threads.
 *
 * Models: a busy multi-threaded server or runtime with more threads than
 * cores (worker pools, actor systems, async runtimes): every thread keeps a
 * working set of objects of all sizes, from small strings and nodes to
 * buffers of tens of KiB, frees most of them itself, and passes about a
 * quarter on to some other thread (a reply, a finished task, a message),
 * which frees them when it gets around to it.
 *
 * Stresses: everything at once, under oversubscription (NTHREADS threads
 * on fewer cores, so threads are preempted in the middle of malloc and free
 * while holding whatever they hold): the fast paths for a size stream that
 * spans many size classes, medium blocks (4..32 KiB) and a few large ones
 * (up to 256 KiB), remote frees arriving at every thread from every other
 * thread, and the memory held while remotely freed blocks wait to be
 * collected. Sizes are log-uniform between 8 B and 32 KiB, and one object
 * in a hundred is between 32 and 256 KiB.
 *
 * Shape: NTHREADS threads, each with a working set of WORKING_SET slots.
 * A step picks a random slot, disposes of its object (three times in four
 * free it, else pass it to a random other thread) and allocates a new one
 * into it. Passed objects are collected per destination in batches of
 * BATCH (a malloc'ed envelope that holds pointers and sizes) and pushed
 * onto the destination's mailbox, a lock-free stack that the owner empties
 * at once every DRAIN_EVERY steps and then frees what it got, envelope
 * included. A mailbox holds at most MAILBOX_MAX envelopes: a sender that
 * finds it full empties its own mailbox and yields until there is room, so
 * a preempted thread does not pile up unbounded garbage. At the end each
 * thread frees its working set, sends what is left in its batches, keeps
 * emptying its mailbox until all others have sent everything, and empties
 * it a last time.
 *
 * Checksum: each object starts with a value drawn from its allocating
 * thread's PRNG (seeded by thread number) and ends with a check byte
 * derived from it; whoever frees the object checks the byte and adds value
 * and size to its own sum. Every thread also adds up what it allocated. At
 * the end the two totals must agree (no object lost or freed twice), and the
 * checksum is made from them; a sum does not depend on which thread freed
 * what or when, and no address is ever hashed.
 *
 * Usage: mixed [scale]   scale (default 1.0, at most 100) multiplies the
 * number of steps per thread.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"

#define PROG "mixed"
#define NTHREADS 8
#define WORKING_SET 1024     /* live objects per thread (~5 MiB) */
#define BATCH 32             /* objects per envelope */
#define DRAIN_EVERY 64       /* steps between looks at the mailbox */
#define MAILBOX_MAX 32       /* envelopes queued for one thread, at most */
#define BASE_STEPS 1500000L  /* steps per thread at scale 1.0: ~3 s
                                under glibc on 2 cores */

/* An envelope: up to BATCH passed objects, and the link in a mailbox. */
struct envelope {
    struct envelope *next;
    uint32_t n;
    uint32_t size[BATCH];
    unsigned char *obj[BATCH];
};

/* Per-thread state. The mailbox head and count are written by every other
 * thread, so they get a cache line of their own; the rest only by the
 * owner. */
struct thread {
    _Alignas(64) struct envelope *mailbox;
    int queued;                      /* envelopes in the mailbox, or more */
    _Alignas(64) uint64_t rng;
    uint64_t made_sum, made_count;   /* what this thread allocated */
    uint64_t freed_sum, freed_count; /* what this thread checked and freed */
    uint64_t passed;
    struct envelope *out[NTHREADS];  /* batches being filled, per destination */
    unsigned char *obj[WORKING_SET];
    uint32_t size[WORKING_SET];
};

static struct thread threads[NTHREADS];
static int finished; /* threads that have sent all they will send */
static long steps_per_thread;

static void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (p == NULL)
        die(PROG, "out of memory");
    return p;
}

/* Sizes: a power of two 8 B..16 KiB plus up to the same again, i.e.
 * 8 B..32 KiB, log-uniform in steps of two; one in a hundred is a power of
 * two 32..128 KiB plus up to the same again (32..256 KiB). */
static size_t draw_size(uint64_t r)
{
    unsigned shift;
    if ((r >> 48) % 100 == 0)
        shift = 12 + (unsigned)((r >> 4) % 3);
    else
        shift = (unsigned)((r >> 4) % 12);
    size_t base = (size_t)8 << shift;
    return base + (size_t)((r >> 16) % base);
}

static inline unsigned char check_byte(uint64_t value)
{
    return (unsigned char)(mix64(value) >> 24);
}

/* A new object: the value in its first 8 bytes, the check byte last. */
static unsigned char *obj_new(struct thread *t, uint32_t *size_out)
{
    uint64_t r = splitmix64(&t->rng);
    size_t size = draw_size(r);
    unsigned char *p = xmalloc(size);
    uint64_t value = r * 0x2545f4914f6cdd1dULL;
    memcpy(p, &value, 8);
    if (size > 8)
        p[size - 1] = check_byte(value);
    t->made_sum += value + size;
    t->made_count++;
    *size_out = (uint32_t)size;
    return p;
}

/* Check an object (allocated by any thread) and free it. */
static void obj_free(struct thread *t, unsigned char *p, uint32_t size)
{
    uint64_t value;
    memcpy(&value, p, 8);
    if (size > 8 && p[size - 1] != check_byte(value))
        die(PROG, "object contents corrupted");
    t->freed_sum += value + size;
    t->freed_count++;
    free(p);
}

/* Counted before it is pushed, so queued is never below the real count. */
static void mailbox_push(struct thread *dest, struct envelope *e)
{
    __atomic_add_fetch(&dest->queued, 1, __ATOMIC_RELAXED);
    struct envelope *head = __atomic_load_n(&dest->mailbox, __ATOMIC_RELAXED);
    do
        e->next = head;
    while (!__atomic_compare_exchange_n(&dest->mailbox, &head, e, 1,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

/* Take everything in t's mailbox at once and free it. Only the owner takes,
 * and it takes the whole stack, so there is no ABA problem. */
static void mailbox_drain(struct thread *t)
{
    if (__atomic_load_n(&t->mailbox, __ATOMIC_RELAXED) == NULL)
        return;
    struct envelope *e = __atomic_exchange_n(&t->mailbox, NULL, __ATOMIC_ACQUIRE);
    int n = 0;
    while (e != NULL) {
        struct envelope *next = e->next;
        for (uint32_t i = 0; i < e->n; i++)
            obj_free(t, e->obj[i], e->size[i]);
        free(e);
        e = next;
        n++;
    }
    __atomic_sub_fetch(&t->queued, n, __ATOMIC_RELAXED);
}

static void pass(struct thread *t, int dest, unsigned char *p, uint32_t size)
{
    struct envelope *e = t->out[dest];
    if (e == NULL) {
        e = t->out[dest] = xmalloc(sizeof *e);
        e->n = 0;
    }
    e->obj[e->n] = p;
    e->size[e->n] = size;
    if (++e->n == BATCH) {
        /* Back-pressure, as a bounded queue would give: while the
         * destination is behind (preempted, most likely), wait for it, and
         * empty our own mailbox meanwhile so that nobody waits for us. */
        while (__atomic_load_n(&threads[dest].queued, __ATOMIC_RELAXED) >= MAILBOX_MAX) {
            mailbox_drain(t);
            sched_yield();
        }
        mailbox_push(&threads[dest], e);
        t->out[dest] = NULL;
    }
    t->passed++;
}

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    struct thread *t = &threads[me];
    for (int i = 0; i < WORKING_SET; i++)
        t->obj[i] = obj_new(t, &t->size[i]);

    for (long s = 0; s < steps_per_thread; s++) {
        uint64_t r = splitmix64(&t->rng);
        int i = (int)(r % WORKING_SET);
        if (((r >> 16) & 3) == 0) {
            int dest = (int)((r >> 20) % (NTHREADS - 1));
            pass(t, dest >= me ? dest + 1 : dest, t->obj[i], t->size[i]);
        } else {
            obj_free(t, t->obj[i], t->size[i]);
        }
        t->obj[i] = obj_new(t, &t->size[i]);
        if (s % DRAIN_EVERY == 0)
            mailbox_drain(t);
    }

    for (int i = 0; i < WORKING_SET; i++)
        obj_free(t, t->obj[i], t->size[i]);
    for (int d = 0; d < NTHREADS; d++) /* no waiting here: d may be done */
        if (t->out[d] != NULL) {
            mailbox_push(&threads[d], t->out[d]);
            t->out[d] = NULL;
        }
    /* Others may still be sending, and waiting for us to make room. */
    __atomic_add_fetch(&finished, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) < NTHREADS) {
        mailbox_drain(t);
        nanosleep(&(struct timespec){ .tv_nsec = 50000 }, NULL);
    }
    mailbox_drain(t);
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = parse_scale(argc, argv, PROG);
    steps_per_thread = (long)(BASE_STEPS * scale + 0.5);
    if (steps_per_thread < 1)
        steps_per_thread = 1;

    for (int k = 0; k < NTHREADS; k++)
        threads[k].rng = 0x6d697865640000ULL + (uint64_t)k * 0x9e3779b97f4a7c15ULL;
    pthread_t tid[NTHREADS];
    for (int k = 0; k < NTHREADS; k++) {
        int err = pthread_create(&tid[k], NULL, worker, (void *)(intptr_t)k);
        if (err != 0) {
            fprintf(stderr, "%s: pthread_create: %s\n", PROG, strerror(err));
            return 1;
        }
    }
    for (int k = 0; k < NTHREADS; k++)
        pthread_join(tid[k], NULL);

    uint64_t made = 0, made_n = 0, freed = 0, freed_n = 0, passed = 0;
    for (int k = 0; k < NTHREADS; k++) {
        made += threads[k].made_sum;
        made_n += threads[k].made_count;
        freed += threads[k].freed_sum;
        freed_n += threads[k].freed_count;
        passed += threads[k].passed;
    }
    if (made != freed || made_n != freed_n)
        die(PROG, "objects lost or freed twice");

    if (getenv("WORKLOAD_VERBOSE"))
        fprintf(stderr, "%s: %d threads, %" PRIu64 " objects, %" PRIu64
                " passed to another thread\n",
                PROG, NTHREADS, made_n, passed);
    printf("checksum %016" PRIx64 "\n", fold64(fold64(mix64(made), made_n), passed));
    return 0;
}
