/* test_return_to_os.c — freed memory goes back to the OS: at once with
 * pa_trim, after the purge delay without it, and for huge blocks. Resident
 * size comes from mincore over poolalloc's own mappings, so it is exact. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "poolalloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define ULL(x) ((unsigned long long)(x))

#if defined(__SANITIZE_THREAD__)
#define TOTAL (96 * MiB)       /* TSan: shadow memory and slow memset */
#else
#define TOTAL (256 * MiB)
#endif

static pa_stats_t stats(void)
{
    pa_stats_t s;
    pa_stats_get(&s);
    return s;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {}
}

/* Half the bytes in small blocks (48..2000 bytes), half in medium ones
 * (10..100 KiB), all written so they are resident. */
static void **fill(size_t *count)
{
    size_t cap = TOTAL / 2 / 48 + TOTAL / 2 / (10 * KiB) + 16;
    void **p = malloc(cap * sizeof *p);     /* glibc's: not counted */
    cr_assert_not_null(p);
    size_t n = 0, bytes = 0;
    for (size_t i = 0; bytes < TOTAL / 2; i++) {
        size_t sz = 48 + (i * 37) % 1953;
        p[n] = pa_malloc(sz);
        cr_assert_not_null(p[n]);
        memset(p[n++], 0x11, sz);
        bytes += sz;
    }
    for (size_t i = 0; bytes < TOTAL; i++) {
        size_t sz = 10 * KiB + (i * 7919) % (90 * KiB);
        p[n] = pa_malloc(sz);
        cr_assert_not_null(p[n]);
        memset(p[n++], 0x22, sz);
        bytes += sz;
    }
    *count = n;
    return p;
}

static void free_all(void **p, size_t n)
{
    /* interleaved order, so pages empty late and not one by one */
    for (size_t i = 0; i < n; i += 2) pa_free(p[i]);
    for (size_t i = 1; i < n; i += 2) pa_free(p[i]);
    free(p);
}

Test(return_to_os, trim_releases_small_and_medium)
{
    size_t n;
    void **p = fill(&n);
    pa_stats_t peak = stats();
    cr_assert_geq(peak.resident_bytes, TOTAL, "resident %llu below the %llu bytes written",
                  ULL(peak.resident_bytes), ULL(TOTAL));
    free_all(p, n);
    cr_assert_eq(pa_trim(), 1, "pa_trim reported nothing released");
    pa_stats_t st = stats();
    cr_assert_eq(st.live_objects, 0);
    cr_assert_lt(st.resident_bytes, peak.resident_bytes / 10,
                 "after free + pa_trim resident is %llu, peak was %llu", ULL(st.resident_bytes),
                 ULL(peak.resident_bytes));
    cr_assert_lt(st.mapped_bytes, peak.mapped_bytes / 10, "after pa_trim mapped is %llu, peak was %llu",
                 ULL(st.mapped_bytes), ULL(peak.mapped_bytes));
    cr_assert_leq(st.committed_bytes, st.mapped_bytes);
    /* a second trim has nothing left to do */
    cr_assert_eq(pa_trim(), 0, "a second pa_trim still released memory");
}

Test(return_to_os, purge_delay_without_trim)
{
    size_t n;
    void **p = fill(&n);
    pa_stats_t peak = stats();
    free_all(p, n);
    sleep_ms(200);                         /* default purge delay is 50 ms */
    /* a size class not used so far: its first malloc takes the slow path,
     * which runs the heap's maintenance */
    void *q[300];
    for (size_t i = 0; i < 300; i++) q[i] = pa_malloc(600);
    pa_stats_t st = stats();
    cr_assert_lt(st.resident_bytes, peak.resident_bytes / 4,
                 "200 ms after freeing everything resident is %llu (peak %llu)", ULL(st.resident_bytes),
                 ULL(peak.resident_bytes));
    for (size_t i = 0; i < 300; i++) pa_free(q[i]);
}

/* The same memory is reused: a second fill after freeing maps no more than
 * the first one did. */
