/* sample.c — which allocations are sampled, what each one weighs, and the
 * sampled object's header: placed at allocation, recognised and removed at
 * free (the design is in prof.h). */
#include <sys/auxv.h>
#include <unistd.h>

#include "fast.h"
#include "prof.h"

bool pa_prof_on;
PA_TLS unsigned pa_tl_prof_busy;
PA_TLS uintptr_t pa_tl_pool_miss;
static uintptr_t prof_key = 0x2545f4914f6cdd1du;
static uint32_t prof_epoch;                     /* forks since the process began */
uint64_t pa_prof_process;                       /* names this process in its profiles */
static double rate;                           /* mean bytes between samples */

#define FREED_MARK ((uintptr_t)2)             /* magic of an object already freed */

void pa_prof_init(void)
{
    /* POOLALLOC_PROFILE_PID: the processes that inherit the setting but have
     * another pid (children) run unprofiled; a program exec'd in the
     * process's place (a wrapper script's exec) keeps the pid and is profiled */
    pa_prof_on = (pa_options.profile[0] != 0 || pa_http_serves()) &&
                 (!pa_options.profile_pid || pa_options.profile_pid == (size_t)getpid());
    atomic_store(&pa_prof_sampling, pa_prof_on && pa_options.sampling);   /* before any heap draws */
    rate = (double)pa_options.sample_rate;
    pa_prof_series_init();
    const uint8_t *r = (const uint8_t *)getauxval(AT_RANDOM);
    if (r) {
        uint64_t k;
        memcpy(&k, r + 8, sizeof k);
        prof_key ^= k;
        memcpy(&pa_prof_process, r, sizeof pa_prof_process);
    }
    pa_prof_process ^= (uint64_t)getpid() << 32 ^ pa_clock_ns();
    prof_key &= ~(uintptr_t)15;               /* so key ^ address keeps FREED_MARK's bit free */
    prof_key |= 16;
    if (pa_prof_on) pa_prof_stacks_init();
}

/* ln and e^y - 1 without libm: linking it would load it into every program
 * poolalloc is preloaded into, profiled or not (280 KiB of RSS each).
 * Series after range reduction; relative error below 1e-12. */
static double ln(double x)                   /* x > 0 */
{
    union { double d; uint64_t u; } v = { x };
    int e = (int)((v.u >> 52) & 0x7ff) - 1023;
    v.u = (v.u & ~((uint64_t)0x7ff << 52)) | ((uint64_t)1023 << 52);   /* m in [1, 2) */
    double m = v.d;
    if (m > 1.4142135623730951) { m /= 2; e++; }                      /* m in [0.707, 1.414] */
    double z = (m - 1) / (m + 1), z2 = z * z, term = z, sum = 0;      /* ln m = 2 atanh z */
    for (int k = 1; k < 30; k += 2, term *= z2) sum += term / k;
    return 2 * sum + e * 0.6931471805599453;
}

static double expm1_neg(double y)            /* y <= 0 */
{
    if (y < -700) return -1;
    if (y > -0.5) {                           /* Taylor: no cancellation near 0 */
        double term = y, sum = y;
        for (int k = 2; k < 22; k++) { term *= y / k; sum += term; }
        return sum;
    }
    int k = (int)(y / 0.6931471805599453 - 0.5);                      /* y = k ln2 + r */
    double r = y - k * 0.6931471805599453, term = 1, e = 1;
    for (int i = 1; i < 20; i++) { term *= r / i; e += term; }
    for (; k < 0; k++) e /= 2;
    return e - 1;
}

/* xorshift64*: a fresh uniform draw in (0, 1]. */
static double uniform(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15u;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (double)(((x * 0x2545f4914f6cdd1du) >> 11) + 1) * 0x1.0p-53;
}

/* Bytes until the next sample: exponential with mean `rate`, so that every
 * byte is equally likely to be a sample point whatever came before. */
