/* switch.c -- sampling switched on and off while the program runs.
 *
 * A process whose profiling machinery is ready (POOLALLOC_PROFILE or
 * POOLALLOC_HTTP: libunwind loaded, sampled objects recognised at free) can
 * start with sampling off (POOLALLOC_SAMPLING=off) and have it switched on
 * and off by POOLALLOC_PROFILE_SWITCH's signal (each delivery flips it) or
 * the server (POST /debug/poolalloc/sampling?on=1). A switch stores the
 * state and bumps an epoch, both atomics, so the signal handler does it
 * itself. Each heap compares the epoch whenever its countdown runs out (at
 * its 256 KiB tick or a sample point: pa_heap_tick) and draws its next
 * sample point again before sampling, so every thread follows within
 * 256 KiB of its own allocation, and takes no sample after a switch off; a
 * thread that does not allocate takes no samples either way. With sampling off the countdown only ever meets the
 * ticks, and the fast path is the same code. Objects sampled while on are
 * still recognised and counted at free after the switch off. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "prof.h"

_Atomic(bool) pa_prof_sampling;
_Atomic(uint32_t) pa_prof_switches;

static void say(const char *text, size_t n)   /* async-signal-safe */
{
    int fd = pa_stderr_fd();
    if (fd >= 0 && write(fd, text, n) < 0) return;
}

/* The state is stored before the epoch moves (both sequentially
 * consistent), and heaps read the epoch with acquire before the state: a
 * heap that sees the new epoch sees the new state. */
static void switched(bool was, bool on)
{
    atomic_fetch_add(&pa_prof_switches, 1);
    if (was == on) return;
    static const char yes[] = "poolalloc: sampling on\n", no[] = "poolalloc: sampling off\n";
    if (on) say(yes, sizeof yes - 1);
    else say(no, sizeof no - 1);
}

void pa_prof_switch(bool on)
{
    if (pa_prof_on) switched(atomic_exchange(&pa_prof_sampling, on), on);
}

/* Flips the state in one step: two signals close together flip it twice. */
static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    bool was = atomic_load(&pa_prof_sampling);
    while (!atomic_compare_exchange_weak(&pa_prof_sampling, &was, !was)) {}
    switched(was, !was);
    errno = saved;
}

void pa_prof_switch_start(void)
{
    int err = pa_options.profile_switch ? pa_signal_handle(pa_options.profile_switch, on_signal) : 0;
    if (err) pa_message("cannot handle signal %d for the sampling switch: %s", pa_options.profile_switch, strerror(err));
}
