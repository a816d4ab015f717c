/* fetch.h -- a profile from a live process: poolalloc-prof top
 * http://127.0.0.1:6060 reads /debug/poolalloc/profile (POOLALLOC_HTTP). */
#ifndef PP_FETCH_H
#define PP_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "dump.h"

/* True if path names a server ("http://HOST:PORT[/PATH]") rather than a file. */
bool pp_is_url(const char *path);
/* The dump a live process serves at url (its /debug/poolalloc/profile when
 * the URL has no path), read as pp_dump_read reads a file; NULL with
 * "URL: why" in err. Plain HTTP/1.1, 30 s at most. */
pp_dump_t *pp_dump_fetch(const char *url, char *err, size_t err_size);

#endif
