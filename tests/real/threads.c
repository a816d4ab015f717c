/* threads.c — 64 threads that come and go, for poolalloc's real-program tests.
 *
 * WAVES waves of PER_WAVE threads are created and joined one wave after the
 * other. Each thread allocates and frees blocks of mixed sizes (1 B to 6 MiB,
 * with malloc, calloc, realloc, posix_memalign), checks their contents, and
 * hands some blocks to other threads through a mutex-protected queue: a block
 * is often freed by a thread other than the one that allocated it, sometimes
 * by a thread of a later wave or by main, after its allocator has exited.
 *
 * Every block carries a seed-derived pattern and every check adds to a
 * checksum that does not depend on scheduling (sums commute), so the output is
 * the same on every run and under any correct malloc.
 *
 * Usage: threads [waves per_wave]   (default 8 x 8 = 64 threads)
 * Exit status 1 and a message on stderr if a block's contents were corrupted. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t size;
    uint64_t seed;
    /* size bytes of pattern follow */
} block_t;

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static block_t *q_head;
static size_t q_len;

static _Atomic uint64_t checksum;
static _Atomic uint64_t handed, received;
static _Atomic int corrupt;

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static size_t pick_size(uint64_t *r)
{
    unsigned k = (unsigned)(rng_next(r) % 1000);
    if (k < 600) return 1 + rng_next(r) % 256;              /* small  */
    if (k < 900) return 256 + rng_next(r) % 16384;          /* medium */
    if (k < 997) return 16384 + rng_next(r) % (512 << 10);  /* large  */
    return (2u << 20) + rng_next(r) % (4u << 20);           /* huge   */
}

static uint8_t *payload(block_t *b) { return (uint8_t *)(b + 1); }

/* The pattern: every 61st byte and the last one (sparse, so huge blocks stay cheap). */
static void fill(block_t *b)
{
    uint8_t *p = payload(b);
    for (size_t i = 0; i + 1 < b->size; i += 61) p[i] = (uint8_t)(b->seed + i);
    p[b->size - 1] = (uint8_t)(b->seed >> 8);
}

/* Checks the pattern; returns its sum. */
static uint64_t verify(const block_t *b)
{
    const uint8_t *p = (const uint8_t *)(b + 1);
    uint64_t sum = 0;
    for (size_t i = 0; i + 1 < b->size; i += 61) {
        if (p[i] != (uint8_t)(b->seed + i)) {
            fprintf(stderr, "corrupt block: size %zu seed %llu offset %zu\n", b->size, (unsigned long long)b->seed, i);
            corrupt = 1;
            return 0;
        }
        sum += p[i];
    }
    if (p[b->size - 1] != (uint8_t)(b->seed >> 8)) {
        fprintf(stderr, "corrupt block: size %zu seed %llu last byte\n", b->size, (unsigned long long)b->seed);
        corrupt = 1;
    }
    return sum + p[b->size - 1];
}

static block_t *make_block(uint64_t *r, uint64_t seed)
{
    size_t size = pick_size(r);
    block_t *b;
    switch (seed % 4) {
    case 0: b = malloc(sizeof *b + size); break;
    case 1: b = calloc(1, sizeof *b + size); break;
    case 2: { void *p = NULL; b = posix_memalign(&p, 64u << (seed % 6), sizeof *b + size) ? NULL : p; break; }
    default: b = malloc(sizeof *b + size / 2 + 1);
             b = b ? realloc(b, sizeof *b + size) : NULL; break;
    }
    if (!b) { fprintf(stderr, "allocation of %zu bytes failed\n", size); exit(2); }
    b->size = size;
    b->seed = seed;
    b->next = NULL;
    return b;
}

/* Verifies a block, adds its sum to the checksum and frees it. */
static void consume(block_t *b)
{
    checksum += verify(b) + b->size;
    free(b);
}

static void push(block_t *b)
{
    pthread_mutex_lock(&q_lock);
    b->next = q_head;
    q_head = b;
    q_len++;
    pthread_mutex_unlock(&q_lock);
    handed++;
}

static block_t *pop(void)
{
    pthread_mutex_lock(&q_lock);
    block_t *b = q_head;
    if (b) { q_head = b->next; q_len--; }
    pthread_mutex_unlock(&q_lock);
    if (b) received++;
    return b;
}

#define LOCAL 128

static void *worker(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    uint64_t r = 0x9E3779B97F4A7C15ull ^ (id * 0xBF58476D1CE4E5B9ull);
    block_t *local[LOCAL] = { 0 };
    for (int step = 0; step < 3000; step++) {
        unsigned slot = (unsigned)(rng_next(&r) % LOCAL);
        uint64_t seed = (id << 32) | (uint64_t)step;
        if (local[slot]) {
            block_t *b = local[slot];
            local[slot] = NULL;
            if (rng_next(&r) % 4 == 0) push(b);          /* someone else frees it */
            else consume(b);
        } else {
            local[slot] = make_block(&r, seed);
            fill(local[slot]);
        }
        if (step % 16 == 0) {                             /* free some blocks of others */
            block_t *b = pop();
            if (b) consume(b);
        }
        if (step % 500 == 0) {                            /* a short-lived string burst */
            char *s[64];
            for (int i = 0; i < 64; i++) {
                s[i] = malloc(8 + (size_t)i * 24);
                snprintf(s[i], 8 + (size_t)i * 24, "thread %llu step %d item %d", (unsigned long long)id, step, i);
            }
            for (int i = 0; i < 64; i++) { checksum += strlen(s[i]); free(s[i]); }
        }
    }
    /* leave some blocks behind for later waves / main; free the rest */
    for (unsigned i = 0; i < LOCAL; i++) {
        if (!local[i]) continue;
        if (i % 3 == 0) push(local[i]); else consume(local[i]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int waves = argc > 2 ? atoi(argv[1]) : 8, per_wave = argc > 2 ? atoi(argv[2]) : 8;
    pthread_t *t = calloc((size_t)per_wave, sizeof *t);
    uint64_t created = 0;
    for (int w = 0; w < waves; w++) {
        for (int i = 0; i < per_wave; i++) {
            uint64_t id = (uint64_t)w * (uint64_t)per_wave + (uint64_t)i;
            if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)id)) { perror("pthread_create"); return 2; }
            created++;
        }
        for (int i = 0; i < per_wave; i++) pthread_join(t[i], NULL);
        /* main frees about half of what is queued: blocks of exited threads */
        size_t n = q_len / 2;
        for (size_t k = 0; k < n; k++) { block_t *b = pop(); if (b) consume(b); }
        printf("wave %d done\n", w);
    }
    block_t *b;
    while ((b = pop())) consume(b);
    free(t);
    printf("threads %llu\n", (unsigned long long)created);
    printf("handed %llu received %llu\n", (unsigned long long)handed, (unsigned long long)received);
    printf("checksum %llu\n", (unsigned long long)checksum);
    if (corrupt) { fprintf(stderr, "memory corruption detected\n"); return 1; }
    return handed == received ? 0 : 1;
}
