/* fence.c — the heavy side of the pools' asymmetric barrier (internal.h,
 * ROTATION). membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) runs a full memory
 * barrier on every CPU that is running a thread of this process, so the
 * owners' side of the private-slot protocol needs only a compiler barrier.
 * Without it (kernels before 4.14, seccomp filters) both sides use a full
 * fence; under ThreadSanitizer both use sequentially consistent atomics. */
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pool_internal.h"

bool pa_fence_asymmetric;

static __attribute__((unused)) long membarrier(int cmd)   /* unused under TSan */
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}

/* Called once, before the first pool exists. */
void pa_fence_init(void)
{
#if !defined(__SANITIZE_THREAD__)
    pa_fence_asymmetric = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
#endif
}

void pa_fence_heavy(void)
{
#if !defined(__SANITIZE_THREAD__)
    if (pa_fence_asymmetric && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

PA_NOINLINE void pa_fence_full(void)
{
#if !defined(__SANITIZE_THREAD__)
    atomic_thread_fence(memory_order_seq_cst);
#endif
}