int64_t pa_prof_interval(uint64_t *rng)
{
    if (!pa_prof_on || !atomic_load_explicit(&pa_prof_sampling, memory_order_relaxed)) return PA_PROF_NEVER;
    if (pa_options.sample_rate == 1) return 0;          /* every allocation */
    double x = -ln(uniform(rng)) * rate;
    return x < (double)PA_PROF_NEVER ? (int64_t)x : PA_PROF_NEVER;
}

/* How many objects a sampled one of `size` bytes stands for, in PA_PROF_ONE
 * units, and (in *space) how many bytes. A size-s allocation is sampled with
 * probability 1 - e^(-s/rate); at rate 1 every allocation is. */
uint64_t pa_prof_weight(size_t size, uint64_t *space)
{
    double s = size ? (double)size : 1.0;
    double w = pa_options.sample_rate == 1 ? 1.0 : -1.0 / expm1_neg(-s / rate);
    *space = (uint64_t)(w * (double)size + 0.5);
    return (uint64_t)(w * (double)PA_PROF_ONE + 0.5);
}

/* A block for a sampled object behind a header of `hdr` bytes; *usable gets
 * the object's usable size. p was just allocated for the same request
 * unsampled, and the object must look like it to the program: it gets room
 * for p's whole usable size behind the header, so realloc keeps or moves it,
 * and malloc_usable_size answers, exactly as they would have for p. A huge p
 * keeps its place, the header going into its mapping's own header
 * (pa_huge_room_before); a large one grows in place by the header when it
 * can (no copy); otherwise a new block replaces p. None is charged to the
 * countdown: the bytes were
 * counted once already, as p, and a sample point falling inside them would
 * be lost (this thread takes no samples now), making every estimate low by
 * about (size + hdr) / rate; nor does a replacement count as an allocation in
 * the statistics. NULL: no memory, p stays unsampled. */
static void *place(pa_heap_t *h, void *p, size_t size, size_t flags, size_t hdr, size_t *usable)
{
    size_t have = pa_usable(p), need = have + hdr;
    *usable = have;
    void *q = have > PA_LARGE_MAX ? pa_huge_room_before(p, hdr) : NULL;   /* p stays where it is */
    if (q) return q;
    int64_t before = h->countdown;
    h->countdown = PA_PROF_NEVER;        /* no tick, no sample point in what is added */
    q = have > PA_SMALL_MAX && pa_block_size(p) ? pa_grow_in_place(p, have, need) : NULL;
    if (q) { h->countdown = before; return q; }
    size_t align = flags & ~PA_CHARGE_ZERO;
    q = align ? pa_memalign_impl(align, need) : pa_malloc_inline(need);
    h->countdown = before;
    if (!q) return NULL;
    if (flags & PA_CHARGE_ZERO) memset((uint8_t *)q + hdr, 0, size);
    pa_stats_forget(h, p);
    pa_free_inline(p);
    return q;
}

/* Every byte the heap allocated so far: grows with every allocation of one
 * byte or more, whatever the budgets do (cycle.c settles the countdown into
 * `settled`). */
static uint64_t alloc_mark(const pa_heap_t *h)
{
    return h->settled + (uint64_t)(h->countdown_set - h->countdown);
}

/* bytes, weighted like the sampled object hd: what they stand for. */
static uint64_t weighted(const pa_prof_hdr_t *hd, size_t bytes)
{
    return (uint64_t)((double)hd->objects / PA_PROF_ONE * (double)bytes + 0.5);
}

static void count(pa_prof_stack_t *st, int fate, uint64_t n)
{
    atomic_fetch_add_explicit(&st->fate[fate], n, memory_order_relaxed);
}

