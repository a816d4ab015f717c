/* getattr.c — pthread_getattr_np, passed through to libc unsampled.
 *
 * glibc's pthread_getattr_np allocates while it holds its thread's lock (the
 * cpuset; for the main thread also fopen of /proc/self/maps), and the
 * profiler calls it too, for a thread's stack bounds, on the thread's first
 * sample (prof/stacks.c). A sample falling inside the program's own call
 * (Rust's runtime, the JVM, Boehm GC make it at every thread start) would
 * call it again on the same thread and wait forever for that lock. So the
 * program's calls run with the thread's sampling turned off. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

#include "prof.h"

PA_API int pthread_getattr_np(pthread_t thread, pthread_attr_t *attr)
{
    static _Atomic(int (*)(pthread_t, pthread_attr_t *)) real;
    pa_tl_prof_busy++;                          /* before dlsym too: it may allocate */
    int (*fn)(pthread_t, pthread_attr_t *) = atomic_load_explicit(&real, memory_order_acquire);
    if (!fn) {
        *(void **)&fn = dlsym(RTLD_NEXT, "pthread_getattr_np");
        atomic_store_explicit(&real, fn, memory_order_release);
    }
    int r = fn ? fn(thread, attr) : ENOSYS;
    pa_tl_prof_busy--;
    return r;
}
