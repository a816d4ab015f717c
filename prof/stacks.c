/* stacks.c — capturing an allocation's stack and keeping each distinct stack
 * once, in a hash table every thread inserts into without a lock.
 *
 * The table is an array of entry pointers (linear probing) that only ever
 * fills: a slot goes from NULL to an entry by compare-and-swap and never
 * changes again, so readers need no lock either. Entries come from an arena
 * of chunks the profiler maps itself (never malloc). When the table is three
 * quarters full, further new stacks share one entry without frames.
 *
 * libunwind is loaded with dlopen when profiling starts, not linked: a
 * program preloaded with poolalloc but not profiled does not pay for loading
 * it (and liblzma, which it needs): 0.5 MiB of RSS and 0.17 ms per process. */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <elf.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "prof.h"

#define TABLE_BITS  18
#define TABLE_SIZE  ((size_t)1 << TABLE_BITS)
#define CHUNK_SIZE  ((size_t)1 << 20)

static _Atomic(pa_prof_stack_t *) table[TABLE_SIZE];     /* untouched until used */
static _Atomic(size_t) table_used;
static pa_prof_stack_t overflow;                         /* no frames: table full */

/* ---- the profiler's memory ------------------------------------------------ */

typedef struct chunk {
    struct chunk *prev;
    _Atomic(size_t) used;
    size_t cap;
} chunk_t;

static _Atomic(chunk_t *) arena;
static _Atomic(size_t) arena_mapped;

void *pa_prof_arena_alloc(size_t size)
{
    size = (size + 15) & ~(size_t)15;
    for (;;) {
        chunk_t *c = atomic_load_explicit(&arena, memory_order_acquire);
        if (c) {
            size_t off = atomic_fetch_add_explicit(&c->used, size, memory_order_relaxed);
            if (off + size <= c->cap) return (uint8_t *)c + off;
        }
        size_t cap = size + 64 > CHUNK_SIZE ? (size + 64 + PA_OS_PAGE - 1) & ~(size_t)(PA_OS_PAGE - 1) : CHUNK_SIZE;
        chunk_t *n = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (n == MAP_FAILED) return NULL;
        n->prev = c;
        atomic_init(&n->used, 64);
        n->cap = cap;
        if (atomic_compare_exchange_strong(&arena, &c, n)) atomic_fetch_add(&arena_mapped, cap);
        else munmap(n, cap);                              /* another thread's chunk won */
    }
}

size_t pa_prof_memory(void) { return atomic_load(&arena_mapped) + atomic_load(&table_used) * sizeof(void *); }

/* ---- our own code, cut off the top of every stack ------------------------ */

static uintptr_t self_lo, self_len;

/* The executable segments of the object this code is in, read from its own
 * ELF header (no loader lock: this may run inside the first malloc). Linked
 * into the program itself there is nothing to tell our frames from the
 * program's by address, and nothing is cut. */
static void find_self(void)
{
    extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));
    const ElfW(Ehdr) *eh = &__ehdr_start;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const uint8_t *)eh + eh->e_phoff);
    if ((uintptr_t)ph == getauxval(AT_PHDR)) return;      /* we are the executable */
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X)) continue;
        uintptr_t a = (uintptr_t)eh + ph[i].p_vaddr;        /* a shared object's first segment is at 0 */
        if (a < lo) lo = a;
        if (a + ph[i].p_memsz > hi) hi = a + ph[i].p_memsz;
    }
    if (hi > lo) { self_lo = lo; self_len = hi - lo; }
}

void pa_prof_stacks_init(void) { find_self(); }

/* libunwind's entry points, under the names its header maps them to. */
#define NAME_(x) #x
#define NAME(x) NAME_(x)
static struct {
    int (*backtrace)(void **, int);
    int (*getcontext)(unw_context_t *);
    int (*init_local)(unw_cursor_t *, unw_context_t *);
    int (*step)(unw_cursor_t *);
    int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
} unw;
static _Atomic(bool) unw_loaded;             /* until then samples have no frames */

