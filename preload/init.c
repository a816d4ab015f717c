/* init.c — process start and end for the shared library. The allocator also
 * initialises itself lazily on the first malloc (which may come from ld.so or
 * another library's constructor, before this one runs); this constructor
 * makes sure settings are read even in a program that never allocates, and
 * the destructor prints statistics when POOLALLOC_STATS=1. */
#include "internal.h"
#include "poolalloc.h"

__attribute__((constructor(101))) static void pa_preload_init(void)
{
    pa_process_init();
}

__attribute__((destructor(101))) static void pa_preload_fini(void)
{
    int fd = pa_stderr_fd();                 /* the program may have closed fd 2 */
    if (pa_options.stats_at_exit && fd >= 0) pa_stats_print(fd);
}
