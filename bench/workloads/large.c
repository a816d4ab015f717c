/*
 * large — large blocks, 64 KiB to 64 MiB.
 *
 * Models programs that handle big buffers: file and network I/O buffers,
 * image or column chunks, decompression outputs, arenas of other runtimes.
 * Block sizes are log-uniform between 64 KiB and 64 MiB; a working set of up
 * to 16 blocks (at most 256 MiB) is kept, blocks are freed in random order,
 * and one operation in five reallocs a live block to between half and twice
 * its size.
 *
 * Programs rarely use all of a big buffer right away: blocks up to 1 MiB are
 * written in full, bigger ones over their first 1/8 to 8/8 (a grown block
 * gets the same treatment for its new length). Before free, the written
 * part is read back and hashed, as a consumer of the buffer would. So the
 * cost of getting pages from the OS (mmap, page faults, zeroing) and giving
 * them back (munmap, madvise) is measured next to a realistic amount of
 * work on the data, as is whether an allocator reuses freed large blocks,
 * and whether realloc moves (copies) a block or remaps/extends it.
 *
 * Checksum: each written page starts with a mark derived from the block's
 * tag and the page number; marks are checked after every realloc (data must
 * survive a move) and before free, and the hash of the written part is
 * folded in.
 *
 * Usage: large [scale]   (scale multiplies the number of operations)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define PROG "large"
#define BASE_OPS 1200.0 /* operations at scale 1.0 */

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define MIN_BLOCK (64 * KiB)
#define MAX_BLOCK (64 * MiB)
#define MAX_LIVE 16
#define LIVE_CAP (256 * MiB)
#define FULL_WRITE_MAX MiB     /* blocks up to this size are written in full */
#define PAGE (4 * KiB)

/* ---- PRNG and checksum (see workload.h) ---------------------------------- */

static uint64_t rng_state = 0x5eed0004u;

static inline uint64_t rnd(void) { return splitmix64(&rng_state); }

static uint64_t checksum = 0x243f6a8885a308d3ULL;

static inline void fold(uint64_t v) { checksum = fold64(checksum, v); }

/* ---- blocks ------------------------------------------------------------ */

struct block {
    unsigned char *p;
    size_t size;
    size_t written;  /* pages [0, written) carry marks */
    uint64_t tag;
};

static struct block live[MAX_LIVE];
static int nlive;
static size_t live_bytes;
static uint64_t nmallocs, nreallocs, pages_written;

static inline unsigned char mark(uint64_t tag, size_t page)
{
    return (unsigned char)(mix64(tag + page) | 1);
}

/* Fill pages [from, to) of the block (clipped to its size) and mark each. */
static void write_pages(struct block *b, size_t from, size_t to)
{
    size_t end = to * PAGE < b->size ? to * PAGE : b->size;
    if (end > from * PAGE)
        memset(b->p + from * PAGE, (int)(b->tag >> 56), end - from * PAGE);
    for (size_t pg = from; pg < to; pg++)
        b->p[pg * PAGE] = mark(b->tag, pg);
    pages_written += to - from;
}

/* Check the marks of pages [0, upto) and fold them in. */
static void check_marks(const struct block *b, size_t upto)
{
    uint64_t sum = 0;
    for (size_t pg = 0; pg < upto; pg++) {
        unsigned char m = b->p[pg * PAGE];
        if (m != mark(b->tag, pg))
            die(PROG, "block contents corrupted");
        sum = sum * 31 + m;
    }
    fold(sum ^ upto);
}

/* Read every written byte back and hash it, as a consumer (parser,
 * encoder) of the buffer would. This CPU work does not depend on the
 * allocator; it keeps the page-fault share realistic. */
