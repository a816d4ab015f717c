/* test_errors.c — what the allocator does with impossible requests (NULL +
 * ENOMEM, never a crash or a tiny block), calloc's zeroing even of recycled
 * dirty memory, and invalid or double frees: the process must abort with a
 * clear "poolalloc: ..." message, never carry on with a corrupted heap. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "poolalloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* ---- impossible sizes ---------------------------------------------------- */

Test(errors, malloc_impossible_sizes)
{
    static const size_t ns[] = {
        SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 255, SIZE_MAX - 256, SIZE_MAX - 4095, SIZE_MAX - 4096,
        SIZE_MAX - 4 * MiB, SIZE_MAX - 4 * MiB - 256, SIZE_MAX - 4 * MiB - 4096, SIZE_MAX - 64 * MiB,
        SIZE_MAX / 2 + 1, SIZE_MAX / 2, SIZE_MAX / 4, (size_t)1 << 48, (size_t)1 << 47,
    };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        errno = 0;
        void *p = pa_malloc(ns[i]);
        cr_assert_null(p, "malloc(%#zx) returned %p", ns[i], p);
        cr_assert_eq(errno, ENOMEM, "malloc(%#zx): errno %d", ns[i], errno);
    }
    /* and the allocator still works afterwards */
    void *p = pa_malloc(100);
    cr_assert_not_null(p);
    pa_free(p);
}

Test(errors, calloc_overflow)
{
    static const struct { size_t n, s; } cs[] = {
        { SIZE_MAX / 2, 3 }, { 3, SIZE_MAX / 2 }, { SIZE_MAX, 2 }, { (size_t)1 << 32, (size_t)1 << 32 },
        { SIZE_MAX / 16 + 1, 16 },
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        errno = 0;
        cr_assert_null(pa_calloc(cs[i].n, cs[i].s), "calloc(%#zx, %#zx) succeeded", cs[i].n, cs[i].s);
        cr_assert_eq(errno, ENOMEM);
    }
    /* no overflow but still too big */
    errno = 0;
    cr_assert_null(pa_calloc(SIZE_MAX / 16, 8));
    cr_assert_eq(errno, ENOMEM);
}

Test(errors, aligned_impossible_sizes)
{
    for (size_t a = 32; a <= 8 * MiB; a <<= 3) {
        errno = 0;
        cr_assert_null(pa_aligned_alloc(a, SIZE_MAX - a / 2), "aligned_alloc(%zu, huge)", a);
        cr_assert_eq(errno, ENOMEM);
        errno = 0;
        cr_assert_null(pa_memalign(a, SIZE_MAX / 2));
        cr_assert_eq(errno, ENOMEM);
    }
}

/* ---- calloc zeroes, even recycled memory ---------------------------------- */

static void dirty_then_calloc(size_t n, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        unsigned char *d = pa_malloc(n);
        cr_assert_not_null(d);
        memset(d, 0xff, pa_usable_size(d));
        pa_free(d);
        unsigned char *z = pa_calloc(1, n);
        cr_assert_not_null(z);
        for (size_t k = 0; k < n; k++)
            cr_assert_eq(z[k], 0, "calloc(1, %zu) round %d: byte %zu is %#x", n, r, k, z[k]);
        pa_free(z);
    }
}

Test(errors, calloc_zeroes_reused_small)
{
    for (size_t n = 1; n <= 4096; n += 37) dirty_then_calloc(n, 8);
    for (size_t n = 4096; n <= PA_SMALL_MAX; n += 7919) dirty_then_calloc(n, 3);
}

Test(errors, calloc_zeroes_reused_large_and_huge)
{
    static const size_t ns[] = { 128 * KiB + 1, 300 * KiB, MiB, 2 * MiB, 2 * MiB + 1, 3 * MiB, 7 * MiB };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) dirty_then_calloc(ns[i], 3);
}