/* The allocation at p was sampled: returns the object the program gets. */
void *pa_prof_sample(pa_heap_t *h, void *p, size_t size, size_t flags)
{
    size_t align = flags & ~PA_CHARGE_ZERO;
    if (pa_tl_prof_busy || align > PA_OS_PAGE || size > SIZE_MAX / 2) return p;
    pa_tl_prof_busy++;
    pa_prof_stack_t *st = pa_prof_stack_capture();
    size_t hdr = sizeof(pa_prof_hdr_t);
    if (align > hdr) hdr = align;
    else if (align) hdr = (hdr + align - 1) & ~(align - 1);
    size_t usable = 0;
    uint8_t *block = st ? place(h, p, size, flags, hdr, &usable) : NULL;
    if (!block) { pa_tl_prof_busy--; return p; }
    uint8_t *obj = block + hdr;
    pa_prof_hdr_t *hd = (pa_prof_hdr_t *)obj - 1;
    uintptr_t slots[PA_PROF_SLOTS];
    int nslots = pa_prof_frame_slots(st, slots);
    hd->stack = st;
    hd->objects = pa_prof_weight(size, &hd->space);
    hd->slot = nslots ? slots[0] : 0;
    for (int k = 1; k < PA_PROF_SLOTS; k++) hd->slot_up[k - 1] = k < nslots ? (uint32_t)(slots[k] - slots[0]) : 0;
    hd->thread = pa_prof_thread_id();
    hd->offset = (uint32_t)hdr;
    hd->usable = usable;
    hd->epoch = prof_epoch;
    hd->magic = prof_key ^ (uintptr_t)obj;
    pa_prof_peak_touch(st);
    atomic_fetch_add_explicit(&st->alloc_objects, hd->objects, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->alloc_space, hd->space, memory_order_relaxed);
    pa_prof_peak_add((int64_t)hd->space);
    if (pa_tl_pool_miss > (uintptr_t)__builtin_frame_address(0)) count(st, PA_FATE_POOL_MISSES, hd->objects);
    hd->alloc_ns = pa_clock_fine_ns();
    hd->mark = alloc_mark(h);            /* last: the profiler's own allocations are done */
    pa_tl_prof_busy--;
    return obj;
}

/* The header of p if p is a live sampled object; *freed if it was one and
 * has been freed. p may be any pointer the program passed to free(): the
 * header is read only if p lies in one of our mappings, past its header. */
static pa_prof_hdr_t *header_of(const void *p, bool *freed)
{
    uintptr_t a = (uintptr_t)p, off = a & PA_SEG_MASK;
    *freed = false;
    if (!pa_prof_on || (a & 15) || !pa_segmap_has(a)) return NULL;
    if (off < 256 + sizeof(pa_prof_hdr_t) || off >= pa_segment_of(p)->map_size) return NULL;
    pa_prof_hdr_t *hd = (pa_prof_hdr_t *)p - 1;
    if (hd->magic == (prof_key ^ a)) return hd;
    *freed = hd->magic == (prof_key ^ a ^ FREED_MARK);
    return NULL;
}

/* The lifetime bucket of an object that lived ns: < 1 us, < 10 us ... >= 1 s. */
static int life_bucket(uint64_t ns)
{
    int b = 0;
    for (uint64_t bound = 1000; b < 7 && ns >= bound; bound *= 10) b++;
    return b;
}

/* The sampled object hd ends: freed, or moved away by realloc. Takes it off
 * its stack's in-use values and counts its fate (docs/lifetimes.md). */
