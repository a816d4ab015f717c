/* request.h -- an HTTP/1.x request head, parsed from what arrived so far.
 *
 * Pure: no allocation, no I/O, no global state, so it is fuzzed on its own
 * (tests/http/fuzz_request.c). The server reads into a fixed buffer and
 * calls pa_http_parse after every read until it says more than "incomplete". */
#ifndef PA_HTTP_REQUEST_H
#define PA_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#define PA_HTTP_MAX_HEAD 8192      /* bytes of request line and headers */
#define PA_HTTP_MAX_HEADERS 32     /* header lines */
#define PA_HTTP_MAX_PATH 256       /* bytes of the path, without the query */
#define PA_HTTP_MAX_LENGTH (1ll << 40) /* a larger Content-Length is refused (413) */

typedef enum pa_http_method { PA_HTTP_GET, PA_HTTP_HEAD, PA_HTTP_POST, PA_HTTP_OTHER } pa_http_method_t;

typedef struct pa_http_request {
    pa_http_method_t method;
    char path[PA_HTTP_MAX_PATH];   /* percent-decoded, NUL-terminated, begins with '/' */
    const char *query;             /* in the caller's buffer after the '?', not decoded; NULL if none */
    size_t query_len;
    size_t head_len;               /* bytes of the head, its blank line included */
    long long content_length;      /* -1 if not given; at most PA_HTTP_MAX_LENGTH */
    bool chunked;                  /* Transfer-Encoding given: a body of unknown length */
    bool has_origin;               /* an Origin header: sent by a browser for a web page */
    const char *host;              /* the Host value in the caller's buffer, trimmed; NULL if none */
    size_t host_len;
} pa_http_request_t;

/* The outcome of parsing: PA_HTTP_INCOMPLETE (read more), PA_HTTP_OK (r is
 * filled in), or an HTTP status for a request to refuse (400, 413, 414,
 * 431, 505), with a reason in *why. */
enum { PA_HTTP_INCOMPLETE = 0, PA_HTTP_OK = 1 };
int pa_http_parse(const char *buf, size_t len, pa_http_request_t *r, const char **why);

/* The value of name in a query string ("seconds=5&debug=1"), decoded into
 * out (NUL-terminated); false if absent or longer than cap - 1. */
bool pa_http_query_get(const char *query, size_t len, const char *name, char *out, size_t cap);

#endif