static bool load_libunwind(void)
{
    void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libunwind.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        pa_message("profiling: cannot load libunwind (%s); samples are counted without stacks", dlerror());
        return false;
    }
    *(void **)&unw.backtrace = dlsym(lib, "unw_backtrace");
    *(void **)&unw.getcontext = dlsym(lib, NAME(unw_tdep_getcontext));
    *(void **)&unw.init_local = dlsym(lib, NAME(unw_init_local));
    *(void **)&unw.step = dlsym(lib, NAME(unw_step));
    *(void **)&unw.get_reg = dlsym(lib, NAME(unw_get_reg));
    if (!unw.backtrace || !unw.getcontext || !unw.init_local || !unw.step || !unw.get_reg) {
        pa_message("profiling: libunwind lacks unw_backtrace or the unw_step API; samples are counted without stacks");
        return false;
    }
    return true;
}

/* At start (a constructor, once the loader is done): load libunwind and let
 * it set itself up now rather than inside a malloc. */
void pa_prof_stacks_start(void)
{
    static _Atomic int started;
    if (atomic_exchange(&started, 1)) return;
    pa_tl_prof_busy++;
    if (load_libunwind()) {
        void *warm[4];
        unw.backtrace(warm, 4);
        atomic_store_explicit(&unw_loaded, true, memory_order_release);
    }
    pa_tl_prof_busy--;
}

/* ---- the table ------------------------------------------------------------ */

static uint64_t hash_frames(void *const *f, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325u ^ n;
    for (uint32_t i = 0; i < n; i++) {
        h ^= (uint64_t)(uintptr_t)f[i];
        h *= 0x100000001b3u;
        h ^= h >> 29;
    }
    return h | 1;                    /* 0 never appears: slots compare hashes first */
}

pa_prof_stack_t *pa_prof_stack_intern(void *const *frames, uint32_t depth)
{
    if (!depth) return &overflow;
    uint64_t h = hash_frames(frames, depth);
    pa_prof_stack_t *mine = NULL;
    for (size_t i = h & (TABLE_SIZE - 1), probes = 0; probes < TABLE_SIZE / 4; i = (i + 1) & (TABLE_SIZE - 1), probes++) {
        pa_prof_stack_t *e = atomic_load_explicit(&table[i], memory_order_acquire);
        if (!e) {
            if (atomic_load_explicit(&table_used, memory_order_relaxed) >= TABLE_SIZE / 4 * 3) break;
            if (!mine) {
                mine = pa_prof_arena_alloc(sizeof *mine + depth * sizeof(void *));
                if (!mine) break;
                mine->hash = h;
                mine->depth = depth;
                memcpy(mine->frames, frames, depth * sizeof(void *));
            }
            if (atomic_compare_exchange_strong_explicit(&table[i], &e, mine, memory_order_release, memory_order_acquire)) {
                atomic_fetch_add_explicit(&table_used, 1, memory_order_relaxed);
                return mine;
            }
            /* another thread filled the slot first: look at what it put there */
        }
        if (e->hash == h && e->depth == depth && !memcmp(e->frames, frames, depth * sizeof(void *))) return e;
    }
    return &overflow;                /* `mine`, if any, stays in the arena unused */
}

/* libunwind's unw_backtrace takes ~0.1 us, thanks to a cache that each
 * thread builds on first use for ~90 us (256 KiB, unmapped again at thread
 * exit): a thread that lives for a request and is sampled once would pay
 * that for nothing. So a thread's first samples are walked frame by frame
 * (~6 us each), and only a thread that keeps being sampled builds the cache.
 * On threadchurn (make bench) that is the difference between 40% and 0%. */
#define STEPPED_CAPTURES 16
static PA_TLS uint32_t tl_captures;

static int backtrace_stepped(void **out, int max)
{
    unw_context_t uc;
    unw_cursor_t cur;
    if (unw.getcontext(&uc) || unw.init_local(&cur, &uc)) return 0;
    int n = 0;
    do {
        unw_word_t ip;
        if (unw.get_reg(&cur, UNW_REG_IP, &ip) || !ip) break;
        out[n++] = (void *)ip;
    } while (n < max && unw.step(&cur) > 0);
    return n;
}

