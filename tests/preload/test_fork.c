/* test_fork.c — fork() while other threads allocate: the child has a working
 * allocator (no deadlock on a lock another thread held) and may free what the
 * parent's threads allocated before the fork. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "poolalloc.h"
#include "pl_util.h"

enum { THREADS = 4, KEPT = 64, SLOTS = 256, FORKS = 8 };

/* Blocks each thread allocates first and keeps until the end: the children
 * check their contents and free them. Sizes cover small, medium, large
 * (1 MiB) and huge (3 MiB) blocks. */
typedef struct worker {
    int id;
    pthread_t thread;
    char *kept[KEPT];
    size_t kept_len[KEPT];
    atomic_int ready;
    unsigned long rounds;
} worker_t;

static worker_t workers[THREADS];
static atomic_int stop;
static _Atomic(char *) mailbox[THREADS];
static char *main_kept[KEPT];
static size_t main_kept_len[KEPT];

static size_t kept_size(int i)
{
    static const size_t s[] = { 16, 40, 100, 256, 1000, 3000, 9000, 40000, 130000, 300000, PL_MIB, 3 * PL_MIB };
    return s[i % (sizeof s / sizeof s[0])] + (size_t)i;
}

static unsigned rnd(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

static size_t churn_size(unsigned r)
{
    switch (r % 16) {
    case 0: return PL_MIB + r % 5000;           /* large page */
    case 1: return 100000 + r % 60000;          /* medium */
    case 2: if (r % 64 == 2) return 3 * PL_MIB; /* occasionally huge */
            return 5000 + r % 9000;
    default: return 1 + r % 600;                /* small */
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < KEPT; i++) {
        w->kept_len[i] = kept_size(i);
        w->kept[i] = malloc(w->kept_len[i]);
        if (!w->kept[i]) abort();
        pl_fill(w->kept[i], w->kept_len[i], (unsigned)(w->id * 1000 + i));
    }
    atomic_store(&w->ready, 1);
    unsigned state = (unsigned)w->id + 1;
    char *slot[SLOTS] = { 0 };
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        unsigned r = rnd(&state), i = r % SLOTS;
        if (slot[i]) {
            free(slot[i]);
            slot[i] = NULL;
        } else {
            size_t n = churn_size(rnd(&state));
            slot[i] = r & 1 ? malloc(n) : calloc(1, n);
            if (!slot[i]) abort();
            slot[i][0] = 1;
            slot[i][n - 1] = 2;
        }
        /* pass blocks to the neighbour, which frees them: remote frees */
        if (r % 7 == 0) {
            char *p = malloc(1 + r % 2000);
            if (!p) abort();
            free(atomic_exchange(&mailbox[(w->id + 1) % THREADS], p));
            free(atomic_exchange(&mailbox[w->id], NULL));
        }
        w->rounds++;
    }
    for (int i = 0; i < SLOTS; i++) free(slot[i]);
    return NULL;
}

static void *child_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        char *p = malloc(1 + (size_t)i % 3000);
        if (!p) return (void *)1;
        p[0] = 1;
        free(p);
    }
    return NULL;
}

/* What each child does. Exit codes say what went wrong. */
static void child_work(void)
{
    alarm(20);
    /* the parent's blocks, from all five heaps, are intact and freeable */
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < KEPT; i++) {
            if (!pl_check(workers[t].kept[i], workers[t].kept_len[i], (unsigned)(t * 1000 + i))) _exit(10);
            if (pa_usable_size(workers[t].kept[i]) < workers[t].kept_len[i]) _exit(11);
            free(workers[t].kept[i]);
        }
    for (int i = 0; i < KEPT; i++) {
        if (!pl_check(main_kept[i], main_kept_len[i], (unsigned)(9000 + i))) _exit(12);
        free(main_kept[i]);
    }
    /* thousands of blocks of varied sizes, including 1 MiB and 8 MiB */
    enum { N = 3000 };
    static char *p[N];
    static size_t len[N];
    unsigned state = (unsigned)getpid();
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            unsigned r = rnd(&state);
            len[i] = i % 500 == 0 ? 8 * PL_MIB : i % 100 == 0 ? PL_MIB : 1 + r % 20000;
            p[i] = malloc(len[i]);
            if (!p[i]) _exit(13);
            memset(p[i], (int)(i & 0xff), len[i] < 256 ? len[i] : 256);
        }
        for (int i = 0; i < N; i++) {
            for (size_t k = 0; k < (len[i] < 256 ? len[i] : 256); k++)
                if ((unsigned char)p[i][k] != (unsigned char)(i & 0xff)) _exit(14);
            free(p[i]);
        }
    }
    /* threads work in the child too */
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, child_thread, NULL) != 0) _exit(15);
    for (int i = 0; i < 2; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        if (rv) _exit(16);
    }
    _exit(0);
}

Test(fork, fork_while_threads_allocate, .timeout = 60)
{
    for (int i = 0; i < KEPT; i++) {
        main_kept_len[i] = kept_size(i + 5);
        main_kept[i] = malloc(main_kept_len[i]);
        cr_assert_not_null(main_kept[i]);
        pl_fill(main_kept[i], main_kept_len[i], (unsigned)(9000 + i));
    }
    for (int t = 0; t < THREADS; t++) {
        workers[t].id = t;
        cr_assert_eq(pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        while (!atomic_load(&workers[t].ready)) usleep(1000);

    for (int f = 0; f < FORKS; f++) {
        usleep(5000 + 3000 * f);              /* let the threads get going */
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) child_work();
        int status;
        time_t start = time(NULL);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "fork %d: child %s after %lds (14 = SIGALRM: deadlock or hang)", f, pl_describe(status),
                  (long)(time(NULL) - start));
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < THREADS; t++) {
        cr_assert_eq(pthread_join(workers[t].thread, NULL), 0);
        cr_assert_gt(workers[t].rounds, 0);
        for (int i = 0; i < KEPT; i++) {
            cr_assert(pl_check(workers[t].kept[i], workers[t].kept_len[i], (unsigned)(t * 1000 + i)));
            free(workers[t].kept[i]);
        }
    }
    for (int i = 0; i < KEPT; i++) free(main_kept[i]);
    for (int t = 0; t < THREADS; t++) free(atomic_exchange(&mailbox[t], NULL));
}

/* Many forks in a row, each child allocating and exiting while the parent's
 * threads keep going, then the parent itself keeps allocating normally. */
static void *spin_alloc(void *arg)
{
    (void)arg;
    unsigned state = 99;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        size_t n = churn_size(rnd(&state));
        char *p = malloc(n);
        if (!p) abort();
        p[n - 1] = 1;
        free(p);
    }
    return NULL;
}

Test(fork, rapid_forks_with_busy_threads, .timeout = 60)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) cr_assert_eq(pthread_create(&t[i], NULL, spin_alloc, NULL), 0);
    for (int f = 0; f < 60; f++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            alarm(10);
            for (int i = 0; i < 2000; i++) {
                size_t n = i % 400 == 0 ? 8 * PL_MIB : i % 50 == 0 ? PL_MIB : 1 + (size_t)i * 7 % 9000;
                char *p = malloc(n);
                if (!p) _exit(2);
                p[0] = p[n - 1] = 3;
                free(p);
            }
            _exit(0);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork %d: child %s", f, pl_describe(status));
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    void *p = malloc(1000);
    cr_assert_not_null(p);
    free(p);
}
