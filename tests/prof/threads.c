/* threads.c — four threads, each allocating from its own function
 * (thread_alloc_0 .. thread_alloc_3), thread i (i + 1) * MIB MiB in sizes
 * uniformly random in 16..2048, half of the objects freed at once. The
 * threads run at the same time (they start together at a barrier).
 *
 * Prints one line per function: NAME ALLOC_OBJECTS ALLOC_BYTES
 * Usage: threads [MIB]   (default 4) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define NTHREADS 4

void *volatile sink;
static pthread_barrier_t start;
static uint64_t mib = 4;

typedef struct result { uint64_t objects, bytes; } result_t;
static result_t results[NTHREADS];

static uint64_t next(uint64_t *s)          /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Allocates `total` bytes straight from the function it expands in, so that
 * function is the innermost frame; keeps every other object (leaked). */
#define ALLOC_LOOP(i, total)                                                   \
    do {                                                                       \
        uint64_t seed = 0x1234u + (i), done = 0, count = 0;                    \
        while (done < (total)) {                                               \
            size_t n = 16 + next(&seed) % (2048 - 16 + 1);                     \
            void *p = malloc(n);                                               \
            if (!p) { fputs("threads: out of memory\n", stderr); exit(2); }    \
            sink = p;                                                          \
            if (count & 1) free(p);                                            \
            done += n;                                                         \
            count++;                                                           \
        }                                                                      \
        results[i].objects = count;                                            \
        results[i].bytes = done;                                               \
    } while (0)

__attribute__((noinline)) void thread_alloc_0(uint64_t total) { ALLOC_LOOP(0, total); }
__attribute__((noinline)) void thread_alloc_1(uint64_t total) { ALLOC_LOOP(1, total); }
__attribute__((noinline)) void thread_alloc_2(uint64_t total) { ALLOC_LOOP(2, total); }
__attribute__((noinline)) void thread_alloc_3(uint64_t total) { ALLOC_LOOP(3, total); }

static void (*const fns[NTHREADS])(uint64_t) = { thread_alloc_0, thread_alloc_1, thread_alloc_2, thread_alloc_3 };

static void *run(void *arg)
{
    int i = (int)(intptr_t)arg;
    pthread_barrier_wait(&start);
    fns[i]((uint64_t)(i + 1) * mib << 20);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) mib = strtoull(argv[1], NULL, 10);
    pthread_t t[NTHREADS];
    pthread_barrier_init(&start, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, run, (void *)(intptr_t)i)) { fputs("threads: pthread_create failed\n", stderr); return 2; }
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < NTHREADS; i++)
        printf("thread_alloc_%d %llu %llu\n", i, (unsigned long long)results[i].objects, (unsigned long long)results[i].bytes);
    return 0;
}