Test(return_to_os, refill_reuses)
{
    size_t n;
    void **p = fill(&n);
    pa_stats_t first = stats();
    free_all(p, n);
    p = fill(&n);
    pa_stats_t second = stats();
    cr_assert_leq(second.mapped_bytes, first.mapped_bytes + 2 * PA_SEG_SIZE,
                  "second fill mapped %llu, first %llu", ULL(second.mapped_bytes), ULL(first.mapped_bytes));
    free_all(p, n);
}

Test(return_to_os, huge_blocks)
{
    pa_free(pa_malloc(16));
    pa_stats_t base = stats();

    /* above the cache's per-block limit: unmapped at free */
    uint8_t *big = pa_malloc(64 * MiB);
    cr_assert_not_null(big);
    memset(big, 1, 64 * MiB);
    pa_stats_t st = stats();
    cr_assert_geq(st.resident_bytes, base.resident_bytes + 64 * MiB);
    cr_assert_geq(st.mapped_bytes, base.mapped_bytes + 64 * MiB);
    pa_free(big);
    st = stats();
    cr_assert_lt(st.mapped_bytes, base.mapped_bytes + MiB, "64 MiB freed, mapped %llu (before %llu)",
                 ULL(st.mapped_bytes), ULL(base.mapped_bytes));

    /* small enough for the huge cache: kept until pa_trim */
    uint8_t *mid[4];
    for (int i = 0; i < 4; i++) {
        mid[i] = pa_malloc(12 * MiB);
        memset(mid[i], 2, 12 * MiB);
    }
    pa_stats_t peak = stats();
    for (int i = 0; i < 4; i++) pa_free(mid[i]);
    cr_assert_eq(pa_trim(), 1);
    st = stats();
    cr_assert_lt(st.mapped_bytes, base.mapped_bytes + MiB, "after pa_trim mapped %llu (before %llu)",
                 ULL(st.mapped_bytes), ULL(base.mapped_bytes));
    cr_assert_lt(st.resident_bytes, base.resident_bytes + MiB, "after pa_trim resident %llu (peak %llu)",
                 ULL(st.resident_bytes), ULL(peak.resident_bytes));
    cr_assert_eq(st.large_live_bytes, 0);
}

/* Allocates n huge blocks of the given sizes, writes each with its byte, and
 * frees them: the cache then holds them resident. */
static void cache_written(size_t n, const size_t *size, const int *byte, uint8_t **block)
{
    pa_free(pa_malloc(16));
    for (size_t i = 0; i < n; i++) {
        block[i] = pa_malloc(size[i]);
        cr_assert_not_null(block[i]);
        memset(block[i], byte[i], size[i]);
    }
    for (size_t i = 0; i < n; i++) pa_free(block[i]);
}

/* A huge request takes the smallest cached mapping that fits: whole when it
 * is at most twice the size asked for, split when larger: the head serves the
 * request and the tail, from the next 4 MiB boundary, stays cached, resident,
 * for the next request. */
Test(return_to_os, huge_cache_best_fit)
{
    uint8_t *cached[2];
    cache_written(2, (size_t[]){ 16 * MiB, 6 * MiB }, (int[]){ 3, 4 }, cached);
    uint8_t *big = cached[0], *mid = cached[1];

    uint8_t *a = pa_malloc(5 * MiB);
    cr_assert_eq(a, mid, "5 MiB did not reuse the cached 6 MiB mapping (%p, cached %p)", (void *)a, (void *)mid);
    cr_assert_geq(pa_usable_size(a), 6 * MiB - 4096, "kept whole, usable %zu", pa_usable_size(a));
    cr_assert_eq(a[6 * MiB - 4096], 4, "a reused dirty block keeps its pages (no purge in between)");

    pa_stats_t before = stats();
    uint8_t *b = pa_malloc(3 * MiB);
    cr_assert_eq(b, big, "3 MiB did not reuse the cached 16 MiB mapping");
    cr_assert_lt(pa_usable_size(b), 4 * MiB, "16 MiB mapping not cut for 3 MiB: usable %zu", pa_usable_size(b));
    pa_stats_t after = stats();
    cr_assert_eq(before.mapped_bytes, after.mapped_bytes, "the tail was unmapped: mapped %llu -> %llu",
                 ULL(before.mapped_bytes), ULL(after.mapped_bytes));
    memset(b, 5, 3 * MiB);                   /* the kept head is still usable */

    uint8_t *c = pa_malloc(10 * MiB);        /* the 12 MiB tail, still resident */
    cr_assert_eq(c, big + 4 * MiB, "10 MiB did not reuse the cached tail (%p, tail block %p)",
                 (void *)c, (void *)(big + 4 * MiB));
    cr_assert_eq(c[0], 3, "the tail's pages were not kept");
    cr_assert_eq(c[10 * MiB - 1], 3, "the tail's pages were not kept");
    cr_assert_eq(b[3 * MiB - 1], 5, "the head changed when its tail was reused");
    pa_free(a);
    pa_free(b);
    pa_free(c);
    cr_assert_eq(stats().large_live_bytes, 0);
}

