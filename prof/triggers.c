/* triggers.c — when profiles are written, and under which name.
 *
 * Files are PREFIX.PID.SEQ.prof (POOLALLOC_PROFILE=PREFIX; SEQ counts the
 * process's dumps from 1), so repeated dumps and fork children never
 * overwrite each other. A dump is written:
 *   - at exit (a destructor that runs after the program's own);
 *   - on pa_profile_dump(), by the calling thread;
 *   - every POOLALLOC_PROFILE_INTERVAL bytes allocated and/or seconds, and on
 *     POOLALLOC_PROFILE_SIGNAL: by a dumper thread, started at load when one
 *     of these is set. The signal handler only sets a flag and posts a
 *     semaphore (both async-signal-safe); the byte count is checked every
 *     256 KiB a thread allocates (pa_prof_tick), which wakes the dumper the
 *     same way. So no dump is written inside a signal handler or malloc. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "poolalloc.h"
#include "prof.h"

enum { WHY_SIGNAL = 1, WHY_BYTES = 2 };

static _Atomic(uint64_t) seq;                /* dumps written by this process */
static _Atomic(uint64_t) next_bytes;         /* allocated total of the next byte-interval dump */
static _Atomic(unsigned) pending;            /* WHY_* the dumper has yet to serve */
static _Atomic(bool) dumper_running;
static sem_t wake;
/* The dumper's dumps against the one at exit: that one is the last, and the
 * process never ends in the middle of the dumper's (which would leave a
 * later sequence number than the exit's, or a .tmp file). */
static pthread_mutex_t exit_lock = PTHREAD_MUTEX_INITIALIZER;
static bool exited;                          /* under exit_lock */
/* POOLALLOC_PROFILE_PID: a fork child writes no profile of its own (its
 * sampled objects stay recognisable: the machinery keeps running). */
static bool child_quiet;

/* Profile files: POOLALLOC_PROFILE set (POOLALLOC_HTTP alone samples for
 * the server and writes none). */
static bool files(void) { return pa_prof_on && pa_options.profile[0]; }

static bool wants_dumper(void)
{
    return files() && (pa_options.profile_every_bytes || pa_options.profile_every_ns || pa_options.profile_signal);
}

/* Writes the process's next profile file; -1 and errno on failure. */
static int dump_next(const char *reason)
{
    char path[sizeof pa_options.profile + 48];
    uint64_t n = atomic_fetch_add(&seq, 1) + 1;
    snprintf(path, sizeof path, "%s.%d.%llu.prof", pa_options.profile, (int)getpid(), (unsigned long long)n);
    int r = pa_prof_write(path, reason, n);
    if (r) pa_message("cannot write profile %s: %s", path, strerror(errno));
    return r;
}

static void *dumper(void *arg)
{
    (void)arg;                                /* started with every signal blocked: not ours to take */
    pa_tl_prof_busy++;                        /* our own allocations are not the program's */
    uint64_t every = pa_options.profile_every_ns, next_time = every ? pa_clock_ns() + every : 0;
    for (;;) {
        if (every) {
            struct timespec ts = { (time_t)(next_time / 1000000000u), (long)(next_time % 1000000000u) };
            if (sem_clockwait(&wake, CLOCK_MONOTONIC, &ts) && errno == EINTR) continue;
        } else if (sem_wait(&wake)) {
            continue;
        }
        unsigned why = atomic_exchange(&pending, 0);
        if (every && pa_clock_ns() >= next_time) {
            while (next_time <= pa_clock_ns()) next_time += every;   /* skip, never burst */
            why |= WHY_BYTES;
        }
        if (!why) continue;
        pthread_mutex_lock(&exit_lock);
        if (!exited) dump_next(why & WHY_SIGNAL ? "signal" : "interval");
        pthread_mutex_unlock(&exit_lock);
    }
    return NULL;
}

static void start_dumper(void)
{
    if (!wants_dumper() || atomic_exchange(&dumper_running, true)) return;
    int err = pa_thread_start(dumper, "poolalloc-prof");
    if (err) pa_message("cannot start the profile dumper thread: %s; interval and signal dumps are off", strerror(err));
}

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    atomic_fetch_or(&pending, WHY_SIGNAL);
    sem_post(&wake);
    errno = saved;
}

void pa_prof_tick(uint64_t allocated_total)
{
    if (!pa_prof_on) return;
    pa_prof_series_tick(allocated_total);
    uint64_t every = pa_options.profile_every_bytes;
    if (!every) return;
    uint64_t next = atomic_load_explicit(&next_bytes, memory_order_relaxed);
    if (allocated_total < next) return;
    uint64_t after = allocated_total - allocated_total % every + every;
    if (!atomic_compare_exchange_strong(&next_bytes, &next, after)) return;   /* another thread got it */
    if (next == 0) return;                    /* the first tick only sets the mark */
    atomic_fetch_or(&pending, WHY_BYTES);
    sem_post(&wake);
}

/* After options (process init), once the loader is done: settle libunwind,
 * install the signal handler, start the dumper. */
__attribute__((constructor(102))) static void prof_start(void)
{
    pa_process_init();
    if (!pa_prof_on) return;
    pa_prof_stacks_start();
    pa_prof_switch_start();
    atomic_store(&next_bytes, pa_options.profile_every_bytes);
    sem_init(&wake, 0, 0);
    int err = pa_options.profile_signal ? pa_signal_handle(pa_options.profile_signal, on_signal) : 0;
    if (err) pa_message("cannot handle signal %d for profile dumps: %s", pa_options.profile_signal, strerror(err));
    start_dumper();
}

/* Priority 101 destructors run after the program's own, so what they free
 * is no longer in use. */
__attribute__((destructor(101))) static void prof_exit(void)
{
    if (!files() || child_quiet) return;
    pthread_mutex_lock(&exit_lock);           /* a dump the dumper is writing ends first */
    exited = true;
    pthread_mutex_unlock(&exit_lock);
    dump_next("exit");
}

/* The child has its own pid, so its files have their own names; its
 * sequence starts again at 1. The dumper thread did not survive the fork. */
void pa_prof_fork_child(void)
{
    pa_prof_dump_fork_child();
    pa_prof_fork_reset();
    pa_prof_series_fork_child();
    pthread_mutex_init(&exit_lock, NULL);     /* the parent's dumper may have held it */
    atomic_store(&seq, 0);
    atomic_store(&pending, 0);
    atomic_store(&dumper_running, false);
    sem_init(&wake, 0, 0);
    child_quiet = pa_options.profile_pid != 0;
    if (!child_quiet) start_dumper();
}

PA_API int pa_profile_dump(const char *path)
{
    if (!pa_prof_on || (!path && !pa_options.profile[0])) { errno = ENOTSUP; return -1; }
    if (!path) return dump_next("api");
    return pa_prof_write(path, "api", atomic_fetch_add(&seq, 1) + 1);
}
