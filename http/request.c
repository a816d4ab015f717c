/* request.c -- parses an HTTP/1.x request head (RFC 9112, the part a
 * read-only diagnostics server needs): the request line, header lines
 * counted and checked for shape, Content-Length and Transfer-Encoding noted
 * so a body can be refused. Lines end in CRLF or a bare LF. Every limit is a
 * refusal, never a truncation. */
#include "request.h"

#include <string.h>

static bool token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool same_name(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n) return false;
    for (size_t i = 0; i < n; i++) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
        if (x != b[i]) return false;
    }
    return true;
}

/* The end of the line starting at p (its '\n'), or NULL before end. */
static const char *line_end(const char *p, const char *end) { return memchr(p, '\n', (size_t)(end - p)); }

/* p..e without a trailing '\r' */
static const char *trim_cr(const char *p, const char *e) { return e > p && e[-1] == '\r' ? e - 1 : e; }

static int fail(const char **why, int status, const char *reason)
{
    *why = reason;
    return status;
}

/* "GET /path?query HTTP/1.1" */
static int request_line(const char *p, const char *e, pa_http_request_t *r, const char **why)
{
    const char *sp = memchr(p, ' ', (size_t)(e - p));
    if (!sp || sp == p) return fail(why, 400, "no method");
    for (const char *q = p; q < sp; q++)
        if (!token_char(*q)) return fail(why, 400, "a method is a token");
    size_t m = (size_t)(sp - p);
    r->method = m == 3 && !memcmp(p, "GET", 3)    ? PA_HTTP_GET
              : m == 4 && !memcmp(p, "HEAD", 4)   ? PA_HTTP_HEAD
              : m == 4 && !memcmp(p, "POST", 4)   ? PA_HTTP_POST
                                                  : PA_HTTP_OTHER;
    const char *t = sp + 1, *te = memchr(t, ' ', (size_t)(e - t));
    if (!te || te == t) return fail(why, 400, "no request target");
    if (*t != '/') return fail(why, 400, "the target is not a path");
    for (const char *q = t; q < te; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) return fail(why, 400, "a control or non-ASCII byte in the target");
    const char *v = te + 1;
    if (e - v != 8 || memcmp(v, "HTTP/1.", 7)) {
        if (e - v >= 5 && !memcmp(v, "HTTP/", 5)) return fail(why, 505, "only HTTP/1.0 and HTTP/1.1");
        return fail(why, 400, "no HTTP version");
    }
    if (v[7] != '0' && v[7] != '1') return fail(why, 505, "only HTTP/1.0 and HTTP/1.1");
    const char *qm = memchr(t, '?', (size_t)(te - t)), *pe = qm ? qm : te;
    size_t n = 0;
    for (const char *q = t; q < pe; q++) {
        char c = *q;
        if (c == '%') {
            if (pe - q < 3 || hex(q[1]) < 0 || hex(q[2]) < 0) return fail(why, 400, "a bad %-escape in the path");
            c = (char)(hex(q[1]) * 16 + hex(q[2]));
            if (!c) return fail(why, 400, "%00 in the path");
            q += 2;
        }
        if (n + 1 >= sizeof r->path) return fail(why, 414, "the path is too long");
        r->path[n++] = c;
    }
    r->path[n] = 0;
    r->query = qm ? qm + 1 : NULL;
    r->query_len = qm ? (size_t)(te - qm - 1) : 0;
    return PA_HTTP_OK;
}

int pa_http_parse(const char *buf, size_t len, pa_http_request_t *r, const char **why)
{
    *why = "";
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    const char *end = buf + (len < PA_HTTP_MAX_HEAD ? len : PA_HTTP_MAX_HEAD);
    const char *p = buf;
    while (p < end && (*p == '\r' || *p == '\n')) p++;     /* empty lines before the request are allowed */
    const char *e = line_end(p, end);
    if (!e) return len >= PA_HTTP_MAX_HEAD ? fail(why, 414, "the request line is too long") : PA_HTTP_INCOMPLETE;
    int rc = request_line(p, trim_cr(p, e), r, why);
    if (rc != PA_HTTP_OK) return rc;
    int headers = 0;
    for (p = e + 1;;) {
        e = line_end(p, end);
        if (!e) return len >= PA_HTTP_MAX_HEAD ? fail(why, 431, "the request head is too large") : PA_HTTP_INCOMPLETE;
        const char *le = trim_cr(p, e);
        if (le == p) break;                                /* the blank line: the head is complete */
        if (++headers > PA_HTTP_MAX_HEADERS) return fail(why, 431, "too many header lines");
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (!colon || colon == p) return fail(why, 400, "a header line without a name");
        for (const char *q = p; q < colon; q++)
            if (!token_char(*q)) return fail(why, 400, "a header name is a token");
        const char *val = colon + 1;
        while (val < le && (*val == ' ' || *val == '\t')) val++;
        for (const char *q = val; q < le; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t') return fail(why, 400, "a control byte in a header value");
        size_t nl = (size_t)(colon - p);
        if (same_name(p, nl, "content-length")) {
            const char *ve = le;
            while (ve > val && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            if (val == ve) return fail(why, 400, "an empty Content-Length");
            if (r->content_length >= 0) return fail(why, 400, "Content-Length given twice");
            long long n = 0;
            for (const char *q = val; q < ve; q++) {
                if (*q < '0' || *q > '9') return fail(why, 400, "a bad Content-Length");
                n = n * 10 + (*q - '0');
                if (n > PA_HTTP_MAX_LENGTH) return fail(why, 413, "the body is too large");
            }
            r->content_length = n;
        } else if (same_name(p, nl, "transfer-encoding")) {
            r->chunked = true;
        } else if (same_name(p, nl, "origin")) {
            r->has_origin = true;
        } else if (same_name(p, nl, "host")) {
            if (r->host) return fail(why, 400, "Host given twice");
            const char *ve = le;
            while (ve > val && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            r->host = val, r->host_len = (size_t)(ve - val);
        }
        p = e + 1;
    }
    if (r->chunked && r->content_length >= 0) return fail(why, 400, "both Content-Length and Transfer-Encoding");
    r->head_len = (size_t)(e + 1 - buf);
    return PA_HTTP_OK;
}

bool pa_http_query_get(const char *query, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = query, *end = query ? query + len : NULL; p && p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq ? eq : pe;
        if ((size_t)(ke - p) == nl && !memcmp(p, name, nl)) {
            size_t n = 0;
            for (const char *q = eq ? eq + 1 : pe; q < pe; q++) {
                char c = *q == '+' ? ' ' : *q;
                if (c == '%' && pe - q >= 3 && hex(q[1]) >= 0 && hex(q[2]) >= 0) {
                    c = (char)(hex(q[1]) * 16 + hex(q[2]));
                    q += 2;
                }
                if (n + 1 >= cap) return false;
                out[n++] = c;
            }
            out[n] = 0;
            return true;
        }
        p = amp ? amp + 1 : end;
    }
    return false;
}
