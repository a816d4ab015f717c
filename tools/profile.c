/* profile.c -- dumps merged into one profile of symbolized stacks.
 *
 * A dump's counters are cumulative since its process started, so several
 * dumps of one process (intervals, signals, the exit dump) are not added:
 * the latest stands for them all. Dumps of different processes (threads
 * share a process; fork children and other programs do not) are added.
 * Stacks are merged by their symbolized locations, so the same code paths
 * in processes with different load addresses become one stack. */
#include "profile.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

const char *const pp_weight_names[] = {
#define WEIGHT_NAME(e, name, unit) #name,
    PP_VALUE_LIST(WEIGHT_NAME)
#undef WEIGHT_NAME
    "freed_objects", "churn_objects", "frame_local", "escaped_caller", "escaped_thread", "never_freed",
};
const char *const pp_weight_units[] = {
#define WEIGHT_UNIT(e, name, unit) #unit,
    PP_VALUE_LIST(WEIGHT_UNIT)
#undef WEIGHT_UNIT
    "count", "count", "count", "count", "count", "count",
};
const char *const pp_weight_titles[] = {
    "Objects allocated", "Bytes allocated", "Objects in use", "Bytes in use",
    "Objects freed < 1 µs after allocation", "Objects freed 1-10 µs after allocation",
    "Objects freed 10-100 µs after allocation", "Objects freed 0.1-1 ms after allocation",
    "Objects freed 1-10 ms after allocation", "Objects freed 10-100 ms after allocation",
    "Objects freed 0.1-1 s after allocation", "Objects freed >= 1 s after allocation",
    "Objects freed while frame 0 ran", "Objects freed while frame 1 ran (after frame 0 returned)",
    "Objects freed while frame 2 ran (after frame 1 returned)", "Objects freed while frame 3 ran (after frame 2 returned)",
    "Objects freed after frames 0-3 returned", "Objects freed by another thread",
    "Temporary objects (freed before the thread allocated again)", "Objects moved by realloc",
    "Objects allocated by a moving realloc", "Bytes copied by realloc", "Objects made on a pool miss",
    "Objects in use at the peak", "Bytes in use at the peak",
    "Objects freed", "Objects freed < 1 ms after allocation", "Objects freed in the allocating function",
    "Objects freed after the allocating function returned", "Objects freed by another thread",
    "Objects never freed (in use when dumped)",
};

#define COUNT(a) (sizeof(a) / sizeof *(a))
_Static_assert(COUNT(pp_weight_names) == PP_NWEIGHTS && COUNT(pp_weight_units) == PP_NWEIGHTS &&
                   COUNT(pp_weight_titles) == PP_NWEIGHTS,
               "a name, a unit and a title for every weight");

int pp_weight_parse(const char *name)
{
    for (int i = 0; i < PP_NWEIGHTS; i++)
        if (strcmp(name, pp_weight_names[i]) == 0)
            return i;
    return -1;
}

#define BITS(first, last) (PP_VALUE_BIT((last) + 1) - PP_VALUE_BIT(first))

uint32_t pp_weight_inputs(int w)
{
    switch (w) {
    case PP_FREED_OBJECTS: return BITS(PP_FREED_LT_1US, PP_FREED_GE_1S);
    case PP_CHURN_OBJECTS: return BITS(PP_FREED_LT_1US, PP_FREED_LT_1MS);
    case PP_FRAME_LOCAL: return BITS(PP_FREED_FRAME_0, PP_FREED_FRAME_3);
    case PP_ESCAPED_CALLER: return BITS(PP_FREED_FRAME_0, PP_FREED_RETURNED);
    case PP_ESCAPED_THREAD: return PP_VALUE_BIT(PP_FREED_THREAD);
    case PP_NEVER_FREED: return PP_VALUE_BIT(PP_INUSE_OBJECTS);
    default: return w >= 0 && w < PP_NVALUES ? PP_VALUE_BIT(w) : 0;
    }
}

/* ---- the allocating frame and the weights computed from it -------------- */

static bool system_runtime(const pp_location_t *l)
{
    static const char *const prefix[] = {"libc.so", "libstdc++.so", "libgcc_s.so", "ld-linux"};
    if (!l->module)
        return false;
    const char *base = pp_basename(l->module->path);
    for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++)
        if (strncmp(base, prefix[i], strlen(prefix[i])) == 0)
            return true;
    return false;
}

uint32_t pp_alloc_frame(const pp_location_t *const *locs, uint32_t n)
{
    uint32_t j = 0;
    while (j + 1 < n && j < 3 && system_runtime(locs[j]))
        j++;
    return j;
}

/* A corrupt dump can hold any 64-bit number: sums stop at INT64_MAX. */
static int64_t clamp(uint64_t v) { return v > INT64_MAX ? INT64_MAX : (int64_t)v; }

static int64_t sum(const int64_t *w, int first, int last)
{
    int64_t s = 0;
    for (int i = first; i <= last; i++)
        s = pp_add_sat(s, w[i]);
    return s;
}

