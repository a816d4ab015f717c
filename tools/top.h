/* top.h -- the heaviest allocation sites as a table, like `pprof -top`. */
#ifndef PP_TOP_H
#define PP_TOP_H

#include <stdbool.h>
#include <stdio.h>

#include "profile.h"

/* Prints the rows sites with the largest flat weight (by_cum: cumulative)
 * for value v. A site is a function and the line of its call (the stack's
 * allocating frame, pp_stack_site); flat counts the stacks allocating
 * there, cum every stack that passes through it. Returns 0, or -1 after an error message. */
int pp_top_print(FILE *out, const char *what, const pp_profile_t *p, int v, size_t rows, bool by_cum);

/* "1.5 GiB" / "123 B" for bytes, "1234567" for counts, into buf. */
const char *pp_format_value(char *buf, size_t size, int64_t x, int v);

#endif
