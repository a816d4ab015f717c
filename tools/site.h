/* site.h -- allocation sites (a function and the line of its call) as the
 * keys of a table of records the caller defines: `top`'s rows, `report`'s. */
#ifndef PP_SITE_H
#define PP_SITE_H

#include <stddef.h>

#include "common.h"
#include "symbolize.h"

typedef struct pp_sites {
    void *v;            /* n records of `size` bytes, each starting with its pp_frame_t */
    size_t size, n, cap;
    pp_index_t index;
} pp_sites_t;

/* An empty table of records of record_size bytes (a struct whose first
 * member is the site's pp_frame_t). */
void pp_sites_init(pp_sites_t *t, size_t record_size);
/* The record of f's site (same interned function and file, same line);
 * a new one is zeroed but for its site. Earlier records may move. */
void *pp_site_of(pp_sites_t *t, const pp_frame_t *f);
void pp_sites_free(pp_sites_t *t);

#endif
