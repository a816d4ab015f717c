/* test_bad_free.c — misuse of free() and realloc() is reported and aborts:
 * each case runs in a forked child whose stderr is captured. */
#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poolalloc.h"
#include "pl_util.h"

#define INVALID_FREE    "poolalloc: free(): invalid pointer 0x"
#define DOUBLE_FREE     "poolalloc: free(): double free 0x"
#define INVALID_REALLOC "poolalloc: realloc(): invalid pointer 0x"
#define INVALID_USABLE  "poolalloc: malloc_usable_size(): invalid pointer 0x"

static void expect_abort_within(void (*fn)(void *), void *arg, const char *message, unsigned timeout_s)
{
    pl_child_t c;
    pl_run_child(fn, arg, timeout_s, &c);
    cr_assert(pl_died_by(&c, SIGABRT), "child %s, want SIGABRT; stderr: \"%s\"", pl_describe(c.status), c.err);
    cr_assert_not_null(strstr(c.err, message), "stderr \"%s\" lacks \"%s\"", c.err, message);
}

static void expect_abort(void (*fn)(void *), void *arg, const char *message)
{
    expect_abort_within(fn, arg, message, 10);
}

/* The pointer printed must be the one passed. */
static void expect_abort_at(void (*fn)(void *), void *arg, const char *message, const void *ptr)
{
    pl_child_t c;
    pl_run_child(fn, arg, 10, &c);
    cr_assert(pl_died_by(&c, SIGABRT), "child %s, want SIGABRT; stderr: \"%s\"", pl_describe(c.status), c.err);
    char want[256];
    snprintf(want, sizeof want, "%.*s%p\n", (int)strlen(message) - 2, message, ptr);
    cr_assert_not_null(strstr(c.err, want), "stderr \"%s\" lacks \"%s\"", c.err, want);
}

static void free_stack(void *arg)
{
    (void)arg;
    char buf[64];
    memset(buf, 1, sizeof buf);
    free(pl_launder(buf));
}

static char static_array[256];

static void free_ptr(void *arg) { free(pl_launder(arg)); }
static void realloc_ptr(void *arg) { free(pl_launder(realloc(pl_launder(arg), 100))); }
static void usable_ptr(void *arg) { (void)malloc_usable_size(pl_launder(arg)); }

Test(bad_free, stack_address)
{
    expect_abort(free_stack, NULL, INVALID_FREE);
}

Test(bad_free, static_array)
{
    expect_abort_at(free_ptr, static_array, INVALID_FREE, static_array);
    expect_abort_at(free_ptr, static_array + 16, INVALID_FREE, static_array + 16);
}

Test(bad_free, interior_of_small_block)
{
    char *p = malloc(64);
    cr_assert_not_null(p);
    expect_abort_at(free_ptr, p + 16, INVALID_FREE, p + 16);
    expect_abort_at(free_ptr, p + 1, INVALID_FREE, p + 1);
    expect_abort_at(free_ptr, p + 8, INVALID_FREE, p + 8);
    free(p);                                  /* the parent's block is fine */
}

Test(bad_free, interior_of_medium_block)
{
    char *p = malloc(20000);                  /* a multi-slice page */
    cr_assert_not_null(p);
    expect_abort_at(free_ptr, p + 16, INVALID_FREE, p + 16);
    expect_abort_at(free_ptr, p + 4096, INVALID_FREE, p + 4096);
    free(p);
}

Test(bad_free, interior_of_1mib_block)
{
    char *p = malloc(PL_MIB);
    cr_assert_not_null(p);
    memset(p, 0x5a, PL_MIB);
    expect_abort_at(free_ptr, p + 4096, INVALID_FREE, p + 4096);
    expect_abort_at(free_ptr, p + 16, INVALID_FREE, p + 16);
    expect_abort_at(free_ptr, p + 65536, INVALID_FREE, p + 65536);
    free(p);
}

/* A huge block (> 2 MiB) lives in its own mapping with the segment header in
 * front; its data covers the page descriptors of slices 2.. of that header
 * area, which free() must not trust. */
Test(bad_free, interior_of_huge_block)
{
    size_t n = 8 * PL_MIB;
    char *p = malloc(n);
    cr_assert_not_null(p);
    memset(p, 0, n);
    expect_abort_at(free_ptr, p + 4096, INVALID_FREE, p + 4096);
    expect_abort_at(free_ptr, p + 5 * PL_MIB, INVALID_FREE, p + 5 * PL_MIB);
    free(p);
}

