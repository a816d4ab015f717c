/* os.c — the only place that talks to the kernel about memory, plus the
 * message helpers (which must never allocate: they format on the stack). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "prof.h"

/* Maps `size` bytes at an address r with (r + offset) % align == 0 (align a
 * power of two >= 4 KiB, offset a multiple of 4 KiB). Over-maps by `align` and
 * trims both ends, so the kernel keeps only the part asked for. */
void *pa_os_map_aligned(size_t size, size_t align, size_t offset)
{
    if (size > SIZE_MAX - align) return NULL;
    size_t over = size + align;
    uint8_t *p = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uintptr_t a = (((uintptr_t)p + offset + align - 1) & ~(uintptr_t)(align - 1)) - offset;
    if (a < (uintptr_t)p) a += align;
    size_t head = a - (uintptr_t)p, tail = over - head - size;
    if (head) munmap(p, head);
    if (tail) munmap((uint8_t *)a + size, tail);
    atomic_fetch_add_explicit(&pa_gstats.mapped, size, memory_order_relaxed);
    atomic_fetch_add_explicit(&pa_gstats.committed, size, memory_order_relaxed);
    return (void *)a;
}

void pa_os_unmap(void *p, size_t size)
{
    if (munmap(p, size) != 0) pa_message("munmap(%p, %zu) failed: errno %d", p, size, errno);
    atomic_fetch_sub_explicit(&pa_gstats.mapped, size, memory_order_relaxed);
    atomic_fetch_add_explicit(&pa_gstats.purged_total, size, memory_order_relaxed);
}

/* Moves a mapping to new_addr (MREMAP_MAYMOVE | MREMAP_FIXED, new_len bytes
 * there): mremap. Weak, so that the unit tests can make it fail as a kernel
 * does, after unmapping the destination (test_return_to_os.c). */
__attribute__((weak)) void *pa_os_move(void *old, size_t old_len, size_t new_len, void *new_addr)
{
    return mremap(old, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr);
}

/* Gives the physical pages back; the range stays mapped and reads as zero. */
void pa_os_purge(void *p, size_t size)
{
    int saved = errno;
    madvise(p, size, MADV_DONTNEED);
    errno = saved;
    atomic_fetch_add_explicit(&pa_gstats.purged_total, size, memory_order_relaxed);
}

/* Asks for transparent huge pages for a mapping: a block of many MiB is then
 * faulted in 2 MiB at a time, not 4 KiB (512x fewer faults), where the system
 * allows THP at all ("madvise" or "always"). The whole mapping is advised, so
 * that it stays one kernel VMA: mremap (huge realloc) needs that. */
void pa_os_hugepage(void *p, size_t size)
{
    int saved = errno;
    madvise(p, size, MADV_HUGEPAGE);
    errno = saved;
}

/* Makes [p, p + size) (2 MiB aligned) transparent huge pages now, keeping its
 * contents. A purge of a huge mapping keeps its header page, and that one 4 KiB
 * page would make the rest of the first 2 MiB fault in 4 KiB at a time (511
 * faults) when the mapping is reused. Linux 6.1+; a no-op where unknown. */
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
void pa_os_collapse(void *p, size_t size)
{
    int saved = errno;
    madvise(p, size, MADV_COLLAPSE);
    errno = saved;
}

/* Whether mremap moves a range that spans several VMAs (Linux 6.17+): huge.c
 * gathers a block from such ranges only then. From the kernel's release, read
 * once; unknown counts as no. */
static _Atomic int moves_several;            /* 0 unknown, 1 no, 2 yes */

bool pa_os_moves_several_vmas(void)
{
    int k = atomic_load_explicit(&moves_several, memory_order_relaxed);
    if (!k) {
        struct utsname u;
        unsigned major = 0, minor = 0;
        k = uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
            (major > 6 || (major == 6 && minor >= 17)) ? 2 : 1;
        atomic_store_explicit(&moves_several, k, memory_order_relaxed);
    }
    return k == 2;
}

/* For the unit tests: behave as on an older kernel, or a newer one. */
void pa_os_set_moves_several_vmas(bool yes)
{
    atomic_store_explicit(&moves_several, yes ? 2 : 1, memory_order_relaxed);
}

uint64_t pa_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The same clock to the nanosecond (vDSO, ~20 ns): lifetimes, rates. */
uint64_t pa_clock_fine_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Our output goes to fd 2. Programs such as coreutils' cat and sort close it
 * in an atexit handler, before the exit statistics and the last profile's
 * messages are written; so when output is due at exit, a private copy of
 * stderr is taken at start-up and written to once fd 2 is closed. The copy is
 * trusted only while it is still the file stderr was at start: a program that
 * closes every descriptor may have reused its number for a file of its own. */
static int stderr_copy = -1;
static pa_file_id_t stderr_id;

bool pa_file_id(int fd, pa_file_id_t *id)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return false;
    id->dev = st.st_dev, id->ino = st.st_ino;
    return true;
}

bool pa_file_is(int fd, const pa_file_id_t *id)
{
    pa_file_id_t now;
    return fd >= 0 && pa_file_id(fd, &now) && now.dev == id->dev && now.ino == id->ino;
}

void pa_stderr_keep(void)
{
    pa_file_id_t id;
    if (stderr_copy >= 0 || !pa_file_id(2, &id)) return;
    int fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return;
    stderr_id = id;
    stderr_copy = fd;
}

int pa_stderr_fd(void)
{
    int saved = errno;
    int fd = -1;
    if (fcntl(2, F_GETFD) >= 0) fd = 2;
    else if (pa_file_is(stderr_copy, &stderr_id)) fd = stderr_copy;
    errno = saved;
    return fd;
}

int pa_thread_start(void *(*fn)(void *), const char *name)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 << 10);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* the thread starts with them blocked */
    pthread_t t;
    pa_tl_prof_busy++;                          /* pthread_create's own allocations */
    int err = pthread_create(&t, &attr, fn, NULL);
    pa_tl_prof_busy--;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (!err) pthread_setname_np(t, name);
    return err;
}

int pa_signal_handle(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL) ? errno : 0;
}

/* The program's name as it was run: argv[0]'s last component, from
 * /proc/self/cmdline (there from the first instruction, unlike libc's copy,
 * and read without allocating; redis-server, not the redis-check-rdb its
 * symlink names). "" when unknown. */
void pa_program_name(char *out, size_t cap)
{
    char buf[512];
    ssize_t n = 0;
    int saved = errno;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
    }
    errno = saved;
    buf[n > 0 ? n : 0] = 0;                   /* argv[0] ends at the first NUL */
    const char *base = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
    size_t k = 0;
    for (; base[k] && k + 1 < cap; k++) out[k] = base[k] == '\n' ? '?' : base[k];
    if (cap) out[k] = 0;
}

static void vmessage(const char *fmt, va_list ap)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "poolalloc: ");
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    if (m < 0) m = 0;
    size_t len = (size_t)n + ((size_t)m < sizeof buf - (size_t)n - 1 ? (size_t)m : sizeof buf - (size_t)n - 2);
    buf[len++] = '\n';
    int saved = errno, fd = pa_stderr_fd();
    if (fd >= 0) {
        ssize_t w = write(fd, buf, len);
        (void)w;
    }
    errno = saved;
}

void pa_message(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
}

void pa_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    abort();
}
