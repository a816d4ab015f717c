/* dlhost.c — dlopen()s the plugin (argv[1]), calls its plugin_alloc from
 * host_call_plugin, and exits with the library still loaded.
 *
 * Prints: plugin_alloc OBJECTS BYTES   (all kept until exit)
 * Usage: dlhost PLUGIN.so [COUNT [SIZE]]   (default 4000 objects of 1000 bytes) */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef size_t plugin_alloc_fn(size_t count, size_t size);
volatile size_t calls;

/* The plugin's allocations have this function as their caller frame. */
__attribute__((noinline)) size_t host_call_plugin(plugin_alloc_fn *fn, size_t count, size_t size)
{
    size_t bytes = fn(count, size);
    calls++;                       /* not a tail call: this frame stays on the stack */
    return bytes;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fputs("usage: dlhost PLUGIN.so [COUNT [SIZE]]\n", stderr); return 2; }
    size_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 4000;
    size_t size = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "dlhost: %s\n", dlerror()); return 2; }
    plugin_alloc_fn *fn = (plugin_alloc_fn *)dlsym(lib, "plugin_alloc");
    if (!fn) { fprintf(stderr, "dlhost: %s\n", dlerror()); return 2; }
    size_t bytes = host_call_plugin(fn, count, size);
    printf("plugin_alloc %zu %zu\n", count, bytes);
    return 0;                      /* no dlclose: the plugin is mapped at the exit dump */
}