Test(bad_free, interior_of_huge_block_with_nonzero_data)
{
    size_t n = 8 * PL_MIB;
    char *p = malloc(n);
    cr_assert_not_null(p);
    memset(p, 0x5a, n);                       /* ordinary user data */
    expect_abort_at(free_ptr, p + 128 * PL_KIB, INVALID_FREE, p + 128 * PL_KIB);
    expect_abort_at(free_ptr, p + PL_MIB, INVALID_FREE, p + PL_MIB);
    free(p);
}

Test(bad_free, pointer_one_past_a_segment)
{
    /* the first 4 MiB boundary after a normal block: not the start of a block */
    char *p = malloc(100);
    cr_assert_not_null(p);
    char *boundary = (char *)(((uintptr_t)p | (4 * PL_MIB - 1)) + 1);
    expect_abort_at(free_ptr, boundary, INVALID_FREE, boundary);
    free(p);
}

static void double_free_small(void *arg)
{
    (void)arg;
    void *p = malloc(32);
    free(p);
    free(pl_launder(p));
}

Test(bad_free, double_free_small)
{
    expect_abort(double_free_small, NULL, DOUBLE_FREE);
}

static void double_free_after_other_frees(void *arg)
{
    (void)arg;
    void *a = malloc(48), *b = malloc(48), *c = malloc(48);
    free(b);
    free(a);
    free(c);
    free(pl_launder(b));
}

Test(bad_free, double_free_among_other_frees)
{
    expect_abort(double_free_after_other_frees, NULL, DOUBLE_FREE);
}

static void double_free_large(void *arg)
{
    (void)arg;
    void *p = malloc(PL_MIB);
    free(p);
    free(pl_launder(p));
}

/* Once its block is freed a large page is gone, so the second free finds no
 * block there: "invalid pointer" is as good an answer as "double free". */
Test(bad_free, double_free_1mib)
{
    expect_abort(double_free_large, NULL, "poolalloc: free(): ");
}

static void double_free_huge(void *arg)
{
    (void)arg;
    char *p = malloc(8 * PL_MIB);
    free(p);
    free(pl_launder(p));
    /* not caught: show what it leads to */
    char *q1 = malloc(8 * PL_MIB), *q2 = malloc(8 * PL_MIB);
    char msg[200];
    int n = snprintf(msg, sizeof msg, "double free not detected; then malloc(8 MiB) twice gave %p and %p\n",
                     (void *)q1, (void *)q2);
    if (write(2, msg, (size_t)n) < 0) _exit(3);
}

Test(bad_free, double_free_huge)
{
    expect_abort(double_free_huge, NULL, "poolalloc: free(): ");
}

static void *free_in_thread(void *arg)
{
    free(arg);
    return NULL;
}

static void double_free_remote(void *arg)
{
    (void)arg;
    /* block owned by this thread's heap, freed twice from another thread */
    void *keep = malloc(32);                  /* keep the page in use */
    void *p = malloc(32);
    pthread_t t;
    pthread_create(&t, NULL, free_in_thread, p);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, free_in_thread, p);
    pthread_join(t, NULL);
    /* the owner now collects its page's remote frees */
    for (int i = 0; i < 100000; i++) free(malloc(32));
    free(keep);
}

Test(bad_free, double_free_from_another_thread)
{
    expect_abort_within(double_free_remote, NULL, "poolalloc: free(): ", 3);
}

static void bad_realloc_stack(void *arg)
{
    (void)arg;
    char buf[64];
    memset(buf, 1, sizeof buf);
    free(pl_launder(realloc(pl_launder(buf), 100)));
}

Test(bad_free, realloc_of_invalid_pointer)
{
    expect_abort(bad_realloc_stack, NULL, INVALID_REALLOC);
    expect_abort_at(realloc_ptr, static_array, INVALID_REALLOC, static_array);
    char *p = malloc(64);
    cr_assert_not_null(p);
    expect_abort_at(realloc_ptr, p + 16, INVALID_REALLOC, p + 16);
    free(p);
}

Test(bad_free, malloc_usable_size_of_invalid_pointer)
{
    expect_abort_at(usable_ptr, static_array, INVALID_USABLE, static_array);
    char *p = malloc(64);
    cr_assert_not_null(p);
    expect_abort_at(usable_ptr, p + 16, INVALID_USABLE, p + 16);
    free(p);
}

Test(bad_free, valid_frees_in_a_child_exit_cleanly)
{
    /* the harness itself: a child that frees correctly exits 0, silently */
    char *p = malloc(64);
    pl_child_t c;
    pl_run_child(free_ptr, p, 10, &c);
    cr_assert(pl_exited_ok(&c), "child %s; stderr: %s", pl_describe(c.status), c.err);
    cr_assert_eq(c.errlen, 0, "stderr: %s", c.err);
    free(p);
}
