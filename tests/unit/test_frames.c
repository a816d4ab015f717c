/* test_frames.c — the frame slots behind the escape classes (prof/stacks.c,
 * docs/lifetimes.md): four nested functions play an allocation stack, the
 * innermost calls `record` where a program would call malloc, and `record`
 * does what the sampler does: finds the slots of the four frames' return
 * addresses on this thread's stack. Then frame k must read as the innermost
 * running one exactly while it runs, and all four as returned afterwards,
 * on the main thread and on another one. Run plain, under ASan and TSan. */
#include <pthread.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "prof.h"

#define NOINLINE __attribute__((noinline, noclone))
#define RETURN_ADDRESS() __builtin_extract_return_addr(__builtin_return_address(0))

/* The allocation stack, innermost first: frames[0] is where `record`
 * returns to (the "call to malloc"), frames[k + 1] where frame k returns. In
 * a global, so that no copy of the return addresses sits on the stack for
 * the scan to find first. */
static void *frames[PA_PROF_SLOTS + 1];
static pa_prof_hdr_t hd;
static int nslots, running[PA_PROF_SLOTS];

NOINLINE static void record(void)
{
    frames[0] = RETURN_ADDRESS();
    pa_prof_stack_t *st = pa_prof_stack_intern(frames, PA_PROF_SLOTS + 1);
    uintptr_t slots[PA_PROF_SLOTS] = { 0 };
    nslots = pa_prof_frame_slots(st, slots);
    hd = (pa_prof_hdr_t){ .stack = st, .slot = slots[0] };
    for (int k = 1; k < nslots; k++) hd.slot_up[k - 1] = (uint32_t)(slots[k] - slots[0]);
}

/* Frame k: records its return address, calls the next one in, and once
 * that returned asks which frame runs (k itself is the innermost now). */
NOINLINE static void frame0(void) { frames[1] = RETURN_ADDRESS(); record(); running[0] = pa_prof_frame_running(&hd); }
NOINLINE static void frame1(void) { frames[2] = RETURN_ADDRESS(); frame0(); running[1] = pa_prof_frame_running(&hd); }
NOINLINE static void frame2(void) { frames[3] = RETURN_ADDRESS(); frame1(); running[2] = pa_prof_frame_running(&hd); }
NOINLINE static void frame3(void) { frames[4] = RETURN_ADDRESS(); frame2(); running[3] = pa_prof_frame_running(&hd); }

static void check_frames(const char *where)
{
    frame3();
    int after = pa_prof_frame_running(&hd);
    cr_assert_eq(nslots, PA_PROF_SLOTS, "%s: %d of the 4 slots found", where, nslots);
    for (int k = 0; k < PA_PROF_SLOTS; k++)
        cr_assert_eq(running[k], k, "%s: while frame %d ran, the innermost running frame read %d", where, k, running[k]);
    cr_assert_eq(after, PA_PROF_SLOTS, "%s: after all returned, read %d (want %d: returned)", where, after, PA_PROF_SLOTS);
}

Test(frames, each_frame_reads_as_running_while_it_runs)
{
    check_frames("main thread");
}

static void *on_thread(void *arg)
{
    check_frames("a second thread");
    return arg;
}

Test(frames, on_another_thread_too)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, on_thread, NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
}

Test(frames, no_slots_means_unclassified)
{
    frame3();
    pa_prof_hdr_t none = hd;
    none.slot = 0;
    cr_assert_eq(pa_prof_frame_running(&none), -1);
    none = hd;
    none.slot_up[1] = 0;                      /* frame 2's slot not found: frames 2, 3 unknown */
    cr_assert_eq(pa_prof_frame_running(&none), -1, "after all returned, an unfollowed frame is unknown");
}