static void release(pa_prof_hdr_t *hd, bool moved)
{
    hd->magic ^= FREED_MARK;
    pa_prof_stack_t *st = hd->stack;
    if (hd->epoch != prof_epoch) return;   /* inherited at a fork: never counted here */
    pa_prof_peak_touch(st);
    atomic_fetch_add_explicit(&st->free_objects, hd->objects, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->free_space, hd->space, memory_order_relaxed);
    pa_prof_peak_add(-(int64_t)hd->space);
    if (moved) { count(st, PA_FATE_MOVED, hd->objects); return; }
    uint64_t now = pa_clock_fine_ns();
    count(st, PA_FATE_LIFE + life_bucket(now > hd->alloc_ns ? now - hd->alloc_ns : 0), hd->objects);
    if (hd->thread != pa_prof_thread_id()) { count(st, PA_FATE_THREAD, hd->objects); return; }
    if (alloc_mark(pa_tl_heap) == hd->mark) count(st, PA_FATE_TEMPORARY, hd->objects);
    int k = pa_prof_frame_running(hd);
    if (k >= 0) count(st, k < PA_PROF_SLOTS ? PA_FATE_FRAME + k : PA_FATE_RETURNED, hd->objects);
}

bool pa_prof_free(void *p)
{
    bool freed;
    pa_prof_hdr_t *hd = header_of(p, &freed);
    if (!hd) {
        if (freed) pa_fatal("free(): double free %p", p);
        return false;
    }
    release(hd, false);
    pa_free_inline((uint8_t *)p - hd->offset);
    return true;
}

/* realloc copied the sampled object p to a new block: p is gone, moved. */
void pa_prof_free_moved(void *p)
{
    pa_prof_hdr_t *hd = (pa_prof_hdr_t *)p - 1;
    release(hd, true);
    pa_free_inline((uint8_t *)p - hd->offset);
}

/* q is the new block of a realloc that copied `copied` bytes: if it was
 * sampled, the stack it was sampled at (the realloc's) counts the move. */
void pa_prof_realloc_made(void *q, size_t copied)
{
    bool freed;
    pa_prof_hdr_t *hd = header_of(q, &freed);
    if (!hd || hd->epoch != prof_epoch) return;
    count(hd->stack, PA_FATE_REALLOC_OBJECTS, hd->objects);
    count(hd->stack, PA_FATE_REALLOC_COPIED, weighted(hd, copied));
}

size_t pa_prof_offset(const void *p)
{
    bool freed;
    pa_prof_hdr_t *hd = header_of(p, &freed);
    return hd ? hd->offset : 0;
}

size_t pa_prof_usable(const void *p)
{
    bool freed;
    pa_prof_hdr_t *hd = header_of(p, &freed);
    return hd ? hd->usable : 0;
}

/* A fork child's profile holds what the child allocated: its records start
 * again from zero, and the sampled objects it inherited (an older epoch)
 * are not taken off them when freed. Dumps of a parent and its children
 * then add up without counting an allocation twice. */
void pa_prof_fork_reset(void)
{
    prof_epoch++;
    pa_prof_process = (pa_prof_process ^ pa_clock_ns() ^ (uint64_t)getpid() << 32) * 0x9e3779b97f4a7c15u;
    pa_prof_stacks_zero();
    pa_prof_peak_fork_child();
}

/* realloc kept a sampled object in its block: it fit, or the block grew in
 * place, maybe moving (a huge block remapped: the header came along, only
 * its magic names the old address). The object keeps its sample and
 * weight; its in-use bytes follow its new size (growth is counted as
 * allocated at its stack, a shrink as freed). */
void *pa_prof_kept(void *p, size_t size, size_t usable)
{
    pa_prof_hdr_t *hd = (pa_prof_hdr_t *)p - 1;
    hd->magic = prof_key ^ (uintptr_t)p;
    hd->usable = usable;                  /* what the object unsampled would have now */
    if (hd->epoch != prof_epoch) return p;
    uint64_t space = weighted(hd, size);
    pa_prof_peak_touch(hd->stack);
    if (space > hd->space) atomic_fetch_add_explicit(&hd->stack->alloc_space, space - hd->space, memory_order_relaxed);
    else atomic_fetch_add_explicit(&hd->stack->free_space, hd->space - space, memory_order_relaxed);
    pa_prof_peak_add((int64_t)space - (int64_t)hd->space);
    hd->space = space;
    return p;
}
