/* segmap.c — which 4 MiB chunks of the address space are segment starts.
 *
 * One bit per 4 MiB of a 48-bit address space: 2^26 bits, 8 MiB of .bss that
 * the kernel maps lazily, so a process touches only the few 4 KiB pages that
 * cover the addresses it really uses (one page covers 128 GiB). free() reads a
 * single word of it to decide whether a pointer is ours. Bits are set before a
 * segment is handed out and cleared before it is unmapped. */
#include "internal.h"

_Atomic(uint64_t) pa_segmap[PA_SEGMAP_WORDS];

/* Bounds of the words ever set, so statistics need not scan 8 MiB. */
static _Atomic(size_t) lo_word = PA_SEGMAP_WORDS, hi_word = 0;

void pa_segmap_set(const void *seg, bool on)
{
    uintptr_t idx = (uintptr_t)seg >> PA_SEG_SHIFT;
    size_t w = idx >> 6;
    if (w >= PA_SEGMAP_WORDS) pa_fatal("segment %p outside the 48-bit address map", seg);
    uint64_t bit = (uint64_t)1 << (idx & 63);
    if (on) {
        atomic_fetch_or_explicit(&pa_segmap[w], bit, memory_order_release);
        size_t cur = atomic_load_explicit(&lo_word, memory_order_relaxed);
        while (w < cur && !atomic_compare_exchange_weak(&lo_word, &cur, w)) {}
        cur = atomic_load_explicit(&hi_word, memory_order_relaxed);
        while (w > cur && !atomic_compare_exchange_weak(&hi_word, &cur, w)) {}
    } else {
        atomic_fetch_and_explicit(&pa_segmap[w], ~bit, memory_order_release);
    }
}

void pa_segmap_foreach(void (*fn)(pa_segment_t *, void *), void *arg)
{
    size_t lo = atomic_load(&lo_word), hi = atomic_load(&hi_word);
    for (size_t w = lo; w <= hi && w < PA_SEGMAP_WORDS; w++) {
        uint64_t bits = atomic_load_explicit(&pa_segmap[w], memory_order_acquire);
        while (bits) {
            unsigned b = (unsigned)__builtin_ctzll(bits);
            bits &= bits - 1;
            fn((pa_segment_t *)(((uintptr_t)w << 6 | b) << PA_SEG_SHIFT), arg);
        }
    }
}
