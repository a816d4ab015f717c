/* http.h -- the live-profile server's parts (README.md of this folder).
 * Every answer is written into a file descriptor (a memfd the server then
 * sends from), without malloc: the server runs inside the allocator it
 * reports on. */
#ifndef PA_HTTP_H
#define PA_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "prof.h"

/* metrics.c: the statistics (pa_stats_get) as JSON, and in Prometheus's
 * text exposition format. Return 0 or an errno. */
PA_HIDDEN int pa_http_stats_json(int fd);
PA_HIDDEN int pa_http_metrics(int fd);

/* pprof.c: the heap profile as a gzipped profile.proto with Go's four
 * sample types (alloc_objects, alloc_space, inuse_objects, inuse_space).
 * A base (pa_http_snapshot) makes it the difference since the base. */
typedef struct pa_http_snapshot pa_http_snapshot_t;
PA_HIDDEN pa_http_snapshot_t *pa_http_snapshot_take(void);   /* NULL: out of memory */
PA_HIDDEN void pa_http_snapshot_free(pa_http_snapshot_t *s);
/* default_type: the sample type pprof shows first ("alloc_space"), or NULL
 * (pprof's default: the last, inuse_space); duration_ns: the window of a
 * difference, 0 if none. Returns 0 or an errno (EFBIG: more frames than
 * the server will index). */
PA_HIDDEN int pa_http_pprof(int fd, const pa_http_snapshot_t *base, const char *default_type, uint64_t duration_ns);

#endif
