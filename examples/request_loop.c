/* request_loop.c — a request loop whose per-request scratch table comes from
 * a poolalloc object pool: taken with pa_pool_get, cleared by the pool's
 * reset callback when it is put back, reused by the next request.
 *
 *   cc request_loop.c $(pkg-config --cflags --libs poolalloc) -o request_loop
 *   ./request_loop [requests]
 */
#include <poolalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 256                      /* open-addressing table of words */

typedef struct scratch {
    size_t used;
    struct { char word[24]; unsigned count; } slot[SLOTS];
} scratch_t;

/* Called by pa_pool_put: the next request gets an empty table. */
static void scratch_reset(void *obj, void *arg)
{
    (void)arg;
    scratch_t *s = obj;
    if (s->used) memset(s, 0, sizeof *s);
}

static void *scratch_new(void *arg)
{
    (void)arg;
    return calloc(1, sizeof(scratch_t));   /* pa_pool_create's default would be pa_aligned_alloc */
}

static void scratch_destroy(void *obj, void *arg)
{
    (void)arg;
    free(obj);
}

static unsigned count_word(scratch_t *s, const char *w, size_t n)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)w[i]) * 16777619u;
    for (unsigned i = h % SLOTS;; i = (i + 1) % SLOTS) {
        if (!s->slot[i].count) {
            memcpy(s->slot[i].word, w, n < 23 ? n : 23);
            s->used++;
        } else if (strncmp(s->slot[i].word, w, n < 23 ? n : 23)) {
            continue;
        }
        return ++s->slot[i].count;
    }
}

/* One request: count the words of a made-up query; return the most repeated count. */
static unsigned handle(pa_pool_t *tables, unsigned long id)
{
    static const char *words[] = { "get", "user", "id", "order", "items", "page", "sort", "limit" };
    scratch_t *s = pa_pool_get(tables);
    if (!s) { perror("pa_pool_get"); exit(1); }
    unsigned best = 0;
    for (unsigned i = 0; i < 40 && s->used < SLOTS / 2; i++) {
        const char *w = words[(id * 7 + i * i) % 8];
        unsigned c = count_word(s, w, strlen(w));
        if (c > best) best = c;
    }
    pa_pool_put(tables, s);               /* reset runs here */
    return best;
}

int main(int argc, char **argv)
{
    unsigned long requests = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    pa_pool_config_t cfg = {
        .name = "scratch-tables",
        .size = sizeof(scratch_t),
        .new_object = scratch_new,
        .reset = scratch_reset,
        .destroy = scratch_destroy,
    };
    pa_pool_t *tables = pa_pool_create(&cfg);
    if (!tables) { perror("pa_pool_create"); return 1; }

    unsigned long sum = 0;
    for (unsigned long id = 0; id < requests; id++) {
        sum += handle(tables, id);
        if (id % 25000 == 24999) pa_cycle();   /* what a busy service's allocation rate does by itself */
    }

    pa_pool_stats_t st;
    pa_pool_stats(tables, &st);
    printf("%lu requests, checksum %lu\n", requests, sum);
    printf("pool %s: gets %llu, hits %llu, misses %llu, victim hits %llu, dropped %llu, cached %llu\n",
           pa_pool_name(tables), (unsigned long long)st.gets, (unsigned long long)st.hits,
           (unsigned long long)st.misses, (unsigned long long)st.victim_hits,
           (unsigned long long)st.dropped, (unsigned long long)st.cached);
    pa_pool_destroy(tables);
    return 0;
}
