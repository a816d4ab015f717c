/* run.c -- `poolalloc-prof run`: the program under libpoolalloc.so with
 * profiling on, in a directory of its own (run.h). The tool waits as a shell
 * would: ^C and ^\ reach the program from the terminal (the tool ignores
 * them while it waits), other signals sent to the tool are passed on. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "run.h"

char *pp_run_find_library(void)
{
    const char *env = getenv("POOLALLOC_LIB");
    if (env && *env)
        return access(env, R_OK) == 0 ? realpath(env, NULL) : NULL;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = 0;
    *strrchr(self, '/') = 0;
    /* build/poolalloc-prof beside build/libpoolalloc.so; PREFIX/bin and PREFIX/lib */
    static const char *const where[] = {"libpoolalloc.so", "../lib/libpoolalloc.so", "../lib64/libpoolalloc.so",
                                        "../lib/x86_64-linux-gnu/libpoolalloc.so"};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        char *p = xasprintf("%s/%s", self, where[i]);
        char *real = access(p, R_OK) == 0 ? realpath(p, NULL) : NULL;
        free(p);
        if (real)
            return real;
    }
    return NULL;
}

/* python, python3, python3.11: CPython, whose pymalloc hides small objects
 * from malloc unless PYTHONMALLOC=malloc. */
static bool is_python(const char *name)
{
    if (strncmp(name, "python", 6) != 0)
        return false;
    for (const char *c = name + 6; *c; c++)
        if ((*c < '0' || *c > '9') && *c != '.')
            return false;
    return true;
}

static volatile pid_t child;

static void pass_on(int sig)
{
    if (child > 0)
        kill(child, sig);
}

/* In the child, between fork and exec: the environment, then the program.
 * Reports exec's errno through fd `report` (close-on-exec: nothing arrives
 * when exec works). */
static void start(const pp_run_options_t *o, char **argv, const char *lib, const char *dir, bool python, int report)
{
    const char *old = getenv("LD_PRELOAD");
    char *preload = old && *old ? xasprintf("%s:%s", lib, old) : xstrdup(lib);
    char *prefix = xasprintf("%s/", dir);
    setenv("LD_PRELOAD", preload, 1);
    unsetenv("POOLALLOC_LIB");           /* the tool's, not a library setting */
    setenv("POOLALLOC_PROFILE", prefix, 1);
    if (!o->children) {                  /* this pid only: also what it execs in its place */
        char pid[24];
        snprintf(pid, sizeof pid, "%ld", (long)getpid());
        setenv("POOLALLOC_PROFILE_PID", pid, 1);
    } else {
        unsetenv("POOLALLOC_PROFILE_PID");
    }
    if (o->rate)
        setenv("POOLALLOC_SAMPLE_RATE", o->rate, 1);
    if (o->interval)
        setenv("POOLALLOC_PROFILE_INTERVAL", o->interval, 1);
    if (python)
        setenv("PYTHONMALLOC", "malloc", 1);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    execvp(argv[0], argv);
    int e = errno;
    ssize_t w = write(report, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* The profiles in dir of process pid (every process with children): the
 * latest of each, PROG.PID.SEQ.prof with the largest SEQ. */
static void find_dumps(pp_run_result_t *r, bool children)
{
    DIR *d = opendir(r->dir);
    if (!d)
        return;
    struct best { long pid; unsigned long seq; char *name; } *best = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".prof") != 0)
            continue;
        /* NAME.PID.SEQ.prof, read from the end (NAME may hold dots) */
        char *s = xstrndup(e->d_name, len - 5), *dot_seq = strrchr(s, '.');
        char *dot_pid = NULL;
        if (dot_seq) {
            *dot_seq = 0;
            dot_pid = strrchr(s, '.');
        }
        char *end1, *end2;
        long pid = dot_pid ? strtol(dot_pid + 1, &end1, 10) : -1;
        unsigned long seq = dot_seq ? strtoul(dot_seq + 1, &end2, 10) : 0;
        free(s);
        if (pid <= 0 || !seq || (!children && pid != (long)r->pid))
            continue;
        size_t i = 0;
        while (i < n && best[i].pid != pid)
            i++;
        if (i == n) {
            best = xrealloc(best, (n + 1) * sizeof *best);
            best[n++] = (struct best){pid, 0, NULL};
        }
        if (seq > best[i].seq) {
            free(best[i].name);
            best[i].seq = seq;
            best[i].name = xasprintf("%s/%s", r->dir, e->d_name);
        }
    }
    closedir(d);
    r->dumps = xcalloc(n ? n : 1, sizeof *r->dumps);
    for (size_t i = 0; i < n; i++)
        r->dumps[r->ndumps++] = best[i].name;
    free(best);
}

int pp_run(const pp_run_options_t *o, char **argv, pp_run_result_t *r)
{
    *r = (pp_run_result_t){.program = argv[0], .status = 127 << 8};
    char *lib = pp_run_find_library();
    if (!lib) {
        pp_error("run: cannot find libpoolalloc.so beside this tool or in its prefix's lib/: "
                 "set POOLALLOC_LIB=/path/to/libpoolalloc.so");
        return -1;
    }
    const char *name = pp_basename(argv[0]);
    r->python = is_python(name) && !getenv("PYTHONMALLOC");
    int go[2], report[2];
    if (pipe(go) || pipe2(report, O_CLOEXEC)) {
        pp_error("run: %s", strerror(errno));
        return -1;
    }
    /* ^C and ^\ go to the program from the terminal: the tool waits */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        pp_error("run: fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {                      /* waits for its directory's name: it has the pid */
        close(go[1]);
        close(report[0]);
        char dir[4096];
        size_t got = 0;
        ssize_t k;
        while (got < sizeof dir - 1 && (k = read(go[0], dir + got, sizeof dir - 1 - got)) > 0)
            got += (size_t)k;
        if (!got)
            _exit(127);                  /* the tool gave up */
        dir[got] = 0;
        close(go[0]);
        start(o, argv, lib, dir, r->python, report[1]);
    }
    child = r->pid = pid;
    close(go[0]);
    close(report[1]);
    r->dir = o->dir ? xstrdup(o->dir) : xasprintf("poolalloc.%s.%ld", name, (long)pid);
    struct stat st;
    if (mkdir(r->dir, 0777) != 0 && !(errno == EEXIST && stat(r->dir, &st) == 0 && S_ISDIR(st.st_mode))) {
        pp_error("run: cannot make the directory %s: %s", r->dir, strerror(errno));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    static const int passed[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGCONT, SIGWINCH};
    for (size_t i = 0; i < sizeof passed / sizeof *passed; i++)
        signal(passed[i], pass_on);
    char *absdir = realpath(r->dir, NULL);   /* absolute: the program may chdir */
    ssize_t w = write(go[1], absdir, strlen(absdir));
    (void)w;
    free(absdir);
    close(go[1]);
    int e = 0;
    bool failed = read(report[0], &e, sizeof e) == (ssize_t)sizeof e;
    close(report[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    child = 0;
    r->status = status;
    free(lib);
    if (failed) {
        pp_error("run: cannot run %s: %s", argv[0], strerror(e));
        rmdir(r->dir);                   /* only if we made it and it is empty */
        return -1;
    }
    find_dumps(r, o->children);
    return 0;
}

void pp_run_exit_like(int status)
{
    if (WIFEXITED(status))
        exit(WEXITSTATUS(status));
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);       /* the program's core, if any, is dumped; not ours */
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
    exit(128 + sig);
}
