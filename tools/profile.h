/* profile.h -- one or more dumps merged into a profile of symbolized stacks:
 * what every output (fold, svg, pprof, top, diff) is made from. */
#ifndef PP_PROFILE_H
#define PP_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "dump.h"
#include "symbolize.h"

/* What fold, svg, diff, top and pprof can count (--weight): every value of
 * the format (dump.h), then these, computed per stack from them
 * (docs/lifetimes.md defines the values). */
enum pp_weight {
    PP_FREED_OBJECTS = PP_NVALUES, /* the eight lifetime buckets */
    PP_CHURN_OBJECTS,              /* freed less than 1 ms after allocation (the first four) */
    PP_FRAME_LOCAL,                /* freed_frame_0 .. freed_frame_J, J the allocating frame */
    PP_ESCAPED_CALLER,             /* freed_frame_J+1 .. freed_frame_3, freed_returned */
    PP_ESCAPED_THREAD,             /* freed_thread */
    PP_NEVER_FREED,                /* inuse_objects (at exit: never freed) */
    PP_NWEIGHTS
};

typedef struct pp_stack {
    uint32_t nlocs;
    const pp_location_t **locs; /* innermost first, allocator frames trimmed */
    int64_t value[PP_NWEIGHTS];
    uint32_t alloc_frame;       /* index in locs of the allocating frame (pp_alloc_frame;
                                   past allocation wrappers after pp_wrappers_apply) */
    uint32_t site_frame;        /* the site: locs[alloc_frame]->frames[site_frame] */
    const pp_frame_t *via;      /* the wrapper it called (wrapper.h), or NULL */
    uint32_t cut;               /* allocator frames cut from its (first) dump stack */
} pp_stack_t;

/* The allocation site of a stack with frames: the call that allocated. */
static inline const pp_frame_t *pp_stack_site(const pp_stack_t *s)
{
    return &s->locs[s->alloc_frame]->frames[s->site_frame];
}

typedef struct pp_profile {
    pp_stack_t *stacks;         /* distinct location sequences */
    size_t nstacks;
    int64_t total[PP_NWEIGHTS];
    /* what it was made of, for titles */
    size_t ndumps;              /* dumps given */
    size_t nprocesses;          /* dumps counted: one per process, its latest */
    const char *program;        /* of the first dump counted */
    const char *command;        /* its name as run (argv[0]), NULL if the dump has none */
    uint64_t sample_rate;       /* of the first dump; 0 if they differ */
    uint64_t sample_rate_max;   /* the largest */
    double time_first, time_last;
    double uptime_max;          /* the longest-running process's uptime: the profile's duration */
    uint64_t peak_inuse_space;  /* the processes' peaks added (version 3; 0: unknown) */
    double peak_uptime;         /* when the largest of them was reached */
    uint64_t peak_largest;      /* that largest peak */
    size_t nexit;               /* dumps counted that were written at exit */
    uint32_t recorded;          /* values every dump counted has (PP_VALUE_BIT) */
    uint32_t recorded_any;      /* values some dump counted has */
    size_t nno_fates;           /* dumps counted without the fates (format version 1) */
    bool quiet;                 /* set before pp_profile_add: no notes on stderr */
    pp_index_t index;           /* private: stacks by their locations */
} pp_profile_t;

/* Names of the weights, as options and pprof sample types use them, their
 * units ("count" or "bytes") and what they are, for titles. */
extern const char *const pp_weight_names[PP_NWEIGHTS];  /* "alloc_objects", ... */
extern const char *const pp_weight_units[PP_NWEIGHTS];
extern const char *const pp_weight_titles[PP_NWEIGHTS]; /* "Bytes allocated", ... */
/* PP_ALLOC_SPACE etc. for a name; -1 if unknown. */
int pp_weight_parse(const char *name);
/* The values weight w is made of (PP_VALUE_BIT mask). */
uint32_t pp_weight_inputs(int w);

/* The allocating frame of a stack (an index in locs; 0 for no frames): the
 * first of frames 0..3 that is not in the system's C or C++ runtime (libc,
 * libstdc++, libgcc_s, the dynamic loader), whose strdup or std::string
 * calls malloc for its caller; the last of them if all four are. */
uint32_t pp_alloc_frame(const pp_location_t *const *locs, uint32_t n);

/* Recomputes the weights of s that depend on its allocating frame (after
 * it moved), and p's totals with them. */
void pp_stack_reweigh(pp_profile_t *p, pp_stack_t *s);

void pp_profile_init(pp_profile_t *p);
/* Adds the dumps. The dumps of one process (same pid and program) are
 * cumulative, so only its latest (by sequence, then uptime) is counted; the
 * others are mentioned in a note on stderr. Stacks whose locations are
 * equal after symbolization and trimming merge. */
void pp_profile_add(pp_profile_t *p, pp_symbolizer_t *s, pp_dump_t *const *dumps, size_t ndumps);
void pp_profile_free(pp_profile_t *p);

#endif
