/* segmap.c — which 4 MiB chunks of the address space are segment starts, and
 * which heap owns each.
 *
 * One byte per 4 MiB of a 48-bit address space: 2^26 bytes, 64 MiB of .bss
 * that the kernel maps lazily, so a process touches only the few 4 KiB pages
 * that cover the addresses it really uses (one page covers 16 GiB). A byte is
 * 0 (not ours), PA_MAP_SHARED (ours, owned by no heap with a tag: huge
 * blocks, cached segments) or the tag of the heap that owns the segment
 * (types.h). free()'s fast path compares it with its own heap's tag: one
 * load and compare say both "ours" and "mine" (2 instructions fewer than a
 * test of the byte and a compare of the segment's heap). Entries are set
 * before a segment is handed out and cleared before it is unmapped. */
#include "internal.h"

_Atomic(uint8_t) pa_segmap[PA_SEGMAP_SIZE];

/* Bounds of the entries ever set, so statistics need not scan 64 MiB. */
static _Atomic(size_t) lo_idx = PA_SEGMAP_SIZE, hi_idx = 0;

void pa_segmap_set(const void *seg, uint8_t value)
{
    uintptr_t idx = (uintptr_t)seg >> PA_SEG_SHIFT;
    if (idx >= PA_SEGMAP_SIZE) pa_fatal("segment %p outside the 48-bit address map", seg);
    atomic_store_explicit(&pa_segmap[idx], value, memory_order_release);
    if (value == PA_MAP_NOT_OURS) return;
    size_t cur = atomic_load_explicit(&lo_idx, memory_order_relaxed);
    while (idx < cur && !atomic_compare_exchange_weak(&lo_idx, &cur, idx)) {}
    cur = atomic_load_explicit(&hi_idx, memory_order_relaxed);
    while (idx > cur && !atomic_compare_exchange_weak(&hi_idx, &cur, idx)) {}
}

void pa_segmap_foreach(void (*fn)(pa_segment_t *, void *), void *arg)
{
    size_t lo = atomic_load(&lo_idx), hi = atomic_load(&hi_idx);
    for (size_t i = lo; i <= hi && i < PA_SEGMAP_SIZE; i++)
        if (atomic_load_explicit(&pa_segmap[i], memory_order_acquire))
            fn((pa_segment_t *)((uintptr_t)i << PA_SEG_SHIFT), arg);
}
