/* test_pages.c — which free blocks malloc hands out: a page found full comes
 * back to its class only once a fifth of its blocks are free (pa_page_wake),
 * so malloc does not hop between pages with one hole each, and its count is
 * exact when it comes back (it is retired when its last block is freed). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "poolalloc.h"

enum { SIZE = 64, N = 4000 };          /* 64-byte blocks: several pages of 1024 */

static void *blocks[N];

static pa_page_t *page_of(void *p) { return pa_page_of(pa_segment_of(p), p); }

/* Allocates N blocks; the page of the first one filled first and went on the
 * full list when malloc moved on. Its blocks go to out, the page to *pg;
 * returns how many blocks it has. */
static size_t fill_to_a_full_page(void **out, pa_page_t **pg)
{
    for (size_t i = 0; i < N; i++) blocks[i] = pa_malloc(SIZE);
    *pg = page_of(blocks[0]);
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        if (page_of(blocks[i]) == *pg) out[n++] = blocks[i];
    cr_assert(pa_page_in_full(*pg));
    return n;
}

/* Frees the page's blocks from `from` on: it is retired with the last, not before. */
static void free_the_rest(pa_page_t *pg, size_t n, void **mine, size_t from)
{
    for (size_t k = from; k + 1 < n; k++) pa_free(mine[k]);
    cr_assert_not_null(pg->start, "retired with a block still out");
    pa_free(mine[n - 1]);
    cr_assert_null(pg->start, "the emptied page was not retired");
}

static bool handed_out_within(void **freed, size_t nfreed, size_t mallocs, void **got)
{
    for (size_t i = 0; i < mallocs; i++) {
        got[i] = pa_malloc(SIZE);
        for (size_t k = 0; k < nfreed; k++)
            if (got[i] == freed[k]) return true;
    }
    return false;
}

Test(pages, a_full_page_comes_back_after_a_fifth_of_its_blocks)
{
    static void *mine[N], *more[2 * N];
    pa_page_t *pg;
    size_t n = fill_to_a_full_page(mine, &pg);
    cr_assert_eq(n, pg->reserved, "the first page holds %zu of its %u blocks", n, pg->reserved);
    size_t fifth = n / 5;

    /* one free short of a fifth: two pages' worth of mallocs take none back */
    for (size_t k = 0; k + 1 < fifth; k++) pa_free(mine[k]);
    cr_assert(pa_page_in_full(pg));
    cr_assert(!handed_out_within(mine, fifth - 1, 2 * n, more),
              "a block of a page with fewer than a fifth free was handed out");
    for (size_t i = 0; i < 2 * n; i++) pa_free(more[i]);

    /* the fifth's last free brings the page back: its blocks are reused */
    pa_free(mine[fifth - 1]);
    cr_assert(!pa_page_in_full(pg));
    size_t reused = 0;
    for (size_t i = 0; i < 4 * n && reused < fifth; i++) {
        more[i] = pa_malloc(SIZE);
        if (page_of(more[i]) == pg) reused++;
    }
    cr_assert_eq(reused, fifth, "%zu of the %zu freed blocks reused", reused, fifth);
}

Test(pages, a_page_back_from_the_full_list_is_retired_with_its_last_block)
{
    static void *mine[N];
    pa_page_t *pg;
    size_t n = fill_to_a_full_page(mine, &pg);
    for (size_t k = 0; k + 1 < n; k++) pa_free(mine[k]);
    cr_assert(!pa_page_in_full(pg));
    cr_assert_eq(pg->used_m1, 0, "one block out, count %d", pg->used_m1 + 1);
    free_the_rest(pg, n, mine, n - 1);
}

static void *free_in_thread(void *p)
{
    pa_free(p);
    return NULL;
}

/* A remote free brings a full page back at once, wherever its countdown stood,
 * and so does a collect; either way the count is exact (checked by the page
 * being retired with its last block, not before). */
static void full_page_three_frees_in(pa_page_t **pg, size_t *n, void **mine)
{
    *n = fill_to_a_full_page(mine, pg);
    for (size_t k = 0; k < 3; k++) pa_free(mine[k]);
    cr_assert(pa_page_in_full(*pg));
}

Test(pages, a_remote_free_brings_a_full_page_back_with_its_count)
{
    static void *mine[N];
    pa_page_t *pg;
    size_t n;
    full_page_three_frees_in(&pg, &n, mine);
    pthread_t t;
    pthread_create(&t, NULL, free_in_thread, mine[3]);
    pthread_join(t, NULL);
    pa_heap_take_remote_blocks(pa_tl_heap);
    cr_assert(!pa_page_in_full(pg));
    cr_assert_eq(pg->used_m1 + 1, (int32_t)n - 4, "count %d, %zu blocks out", pg->used_m1 + 1, n - 4);
    free_the_rest(pg, n, mine, 4);
}

Test(pages, a_collect_brings_a_full_page_back_with_its_count)
{
    static void *mine[N];
    pa_page_t *pg;
    size_t n;
    full_page_three_frees_in(&pg, &n, mine);
    pa_heap_collect(pa_tl_heap, true);
    cr_assert(!pa_page_in_full(pg));
    cr_assert_eq(pg->used_m1 + 1, (int32_t)n - 3, "count %d, %zu blocks out", pg->used_m1 + 1, n - 3);
    free_the_rest(pg, n, mine, 3);
}

/* Pages of fewer than ten blocks (8 KiB blocks: eight a page) come back on
 * their first free, as before. */
Test(pages, a_page_of_eight_blocks_comes_back_on_its_first_free)
{
    enum { BIG = 8192, M = 40 };
    static void *big[M];
    for (size_t i = 0; i < M; i++) big[i] = pa_malloc(BIG);
    pa_page_t *pg = page_of(big[0]);
    cr_assert_eq(pg->reserved, 8);
    cr_assert(pa_page_in_full(pg));
    pa_free(big[0]);
    cr_assert(!pa_page_in_full(pg));
    cr_assert_eq(pg->used_m1 + 1, 7);
}