/* Where mremap cannot move a range of several VMAs (before Linux 6.17), a
 * huge request larger than every cached mapping grows the largest one of at
 * least half its size: its pages move with it, not faulted again, and it
 * stays one VMA (realloc can grow it without copying). */
Test(return_to_os, huge_cache_grows_a_smaller_mapping)
{
    pa_os_set_moves_several_vmas(false);
    pa_free(pa_malloc(16));
    uint8_t *a = pa_malloc(10 * MiB);
    cr_assert_not_null(a);
    memset(a, 7, 10 * MiB);
    pa_free(a);
    pa_stats_t before = stats();
    uint8_t *b = pa_malloc(14 * MiB);
    cr_assert_not_null(b);
    cr_assert_eq(b[0], 7, "the cached mapping's pages were not reused");
    cr_assert_eq(b[10 * MiB - 1], 7, "the cached mapping's pages were not reused");
    cr_assert_eq(b[14 * MiB - 1], 0, "the grown part is fresh memory");
    cr_assert_geq(pa_usable_size(b), 14 * MiB);
    pa_stats_t after = stats();
    cr_assert_lt(after.mapped_bytes, before.mapped_bytes + 5 * MiB, "mapped %llu -> %llu: a new mapping, not the cached one grown",
                 ULL(before.mapped_bytes), ULL(after.mapped_bytes));
    cr_assert_eq(after.large_live_bytes - before.large_live_bytes, pa_usable_size(b));
    memset(b, 1, 14 * MiB);
    pa_free(b);
}

/* Gathering (huge.c) needs mremap to move ranges of several VMAs: Linux
 * 6.17+. Elsewhere the test is skipped. */
static void need_several_vma_moves(void)
{
    if (!pa_os_moves_several_vmas()) cr_skip_test("this kernel's mremap moves one VMA only");
}

/* Frees three written huge blocks of 10, 8 and 6 MiB (bytes 3, 1, 2): the
 * cache then holds 24 MiB resident in three mappings. */
static void cache_three_pieces(uint8_t **piece)
{
    need_several_vma_moves();
    cache_written(3, (size_t[]){ 10 * MiB, 8 * MiB, 6 * MiB }, (int[]){ 3, 1, 2 }, piece);
}

/* A huge request that no cached mapping fits is made of the resident pages
 * of several (gather): nothing new is faulted in or mapped, and the pieces'
 * old bytes are what malloc returns. */
Test(return_to_os, huge_cache_gathers_resident_pages)
{
    uint8_t *piece[3];
    cache_three_pieces(piece);
    pa_stats_t before = stats();
    uint8_t *q = pa_malloc(22 * MiB);
    cr_assert_not_null(q);
    cr_assert_geq(pa_usable_size(q), 22 * MiB);
    for (size_t i = 0; i < 22; i++)
        cr_assert(q[i * MiB + 8192] >= 1 && q[i * MiB + 8192] <= 3,
                  "MiB %zu of the block holds %d, not a cached piece's byte: fresh pages", i, q[i * MiB + 8192]);
    memset(q, 5, 22 * MiB);
    pa_stats_t after = stats();
    cr_assert_leq(after.resident_bytes, before.resident_bytes + MiB,
                  "writing the gathered 22 MiB block made resident %llu -> %llu", ULL(before.resident_bytes),
                  ULL(after.resident_bytes));
    cr_assert_leq(after.mapped_bytes, before.mapped_bytes + MiB, "mapped %llu -> %llu",
                  ULL(before.mapped_bytes), ULL(after.mapped_bytes));
    cr_assert_eq(after.large_live_bytes - before.large_live_bytes, pa_usable_size(q));

    /* realloc grows it without copying: its pages move (a copy would make
     * the new block's first 22 MiB resident while the old one is cached) */
    before = stats();
    uint8_t *r = pa_realloc(q, 40 * MiB);
    cr_assert_not_null(r);
    cr_assert_leq(stats().resident_bytes, before.resident_bytes + MiB, "realloc copied: resident %llu -> %llu",
                  ULL(before.resident_bytes), ULL(stats().resident_bytes));
    for (size_t i = 0; i < 22 * MiB; i += 4093) cr_assert_eq(r[i], 5, "byte %zu lost in realloc", i);
    cr_assert_eq(r[40 * MiB - 1], 0, "the grown part is fresh memory");
    pa_free(r);
    pa_trim();
    cr_assert_eq(stats().large_live_bytes, 0);
}

