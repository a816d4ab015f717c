/* profile.h -- one or more dumps merged into a profile of symbolized stacks:
 * what every output (fold, svg, pprof, top, diff) is made from. */
#ifndef PP_PROFILE_H
#define PP_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "dump.h"
#include "symbolize.h"

typedef struct pp_stack {
    uint32_t nlocs;
    const pp_location_t **locs; /* innermost first, allocator frames trimmed */
    int64_t value[PP_NVALUES];
} pp_stack_t;

typedef struct pp_profile {
    pp_stack_t *stacks;         /* distinct location sequences */
    size_t nstacks;
    int64_t total[PP_NVALUES];
    /* what it was made of, for titles */
    size_t ndumps;              /* dumps given */
    size_t nprocesses;          /* dumps counted: one per process, its latest */
    const char *program;        /* of the first dump counted */
    uint64_t sample_rate;       /* of the first dump; 0 if they differ */
    double time_first, time_last;
    pp_index_t index;           /* private: stacks by their locations */
} pp_profile_t;

/* Names of the values, as options and pprof sample types use them. */
extern const char *const pp_value_names[PP_NVALUES];   /* "alloc_objects", ... */
extern const char *const pp_value_units[PP_NVALUES];   /* "count", "bytes", ... */
/* PP_ALLOC_SPACE etc. for a name; -1 if unknown. */
int pp_value_parse(const char *name);

void pp_profile_init(pp_profile_t *p);
/* Adds the dumps. The dumps of one process (same pid and program) are
 * cumulative, so only its latest (by sequence, then uptime) is counted; the
 * others are mentioned in a note on stderr. Stacks whose locations are
 * equal after symbolization and trimming merge. */
void pp_profile_add(pp_profile_t *p, pp_symbolizer_t *s, pp_dump_t *const *dumps, size_t ndumps);
void pp_profile_free(pp_profile_t *p);

#endif
