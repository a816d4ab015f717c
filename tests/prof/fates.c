/* fates.c — one allocation site of each kind that `poolalloc-prof report`
 * ranks, run under LD_PRELOAD with POOLALLOC_PROFILE (tests/prof/run.sh):
 *
 *   make_token     pool candidate: 48 B, freed by its caller within a
 *                  microsecond, on the same thread
 *   grow_buffer    realloc chain: 16 B grown by doubling to 64 KiB (12
 *                  reallocs per buffer), then freed
 *   format_line    frame-local temporary: 200 B freed before the function
 *                  returns, nothing allocated in between
 *   produce        hand-off: 256 B messages freed by a consumer thread
 *   remember       leak: 1 KiB records never freed
 *   pooled_request pool misses: pa_pool_get, then pa_free instead of put
 *
 * Usage: fates SCALE. Prints what it did, one line per site:
 *   SITE ALLOCS BYTES, and for grow_buffer also CHAINS REALLOCS.
 * SCALE 1 is small enough for POOLALLOC_SAMPLE_RATE=1; 40 gives each site
 * over 100 MB, enough samples at the default rate. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static void *volatile sink;             /* keeps the compiler from eliding malloc/free pairs */

/* ---- pool candidate ---- */
NOINLINE static char *make_token(int i)
{
    char *t = malloc(48);
    memset(t, 'a' + i % 26, 48);
    return t;
}

NOINLINE static unsigned tokenize(int n)
{
    unsigned sum = 0;
    for (int i = 0; i < n; i++) {
        char *t = make_token(i);
        sum += (unsigned char)t[i % 48];
        free(t);
    }
    return sum;
}

/* ---- realloc chain ---- */
NOINLINE static void grow_buffer(void)
{
    size_t cap = 16;
    char *b = malloc(cap);
    memset(b, 1, cap);
    while (cap < 64 * 1024) {
        cap *= 2;
        b = realloc(b, cap);
        memset(b + cap / 2, 2, cap / 2);
    }
    sink = b;
    free(b);
}

/* ---- frame-local temporary ---- */
NOINLINE static unsigned format_line(int i)
{
    char *line = malloc(200);
    sink = line;
    int n = snprintf(line, 200, "line %d of the report", i);
    unsigned sum = (unsigned)n + (unsigned char)line[5];
    free(line);
    return sum;
}

/* ---- hand-off ---- */
#define QUEUE 64
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    void *items[QUEUE];
    unsigned head, tail;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0, 0 };

static void push(void *m)
{
    pthread_mutex_lock(&q.lock);
    while (q.tail - q.head == QUEUE) pthread_cond_wait(&q.cond, &q.lock);
    q.items[q.tail++ % QUEUE] = m;
    pthread_cond_broadcast(&q.cond);
    pthread_mutex_unlock(&q.lock);
}

static void *pop(void)
{
    pthread_mutex_lock(&q.lock);
    while (q.tail == q.head) pthread_cond_wait(&q.cond, &q.lock);
    void *m = q.items[q.head++ % QUEUE];
    pthread_cond_broadcast(&q.cond);
    pthread_mutex_unlock(&q.lock);
    return m;
}

NOINLINE static void produce(int n)
{
    for (int i = 0; i < n; i++) {
        char *m = malloc(256);
        memset(m, i, 256);
        push(m);
    }
    push(NULL);
}

static void *consumer(void *arg)
{
    (void)arg;
    for (void *m; (m = pop()) != NULL;) free(m);
    return NULL;
}

/* ---- leak ---- */
NOINLINE static void remember(int i)
{
    char *r = malloc(1024);
    memset(r, i, 1024);
    sink = r;                           /* and forgotten */
}

/* ---- pool misses: the objects are freed instead of put back ---- */
typedef struct pa_pool pa_pool_t;
typedef struct {
    const char *name;
    size_t size, align;
    void *(*new_object)(void *);
    void (*reset)(void *, void *);
    void (*destroy)(void *, void *);
    void *arg;
    int debug;
} pool_config_t;                        /* pa_pool_config_t of include/poolalloc.h */

NOINLINE static void pooled_request(pa_pool_t *pool, void *(*get)(pa_pool_t *), int i)
{
    char *r = get(pool);
    memset(r, i, 512);
    sink = r;
    free(r);                            /* the bug: should be pa_pool_put */
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1) { fprintf(stderr, "usage: fates SCALE\n"); return 2; }
    pa_pool_t *(*create)(const pool_config_t *) = (pa_pool_t * (*)(const pool_config_t *)) dlsym(RTLD_DEFAULT, "pa_pool_create");
    void *(*get)(pa_pool_t *) = (void *(*)(pa_pool_t *))dlsym(RTLD_DEFAULT, "pa_pool_get");
    if (!create || !get) { fprintf(stderr, "fates: run me under LD_PRELOAD=libpoolalloc.so\n"); return 2; }

    int tokens = 100000 * scale, chains = 50 * scale, lines = 25000 * scale, messages = 20000 * scale;
    int records = 500 * scale, requests = 10000 * scale;
    unsigned sum = tokenize(tokens);
    for (int i = 0; i < chains; i++) grow_buffer();
    for (int i = 0; i < lines; i++) sum += format_line(i);

    pthread_t t;
    if (pthread_create(&t, NULL, consumer, NULL)) return 1;
    produce(messages);
    pthread_join(t, NULL);

    for (int i = 0; i < records; i++) remember(i);

    pa_pool_t *pool = create(&(pool_config_t){ .name = "requests", .size = 512 });
    for (int i = 0; i < requests; i++) pooled_request(pool, get, i);

    printf("make_token %d %d\n", tokens, tokens * 48);
    printf("grow_buffer %d %d %d %d\n", chains, chains * 16, chains, chains * 12);
    printf("format_line %d %d\n", lines, lines * 200);
    printf("produce %d %d\n", messages, messages * 256);
    printf("remember %d %d\n", records, records * 1024);
    printf("pooled_request %d %d\n", requests, requests * 512);
    return sum == 42;                   /* never: uses sum */
}
