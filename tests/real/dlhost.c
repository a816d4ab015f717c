/* dlhost.c — dlopens and dlcloses dlplugin.so repeatedly (from main and from
 * short-lived threads), calls its functions, and frees memory the plugin
 * allocated after the plugin was unloaded. Prints deterministic results.
 * Usage: dlhost /path/to/dlplugin.so [rounds] */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*loads_fn)(void);
typedef uint64_t (*work_fn)(int);
typedef char *(*make_fn)(size_t);

static const char *path;

struct result { uint64_t sum; int fresh; char *kept; };

static int one_round(int i, struct result *r)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    loads_fn loads = (loads_fn)dlsym(h, "plugin_loads");
    work_fn work = (work_fn)dlsym(h, "plugin_work");
    make_fn make = (make_fn)dlsym(h, "plugin_make");
    if (!loads || !work || !make) { fprintf(stderr, "dlsym: %s\n", dlerror()); return 1; }
    r->fresh = loads() == 1;
    r->sum = work(100 + i % 400);
    r->kept = make(16 + (size_t)(i * 97) % 200000);
    if (dlclose(h)) { fprintf(stderr, "dlclose: %s\n", dlerror()); return 1; }
    return 0;
}

static void *thread_round(void *arg)
{
    struct result *r = arg;
    return (void *)(intptr_t)one_round((int)r->sum, r);
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: dlhost plugin.so [rounds]\n"); return 2; }
    path = argv[1];
    int rounds = argc > 2 ? atoi(argv[2]) : 200;
    uint64_t total = 0;
    int fresh = 0, in_threads = 0;
    char **kept = calloc((size_t)rounds, sizeof *kept);
    size_t kept_len = 0;
    for (int i = 0; i < rounds; i++) {
        struct result r = { 0 };
        if (i % 5 == 4) {                         /* this round in a new thread */
            pthread_t t;
            void *ret;
            r.sum = (uint64_t)i;
            if (pthread_create(&t, NULL, thread_round, &r)) return 2;
            pthread_join(t, &ret);
            if (ret) return 1;
            in_threads++;
        } else if (one_round(i, &r)) {
            return 1;
        }
        total += r.sum;
        fresh += r.fresh;
        kept[i] = r.kept;
        if (i % 3 == 0) {                         /* free some plugin memory at once, after dlclose */
            kept_len += strlen(kept[i]);
            free(kept[i]);
            kept[i] = NULL;
        }
    }
    for (int i = 0; i < rounds; i++)
        if (kept[i]) { kept_len += strlen(kept[i]); free(kept[i]); }
    free(kept);
    printf("rounds %d (in threads %d), fresh loads %d\n", rounds, in_threads, fresh);
    printf("checksum %llu kept %zu\n", (unsigned long long)total, kept_len);
    return fresh == rounds ? 0 : 1;
}
