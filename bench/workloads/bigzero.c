/*
 * bigzero — large zero-filled blocks, 5 to 25 MiB, replaced in a loop.
 *
 * Models programs that keep a handful of big, freshly cleared buffers and
 * keep replacing them: hash tables and bitmaps sized per input, sparse
 * matrices and grids, per-request scratch arenas, frame buffers, the
 * "malloc-large" pattern. Each block is obtained zero-filled, half of them
 * with calloc and half with malloc followed by memset(0) (programs do both),
 * then used sparsely: only a few bytes of each 4 KiB page are written, the
 * rest is expected to read as zero.
 *
 * Stresses: the cost of handing out big zeroed memory again and again. An
 * allocator can unmap a freed block and map a new one (zero pages from the
 * kernel, one page fault per page touched), keep it and reuse it (no faults,
 * but calloc must then clear it, and the memset after malloc always does),
 * or know that a reused block is still zero. Sizes vary, so reuse also needs
 * splitting or growing (mremap) cached blocks. Up to MAX_LIVE blocks (at
 * most 500 MiB) are live.
 *
 * Shape: OPS operations; each picks a random slot of MAX_LIVE. An occupied
 * slot's block is checked and freed, then a new block of a uniformly drawn
 * size replaces it. In every 4 KiB of a new block the program writes two
 * 8-byte marks at offsets derived from the block's tag and the piece
 * number, and checks that a 64-byte window elsewhere, at an offset that
 * varies from piece to piece, reads zero; the block's last bytes must read
 * zero too. Stale data from an earlier block is thus caught, while every
 * page is written before it is read (see block_new).
 *
 * Checksum: before free the marks are read back and hashed, and the hash,
 * the size and the way the block was zeroed are folded in. Marks come from
 * the block's tag (its sequence number), sizes and slots from the PRNG, and
 * no address is ever hashed, so the checksum is allocator-independent.
 *
 * Usage: bigzero [scale]   (scale multiplies the number of operations)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define PROG "bigzero"
#define BASE_OPS 1000.0 /* allocations at scale 1.0: ~5 s under glibc on
                           2 cores, 1-3 s under poolalloc and mimalloc */

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define MIN_BLOCK (5 * MiB)
#define MAX_BLOCK (25 * MiB)
#define MAX_LIVE 20
#define PAGE (4 * KiB)
#define WINDOW 64 /* bytes checked for zero in each 4 KiB */

/* ---- PRNG and checksum (see workload.h) ---------------------------------- */

static uint64_t rng_state = 0x5eed000au;

static inline uint64_t rnd(void) { return splitmix64(&rng_state); }

static uint64_t checksum = 0x243f6a8885a308d3ULL;

static inline void fold(uint64_t v) { checksum = fold64(checksum, v); }

/* ---- blocks ------------------------------------------------------------ */

struct block {
    unsigned char *p; /* NULL: slot empty */
    size_t size;
    uint64_t tag;
    int zeroed_by_calloc;
};

static struct block live[MAX_LIVE];
static uint64_t ncallocs, nmemsets, pages_touched;

/* The block is used in PAGE-sized pieces counted from its start (which
 * need not be page-aligned). A full piece gets two 8-byte marks, A in its
 * first half and B in its third quarter, and a WINDOW of bytes in its last
 * quarter that must read zero. Writes are then never more than PAGE - 8
 * bytes apart, so every OS page of the block holds a mark, and a piece's
 * window is checked only after the marks of the next piece are written:
 * whatever the block's alignment, a page is written before it is read
 * (no read fault followed by a write fault on fresh memory). A short last
 * piece gets mark A at offset 0 (if it has room) and nothing else. */
static inline uint64_t page_mark(uint64_t tag, size_t pg)
{
    return mix64(tag ^ (pg * GOLDEN));
}

static inline size_t offset_a(uint64_t m)
{
    return (size_t)(m % (PAGE / 2 / 8)) * 8;                      /* [0, 1/2) */
}

static inline size_t offset_b(uint64_t m)
{
    return PAGE / 2 + (size_t)((m >> 16) % (PAGE / 4 / 8)) * 8;   /* [1/2, 3/4) */
}