/* The stack of the allocation being sampled, without our own frames. */
pa_prof_stack_t *pa_prof_stack_capture(void)
{
    void *raw[PA_PROF_MAX_FRAMES + 16];
    int max = (int)(sizeof raw / sizeof raw[0]), n = 0;
    if (atomic_load_explicit(&unw_loaded, memory_order_acquire))
        n = tl_captures++ < STEPPED_CAPTURES ? backtrace_stepped(raw, max) : unw.backtrace(raw, max);
    int i = 0;
    while (i < n && (uintptr_t)raw[i] - self_lo < self_len) i++;
    int depth = n - i;
    if (depth > PA_PROF_MAX_FRAMES || (n == max && depth == PA_PROF_MAX_FRAMES)) {
        depth = PA_PROF_MAX_FRAMES;      /* deeper: the innermost 63 and a mark for the rest */
        raw[i + depth - 1] = PA_PROF_TRUNCATED;
    }
    return pa_prof_stack_intern(raw + i, depth > 0 ? (uint32_t)depth : 0);
}

/* ---- threads and their stacks: is the allocating frame still running? ---- */

static _Atomic(uint32_t) threads_seen;
static PA_TLS uint32_t tl_thread;
static PA_TLS uintptr_t tl_stack_lo, tl_stack_hi;        /* hi == 1: not known */
static PA_TLS uintptr_t tl_stack_checked;                /* [checked, hi) is mapped */

uint32_t pa_prof_thread_id(void)
{
    if (!tl_thread) tl_thread = atomic_fetch_add_explicit(&threads_seen, 1, memory_order_relaxed) + 1;
    return tl_thread;
}

/* This thread's stack, asked once (glibc reads /proc/self/maps for the main
 * thread, which allocates: only ever called while sampling, with the
 * program's own calls of pthread_getattr_np made unsampled by preload/). */
static bool stack_known(void)
{
    if (!tl_stack_hi) {
        pthread_attr_t a;
        void *addr;
        size_t size;
        tl_stack_lo = tl_stack_hi = 1;
        if (!pthread_getattr_np(pthread_self(), &a)) {
            if (!pthread_attr_getstack(&a, &addr, &size)) {
                tl_stack_lo = (uintptr_t)addr;
                tl_stack_hi = tl_stack_checked = (uintptr_t)addr + size;
            }
            pthread_attr_destroy(&a);
        }
    }
    return tl_stack_hi > 1;
}

/* Is sp on this thread's own stack? Inside [lo, hi) is not enough for the
 * main thread, whose lo is only what RLIMIT_STACK would allow: a signal or
 * coroutine stack may be mapped in between. The stack is one mapping down
 * from hi, so every page from sp up must be mapped: mincore tells (ENOMEM
 * at a hole), and the lowest sp seen so far needs no second look. */
static bool on_own_stack(uintptr_t sp)
{
    if (!stack_known() || sp < tl_stack_lo || sp >= tl_stack_hi) return false;
    uintptr_t page = sp & ~(uintptr_t)(PA_OS_PAGE - 1);
    unsigned char vec[256];
    while (page < tl_stack_checked) {
        uintptr_t from = tl_stack_checked - page > sizeof vec * PA_OS_PAGE ? tl_stack_checked - sizeof vec * PA_OS_PAGE : page;
        if (mincore((void *)from, tl_stack_checked - from, vec)) return false;
        tl_stack_checked = from;
    }
    return true;
}

#define SCAN_OURS  ((uintptr_t)16 << 10)    /* poolalloc's frames, up to the call to malloc */
#define SCAN_FRAME ((uintptr_t)64 << 10)    /* one frame of the program */

/* Where frames[k + 1], frame k's return address, sits on this thread's
 * stack, for k < PA_PROF_SLOTS: slots[k]. The call that allocated pushed
 * frames[0] just above poolalloc's own frames; each frame's return address
 * is the next occurrence of its value further up. Called by the sampler, so
 * the scan starts above the stack capture's (dead) copy of the frames. A
 * thread on another stack than its own (a signal stack, a coroutine) gets
 * no slots. Returns how many slots were found. */
