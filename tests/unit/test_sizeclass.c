/* test_sizeclass.c — the size-class arithmetic of internal.h: pa_class_of and
 * pa_class_size, checked exhaustively against their documented contract
 * (classes 1..88, multiples of 16, <= 12.5% rounding waste above 128 bytes,
 * every power of two a class, aligned sizes map to aligned classes). */
#include <criterion/criterion.h>

#include "internal.h"

#define KiB ((size_t)1 << 10)

/* The sizes the brief asks for: every size up to 4096, then every 16th. */
#define FOR_EACH_SIZE(s) for (size_t s = 1; s <= PA_SMALL_MAX; s += (s < 4096 ? 1 : 16))

Test(sizeclass, table_shape)
{
    /* class 0 is "not a page"; 1..88 are real; 88 is the largest class */
    cr_assert_eq(pa_class_size(1), 16);
    cr_assert_eq(pa_class_size(8), 128);
    cr_assert_eq(pa_class_size(PA_CLASSES - 1), PA_SMALL_MAX,
                 "largest class is %zu, expected %zu", pa_class_size(PA_CLASSES - 1), PA_SMALL_MAX);
    cr_assert_eq(pa_class_of(PA_SMALL_MAX), PA_CLASSES - 1);
    cr_assert_eq(pa_class_of(0), 1, "size 0 must map to the smallest class");
    cr_assert_eq(pa_class_of(1), 1);
    for (size_t c = 1; c + 1 < PA_CLASSES; c++)
        cr_assert_lt(pa_class_size(c), pa_class_size(c + 1), "class sizes not strictly increasing at %zu", c);
    for (size_t c = 1; c < PA_CLASSES; c++) {
        cr_assert_eq(pa_class_of(pa_class_size(c)), c, "class %zu (size %zu) does not map to itself",
                     c, pa_class_size(c));
        cr_assert_eq(pa_class_size(c) % PA_MIN_ALIGN, 0, "class %zu size %zu not a multiple of 16",
                     c, pa_class_size(c));
    }
}

Test(sizeclass, every_size_rounds_up_to_the_smallest_class)
{
    size_t prev_class = 0;
    FOR_EACH_SIZE(s) {
        size_t c = pa_class_of(s);
        size_t cs = pa_class_size(c);
        cr_assert(c >= 1 && c < PA_CLASSES, "size %zu -> class %zu out of range", s, c);
        cr_assert_geq(cs, s, "size %zu -> class %zu of size %zu (too small)", s, c, cs);
        cr_assert_eq(cs % 16, 0, "size %zu -> class size %zu not a multiple of 16", s, cs);
        if (s > 128)
            cr_assert_leq((cs - s) * 8, s, "size %zu -> class size %zu wastes more than 12.5%%", s, cs);
        cr_assert_geq(c, prev_class, "pa_class_of not monotone at %zu (%zu < %zu)", s, c, prev_class);
        /* smallest class >= s: the class below (if any) is too small */
        if (c > 1)
            cr_assert_lt(pa_class_size(c - 1), s, "size %zu -> class size %zu, but class %zu (%zu) fits",
                         s, cs, c - 1, pa_class_size(c - 1));
        prev_class = c;
    }
}

Test(sizeclass, powers_of_two_are_exact_classes)
{
    for (size_t p = 16; p <= PA_SMALL_MAX; p <<= 1) {
        size_t c = pa_class_of(p);
        cr_assert_eq(pa_class_size(c), p, "power of two %zu -> class size %zu", p, pa_class_size(c));
        /* one above a power of two goes to the next class */
        cr_assert_eq(pa_class_of(p + 1), c + 1, "%zu + 1 did not move to the next class", p);
    }
}

/* What pa_memalign_impl relies on: a size rounded up to a multiple of A gets a
 * class whose size is a multiple of A, so blocks in 64 KiB aligned pages are
 * A-aligned. */
Test(sizeclass, aligned_sizes_get_aligned_classes)
{
    for (size_t a = 16; a <= 64 * KiB; a <<= 1) {
        FOR_EACH_SIZE(s) {
            size_t r = (s + a - 1) & ~(a - 1);
            if (r > PA_SMALL_MAX) break;
            size_t cs = pa_class_size(pa_class_of(r));
            cr_assert_eq(cs % a, 0, "align %zu size %zu (rounded %zu) -> class size %zu not a multiple",
                         a, s, r, cs);
        }
    }
}

