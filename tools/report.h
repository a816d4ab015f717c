/* report.h -- allocation sites ranked by what the user should change:
 * leaks, realloc growth, pool misses, cross-thread frees, and candidates
 * for the stack, an object pool or one reused buffer, from the fates of
 * their sampled objects (docs/lifetimes.md). */
#ifndef PP_REPORT_H
#define PP_REPORT_H

#include <stdio.h>

#include "profile.h"

/* Prints the report of all (every dump given); fates is the profile of
 * those dumps that recorded the fates (version 2), which may be all itself,
 * or a profile of no process when none did: then only leak suspects are
 * ranked. rows: sites shown per finding. Returns 0, or -1 after an error
 * message naming what (the output). */
int pp_report_print(FILE *out, const char *what, const pp_profile_t *all, const pp_profile_t *fates, size_t rows);

#endif