static inline size_t offset_window(uint64_t m)
{
    return PAGE * 3 / 4 + (size_t)((m >> 32) % ((PAGE / 4 - WINDOW) / 8 + 1)) * 8; /* [3/4, 1) */
}

/* Check that piece pg's window reads zero. */
static void check_window(const struct block *b, size_t pg)
{
    const unsigned char *w = b->p + pg * PAGE + offset_window(page_mark(b->tag, pg));
    uint64_t any = 0, x;
    for (size_t i = 0; i < WINDOW; i += 8) {
        memcpy(&x, w + i, 8);
        any |= x;
    }
    if (any)
        die(PROG, "new block not zero-filled");
}

static void block_new(struct block *b, uint64_t seq)
{
    size_t size = MIN_BLOCK + (size_t)(rnd() % (MAX_BLOCK - MIN_BLOCK + 1));
    unsigned char *p;
    if (seq & 1) {
        p = calloc(1, size);
        ncallocs++;
    } else {
        p = malloc(size);
        if (p)
            memset(p, 0, size);
        nmemsets++;
    }
    if (!p)
        die(PROG, "out of memory");
    b->p = p;
    b->size = size;
    b->tag = mix64(seq + 1);
    b->zeroed_by_calloc = (int)(seq & 1);

    /* Use the block sparsely: marks in every piece, zero checks one behind. */
    size_t full = size / PAGE;
    for (size_t pg = 0; pg < full; pg++) {
        uint64_t m = page_mark(b->tag, pg);
        memcpy(p + pg * PAGE + offset_a(m), &m, 8);
        memcpy(p + pg * PAGE + offset_b(m), &m, 8);
        if (pg > 0)
            check_window(b, pg - 1);
    }
    size_t room = size - full * PAGE; /* the short last piece */
    if (room >= 8) {
        uint64_t m = page_mark(b->tag, full);
        memcpy(p + full * PAGE, &m, 8);
    }
    if (full > 0 && room >= 8) /* else nothing follows the window: skip it */
        check_window(b, full - 1);
    /* The block's last 8 bytes, unless a short last piece has mark A there
     * (in a full piece they are past mark B). */
    if (room == 0 || room >= 16) {
        uint64_t x;
        memcpy(&x, p + size - 8, 8);
        if (x != 0)
            die(PROG, "new block not zero-filled at its end");
    }
    pages_touched += full + (room > 0);
}

static void block_free(struct block *b)
{
    size_t full = b->size / PAGE, room = b->size - full * PAGE;
    uint64_t h = 0, x, y;
    for (size_t pg = 0; pg < full; pg++) {
        uint64_t m = page_mark(b->tag, pg);
        memcpy(&x, b->p + pg * PAGE + offset_a(m), 8);
        memcpy(&y, b->p + pg * PAGE + offset_b(m), 8);
        if (x != m || y != m)
            die(PROG, "block contents corrupted");
        h = (h ^ x) * 0x100000001b3ULL;
    }
    if (room >= 8) {
        memcpy(&x, b->p + full * PAGE, 8);
        if (x != page_mark(b->tag, full))
            die(PROG, "block contents corrupted");
        h = (h ^ x) * 0x100000001b3ULL;
    }
    fold(h);
    fold(b->size ^ ((uint64_t)b->zeroed_by_calloc << 63));
    free(b->p);
    b->p = NULL;
}

int main(int argc, char **argv)
{
    double scale = parse_scale(argc, argv, PROG);
    uint64_t nops = (uint64_t)(BASE_OPS * scale);
    if (nops < 1)
        nops = 1;

    for (uint64_t op = 0; op < nops; op++) {
        struct block *b = &live[rnd() % MAX_LIVE];
        if (b->p)
            block_free(b);
        block_new(b, op);
    }
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i].p)
            block_free(&live[i]);

    if (getenv("WORKLOAD_VERBOSE"))
        fprintf(stderr, "%s: %llu allocations (%llu calloc, %llu malloc+memset), "
                "%.1f GiB handed out\n",
                PROG, (unsigned long long)nops, (unsigned long long)ncallocs,
                (unsigned long long)nmemsets, pages_touched * (double)PAGE / (1 << 30));
    printf("checksum %016llx\n", (unsigned long long)checksum);
    return 0;
}