/* Pages of a class: a whole number of slices that hold at least 16 blocks up
 * to 32 KiB and 8 above (1 slice for classes up to 8 KiB), and never more than
 * a segment minus its header slice. */
Test(sizeclass, class_slices)
{
    for (size_t c = 1; c < PA_CLASSES; c++) {
        size_t bs = pa_class_size(c), n = pa_class_slices(c);
        cr_assert_geq(n, 1);
        cr_assert_leq(n, PA_SLICES - 1, "class %zu needs %zu slices", c, n);
        if (bs <= 8192) cr_assert_eq(n, 1, "class %zu (%zu bytes) uses %zu slices", c, bs, n);
        else cr_assert_geq((n * PA_SLICE_SIZE) / bs, bs <= 32768 ? 16 : 8, "class %zu: %zu blocks per page", c,
                           (n * PA_SLICE_SIZE) / bs);
    }
}

/* One address of a segment checked against pa_page_is_block_start: it must
 * say yes exactly for the first `carved` block starts of the page. */
static void check_offset(const pa_page_t *pg, uintptr_t seg, uintptr_t a, uint32_t carved)
{
    intptr_t off = (intptr_t)a - (intptr_t)pg->start;
    bool want = off >= 0 && off % pg->block_size == 0 && (size_t)off / pg->block_size < carved;
    bool got = pa_page_is_block_start(pg, (void *)a);
    cr_assert_eq(got, want, "block %u B, page at +%#zx, %u carved: +%#zx says %d", pg->block_size,
                 (size_t)((uintptr_t)pg->start - seg), carved, (size_t)(a - seg), got);
}

/* The block-start test is one multiply and one compare (internal.h); checked
 * for every class and large block size, pages at the start and the end of a
 * segment, 0, 1, some and all blocks carved: every 16-byte step from 64 KiB
 * before the page to 64 KiB after it, a spread of addresses over the whole
 * segment, and every byte around block 0, the last carved block and the
 * page's end. Power-of-two sizes need the adjusted multiplier. */
Test(sizeclass, block_start_test_is_exact)
{
    static uint8_t seg_memory[2 * PA_SEG_SIZE];
    uintptr_t seg = ((uintptr_t)seg_memory + PA_SEG_MASK) & ~(uintptr_t)PA_SEG_MASK, end = seg + PA_SEG_SIZE;
    size_t sizes[PA_CLASSES + 40], pages[PA_CLASSES + 40], n_sizes = 0;
    for (size_t c = 1; c < PA_CLASSES; c++, n_sizes++) {
        sizes[n_sizes] = pa_class_size(c);
        pages[n_sizes] = pa_class_slices(c) * PA_SLICE_SIZE;
    }
    for (size_t s = 2; s <= PA_LARGE_MAX / PA_SLICE_SIZE; s++, n_sizes++) sizes[n_sizes] = pages[n_sizes] = s * PA_SLICE_SIZE;
    for (size_t i = 0; i < n_sizes; i++) {
        uint32_t d = (uint32_t)sizes[i];
        uint32_t reserved = (uint32_t)(pages[i] / d);
        size_t at[2] = { PA_SLICE_SIZE, PA_SEG_SIZE - pages[i] };
        for (int w = 0; w < 2; w++) {
            pa_page_t pg = { .start = (uint8_t *)seg + at[w], .block_size = d, .div_magic = pa_div_magic(d) };
            uintptr_t first = (uintptr_t)pg.start, last = first + pages[i];
            uint32_t carved_counts[] = { 0, 1, reserved / 2, reserved };
            for (size_t k = 0; k < 4; k++) {
                uint32_t carved = carved_counts[k];
                pa_page_set_carved(&pg, carved);
                for (uintptr_t a = first - PA_SLICE_SIZE; a < last + PA_SLICE_SIZE; a += 16)
                    if (a >= seg && a < end) check_offset(&pg, seg, a, carved);
                for (uintptr_t a = seg; a < end; a += 4096 + 16) check_offset(&pg, seg, a, carved);
                uintptr_t edges[] = { first, first + (carved ? carved - 1 : 0) * (size_t)d,
                                      first + (size_t)carved * d, last };
                for (size_t e = 0; e < 4; e++)
                    for (uintptr_t a = edges[e] - 40; a < edges[e] + 40; a++)
                        if (a >= seg && a < end) check_offset(&pg, seg, a, carved);
            }
        }
    }
}
