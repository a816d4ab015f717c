/* pl_util.c — see pl_util.h. */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "poolalloc.h"
#include "pl_util.h"

#pragma weak pa_stats_get
#pragma weak pa_stats_print

__attribute__((noinline)) void *pl_launder(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

__attribute__((noinline)) size_t pl_size(size_t n)
{
    __asm__ volatile("" : "+r"(n));
    return n;
}

static void read_all(int fd, pl_child_t *out)
{
    out->errlen = 0;
    for (;;) {
        size_t room = sizeof out->err - 1 - out->errlen;
        char sink[4096];
        char *dst = room ? out->err + out->errlen : sink;
        ssize_t n = read(fd, dst, room ? room : sizeof sink);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (room) out->errlen += (size_t)n;
    }
    out->err[out->errlen] = 0;
}

static void child_setup(int wfd, unsigned timeout_s)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    dup2(wfd, 2);
    close(wfd);
    signal(SIGALRM, SIG_DFL);
    signal(SIGABRT, SIG_DFL);
    signal(SIGSEGV, SIG_DFL);
    alarm(timeout_s);
}

static void wait_child(pid_t pid, int rfd, pl_child_t *out)
{
    read_all(rfd, out);
    close(rfd);
    out->pid = pid;
    while (waitpid(pid, &out->status, 0) < 0 && errno == EINTR) {}
}

void pl_run_child(void (*fn)(void *), void *arg, unsigned timeout_s, pl_child_t *out)
{
    int fds[2];
    memset(out, 0, sizeof *out);
    if (pipe(fds) != 0) abort();
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        close(fds[0]);
        child_setup(fds[1], timeout_s);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    wait_child(pid, fds[0], out);
}

struct exec_args { char *const *argv, *const *envp; };

static void exec_in_child(void *arg)
{
    const struct exec_args *e = arg;
    execve(e->argv[0], e->argv, e->envp);
    _exit(127);
}

void pl_run_exec(char *const argv[], char *const envp[], unsigned timeout_s, pl_child_t *out)
{
    struct exec_args e = { argv, envp };
    pl_run_child(exec_in_child, &e, timeout_s, out);
}

const char *pl_library_path(void)
{
    static char path[4096];
    if (path[0]) return path;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return NULL;
    char line[4096 + 256];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *slash = strchr(line, '/');
        if (!slash) continue;
        size_t n = strlen(slash);
        static const char suffix[] = "/libpoolalloc.so";
        if (n >= sizeof suffix - 1 && !strcmp(slash + n - (sizeof suffix - 1), suffix)) {
            snprintf(path, sizeof path, "%s", slash);
            break;
        }
    }
    fclose(f);
    return path[0] ? path : NULL;
}

const char *pl_describe(int status)
{
    static char buf[128];
    if (WIFEXITED(status)) snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(buf, sizeof buf, "status 0x%x", status);
    return buf;
}

bool pl_died_by(const pl_child_t *c, int sig) { return WIFSIGNALED(c->status) && WTERMSIG(c->status) == sig; }
bool pl_exited_ok(const pl_child_t *c) { return WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0; }

size_t pl_count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static inline unsigned char pattern(size_t i, unsigned seed)
{
    return (unsigned char)((i * 131u + seed * 7u + (i >> 8)) ^ (seed >> 3));
}

void pl_fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) b[i] = pattern(i, seed);
}

bool pl_check(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != pattern(i, seed)) return false;
    return true;
}

bool pl_all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

bool pl_have_pa_stats_get(void) { return pa_stats_get != NULL; }
bool pl_have_pa_stats_print(void) { return pa_stats_print != NULL; }

static const struct { const char *name; size_t off; } stat_fields[] = {
#define F(x) { #x, offsetof(pa_stats_t, x) }
    F(alloc_objects), F(alloc_bytes), F(free_objects), F(free_bytes), F(live_objects), F(live_bytes),
    F(remote_frees), F(large_allocs), F(large_frees), F(large_live_bytes), F(mapped_bytes),
    F(committed_bytes), F(resident_bytes), F(purged_bytes), F(segments), F(heaps), F(heaps_abandoned),
#undef F
};

void pl_stats_get(struct pa_stats *out)
{
    if (pa_stats_get) { pa_stats_get(out); return; }
    memset(out, 0, sizeof *out);
    int fds[2];
    if (pipe(fds) != 0) abort();
    int saved = dup(2);
    dup2(fds[1], 2);
    malloc_stats();                 /* a few hundred bytes: fits in the pipe */
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    char buf[8192];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
    close(fds[0]);
    buf[len] = 0;
    size_t found = 0;
    for (char *line = strchr(buf, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char name[64];
        unsigned long long v;
        if (sscanf(line + 1, " %63s %llu", name, &v) != 2) continue;
        for (size_t i = 0; i < sizeof stat_fields / sizeof stat_fields[0]; i++)
            if (!strcmp(name, stat_fields[i].name)) {
                *(uint64_t *)((char *)out + stat_fields[i].off) = v;
                found++;
            }
    }
    if (found != sizeof stat_fields / sizeof stat_fields[0]) {
        fprintf(stderr, "pl_stats_get: could not parse malloc_stats output:\n%s", buf);
        abort();
    }
}
