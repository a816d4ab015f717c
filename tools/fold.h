/* fold.h -- stacks as folded lines ("root;...;leaf"), the form flame graph
 * tools read, aggregated by name: what fold, svg and diff print. */
#ifndef PP_FOLD_H
#define PP_FOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "profile.h"

typedef struct pp_folded {
    const char *key;    /* frames root first, joined by ';' */
    const char **names; /* the same frames, one (interned) name each */
    uint32_t nnames;
    int64_t value[2];   /* [0]: the profile's weight; [1]: the second's (diff) */
} pp_folded_t;

/* The folded lines of one profile (b NULL) or two (a diff), for value v,
 * sorted by key; lines whose weights are all 0 are left out. Frame names
 * are functions (with lines: "function file:line"); ';' in a name becomes
 * ':' and control bytes '?', so a key splits back at ';'. The caller owns
 * the array, each key and each names array. */
pp_folded_t *pp_fold(const pp_profile_t *a, const pp_profile_t *b, int v, bool lines, size_t *n);

/* The name a frame has in folded lines. */
const char *pp_frame_name(const pp_frame_t *f, bool lines);

#endif
