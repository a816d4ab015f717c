/* edges.c — the cases where deciding a sampled object's fate once went
 * wrong (docs/lifetimes.md), run under LD_PRELOAD at POOLALLOC_SAMPLE_RATE=1
 * by tests/prof/run.sh and judged by check.py fates-edges:
 *
 *   a thread's first allocation inside pthread_getattr_np, which allocates
 *     under its thread's lock, as the profiler's own call does (hung)
 *   malloc in a signal handler on an alternate stack mapped inside the
 *     range RLIMIT_STACK leaves below the main stack (the scan crashed)
 *   big_pair, small_after_big: an allocation of 256 KiB or more between a
 *     sampled allocation and its free (counted as temporary)
 *   inner: the allocating function's caller has a frame over 64 KiB, so its
 *     slot is not found (counted as returned, not unclassified)
 *   real_temp: a temporary, for contrast
 *   grown: a 3 MiB block (its own mapping) grown to 6 MiB by realloc, in
 *     place (remapped), and kept: its in-use bytes must be the 6 MiB
 *   deep_alloc: 100 calls deep, a stack over the 64 frames kept: it must end
 *     with the truncation mark (docs/profile-format.md)
 * Prints "done" at the end. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NOINLINE __attribute__((noinline))
#define ROUNDS 10

static void *volatile sink;

static void *attr_thread(void *arg)
{
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) pthread_attr_destroy(&a);
    return arg;
}

NOINLINE static void on_signal_stack(void) { sink = malloc(32); free(sink); }
static void handler(int sig) { (void)sig; on_signal_stack(); }

static int signal_stack_below_main(void)
{
    size_t size = 64 << 10, page = 4096;
    char *hint = (char *)(((unsigned long)&size & ~(page - 1)) - (4 << 20));
    char *m = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (m == MAP_FAILED) return 0;      /* the kernel would not place it there: nothing to test */
    stack_t ss = { .ss_sp = m, .ss_size = size };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_ONSTACK;
    if (sigaltstack(&ss, NULL) || sigaction(SIGUSR1, &sa, NULL)) return 0;
    raise(SIGUSR1);
    return 1;
}

NOINLINE static void big_pair(void)          /* p is not temporary, q is */
{
    void *p = malloc(300 << 10);
    sink = p;
    void *q = malloc(300 << 10);
    sink = q;
    free(p);
    free(q);
}

NOINLINE static void small_after_big(void)   /* x is not temporary, y is */
{
    void *x = malloc(48);
    sink = x;
    void *b = malloc(300 << 10);
    sink = b;
    void *y = malloc(56);
    sink = y;
    free(x);
    free(b);
    free(y);
}

NOINLINE static char *inner(void)
{
    char *p = malloc(40);
    sink = p;
    return p;
}

NOINLINE static void outer(int i)
{
    volatile char big[100 << 10];             /* a frame larger than the 64 KiB scan */
    big[i] = 1;
    char *p = inner();
    sink = p;
    free(p);
    big[i + 1] = big[i];
}

NOINLINE static void real_temp(void)
{
    void *t = malloc(64);
    sink = t;
    free(t);
}

static void *kept;

NOINLINE static void grown(void)
{
    char *p = malloc(3 << 20);
    memset(p, 1, 3 << 20);
    kept = realloc(p, 6 << 20);
}

NOINLINE static void deep_alloc(void) { sink = malloc(4321); }

NOINLINE static int deep(int n)
{
    if (n == 0) deep_alloc();
    else deep(n - 1);
    __asm__ volatile("" ::: "memory");        /* not a tail call: every level keeps its frame */
    return n;
}

int main(void)
{
    sink = malloc(100);                       /* the main thread's first sample */
    pthread_t t;
    if (pthread_create(&t, NULL, attr_thread, NULL) || pthread_join(t, NULL)) return 1;
    int altstack = signal_stack_below_main();
    for (int i = 0; i < ROUNDS; i++) {
        big_pair();
        small_after_big();
        outer(i);
        real_temp();
    }
    grown();
    deep(100);
    printf("altstack %s\ndone\n", altstack ? "tested" : "not placed");
    return 0;
}
