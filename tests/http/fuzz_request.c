/* fuzz_request.c -- the HTTP request parser (http/request.c) against any
 * bytes: it must never read outside the input, and what it accepts must
 * hold its promises (a path beginning with '/', within its bound and
 * without NUL; a head within the input; the query inside the input). Built
 * with libFuzzer (make build/http-test/fuzz_request; run it with
 * -dict=tests/http/fuzz.dict tests/http/fuzz-corpus) and, without it, by
 * fuzz_replay, which `make check` runs over the corpus under ASan+UBSan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly `size` bytes: ASan sees any read past the end */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    pa_http_request_t r;
    const char *why = NULL;
    int rc = pa_http_parse(buf, size, &r, &why);
    if (rc == PA_HTTP_OK) {
        size_t n = strnlen(r.path, sizeof r.path);
        if (n == 0 || n >= sizeof r.path || r.path[0] != '/') abort();
        if (r.head_len == 0 || r.head_len > size || r.head_len > PA_HTTP_MAX_HEAD) abort();
        if (r.query && (r.query < buf || r.query + r.query_len > buf + size)) abort();
        if (r.host && (r.host < buf || r.host + r.host_len > buf + r.head_len)) abort();
        if (r.method > PA_HTTP_OTHER) abort();
        if (r.content_length < -1 || r.content_length > PA_HTTP_MAX_LENGTH) abort();
        char v[64];
        static const char *const names[] = {"seconds", "gc", "", "debug"};
        for (size_t i = 0; i < 4; i++)
            if (pa_http_query_get(r.query, r.query_len, names[i], v, sizeof v) && strnlen(v, sizeof v) >= sizeof v)
                abort();
    } else if (rc == PA_HTTP_INCOMPLETE) {
        if (size >= PA_HTTP_MAX_HEAD) abort();             /* a full buffer always gets an answer */
    } else if (rc != 400 && rc != 413 && rc != 414 && rc != 431 && rc != 505) {
        abort();
    } else if (!why || !*why) {
        abort();
    }
    free(buf);
    return 0;
}