/* calloc with count and size split differently: zeroed over count*size. */
Test(errors, calloc_count_times_size)
{
    unsigned char *d[64];
    for (size_t i = 0; i < 64; i++) { d[i] = pa_malloc(24 * 40); memset(d[i], 0xaa, 24 * 40); }
    for (size_t i = 0; i < 64; i++) pa_free(d[i]);
    for (size_t i = 0; i < 64; i++) {
        unsigned char *z = pa_calloc(40, 24);
        for (size_t k = 0; k < 960; k++) cr_assert_eq(z[k], 0);
        d[i] = z;
    }
    for (size_t i = 0; i < 64; i++) pa_free(d[i]);
}

static unsigned char *first_nonzero(unsigned char *p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (p[k]) return p + k;
    return NULL;
}

/* A freed huge block that calloc reuses for a smaller request (up to half
 * its size, cache_take keeps it whole) is cleared over the request only:
 * every requested byte must read zero, whatever the rest holds. */
Test(errors, calloc_zeroes_the_request_in_a_larger_cached_block)
{
    static const size_t ns[] = { 6 * MiB, 9 * MiB + 123, 5 * MiB + 1 };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        unsigned char *d = pa_malloc(10 * MiB);
        cr_assert_not_null(d);
        memset(d, 0xff, pa_usable_size(d));
        pa_free(d);
        unsigned char *z = pa_calloc(1, ns[i]);
        cr_assert_eq(z, d, "calloc(1, %zu) reused the cached 10 MiB block", ns[i]);
        cr_assert_null(first_nonzero(z, ns[i]), "calloc(1, %zu): a byte is not zero", ns[i]);
        pa_free(z);
    }
}

/* A freed huge block waits in the huge cache; once the cache has purged it
 * (madvise) the slot counts as clean and calloc skips the memset. The purge
 * must therefore have zeroed *all* of the block. Here the purge is forced by
 * pushing more than 64 MiB of dirty huge blocks into the cache. */
Test(errors, calloc_zeroes_purged_huge_cache_slot)
{
    size_t n = 3 * MiB;
    unsigned char *a = pa_malloc(n);
    cr_assert_not_null(a);
    memset(a, 0xff, n);
    pa_free(a);
    unsigned char *big = pa_malloc(62 * MiB);          /* cache_dirty > 64 MiB: purges a */
    cr_assert_not_null(big);
    big[0] = 1;
    pa_free(big);
    unsigned char *z = pa_calloc(1, n);
    cr_assert_not_null(z);
    unsigned char *bad = first_nonzero(z, n);
    cr_assert_null(bad, "calloc(1, %zu) = %p (%s the purged cached block %p): byte %td is %#x",
                   n, (void *)z, z == a ? "reusing" : "not reusing", (void *)a, bad - z, bad ? *bad : 0);
    pa_free(z);
}

/* The same through the ordinary timer: free a huge block, wait past the purge
 * delay, let a malloc slow path run maintenance, then calloc the same size. */
