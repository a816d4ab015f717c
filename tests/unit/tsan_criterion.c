/* tsan_criterion.c — lets Criterion start under ThreadSanitizer (no tests).
 *
 * Criterion's BoxFort places its shared "inheritable arena" at a random
 * address 0x200000000000 + (rand_r() & 0x3fffff) * 16 MiB, probes it with
 * mincore and gives up after a few addresses that are already mapped. Under
 * TSan nearly all of that window is TSan's shadow/meta reservation, so the
 * runner dies before any test ("Could not initialize inheritable arena",
 * Criterion issue #274). This binary's rand_r takes precedence over libc's for
 * libcriterion, and keeps the pick inside the window TSan leaves to the
 * application there (0x550000000000..0x568000000000, where PIE executables
 * load; the mincore probe still steps over anything mapped). Only the TSan
 * build gets it; nothing else in the tests or the allocator calls rand_r. */
#if defined(__SANITIZE_THREAD__)
#include <stdlib.h>

#define ARENA_WINDOW_LO 0x350000u    /* (0x550000000000 - 0x200000000000) >> 24 */
#define ARENA_WINDOW_N  0x16000u     /* up to 0x566000000000, below 0x568000000000 */

__attribute__((visibility("default"))) int rand_r(unsigned int *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (int)(ARENA_WINDOW_LO + (*seed >> 8) % ARENA_WINDOW_N);
}
#else
typedef int tsan_criterion_unused;   /* ISO C: a translation unit is not empty */
#endif
