/* fetch.h -- a profile from a live process: poolalloc-prof top
 * http://127.0.0.1:6060 reads /debug/poolalloc/profile (POOLALLOC_HTTP). */
#ifndef PP_FETCH_H
#define PP_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

/* True if path names a server ("http://HOST:PORT[/PATH]") rather than a file. */
bool pp_is_url(const char *path);
/* GETs url's path, /debug/poolalloc/profile when it has none, into body;
 * false with "URL: why" in err. Plain HTTP/1.1, 30 s at most. */
bool pp_fetch(const char *url, pp_buf_t *body, char *err, size_t err_size);

#endif
