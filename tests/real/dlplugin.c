/* dlplugin.c — a shared library for poolalloc's dlopen check. Its constructor
 * allocates (a table of strings, a 3 MiB buffer), its functions allocate and
 * free, one returns memory the host frees after dlclose, and its destructor
 * frees what the constructor allocated. Built with -shared -fPIC. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMES 500

static char **names;
static unsigned char *big;
static int loads;                 /* 1 after every fresh load: the library was really unloaded */
static __thread int calls;        /* TLS in a dlopen'ed library */

__attribute__((constructor)) static void plugin_init(void)
{
    loads++;
    names = malloc(NAMES * sizeof *names);
    for (int i = 0; i < NAMES; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "name-%d-%.*s", i, i % 40, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        names[i] = strdup(buf);
    }
    big = calloc(3u << 20, 1);
    for (size_t i = 0; i < (3u << 20); i += 4096) big[i] = (unsigned char)(i >> 12);
}

__attribute__((destructor)) static void plugin_fini(void)
{
    for (int i = 0; i < NAMES; i++) free(names[i]);
    free(names);
    free(big);
    names = NULL;
    big = NULL;
}

int plugin_loads(void) { return loads; }

/* Builds and frees a linked list and a few strings; returns a checksum. */
uint64_t plugin_work(int n)
{
    struct node { struct node *next; size_t len; char *s; } *head = NULL;
    calls++;
    for (int i = 0; i < n; i++) {
        struct node *nd = malloc(sizeof *nd);
        nd->len = strlen(names[(i * 7) % NAMES]);
        nd->s = malloc(nd->len + 1 + (size_t)(i % 300));
        memcpy(nd->s, names[(i * 7) % NAMES], nd->len + 1);
        nd->next = head;
        head = nd;
    }
    uint64_t sum = 0;
    while (head) {
        struct node *nx = head->next;
        for (size_t k = 0; k < head->len; k++) sum = sum * 31 + (unsigned char)head->s[k];
        free(head->s);
        free(head);
        head = nx;
    }
    for (size_t i = 0; i < (3u << 20); i += 4096) sum += big[i];
    return sum + (uint64_t)calls;
}

/* Memory that outlives the library: the host frees it after dlclose. */
char *plugin_make(size_t n)
{
    char *p = malloc(n);
    memset(p, 'p', n);
    p[n - 1] = 0;
    return p;
}
