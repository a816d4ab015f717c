/* target.c -- a service for the live-profile checks (check.py), run with
 * POOLALLOC_HTTP. Commands on stdin, one per line, each answered on stdout:
 *
 *   build    four threads allocate at three known sites: keep_big keeps
 *            320 blocks of 64 KiB, keep_mid keeps 20000 of 1000 B, churn
 *            allocates and frees 400000 of 100 B; then the main thread
 *            keeps 40 more at keep_big; then "built"
 *   spin S   four threads (spin_0 .. spin_3, a site each) malloc and free
 *            256 B for S seconds; then "spun"
 *   window   one thread churns 50 MB in 4 KiB blocks at window_site; then
 *            "window N" (the bytes)
 *   loop N   N mallocs and frees of 16..1024 B on this thread (a fixed
 *            amount of work, for instruction counts); then "looped N"
 *   spawn    runs /bin/sleep 0.3 through system(): a child that inherits
 *            the environment; then "spawned STATUS"
 *   closeall closes every fd from 3 to 1023, as a daemon does; "closed"
 *   stats    pa_stats_get (found with dlsym: the program is not linked
 *            with poolalloc) as NAME VALUE pairs on one line
 *   busy S   one thread mallocs and frees for S seconds; "busy OPS_PER_S"
 *   exit     (or end of input) exits
 * Between commands it allocates nothing, so what the server reports then
 * is what the program did. */
#include <dlfcn.h>
#include <unistd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

void *volatile sink;
static void *big[4][80], *mid[4][5000], *main_big[40];

NOINLINE void *keep_big(void) { return malloc(64 << 10); }
NOINLINE void *keep_mid(void) { return malloc(1000); }
NOINLINE void churn(void)
{
    void *volatile p = malloc(100);   /* a local: four threads churn at once */
    free(p);
}
NOINLINE void window_site(void)
{
    void *volatile p = malloc(4096);
    free(p);
}

static double now(void);

/* four threads, each its own site */
#define SPINNER(k)                                   \
    NOINLINE void *spin_##k(void *arg)               \
    {                                                \
        double end = *(double *)arg;                 \
        while (now() < end)                          \
            for (int i = 0; i < 100; i++) {          \
                void *volatile p = malloc(256);      \
                free(p);                             \
            }                                        \
        return NULL;                                 \
    }
SPINNER(0)
SPINNER(1)
SPINNER(2)
SPINNER(3)

static void *builder(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < 80; i++) big[t][i] = keep_big();
    for (int i = 0; i < 5000; i++) mid[t][i] = keep_mid();
    for (int i = 0; i < 100000; i++) churn();
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
    uint64_t alloc_objects, alloc_bytes, free_objects, free_bytes, live_objects, live_bytes, remote_frees,
        large_allocs, large_frees, large_live_bytes, mapped_bytes, committed_bytes, resident_bytes, purged_bytes,
        segments, heaps, heaps_abandoned, cycles, realloc_moves, realloc_copied_bytes, uptime_ns;
} stats_t;   /* pa_stats_t's layout (include/poolalloc.h) */

int main(void)
{
    static const char *const names[] = {
        "alloc_objects", "alloc_bytes", "free_objects", "free_bytes", "live_objects", "live_bytes", "remote_frees",
        "large_allocs", "large_frees", "large_live_bytes", "mapped_bytes", "committed_bytes", "resident_bytes",
        "purged_bytes", "segments", "heaps", "heaps_abandoned", "cycles", "realloc_moves", "realloc_copied_bytes",
        "uptime_ns"};
    char line[128];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        if (!strncmp(line, "build", 5)) {
            pthread_t t[4];
            for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, builder, (void *)(intptr_t)i);
            for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
            for (int i = 0; i < 40; i++) main_big[i] = keep_big();   /* stacks through __libc_start_main */
            printf("built\n");
        } else if (!strncmp(line, "spin", 4)) {
            double end = now() + atof(line + 4);
            void *(*fn[4])(void *) = {spin_0, spin_1, spin_2, spin_3};
            pthread_t t[4];
            for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, fn[i], &end);
            for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
            printf("spun\n");
        } else if (!strncmp(line, "loop", 4)) {
            long n = atol(line + 4);
            uint64_t x = 88172645463325252ull;
            for (long i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                void *volatile p = malloc(16 + (size_t)(x % 1009));
                free(p);
            }
            printf("looped %ld\n", n);
        } else if (!strncmp(line, "spawn", 5)) {
            int rc = system("exec /bin/sleep 0.3");
            printf("spawned %d\n", rc);
        } else if (!strncmp(line, "closeall", 8)) {
            for (int fd = 3; fd < 1024; fd++) close(fd);   /* as a daemon does at start */
            printf("closed\n");
        } else if (!strncmp(line, "window", 6)) {
            long n = 50000000 / 4096;
            for (long i = 0; i < n; i++) window_site();
            printf("window %ld\n", n * 4096);
        } else if (!strncmp(line, "stats", 5)) {
            void (*get)(stats_t *) = (void (*)(stats_t *))dlsym(RTLD_DEFAULT, "pa_stats_get");
            stats_t s;
            if (!get) {
                printf("stats none\n");
                continue;
            }
            get(&s);
            const uint64_t *v = (const uint64_t *)&s;
            char out[2048];
            size_t k = 0;
            for (size_t i = 0; i < sizeof names / sizeof *names; i++)
                k += (size_t)snprintf(out + k, sizeof out - k, "%s%s %llu", i ? " " : "", names[i], (unsigned long long)v[i]);
            puts(out);   /* formatted first: printf may allocate, and must not between the reads */
        } else if (!strncmp(line, "busy", 4)) {
            double secs = atof(line + 4), start = now(), end = start + secs;
            long ops = 0;
            while (now() < end)
                for (int i = 0; i < 1000; i++, ops++) {
                    sink = malloc(16 + (size_t)(i % 64) * 16);
                    free(sink);
                }
            printf("busy %.0f\n", (double)ops / (now() - start));
        } else {
            break;
        }
    }
    return 0;
}
