/* pprof.h -- a merged profile as a gzipped profile.proto (the format of
 * Go's pprof: github.com/google/pprof/proto/profile.proto), with the four
 * sample types of Go's heap profiles and any other weights asked for. */
#ifndef PP_PPROF_H
#define PP_PPROF_H

#include <stdio.h>

#include "profile.h"

/* Writes p (its stacks, with the modules and locations s handed out) to
 * out, gzipped, with one sample type per weight of types (pp_weight
 * numbers, in that order).
 * default_weight (one of types) becomes default_sample_type. Returns 0, or
 * -1 after an error message naming what (the output). */
int pp_pprof_write(FILE *out, const char *what, const pp_profile_t *p, const pp_symbolizer_t *s, const int *types,
                   size_t ntypes, int default_weight);

#endif
