/* pl_util.h — helpers shared by the tests of the exported symbols
 * (the .c files of tests/preload): running code in a forked child with its stderr
 * captured, exec'ing a program under LD_PRELOAD, and hiding pointers and
 * sizes from the compiler so that deliberately bad calls compile with -Werror. */
#ifndef PL_UTIL_H
#define PL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PL_KIB ((size_t)1 << 10)
#define PL_MIB ((size_t)1 << 20)

typedef struct pl_child {
    int status;          /* as returned by waitpid                          */
    pid_t pid;
    size_t errlen;
    char err[16384];     /* what the child wrote to stderr, NUL-terminated  */
} pl_child_t;

/* Forks; the child gets stderr on a pipe, core dumps off, SIGALRM after
 * timeout_s seconds, runs fn(arg) and _exit(0)s if fn returns. The parent
 * collects stderr and the exit status into *out. */
void pl_run_child(void (*fn)(void *), void *arg, unsigned timeout_s, pl_child_t *out);

/* Forks and execs argv[0] with exactly the environment envp (NULL-terminated),
 * capturing stderr the same way. */
void pl_run_exec(char *const argv[], char *const envp[], unsigned timeout_s, pl_child_t *out);

/* Absolute path of the libpoolalloc.so mapped into this process. */
const char *pl_library_path(void);

/* "exited 0", "killed by signal 6 (Aborted)", ... for failure messages. */
const char *pl_describe(int status);

bool pl_died_by(const pl_child_t *c, int sig);
bool pl_exited_ok(const pl_child_t *c);

/* Number of lines of the child's stderr. */
size_t pl_count_lines(const char *s);

/* The allocator's statistics. poolalloc.h declares pa_stats_get, but a
 * library that does not export it must not stop the rest of the suite from
 * linking: it is referenced weakly, and when it is missing the same numbers
 * are read from what malloc_stats() prints (fd 2 briefly sent to a pipe).
 * pl_have_pa_stats_get() tells which path is in use. */
struct pa_stats;
void pl_stats_get(struct pa_stats *out);
bool pl_have_pa_stats_get(void);
bool pl_have_pa_stats_print(void);

/* Opaque to the optimiser (defined in another translation unit). */
void *pl_launder(void *p);
size_t pl_size(size_t n);

static inline bool pl_aligned(const void *p, size_t align) { return ((uintptr_t)p & (align - 1)) == 0; }

/* Fills n bytes with a pattern derived from seed / checks it. */
void pl_fill(void *p, size_t n, unsigned seed);
bool pl_check(const void *p, size_t n, unsigned seed);
bool pl_all_zero(const void *p, size_t n);

#endif