__attribute__((noinline, no_sanitize_address))
int pa_prof_frame_slots(const pa_prof_stack_t *st, uintptr_t slots[PA_PROF_SLOTS])
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (st->depth < 2 || !on_own_stack(sp)) return 0;
    void *const *p = (void *const *)sp;
    uintptr_t end = sp + SCAN_OURS < tl_stack_hi ? sp + SCAN_OURS : tl_stack_hi;
    while ((uintptr_t)p < end && *p != st->frames[0]) p++;
    int n = 0;
    for (uint32_t k = 1; (uintptr_t)p < end && k < st->depth && n < PA_PROF_SLOTS; k++) {
        end = (uintptr_t)p + SCAN_FRAME < tl_stack_hi ? (uintptr_t)p + SCAN_FRAME : tl_stack_hi;
        while ((uintptr_t)++p < end && *p != st->frames[k]) {}
        if ((uintptr_t)p < end) slots[n++] = (uintptr_t)p;
    }
    return n;
}

/* At free, on the allocating thread: the innermost of the object's followed
 * frames still running (0..3), PA_PROF_SLOTS if all have returned, -1 if
 * that cannot be told (no slots; a frame whose slot the scan did not find;
 * a free on another stack than the thread's own). A frame runs if its slot
 * is above the freeing call and still holds its return address: once it
 * returned, the next call made at that depth overwrites the slot. The
 * slots lie on this thread's own stack (pa_prof_frame_slots checked), which
 * stays mapped while the thread lives. */
__attribute__((noinline, no_sanitize_address))
int pa_prof_frame_running(const pa_prof_hdr_t *hd)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (!hd->slot || sp < tl_stack_lo || sp >= tl_stack_hi) return -1;
    int found = 1;
    for (int k = 0; k < PA_PROF_SLOTS; k++) {
        if (k && !hd->slot_up[k - 1]) break;
        found = k + 1;
        uintptr_t slot = hd->slot + (k ? hd->slot_up[k - 1] : 0);
        if (sp < slot && *(void *const *)slot == hd->stack->frames[k + 1]) return k;
    }
    uint32_t followable = hd->stack->depth - 1 < PA_PROF_SLOTS ? hd->stack->depth - 1 : PA_PROF_SLOTS;
    return (uint32_t)found == followable ? PA_PROF_SLOTS : -1;
}

static void zero(pa_prof_stack_t *e)
{
    atomic_store_explicit(&e->alloc_objects, 0, memory_order_relaxed);
    atomic_store_explicit(&e->alloc_space, 0, memory_order_relaxed);
    atomic_store_explicit(&e->free_objects, 0, memory_order_relaxed);
    atomic_store_explicit(&e->free_space, 0, memory_order_relaxed);
    for (int i = 0; i < PA_FATES; i++) atomic_store_explicit(&e->fate[i], 0, memory_order_relaxed);
    atomic_store_explicit(&e->peak_objects, 0, memory_order_relaxed);
    atomic_store_explicit(&e->peak_space, 0, memory_order_relaxed);
    atomic_store_explicit(&e->peak_version, 0, memory_order_relaxed);
}

void pa_prof_stacks_zero(void)
{
    zero(&overflow);
    if (!atomic_load_explicit(&table_used, memory_order_relaxed)) return;
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        pa_prof_stack_t *e = atomic_load_explicit(&table[i], memory_order_relaxed);
        if (e) zero(e);
    }
}

void pa_prof_stacks_foreach(void (*fn)(const pa_prof_stack_t *, void *), void *arg)
{
    if (atomic_load_explicit(&overflow.alloc_objects, memory_order_relaxed)) fn(&overflow, arg);
    if (!atomic_load_explicit(&table_used, memory_order_relaxed)) return;
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        const pa_prof_stack_t *e = atomic_load_explicit(&table[i], memory_order_acquire);
        if (e) fn(e, arg);
    }
}