/* calloc from gathered pages is zero everywhere. */
Test(return_to_os, huge_cache_gathered_calloc_is_zero)
{
    uint8_t *piece[3];
    cache_three_pieces(piece);
    pa_stats_t before = stats();
    uint8_t *q = pa_calloc(1, 22 * MiB);
    cr_assert_not_null(q);
    pa_stats_t after = stats();
    cr_assert_leq(after.resident_bytes, before.resident_bytes + MiB, "calloc made resident %llu -> %llu",
                  ULL(before.resident_bytes), ULL(after.resident_bytes));
    for (size_t i = 0; i < 22 * MiB; i++)
        if (q[i]) cr_assert_fail("calloc'ed byte %zu is %d", i, q[i]);
    pa_free(q);
}

/* A gathered block is several kernel mappings (VMAs); freed, it is gathered
 * again like any other. */
Test(return_to_os, huge_cache_regathers_a_gathered_block)
{
    uint8_t *piece[3];
    cache_three_pieces(piece);
    uint8_t *q = pa_malloc(22 * MiB);        /* gathered: 10 + 8 + 6 MiB */
    cr_assert_not_null(q);
    memset(q, 5, 22 * MiB);
    uint8_t *six = pa_malloc(6 * MiB);
    cr_assert_not_null(six);
    memset(six, 6, 6 * MiB);
    pa_free(q);
    pa_free(six);
    pa_stats_t before = stats();
    uint8_t *r = pa_malloc(28 * MiB);        /* fits neither: gathers both */
    cr_assert_not_null(r);
    size_t fives = 0, fresh = 0;             /* MiB of each kind in r */
    for (size_t i = 0; i < 28; i++) {
        fives += r[i * MiB + 8192] == 5;
        fresh += r[i * MiB + 8192] == 0;
    }
    cr_assert_eq(fives, 22, "%zu MiB of the freed gathered block in the new one", fives);
    cr_assert_eq(fresh, 0, "%zu MiB of fresh pages in a block the cache covers", fresh);
    memset(r, 7, 28 * MiB);
    cr_assert_leq(stats().resident_bytes, before.resident_bytes + MiB, "resident %llu -> %llu",
                  ULL(before.resident_bytes), ULL(stats().resident_bytes));
    pa_free(r);
}

/* pa_os_move as a kernel that fails one move: the n-th from now (0 the
 * next), after unmapping its destination as mremap(MREMAP_FIXED) does before
 * it checks the source. This binary's definition replaces os.c's weak one. */
static int moves_until_failure = -1;

