/* wrapper.h -- allocation wrappers (git's xmalloc, redis's zmalloc,
 * glib's g_malloc): functions that call the allocator for their callers.
 * `top`, `report` and the pages name a site behind one by the caller, as
 * "lpInsert via zrealloc_usable". */
#ifndef PP_WRAPPER_H
#define PP_WRAPPER_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "profile.h"

typedef struct pp_wrappers {
    bool detect;       /* find them in the profile (on unless --no-wrappers) */
    regex_t *named;    /* --wrapper REGEX...: wrappers whatever the profile says */
    size_t nnamed;
} pp_wrappers_t;

/* Detection on, no named wrappers. */
void pp_wrappers_init(pp_wrappers_t *w);
/* Adds a POSIX extended regular expression, matched anywhere in a
 * function's name; false (with why in err) if it does not compile. */
bool pp_wrappers_name(pp_wrappers_t *w, const char *regex, char *err, size_t errsize);
void pp_wrappers_free(pp_wrappers_t *w);

/* Moves each stack's site (alloc_frame, site_frame) of p out past the
 * wrappers and sets its via; learns which functions are wrappers from
 * `from` (p itself, or the larger profile p is part of), and recomputes the
 * weights that depend on the allocating frame. */
void pp_wrappers_apply(const pp_wrappers_t *w, pp_profile_t *p, const pp_profile_t *from);

#endif