/* Every weight of one dump stack whose allocating frame is frame (counted
 * in the dump's frames: a static link's allocator frames are trimmed from
 * the stack but not from the freed_frame_K numbering). */
static void weights_of(const uint64_t *v, uint32_t frame, int64_t *w)
{
    for (int i = 0; i < PP_NVALUES; i++)
        w[i] = clamp(v[i]);
    int last_local = PP_FREED_FRAME_0 + (int)(frame < 3 ? frame : 3);
    w[PP_FREED_OBJECTS] = sum(w, PP_FREED_LT_1US, PP_FREED_GE_1S);
    w[PP_CHURN_OBJECTS] = sum(w, PP_FREED_LT_1US, PP_FREED_LT_1MS);
    w[PP_FRAME_LOCAL] = sum(w, PP_FREED_FRAME_0, last_local);
    w[PP_ESCAPED_CALLER] = sum(w, last_local + 1, PP_FREED_RETURNED);
    w[PP_ESCAPED_THREAD] = w[PP_FREED_THREAD];
    w[PP_NEVER_FREED] = w[PP_INUSE_OBJECTS];
}

void pp_stack_reweigh(pp_profile_t *p, pp_stack_t *s)
{
    static const int moves[] = {PP_FRAME_LOCAL, PP_ESCAPED_CALLER};
    int64_t w[PP_NWEIGHTS];
    uint64_t raw[PP_NVALUES];
    for (int i = 0; i < PP_NVALUES; i++)
        raw[i] = (uint64_t)s->value[i];
    weights_of(raw, s->cut + s->alloc_frame, w);
    for (size_t i = 0; i < sizeof moves / sizeof *moves; i++) {
        int v = moves[i];
        p->total[v] = pp_add_sat(p->total[v] - s->value[v], w[v]);
        s->value[v] = w[v];
    }
}

/* stacks are found by their location sequence */
static uint64_t stack_hash(const pp_location_t *const *locs, uint32_t n)
{
    uint64_t h = n;
    for (uint32_t i = 0; i < n; i++)
        h = pp_hash_mix(h, locs[i]->id);
    return h;
}

static uint64_t stack_hash_at(const void *stacks, size_t i)
{
    const pp_stack_t *s = (const pp_stack_t *)stacks + i;
    return stack_hash(s->locs, s->nlocs);
}

static pp_stack_t *stack_get(pp_profile_t *p, const pp_location_t **locs, uint32_t n, uint32_t cut)
{
    pp_index_reserve(&p->index, p->nstacks, stack_hash_at, p->stacks);
    size_t j = pp_index_first(&p->index, stack_hash(locs, n));
    for (; p->index.slot[j]; j = pp_index_next(&p->index, j)) {
        pp_stack_t *s = &p->stacks[p->index.slot[j] - 1];
        if (s->nlocs == n && memcmp(s->locs, locs, n * sizeof *locs) == 0)
            return s;
    }
    if ((p->nstacks & (p->nstacks - 1)) == 0) /* capacity doubles at powers of two */
        p->stacks = xrealloc(p->stacks, (p->nstacks ? p->nstacks * 2 : 1) * sizeof *p->stacks);
    pp_stack_t *s = &p->stacks[p->nstacks];
    *s = (pp_stack_t){.nlocs = n, .locs = xmalloc((n ? n : 1) * sizeof *locs), .alloc_frame = pp_alloc_frame(locs, n), .cut = cut};
    memcpy(s->locs, locs, n * sizeof *locs);
    p->index.slot[j] = ++p->nstacks;
    return s;
}

void pp_profile_init(pp_profile_t *p) { *p = (pp_profile_t){0}; }

void pp_profile_free(pp_profile_t *p)
{
    for (size_t i = 0; i < p->nstacks; i++)
        free(p->stacks[i].locs);
    free(p->stacks);
    pp_index_free(&p->index);
    *p = (pp_profile_t){0};
}

/* ---- allocator frames -------------------------------------------------- */

/* With libpoolalloc.a linked in, stacks begin inside the allocator (the
 * format says so); such a stack starts with the profiler's capture function,
 * and its leading frames are poolalloc's (pa_*) or its malloc-family entry
 * points. Dynamic builds cut these when writing. */
static bool allocator_function(const char *f)
{
    static const char *const entry[] = {
        "malloc", "calloc", "realloc", "reallocarray", "free", "cfree", "posix_memalign", "aligned_alloc",
        "memalign", "valloc", "pvalloc", "malloc_usable_size", "strdup", "strndup", "__libc_malloc",
        "__libc_calloc", "__libc_realloc", "__libc_memalign",
    };
    if (strncmp(f, "pa_", 3) == 0 || strncmp(f, "operator new", 12) == 0 || strncmp(f, "operator delete", 15) == 0)
        return true;
    for (size_t i = 0; i < sizeof entry / sizeof *entry; i++)
        if (strcmp(f, entry[i]) == 0)
            return true;
    return false;
}

static bool in_libpoolalloc(const pp_location_t *l)
{
    if (!l->module)
        return false;
    return strncmp(pp_basename(l->module->path), "libpoolalloc.so", 15) == 0;
}