Test(errors, calloc_zeroes_huge_after_purge_delay)
{
    size_t n = 3 * MiB;
    unsigned char *a = pa_malloc(n);
    cr_assert_not_null(a);
    memset(a, 0xff, n);
    pa_free(a);
    struct timespec ts = { 0, 150 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    void *t = pa_malloc(5000);                       /* first of its class: slow path */
    pa_free(t);
    unsigned char *z = pa_calloc(n, 1);
    cr_assert_not_null(z);
    unsigned char *bad = first_nonzero(z, n);
    cr_assert_null(bad, "calloc(%zu, 1) = %p (%s the purged cached block %p): byte %td is %#x",
                   n, (void *)z, z == a ? "reusing" : "not reusing", (void *)a, bad - z, bad ? *bad : 0);
    pa_free(z);
}

/* ---- invalid frees abort --------------------------------------------------- */

static void *volatile sink;   /* keeps the compiler from reasoning about frees */

Test(errors, free_null_is_noop)
{
    pa_free(NULL);
    cr_assert_eq(pa_usable_size(NULL), 0);
}

Test(errors, free_stack_address, .signal = SIGABRT)
{
    char buf[64];
    sink = buf;
    pa_free(sink);
}

Test(errors, free_interior_plus_8, .signal = SIGABRT)
{
    char *p = pa_malloc(100);
    sink = p + 8;
    pa_free(sink);
}

Test(errors, free_16_into_64_byte_block, .signal = SIGABRT)
{
    char *p = pa_malloc(64);
    sink = p + 16;           /* a multiple of 16 but not of the block size */
    pa_free(sink);
}

Test(errors, double_free_small, .signal = SIGABRT)
{
    void *keep = pa_malloc(64);
    void *p = pa_malloc(64);
    sink = keep;
    pa_free(p);
    pa_free(p);
}

Test(errors, free_interior_of_large_block, .signal = SIGABRT)
{
    char *p = pa_malloc(500 * KiB);
    sink = p + 64 * KiB;     /* slice aligned, inside the run */
    pa_free(sink);
}

Test(errors, double_free_large, .signal = SIGABRT)
{
    void *p = pa_malloc(500 * KiB);
    pa_free(p);
    pa_free(p);
}

Test(errors, free_libc_pointer, .signal = SIGABRT)
{
    void *p = malloc(100);   /* glibc's, in this test binary */
    sink = p;
    pa_free(sink);
}

Test(errors, usable_size_of_invalid_pointer, .signal = SIGABRT)
{
    char *p = pa_malloc(100);
    sink = p + 16;
    pa_usable_size(sink);
}

Test(errors, realloc_of_invalid_pointer, .signal = SIGABRT)
{
    char buf[32];
    sink = buf;
    pa_realloc(sink, 100);
}

/* A huge block freed twice would go into the huge cache twice, and the next
 * two huge mallocs of that size would get the same memory. */
Test(errors, double_free_huge, .signal = SIGABRT)
{
    void *p = pa_malloc(3 * MiB);
    pa_free(p);
    pa_free(p);
}

static void *free_in_thread(void *p)
{
    pa_free(p);
    return NULL;
}

/* Another thread frees a block of a page its owner had found full (so the
 * block waits on the owner heap's remote list, not on the page); then the
 * owner frees it again. Left undetected, the block would go on the free list
 * twice and be handed out again and again. */
Test(errors, double_free_after_remote_free, .signal = SIGABRT)
{
    enum { N = 4000 };                     /* 64-byte blocks: fills and passes several pages */
    static void *p[N];
    for (int i = 0; i < N; i++) p[i] = pa_malloc(64);
    pthread_t t;
    pthread_create(&t, NULL, free_in_thread, p[10]);
    pthread_join(t, NULL);
    pa_free(p[10]);
    for (int i = 0; i < N; i++) sink = pa_malloc(64);   /* in case the free itself went through */
}

/* The other thread frees the block and stays alive; then the owner frees
 * the block again. */
static _Atomic(int) batched_done;
static void *free_and_stay(void *p)
{
    pa_free(pa_malloc(16));                   /* a heap of its own */
    pa_free(p);
    atomic_store(&batched_done, 1);
    for (;;) pause();
    return NULL;
}

Test(errors, double_free_after_a_live_threads_remote_free, .signal = SIGABRT)
{
    void *p = pa_malloc(64);
    pthread_t t;
    pthread_create(&t, NULL, free_and_stay, p);
    while (!atomic_load(&batched_done)) sched_yield();
    pa_free(p);
    for (int i = 0; i < 100; i++) sink = pa_malloc(64);   /* in case the free itself went through */
}

/* ---- the abort messages ---------------------------------------------------- */

enum bad_kind { BAD_STACK, BAD_INTERIOR, BAD_INTERIOR16, BAD_DOUBLE, BAD_HUGE_INTERIOR };

static void do_bad_free(enum bad_kind kind)
{
    char buf[64];
    switch (kind) {
    case BAD_STACK: sink = buf; pa_free(sink); break;
    case BAD_INTERIOR: { char *p = pa_malloc(100); sink = p + 8; pa_free(sink); break; }
    case BAD_INTERIOR16: { char *p = pa_malloc(64); sink = p + 16; pa_free(sink); break; }
    case BAD_DOUBLE: {
        sink = pa_malloc(64);
        void *p = pa_malloc(64);
        pa_free(p);
        pa_free(p);
        break;
    }
    case BAD_HUGE_INTERIOR: {
        /* A huge block's header is 512 bytes: the page descriptors of the
         * slices further in lie in the program's data. Make that data look
         * like a page whose block starts at q; free(q) must still see that q
         * is inside a huge block and refuse it. */
        uint8_t *p = pa_malloc(3 * MiB);
        pa_segment_t *s = pa_segment_of(p);
        uint8_t *q = (uint8_t *)s + 16 * PA_SLICE_SIZE;
        pa_page_t *fake = &s->pages[16];
        memset(p, 0, 3 * MiB);
        fake->page = fake;
        fake->start = q;
        fake->div_magic = pa_div_magic(16);
        fake->block_size = 16;
        fake->class_id = 1;
        sink = q;
        pa_free(sink);
        break;
    }
    }
}

/* Runs fn(arg) in a child with stderr on a pipe; returns its wait status and
 * puts what it wrote in out. A child that returns from fn exits 0. */
static int run_in_child(void (*fn)(void *), void *arg, char *out, size_t cap)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        fn(arg);
        _exit(0);                          /* survived: the caller's test fails */
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd[0], out + len, cap - 1 - len)) > 0) len += (size_t)r;
    out[len] = 0;
    close(fd[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

static void bad_free_of_kind(void *kind) { do_bad_free((enum bad_kind)(uintptr_t)kind); }

/* Runs a bad free in a child; it must abort with `want` on stderr. */
static void expect_abort_message(enum bad_kind kind, const char *want)
{
    char out[4096];
    int st = run_in_child(bad_free_of_kind, (void *)(uintptr_t)kind, out, sizeof out);
    cr_assert(WIFSIGNALED(st), "child was not killed by a signal (exit status %d); stderr: \"%s\"",
              WIFEXITED(st) ? WEXITSTATUS(st) : -1, out);
    cr_assert_eq(WTERMSIG(st), SIGABRT, "child died of signal %d, not SIGABRT; stderr: \"%s\"", WTERMSIG(st), out);
    cr_assert(strstr(out, want) != NULL, "stderr \"%s\" lacks \"%s\"", out, want);
}

Test(errors, message_invalid_stack)
{
    expect_abort_message(BAD_STACK, "poolalloc: free(): invalid pointer 0x");
}

Test(errors, message_invalid_interior)
{
    expect_abort_message(BAD_INTERIOR, "poolalloc: free(): invalid pointer 0x");
    expect_abort_message(BAD_INTERIOR16, "poolalloc: free(): invalid pointer 0x");
}

Test(errors, message_double_free)
{
    expect_abort_message(BAD_DOUBLE, "poolalloc: free(): double free 0x");
}

Test(errors, message_invalid_interior_of_huge_block)
{
    expect_abort_message(BAD_HUGE_INTERIOR, "poolalloc: free(): invalid pointer 0x");
}

/* ---- frees of addresses in our pages that are no live block ---------------- */

static void free_it(void *q)
{
    sink = q;
    pa_free(sink);
}

/* Frees q in a child that must abort with `want` and q's address. */
static void expect_free_aborts(void *q, const char *want)
{
    char out[4096];
    int st = run_in_child(free_it, q, out, sizeof out);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "free(%p) was accepted (status %#x); stderr: \"%s\"", q, st, out);
    char msg[128];
    snprintf(msg, sizeof msg, "%s%p\n", want, q);
    cr_assert(strstr(out, msg) != NULL, "stderr \"%s\" lacks \"%s\"", out, msg);
}

/* A live block of `size` in a page with at least `room` bytes not carved yet. */
static uint8_t *block_before_uncarved(size_t size, size_t room, pa_page_t **page)
{
    for (int i = 0; i < 1000000; i++) {
        uint8_t *p = pa_malloc(size);
        cr_assert_not_null(p);
        pa_page_t *pg = pa_page_of(pa_segment_of(p), p);
        if (((size_t)pg->capacity * pg->block_size) + room <= (size_t)pg->reserved * pg->block_size) { *page = pg; return p; }
    }
    cr_assert_fail("no page of %zu-byte blocks with %zu bytes uncarved", size, room);
    return NULL;
}

/* Block starts in the part of a page not yet handed out (never carved into
 * the free list) are no blocks: free() refuses them as invalid, in small
 * pages (16 B, 2000 B) and multi-slice medium pages (20 KiB, 100 KiB classes).
 * Accepted, the same memory would later be handed out twice. */
Test(errors, free_of_uncarved_block_in_every_page_kind)
{
    const char *invalid = "poolalloc: free(): invalid pointer ";
    const size_t sizes[] = { 16, 2000, 20000, 100000 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        pa_page_t *pg;
        size_t bs = pa_class_size(pa_class_of(sizes[i]));
        uint8_t *p = block_before_uncarved(sizes[i], 2 * bs, &pg);
        uint8_t *end = pg->start + (size_t)pg->reserved * pg->block_size;
        uint8_t *next = pg->start + (size_t)pg->capacity * pg->block_size;
        expect_free_aborts(next, invalid);                     /* the next block to be carved */
        expect_free_aborts(next + bs, invalid);
        expect_free_aborts(end - bs, invalid);                 /* the page's last block */
        if (bs == 16 && p + 16384 >= next && p + 16384 < end)
            expect_free_aborts(p + 16384, invalid);            /* 16 KiB past a live 16 B block */
        pa_free(p);
    }
}

/* A large page holds one object: no address inside it but its start is a
 * block, and neither is the end of the run. */
Test(errors, free_inside_large_page)
{
    const char *invalid = "poolalloc: free(): invalid pointer ";
    uint8_t *p = pa_malloc(300 * KiB);
    cr_assert_not_null(p);
    size_t bs = pa_block_size(p);
    expect_free_aborts(p + 16, invalid);
    expect_free_aborts(p + 64 * KiB, invalid);
    expect_free_aborts(p + bs - 16, invalid);
    pa_free(p);
}

/* A block whose second word holds ordinary data is freed normally, whatever
 * the value: small integers such as a capacity (the reviewer's vector of
 * {data, cap = 1 MiB} aborted with "double free" when the mark was the page
 * descriptor's address xor the block's, which within a segment is a small
 * integer), that very xor, and pointers into the page. */
Test(errors, program_data_is_never_taken_for_a_free_mark)
{
    enum { N = 300000 };
    uintptr_t **p = malloc(N * sizeof *p);
    cr_assert_not_null(p);
    for (size_t i = 0; i < N; i++) {
        p[i] = pa_malloc(16);
        pa_page_t *pg = pa_page_of(pa_segment_of(p[i]), p[i]);
        switch (i % 4) {
        case 0: p[i][1] = (uintptr_t)1 << 20; break;
        case 1: p[i][1] = (uintptr_t)pg ^ (uintptr_t)p[i]; break;
        case 2: p[i][1] = (uintptr_t)pg; break;
        case 3: p[i][1] = i * 16; break;
        }
    }
    for (size_t i = 0; i < N; i++) pa_free(p[i]);
    free(p);
}