static void read_pages(const struct block *b)
{
    size_t end = b->written * PAGE < b->size ? b->written * PAGE : b->size;
    uint64_t h = 0, w;
    size_t i = 0;
    for (; i + 8 <= end; i += 8) {
        memcpy(&w, b->p + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    for (; i < end; i++)
        h = (h ^ b->p[i]) * 0x100000001b3ULL;
    fold(h);
}

static size_t pages_in(size_t bytes)
{
    return (bytes + PAGE - 1) / PAGE;
}

/* How many leading pages get written: all for small blocks, else 1/8..8/8. */
static size_t pages_to_write(size_t size)
{
    if (size <= FULL_WRITE_MAX)
        return pages_in(size);
    return pages_in(size / 8 * (1 + rnd() % 8));
}

static void block_free(int i)
{
    struct block *b = &live[i];
    check_marks(b, b->written);
    read_pages(b);
    fold(b->size);
    free(b->p);
    live_bytes -= b->size;
    live[i] = live[--nlive];
}

static void block_new(uint64_t seq)
{
    size_t size = log_uniform(&rng_state, MIN_BLOCK, MAX_BLOCK);
    /* Make room: free random blocks until count and byte caps hold. */
    while (nlive == MAX_LIVE || live_bytes + size > LIVE_CAP)
        block_free((int)(rnd() % (uint64_t)nlive));

    struct block *b = &live[nlive];
    b->p = malloc(size);
    if (!b->p)
        die(PROG, "out of memory");
    b->size = size;
    b->tag = mix64(seq);
    b->written = pages_to_write(size);
    write_pages(b, 0, b->written);
    nlive++;
    live_bytes += size;
    nmallocs++;
}

static void block_realloc(int i)
{
    struct block *b = &live[i];
    double factor = exp((unit_interval(&rng_state) * 2.0 - 1.0) * log(2.0)); /* 0.5 .. 2 */
    size_t size = (size_t)((double)b->size * factor);
    if (size < MIN_BLOCK)
        size = MIN_BLOCK;
    if (size > MAX_BLOCK)
        size = MAX_BLOCK;
    /* Growth must fit the cap too: free other blocks (never this one). */
    while (size > b->size && live_bytes + (size - b->size) > LIVE_CAP && nlive > 1) {
        int j = (int)(rnd() % (uint64_t)(nlive - 1));
        if (j >= i)
            j++;
        block_free(j);
        if (i == nlive) /* block i was moved into slot j by block_free */
            i = j;
        b = &live[i];
    }

    unsigned char *p = realloc(b->p, size);
    if (!p)
        die(PROG, "out of memory");
    live_bytes = live_bytes - b->size + size;
    b->p = p;
    /* Content survives up to the smaller of the two sizes; the last,
     * partial page is rewritten (bytes past the old size are undefined). */
    size_t valid = b->written * PAGE;
    if (valid > b->size)
        valid = b->size;
    if (valid > size)
        valid = size;
    size_t kept = valid / PAGE;
    check_marks(b, kept);
    b->size = size;
    size_t want = pages_to_write(size);
    if (want < kept)
        want = kept;
    write_pages(b, kept, want);
    b->written = want;
    nreallocs++;
}

int main(int argc, char **argv)
{
    double scale = parse_scale(argc, argv, PROG);
    uint64_t nops = (uint64_t)(BASE_OPS * scale);
    if (nops < 1)
        nops = 1;

    for (uint64_t op = 0; op < nops; op++) {
        uint64_t r = rnd() % 100;
        if (r < 20 && nlive > 0)
            block_realloc((int)(rnd() % (uint64_t)nlive));
        else if (r < 35 && nlive > 4)
            block_free((int)(rnd() % (uint64_t)nlive)); /* working set shrinks */
        else
            block_new(op);
    }
    while (nlive > 0)
        block_free(nlive - 1);

    if (getenv("WORKLOAD_VERBOSE"))
        fprintf(stderr, "%s: %llu ops, %llu mallocs, %llu reallocs, %.1f GiB of pages written\n",
                PROG, (unsigned long long)nops, (unsigned long long)nmallocs,
                (unsigned long long)nreallocs, pages_written * (double)PAGE / (1 << 30));
    printf("checksum %016llx\n", (unsigned long long)checksum);
    return 0;
}