static const char *outer_function(const pp_location_t *l) { return l->frames[l->nframes - 1].function; }

/* Returns how many leading frames were cut. */
static uint32_t trim_allocator(const pp_location_t **locs, uint32_t n)
{
    uint32_t skip = 0;
    while (skip < n && in_libpoolalloc(locs[skip]))
        skip++;
    if (skip < n && strncmp(outer_function(locs[skip]), "pa_prof_", 8) == 0)
        while (skip < n && allocator_function(outer_function(locs[skip])))
            skip++;
    memmove(locs, locs + skip, (n - skip) * sizeof *locs);
    return skip;
}

/* ---- one process's latest dump ------------------------------------------- */

static bool same_process(const pp_dump_t *a, const pp_dump_t *b)
{
    if (a->process && b->process) /* drawn at random by each process */
        return a->process == b->process;
    /* older files: pids are reused, so also compare when the process started */
    double sa = a->time - a->uptime, sb = b->time - b->uptime;
    return a->pid == b->pid && pp_dump_file_of(a->program) == pp_dump_file_of(b->program) &&
           (sa > sb ? sa - sb : sb - sa) < 2.0;
}

static bool later(const pp_dump_t *a, const pp_dump_t *b)
{
    if (a->sequence != b->sequence)
        return a->sequence > b->sequence;
    return a->uptime > b->uptime;
}

void pp_profile_add(pp_profile_t *p, pp_symbolizer_t *s, pp_dump_t *const *dumps, size_t ndumps)
{
    bool *skip = xcalloc(ndumps, sizeof *skip);
    p->ndumps += ndumps;
    for (size_t i = 0; i < ndumps; i++) {
        if (skip[i])
            continue;
        size_t latest = i, earlier = 0, again = 0;
        for (size_t j = i + 1; j < ndumps; j++)
            if (!skip[j] && same_process(dumps[i], dumps[j])) {
                /* one dump given twice (or a copy of it) is no earlier dump */
                if (dumps[j]->sequence == dumps[latest]->sequence && dumps[j]->time == dumps[latest]->time)
                    again++;
                else
                    earlier++;
                if (later(dumps[j], dumps[latest])) {
                    skip[latest] = true;
                    latest = j;
                } else {
                    skip[j] = true;
                }
            }
        if (latest != i)
            skip[i] = true;
        if (again && !p->quiet)
            fprintf(stderr, "%s: note: %s given %zu times (the same dump: pid, sequence and time): counted once\n",
                    pp_progname, dumps[latest]->path, again + 1);
        if (earlier && !p->quiet)
            fprintf(stderr, "%s: note: %zu earlier dump%s of pid %llu not added: %s (sequence %llu) holds %s (counters are cumulative)\n",
                    pp_progname, earlier, earlier > 1 ? "s" : "", (unsigned long long)dumps[latest]->pid,
                    dumps[latest]->path, (unsigned long long)dumps[latest]->sequence, earlier > 1 ? "them" : "it");
    }

    const pp_location_t *locs[PP_MAX_FRAMES];
    for (size_t i = 0; i < ndumps; i++) {
        const pp_dump_t *d = dumps[i];
        if (skip[i])
            continue;
        if (p->nprocesses == 0) {
            p->program = d->program, p->command = d->command;
            p->sample_rate = d->sample_rate;
            p->time_first = p->time_last = d->time;
            p->recorded = d->present;
        } else if (p->sample_rate != d->sample_rate) {
            p->sample_rate = 0;
        }
        p->recorded &= d->present;
        p->recorded_any |= d->present;
        p->nno_fates += (d->present & PP_FATE_VALUES) != PP_FATE_VALUES;
        p->nexit += d->reason && strcmp(d->reason, "exit") == 0;
        p->sample_rate_max = d->sample_rate > p->sample_rate_max ? d->sample_rate : p->sample_rate_max;
        p->uptime_max = d->uptime > p->uptime_max ? d->uptime : p->uptime_max;
        p->peak_inuse_space += d->peak_inuse_space;
        if (d->peak_inuse_space > p->peak_largest)
            p->peak_largest = d->peak_inuse_space, p->peak_uptime = d->peak_uptime;
        p->time_first = d->time < p->time_first ? d->time : p->time_first;
        p->time_last = d->time > p->time_last ? d->time : p->time_last;
        p->nprocesses++;
        for (size_t k = 0; k < d->nstacks; k++) {
            const pp_dump_stack_t *ds = &d->stacks[k];
            uint32_t n = ds->nframes;
            for (uint32_t f = 0; f < n; f++)
                locs[f] = pp_sym_lookup(s, d, ds->frames[f]);
            uint32_t cut = trim_allocator(locs, n);
            n -= cut;
            pp_stack_t *st = stack_get(p, locs, n, cut);
            int64_t w[PP_NWEIGHTS];
            weights_of(ds->value, cut + st->alloc_frame, w);
            for (int v = 0; v < PP_NWEIGHTS; v++) {
                st->value[v] = pp_add_sat(st->value[v], w[v]);
                p->total[v] = pp_add_sat(p->total[v], w[v]);
            }
        }
    }
    free(skip);
}
