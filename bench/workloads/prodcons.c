/*
 * prodcons.c - producer/consumer message passing.
 *
 * Models: a pipeline stage (network reader, log shipper, task queue) where
 * producer threads allocate messages, fill them and pass them through
 * bounded queues to consumer threads that read and free them.
 *
 * Stresses: every single free is cross-thread, and the memory always flows
 * one way: producers only allocate, consumers only free. An allocator has to
 * get remotely freed blocks back to the producers (or at least stop the heap
 * from growing) and must not serialise producers and consumers on one lock.
 * Sizes are log-uniform between 16 B and 2 KiB, like messages usually are.
 *
 * Shape: NPRODUCERS producers, NCONSUMERS consumers, one bounded queue per
 * consumer. Each producer sends batches of BATCH messages to the consumers
 * in turn; a consumer drains its whole queue at once, then reads and frees
 * the messages outside the lock. Full and empty queues block.
 *
 * Checksum: each message carries a header and a tail byte generated from its
 * producer's PRNG; consumers add up what they read. A sum does not depend on
 * the order of arrival, and no address is ever hashed.
 *
 * Usage: prodcons [scale]   scale (default 1.0, at most 100) multiplies the
 * number of messages.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define NPRODUCERS 2
#define NCONSUMERS 2
#define QUEUE_SLOTS 1024                  /* per consumer */
#define BATCH 32                          /* messages per hand-over */
#define WAKE_AT 256                       /* a sleeping consumer waits for this many */
#define BASE_MESSAGES (28L * 1000 * 1000) /* all producers, at scale 1.0:
                                             ~2.7 s under glibc on 2 cores */

/* One bounded queue per consumer, shared by all producers. Producers hand
 * over messages in batches of BATCH pointers and the consumer takes out
 * everything that is queued at once, so the mutex is taken once per batch,
 * not once per message, and the queue stays a small part of the run time.
 * Full and nearly empty queues block on condition variables instead of
 * spinning (there are more threads than cores); a consumer sleeps until
 * WAKE_AT messages are queued, so it is not woken for every batch. A
 * producer only blocks on a full queue, which is far above WAKE_AT, so the
 * consumer is always awake then. */
struct queue {
    pthread_mutex_t lock;
    pthread_cond_t not_full;
    pthread_cond_t not_empty;
    uint64_t head, tail;   /* read and write positions; tail - head queued */
    int producers_done;
    void *slot[QUEUE_SLOTS];
} __attribute__((aligned(64)));

static struct queue queues[NCONSUMERS];
static long messages_per_producer;

static void queue_init(struct queue *q)
{
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_full, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    q->head = q->tail = 0;
    q->producers_done = 0;
}

static void queue_push_batch(struct queue *q, void *const *msgs, int n)
{
    pthread_mutex_lock(&q->lock);
    while (q->tail - q->head > QUEUE_SLOTS - (uint64_t)n)
        pthread_cond_wait(&q->not_full, &q->lock);
    uint64_t before = q->tail - q->head;
    for (int i = 0; i < n; i++)
        q->slot[q->tail++ % QUEUE_SLOTS] = msgs[i];
    if (before < WAKE_AT && q->tail - q->head >= WAKE_AT)
        pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

static void queue_producer_done(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->producers_done++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

/* Wait for WAKE_AT messages (or the end), then move every queued message
 * into out[] (room for QUEUE_SLOTS); returns how many, or 0 once the queue
 * is empty and every producer has finished. */
static int queue_take_all(struct queue *q, void **out)
{
    pthread_mutex_lock(&q->lock);
    while (q->tail - q->head < WAKE_AT && q->producers_done < NPRODUCERS)
        pthread_cond_wait(&q->not_empty, &q->lock);
    int n = 0;
    while (q->head != q->tail)
        out[n++] = q->slot[q->head++ % QUEUE_SLOTS];
    if (n > 0)
        pthread_cond_broadcast(&q->not_full); /* every producer may fit now */
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* Message layout: a 16-byte header, then payload up to size; the last byte
 * is stamped too, so both ends of the block are touched. For 16-byte
 * messages the tail byte lands in the header's tag; that is fine, the
 * content is still deterministic. */
struct msg_header {
    uint32_t size;
    uint32_t seq;
    uint64_t tag;
};

static size_t message_size(uint64_t r)
{
    /* log-uniform: a power of two 16..1024, plus up to the same again */
    size_t base = (size_t)16 << (r % 7);
    return base + (size_t)((r >> 8) % base);
}

static void *producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    uint64_t rng = 0x5eed0000ULL + (uint64_t)p * 0x9e3779b97f4a7c15ULL;
    void *batch[BATCH];
    int n = 0, target = 0;
    for (long i = 0; i < messages_per_producer; i++) {
        uint64_t r = splitmix64(&rng);
        size_t size = message_size(r);
        unsigned char *m = malloc(size);
        if (m == NULL) {
            fprintf(stderr, "prodcons: out of memory\n");
            exit(1);
        }
        struct msg_header h = { (uint32_t)size, (uint32_t)i, r * 0x2545f4914f6cdd1dULL };
        memcpy(m, &h, sizeof h);
        m[size - 1] = (unsigned char)(r >> 56);
        batch[n++] = m;
        if (n == BATCH) {
            queue_push_batch(&queues[target], batch, n);
            target = (target + 1) % NCONSUMERS;
            n = 0;
        }
    }
    if (n > 0)
        queue_push_batch(&queues[target], batch, n);
    for (int c = 0; c < NCONSUMERS; c++)
        queue_producer_done(&queues[c]);
    return NULL;
}

struct consumer_result {
    _Alignas(64) uint64_t sum;
};

static struct consumer_result results[NCONSUMERS];

static void *consumer(void *arg)
{
    int c = (int)(intptr_t)arg;
    void **taken = malloc(QUEUE_SLOTS * sizeof *taken);
    if (taken == NULL) {
        fprintf(stderr, "prodcons: out of memory\n");
        exit(1);
    }
    uint64_t sum = 0;
    int n;
    while ((n = queue_take_all(&queues[c], taken)) > 0) {
        for (int i = 0; i < n; i++) {
            unsigned char *m = taken[i];
            struct msg_header h;
            memcpy(&h, m, sizeof h);
            sum += h.tag + ((uint64_t)h.seq << 32) + h.size + m[h.size - 1];
            free(m);
        }
    }
    free(taken);
    results[c].sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = parse_scale(argc, argv, "prodcons");
    messages_per_producer = (long)(BASE_MESSAGES * scale / NPRODUCERS + 0.5);
    if (messages_per_producer < 1)
        messages_per_producer = 1;

    for (int c = 0; c < NCONSUMERS; c++)
        queue_init(&queues[c]);
    pthread_t tid[NPRODUCERS + NCONSUMERS];
    for (int i = 0; i < NPRODUCERS + NCONSUMERS; i++) {
        int err = i < NCONSUMERS
            ? pthread_create(&tid[i], NULL, consumer, (void *)(intptr_t)i)
            : pthread_create(&tid[i], NULL, producer, (void *)(intptr_t)(i - NCONSUMERS));
        if (err != 0) {
            fprintf(stderr, "prodcons: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    for (int i = 0; i < NPRODUCERS + NCONSUMERS; i++)
        pthread_join(tid[i], NULL);

    uint64_t checksum = 0;
    for (int c = 0; c < NCONSUMERS; c++)
        checksum += results[c].sum;
    printf("checksum %016" PRIx64 "\n", checksum);
    return 0;
}
