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

const char *const pp_value_names[PP_NVALUES] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
const char *const pp_value_units[PP_NVALUES] = {"count", "bytes", "count", "bytes"};

int pp_value_parse(const char *name)
{
    for (int i = 0; i < PP_NVALUES; i++)
        if (strcmp(name, pp_value_names[i]) == 0)
            return i;
    return -1;
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

static pp_stack_t *stack_get(pp_profile_t *p, const pp_location_t **locs, uint32_t n)
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
    *s = (pp_stack_t){.nlocs = n, .locs = xmalloc((n ? n : 1) * sizeof *locs)};
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

static uint32_t trim_allocator(const pp_location_t **locs, uint32_t n)
{
    uint32_t skip = 0;
    while (skip < n && in_libpoolalloc(locs[skip]))
        skip++;
    if (skip < n && strncmp(outer_function(locs[skip]), "pa_prof_", 8) == 0)
        while (skip < n && allocator_function(outer_function(locs[skip])))
            skip++;
    memmove(locs, locs + skip, (n - skip) * sizeof *locs);
    return n - skip;
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

/* A corrupt dump can hold any 64-bit number: sums stop at INT64_MAX. */
static void add_saturated(int64_t *sum, uint64_t v) { *sum = pp_add_sat(*sum, v > INT64_MAX ? INT64_MAX : (int64_t)v); }

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
        if (again)
            fprintf(stderr, "%s: note: %s given %zu times (the same dump: pid, sequence and time): counted once\n",
                    pp_progname, dumps[latest]->path, again + 1);
        if (earlier)
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
            p->program = d->program;
            p->sample_rate = d->sample_rate;
            p->time_first = p->time_last = d->time;
        } else if (p->sample_rate != d->sample_rate) {
            p->sample_rate = 0;
        }
        p->time_first = d->time < p->time_first ? d->time : p->time_first;
        p->time_last = d->time > p->time_last ? d->time : p->time_last;
        p->nprocesses++;
        for (size_t k = 0; k < d->nstacks; k++) {
            const pp_dump_stack_t *ds = &d->stacks[k];
            uint32_t n = ds->nframes;
            for (uint32_t f = 0; f < n; f++)
                locs[f] = pp_sym_lookup(s, d, ds->frames[f]);
            n = trim_allocator(locs, n);
            pp_stack_t *st = stack_get(p, locs, n);
            for (int v = 0; v < PP_NVALUES; v++) {
                add_saturated(&st->value[v], ds->value[v]);
                add_saturated(&p->total[v], ds->value[v]);
            }
        }
    }
    free(skip);
}