void *pa_os_move(void *old, size_t old_len, size_t new_len, void *new_addr)
{
    if (moves_until_failure >= 0 && moves_until_failure-- == 0) {
        munmap(new_addr, new_len);
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return mremap(old, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr);
}

/* The process's resident bytes (/proc/self/statm): unlike the statistics,
 * they also count what poolalloc lost track of. */
static size_t process_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    unsigned long size = 0, resident = 0;
    cr_assert_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* A gather whose second move fails gives the block up: the request gets a
 * fresh mapping, every piece and the rest of the reservation are unmapped
 * (none of them is several VMAs), and the statistics come back to where
 * they were. */
Test(return_to_os, huge_cache_gather_survives_a_failed_move)
{
    pa_free(pa_malloc(16));
    pa_trim();
    pa_stats_t base = stats();
    size_t base_rss = process_rss();
    uint8_t *piece[3];
    cache_three_pieces(piece);
    moves_until_failure = 1;
    uint8_t *q = pa_malloc(22 * MiB);
    cr_assert_eq(moves_until_failure, -1, "the failing move was not reached");
    cr_assert_not_null(q);
    memset(q, 9, 22 * MiB);
    pa_free(q);
    pa_trim();
    pa_stats_t st = stats();
    cr_assert_leq(st.mapped_bytes, base.mapped_bytes, "mapped %llu after, %llu before",
                  ULL(st.mapped_bytes), ULL(base.mapped_bytes));
    cr_assert_leq(process_rss(), base_rss + 4 * MiB, "process resident %zu after, %zu before: a piece leaked",
                  process_rss(), base_rss);
}

/* realloc of a huge block whose move fails copies it instead. */
Test(return_to_os, huge_realloc_survives_a_failed_move)
{
    pa_free(pa_malloc(16));
    uint8_t *p = pa_malloc(3 * MiB);
    cr_assert_not_null(p);
    memset(p, 4, 3 * MiB);
    /* a mapping right after the block's: growing in place is impossible */
    uint8_t *end = (uint8_t *)pa_segment_of(p) + ((256 + 3 * MiB + PA_OS_PAGE - 1) & ~(size_t)(PA_OS_PAGE - 1));
    void *block = mmap(end, PA_OS_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    cr_assert_eq(block, end, "could not place the obstacle mapping");
    moves_until_failure = 0;
    uint8_t *q = pa_realloc(p, 9 * MiB);
    cr_assert_eq(moves_until_failure, -1, "the failing move was not reached");
    cr_assert_not_null(q);
    for (size_t i = 0; i < 3 * MiB; i += 4093) cr_assert_eq(q[i], 4, "byte %zu lost", i);
    memset(q, 5, 9 * MiB);
    pa_free(q);
    munmap(block, PA_OS_PAGE);
}

/* The last piece gathered gives only the tail the block needs; its head stays
 * cached, resident, for the next request. */
Test(return_to_os, huge_cache_gather_leaves_the_rest_cached)
{
    need_several_vma_moves();
    uint8_t *cached[2];
    cache_written(2, (size_t[]){ 10 * MiB, 8 * MiB }, (int[]){ 3, 1 }, cached);
    uint8_t *b = cached[1];
    uint8_t *q = pa_malloc(12 * MiB);        /* 10 MiB + 4 MiB of the 8: 4 stay */
    cr_assert_not_null(q);
    pa_stats_t before = stats();
    uint8_t *r = pa_malloc(3 * MiB + 512 * KiB);
    cr_assert_eq(r, b, "the cached rest of the 8 MiB mapping was not reused (%p, expected %p)", (void *)r, (void *)b);
    cr_assert_eq(r[3 * MiB], 1, "the rest's pages were not kept");
    cr_assert_eq(stats().mapped_bytes, before.mapped_bytes, "a new mapping for 3.5 MiB");
    pa_free(q);
    pa_free(r);
}

/* Cached huge blocks are purged by maintenance after the delay even without
 * pa_trim. */
Test(return_to_os, huge_cache_purged_after_delay)
{
    pa_free(pa_malloc(16));
    pa_stats_t base = stats();
    uint8_t *mid[3];
    for (int i = 0; i < 3; i++) {
        mid[i] = pa_malloc(10 * MiB);
        memset(mid[i], 3, 10 * MiB);
    }
    for (int i = 0; i < 3; i++) pa_free(mid[i]);
    sleep_ms(200);
    void *t = pa_malloc(3000);             /* new class: slow path, maintenance */
    pa_stats_t st = stats();
    cr_assert_lt(st.resident_bytes, base.resident_bytes + 2 * MiB,
                 "200 ms after freeing 30 MiB of huge blocks resident is %llu (before %llu)",
                 ULL(st.resident_bytes), ULL(base.resident_bytes));
    pa_free(t);
}

/* AnonHugePages of the mapping holding p, in KiB (/proc/self/smaps). */
static long anon_huge_kib(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    cr_assert_not_null(f);
    char line[512];
    bool in = false;
    long kib = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        else if (in && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
            break;
    }
    fclose(f);
    return kib;
}

static bool thp_on_madvise(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return false;
    char line[128] = "";
    bool on = fgets(line, sizeof line, f) && !strstr(line, "[never]");
    fclose(f);
    return on;
}

/* A huge block is in transparent huge pages from its first byte to its last:
 * a size just under a 2 MiB multiple is mapped whole (no 4 KiB tail), and a
 * block reused from a purged cached mapping gets its first 2 MiB back as one
 * huge page (the purge kept the header's 4 KiB page, which alone would make
 * the rest of those 2 MiB fault 4 KiB at a time). */
Test(return_to_os, huge_blocks_stay_in_transparent_huge_pages)
{
    if (!thp_on_madvise()) cr_skip_test("transparent huge pages are off on this system");
    size_t n = 16 * MiB - 512 * KiB;
    pa_free(pa_malloc(16));
    uint8_t *p = pa_malloc(n);
    memset(p, 1, n);
    cr_assert_eq(anon_huge_kib(p), 16 * 1024, "fresh 15.5 MiB block: %ld KiB in huge pages of 16 MiB",
                 anon_huge_kib(p));
    pa_free(p);
    sleep_ms(200);
    pa_free(pa_malloc(3000));                /* slow path: the cached mapping is purged */
    cr_assert_lt(anon_huge_kib(p), 2 * 1024, "the cached mapping was not purged");
    uint8_t *q = pa_malloc(n);
    cr_assert_eq(q, p, "the purged mapping was not reused");
    memset(q, 2, n);
    cr_assert_eq(anon_huge_kib(q), 16 * 1024, "reused 15.5 MiB block: %ld KiB in huge pages of 16 MiB",
                 anon_huge_kib(q));
    pa_free(q);
}

/* Large pages (128 KiB..2 MiB) come from segments too: freed and trimmed,
 * they leave nothing behind. */
Test(return_to_os, large_pages)
{
    enum { N = 100 };
    void *p[N];
    for (size_t i = 0; i < N; i++) {
        size_t sz = 200 * KiB + i * 13 * KiB;
        p[i] = pa_malloc(sz);
        memset(p[i], 4, sz);
    }
    pa_stats_t peak = stats();
    for (size_t i = 0; i < N; i++) pa_free(p[i]);
    pa_trim();
    pa_stats_t st = stats();
    cr_assert_eq(st.large_live_bytes, 0);
    cr_assert_lt(st.resident_bytes, peak.resident_bytes / 20, "resident %llu after trim, peak %llu",
                 ULL(st.resident_bytes), ULL(peak.resident_bytes));
}

/* Emptied segments: at most POOLALLOC_SEGMENT_CACHE (default 4) stay cached,
 * the rest are unmapped as they empty; cached ones are unmapped after ten
 * purge delays of disuse. One size class, so only one page (the class's
 * current one) stays behind. */
Test(return_to_os, segment_cache_is_bounded)
{
    enum { N = (int)(TOTAL / 2 / 1008) };
    void **p = malloc(N * sizeof *p);
    for (int i = 0; i < N; i++) {
        p[i] = pa_malloc(1000);
        memset(p[i], 5, 1000);
    }
    pa_stats_t peak = stats();
    cr_assert_geq(peak.segments, 10);
    for (int i = 0; i < N; i++) pa_free(p[i]);
    free(p);
    pa_stats_t st = stats();
    cr_assert_leq(st.segments, 1 + 4, "after freeing everything %llu segments are held (peak %llu)",
                  ULL(st.segments), ULL(peak.segments));
    cr_assert_leq(st.mapped_bytes, 5 * PA_SEG_SIZE + 64 * KiB, "mapped %llu", ULL(st.mapped_bytes));
    sleep_ms(700);                         /* > 10 x the 50 ms purge delay */
    void *t = pa_malloc(3000);             /* new class: slow path, maintenance */
    st = stats();
    cr_assert_leq(st.segments, 1, "cached segments still held after 700 ms: %llu", ULL(st.segments));
    pa_free(t);
}

static bool all_resident(const void *p, size_t len)
{
    unsigned char vec[(512 * KiB) / 4096];
    cr_assert_leq(len, sizeof vec * 4096);
    cr_assert_eq(mincore((void *)p, len, vec), 0);
    for (size_t i = 0; i < (len + 4095) / 4096; i++)
        if (!(vec[i] & 1)) return false;
    return true;
}

/* Decay, not eager return: a purge pass returns the free slices of a segment
 * that were free already at the pass before, and keeps those freed since,
 * which the program may be about to reuse; a segment with no frees for a
 * whole delay is returned whole. Passes are run by hand here, at the times
 * maintenance would run them, with a 200 ms delay. */
Test(return_to_os, purge_keeps_slices_freed_since_the_last_pass)
{
    uint64_t saved = pa_options.purge_delay_ns;
    pa_options.purge_delay_ns = 200 * 1000 * 1000;
    pa_heap_t *h = pa_tl_heap;
    pa_free(pa_malloc(16));
    size_t n = 256 * KiB;                    /* a large page: 4 slices */
    uint8_t *x = pa_malloc(n), *y = pa_malloc(n), *z = pa_malloc(n), *keep = pa_malloc(n);
    cr_assert(x && y && z && keep);
    cr_assert(pa_segment_of(x) == pa_segment_of(y) && pa_segment_of(y) == pa_segment_of(z),
              "the blocks are in different segments");
    memset(x, 1, n); memset(y, 2, n); memset(z, 3, n);
    h = pa_tl_heap;
    pa_free(x);                              /* t = 0 */
    sleep_ms(150);
    pa_free(y);                              /* t = 150 */
    sleep_ms(80);
    pa_segment_purge_heap(h, pa_clock_ns(), false);   /* t = 230: both fresh, y freed 80 ms ago */
    cr_assert(all_resident(x, n), "x was purged at the first pass after it was freed");
    cr_assert(all_resident(y, n), "y was purged 80 ms after it was freed");
    sleep_ms(220);
    pa_free(z);                              /* t = 450 */
    pa_segment_purge_heap(h, pa_clock_ns(), false);   /* second pass: x, y free since the first */
    cr_assert(!all_resident(x, n), "x, free for two passes, is still resident");
    cr_assert(!all_resident(y, n), "y, free for two passes, is still resident");
    cr_assert(all_resident(z, n), "z was purged right after it was freed");
    sleep_ms(220);
    pa_segment_purge_heap(h, pa_clock_ns(), false);   /* no frees for a delay: all of it */
    cr_assert(!all_resident(z, n), "z stayed resident after a delay without frees");
    pa_free(keep);
    pa_options.purge_delay_ns = saved;
}

/* An idle process gives its free memory back without another malloc: the
 * purger thread (alloc/purger.c) runs the purge passes. Here the test thread
 * fills and frees, then only sleeps. */
static void *allocate_once(void *arg)
{
    (void)arg;
    pa_free(pa_malloc(16));
    return NULL;
}

static void idle_after_free(bool purge_thread)
{
    pa_options.purge_thread = purge_thread;
    pthread_t t;                             /* a service has threads: the purger waits for a second one */
    pthread_create(&t, NULL, allocate_once, NULL);
    pthread_join(t, NULL);
    size_t n;
    void **p = fill(&n);                     /* commits well over 16 MiB: starts the purger */
    pa_stats_t peak = stats();
    free_all(p, n);
    sleep_ms(400);                           /* one to two 50 ms delays, and then some */
    pa_stats_t st = stats();
    pa_options.purge_thread = true;
    if (purge_thread)
        cr_assert_lt(st.resident_bytes, peak.resident_bytes / 8,
                     "400 ms idle after freeing everything, resident is %llu (peak %llu)",
                     ULL(st.resident_bytes), ULL(peak.resident_bytes));
    else
        cr_assert_gt(st.resident_bytes, peak.resident_bytes / 5,
                     "without the purger nothing should have purged: resident %llu (peak %llu)",
                     ULL(st.resident_bytes), ULL(peak.resident_bytes));
}

Test(return_to_os, idle_process_returns_memory)
{
    idle_after_free(true);
}

/* The control: with POOLALLOC_PURGE_THREAD=0 the same memory stays resident
 * until the next malloc slow path (which the test does not take). */
Test(return_to_os, idle_process_keeps_memory_without_the_purger)
{
    idle_after_free(false);
}
