/* server.c -- POOLALLOC_HTTP: one thread that serves live profiles and
 * statistics, the way Go's net/http/pprof does, to pprof, Prometheus,
 * Parca and Pyroscope.
 *
 * The thread is started by a constructor, outside malloc, and allocates
 * nothing: requests land in fixed buffers, and each answer is rendered whole
 * into a memfd (under the profile lock for a profile, briefly: allocating
 * threads never wait for it) and then sent from there with sendfile as the
 * client takes it. One poll loop serves every client, so a slow client
 * holds its own slot and memfd and nothing else. Bounds, so that no client
 * can stall the program or grow its memory: MAX_CLIENTS connections (more
 * are answered 503 and closed), a request head of PA_HTTP_MAX_HEAD bytes in
 * PA_HTTP_MAX_HEADERS lines that must arrive within HEAD_TIMEOUT, an answer
 * that must keep being taken (SEND_TIMEOUT without a byte, SEND_LIMIT in
 * all), MAX_HELD bytes of answers held,
 * MAX_WAITING difference requests (?seconds=N, N <= MAX_SECONDS) at once;
 * bound to loopback, a Host that names loopback. Only GET and HEAD, POST of at
 * most MAX_BODY bytes to /debug/pprof/symbol (pprof asks it to name the
 * addresses it could not name from the files: dladdr's names), and POST
 * /debug/poolalloc/sampling?on=1|0, the sampling switch; one request per
 * connection. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http.h"
#include "out.h"
#include "request.h"

#define MAX_CLIENTS 16
#define MAX_BODY (64 << 10)               /* of a POST to /debug/pprof/symbol */
#define MAX_WAITING 4
#define MAX_SECONDS 300
#define MAX_HELD ((off_t)64 << 20)       /* bytes of answers held at once */
#define HEAD_TIMEOUT (5 * 1000000000ull)
#define SEND_TIMEOUT (30 * 1000000000ull)   /* without taking a byte */
#define SEND_LIMIT (600 * 1000000000ull)    /* for the whole answer */
#define ACCEPT_PAUSE (100 * 1000000ull)   /* out of fds: the listener rests */

typedef enum { FREE, READING, WAITING, SENDING } state_t;

typedef struct {
    int fd;
    state_t state;
    uint64_t deadline;                    /* of the state: closed when passed */
    uint64_t send_by;                     /* SENDING: the whole answer taken by then */
    size_t len;
    char in[PA_HTTP_MAX_HEAD + MAX_BODY];
    char head[1024];                      /* the status line and headers (and an error's text) */
    size_t head_len, head_sent;
    int body;                             /* a memfd, or -1 */
    off_t body_sent, body_len, body_size; /* body_size: what the memfd holds (counted in held) */
    pa_http_snapshot_t *base;             /* WAITING: the profile N seconds ago */
    uint64_t window_ns;
    bool allocs;                          /* WAITING: for /allocs (its default type) */
} client_t;

static client_t clients[MAX_CLIENTS];
static int listener = -1;
static pa_file_id_t listener_id;         /* the program may close it and reuse the number */
static bool loopback;                     /* bound to 127.0.0.0/8 or ::1: Host must name it (DNS rebinding) */
static char where[300];                   /* the address, as said at start */
static char unix_path[108];               /* a unix socket to remove at exit, "" if none */
static off_t held;                        /* bytes of answers in memfds now */

/* ---- the address ---------------------------------------------------------- */

/* POOLALLOC_HTTP: PORT or :PORT (loopback), HOST:PORT (an IPv4 address or
 * localhost), [IPv6]:PORT, unix:PATH. */
static bool parse_address(const char *s, struct sockaddr_storage *sa, socklen_t *len)
{
    memset(sa, 0, sizeof *sa);
    if (!strcasecmp(s, "on") || !strcasecmp(s, "yes") || !strcasecmp(s, "true")) s = "6060";   /* Go's habit */
    if (!strncmp(s, "unix:", 5)) {
        struct sockaddr_un *u = (struct sockaddr_un *)sa;
        size_t n = strlen(s + 5);
        if (!n || n >= sizeof u->sun_path) return false;
        u->sun_family = AF_UNIX;
        memcpy(u->sun_path, s + 5, n + 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return true;
    }
    const char *colon = strrchr(s, ':'), *port = colon ? colon + 1 : s;
    char *end;
    if (!*port || *port < '0' || *port > '9') return false;
    unsigned long p = strtoul(port, &end, 10);
    if (*end || p > 65535) return false;
    char host[64] = "127.0.0.1";
    if (colon && colon > s) {
        size_t n = (size_t)(colon - s);
        if (n >= sizeof host) return false;
        memcpy(host, s, n), host[n] = 0;
    }
    if (!strcmp(host, "localhost")) strcpy(host, "127.0.0.1");
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET, v4->sin_port = htons((uint16_t)p);
        *len = sizeof *v4;
        return true;
    }
    size_t n = strlen(host);
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = 0;
        if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6, v6->sin6_port = htons((uint16_t)p);
            *len = sizeof *v6;
            return true;
        }
    }
    return false;
}

static int open_listener(const char *spec)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (!parse_address(spec, &sa, &len)) {
        pa_message("POOLALLOC_HTTP=%s is not an address (PORT, HOST:PORT, [IPV6]:PORT or unix:PATH); no server", spec);
        return -1;
    }
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    int one = 1;
    if (sa.ss_family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int bound;
    if (sa.ss_family == AF_UNIX) {
        /* a socket left by an earlier run is replaced; a live one (someone
         * answers on it) is not. Created owner-only (umask, before bind:
         * there is no moment it is open to others). */
        const char *path = ((struct sockaddr_un *)&sa)->sun_path;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, len) && errno == ECONNREFUSED) unlink(path);
            if (probe >= 0) close(probe);
        }
        mode_t old = umask(0177);
        bound = bind(fd, (struct sockaddr *)&sa, len);
        umask(old);
        if (!bound) snprintf(unix_path, sizeof unix_path, "%s", path);
    } else {
        bound = bind(fd, (struct sockaddr *)&sa, len);
    }
    if (bound || listen(fd, 64)) goto fail;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 512);   /* out of the way of a program that reuses low numbers */
    if (high >= 0) close(fd), fd = high;
    pa_file_id(fd, &listener_id);
    if (sa.ss_family == AF_UNIX) {
        snprintf(where, sizeof where, "%s", spec);
    } else {
        struct sockaddr_storage got;
        socklen_t gl = sizeof got;
        char ip[INET6_ADDRSTRLEN] = "?";
        getsockname(fd, (struct sockaddr *)&got, &gl);
        if (got.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&got;
            loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
            snprintf(where, sizeof where, "http://%s:%u", ip, ntohs(a->sin_port));
        } else {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&got;
            loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
            snprintf(where, sizeof where, "http://[%s]:%u", ip, ntohs(a->sin6_port));
        }
    }
    return fd;
fail:
    pa_message("POOLALLOC_HTTP=%s: %s; no server", spec, strerror(errno));   /* at start: strerror may allocate */
    if (fd >= 0) close(fd);
    return -1;
}

/* ---- answers -------------------------------------------------------------- */

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

/* A slot's fields but its buffers: those are touched only as far as a
 * request fills them, so an idle server costs no resident memory. */
static void reset(client_t *c, int fd, state_t state, uint64_t deadline)
{
    c->fd = fd, c->state = state, c->deadline = deadline;
    c->len = c->head_len = c->head_sent = 0;
    c->body = -1, c->body_sent = c->body_len = c->body_size = 0;
    c->base = NULL, c->window_ns = 0, c->allocs = false;
}

static void close_client(client_t *c)
{
    if (c->fd >= 0) close(c->fd);
    if (c->body >= 0) close(c->body);
    held -= c->body_size;
    pa_http_snapshot_free(c->base);
    reset(c, -1, FREE, 0);
}

/* The answer is the memfd body (or none) after this head. */
static void respond(client_t *c, int status, const char *type, const char *extra, int body, bool head_only)
{
    off_t n = body >= 0 ? lseek(body, 0, SEEK_END) : 0;
    c->head_len = (size_t)snprintf(c->head, sizeof c->head,
                                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %lld\r\n"
                                   "Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s\r\n",
                                   status, reason_of(status), type, (long long)n, extra ? extra : "");
    if (c->head_len >= sizeof c->head) c->head_len = sizeof c->head - 1;
    c->head_sent = 0;
    c->body = body;
    c->body_sent = 0;
    c->body_len = head_only ? 0 : n;
    c->body_size = 0;
    if (head_only && body >= 0) close(body), c->body = -1;
    if (c->body >= 0) c->body_size = n, held += n;
    c->state = SENDING;
    uint64_t now = pa_clock_ns();
    c->deadline = now + SEND_TIMEOUT, c->send_by = now + SEND_LIMIT;
}

/* A client that takes bytes keeps its answer going, up to SEND_LIMIT. */
static void progressed(client_t *c)
{
    uint64_t idle = pa_clock_ns() + SEND_TIMEOUT;
    c->deadline = idle < c->send_by ? idle : c->send_by;
}

/* A short text answer, its text in the head buffer. */
static void respond_text(client_t *c, int status, const char *text, const char *extra)
{
    respond(c, status, "text/plain; charset=utf-8", extra, -1, false);
    size_t n = strlen(text);
    /* rewrite with the length of the text, then the text itself */
    c->head_len = (size_t)snprintf(c->head, sizeof c->head,
                                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                                   "Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s\r\n%s\n",
                                   status, reason_of(status), n + 1, extra ? extra : "", text);
    if (c->head_len >= sizeof c->head) c->head_len = sizeof c->head - 1;
}

static int new_body(void) { return memfd_create("poolalloc-http", MFD_CLOEXEC); }

/* strerror may allocate (an unknown number, another locale): not here */
static const char *errno_text(int err)
{
    switch (err) {
    case ENOMEM: return "out of memory";
    case ENOSPC: return "no space for the answer";
    case EMFILE: case ENFILE: return "out of file descriptors";
    case EFBIG: return "the profile has too many distinct frames to index";
    default: return "cannot render the answer";
    }
}

/* Answers 503 when the answers held would pass MAX_HELD. */
static bool too_much_held(client_t *c)
{
    if (held < MAX_HELD) return false;
    respond_text(c, 503, "busy: too many answers being taken at once", "Retry-After: 5\r\n");
    return true;
}

/* Renders with fn into a memfd and answers it; 500 on failure. */
static void respond_with(client_t *c, int (*fn)(int), const char *type, const char *extra, bool head_only)
{
    if (too_much_held(c)) return;
    int body = new_body();
    int err = body < 0 ? errno : fn(body);
    if (err) {
        if (body >= 0) close(body);
        respond_text(c, 500, errno_text(err), NULL);
        return;
    }
    respond(c, 200, type, extra, body, head_only);
}

static int render_profile(int fd) { return pa_prof_write_fd(fd, "http", 0) ? errno : 0; }

static const char index_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>poolalloc: live profiles</title></head><body>\n"
    "<h1>poolalloc: live profiles</h1>\n<ul>\n"
    "<li><a href=\"/debug/pprof/heap\">/debug/pprof/heap</a>: the sampled heap, profile.proto "
    "(go tool pprof; inuse_space first)</li>\n"
    "<li><a href=\"/debug/pprof/allocs\">/debug/pprof/allocs</a>: the same, alloc_space first; "
    "?seconds=N: what was allocated in the next N seconds</li>\n"
    "<li><a href=\"/debug/poolalloc/profile\">/debug/poolalloc/profile</a>: poolalloc's own profile text "
    "(poolalloc-prof reads it: fates, peak, memory over time)</li>\n"
    "<li><a href=\"/debug/poolalloc/stats\">/debug/poolalloc/stats</a>: the statistics, JSON</li>\n"
    "<li><a href=\"/metrics\">/metrics</a>: the statistics for Prometheus</li>\n"
    "<li><a href=\"/debug/poolalloc/sampling\">/debug/poolalloc/sampling</a>: whether allocations are sampled; "
    "POST ?on=1 or ?on=0 switches</li>\n"
    "</ul>\n</body></html>\n";

static int render_index(int fd) { return write(fd, index_page, sizeof index_page - 1) == sizeof index_page - 1 ? 0 : errno; }

/* pprof's symbolz: POST "0xADDR+0xADDR..." answers "0xADDR name" per address
 * that falls in a symbol the loaded files export. */
static const char *symbol_query;
static size_t symbol_query_len;
static pa_out_t symbol_out;

static int render_symbols(int fd)
{
    pa_out_open(&symbol_out, fd);
    const char *p = symbol_query, *end = p + symbol_query_len;
    while (p < end) {
        char *stop;
        char num[24];
        size_t n = 0;
        while (p < end && (*p == '+' || *p == ' ' || *p == '\n' || *p == '\r')) p++;
        while (p < end && n + 1 < sizeof num && *p != '+' && *p != ' ' && *p != '\n' && *p != '\r') num[n++] = *p++;
        while (p < end && *p != '+' && *p != ' ' && *p != '\n' && *p != '\r') p++;   /* an overlong token */
        num[n] = 0;
        unsigned long long a = strtoull(num, &stop, 16);
        Dl_info info;
        if (!n || *stop || !a || !dladdr((void *)(uintptr_t)a, &info) || !info.dli_sname) continue;
        pa_out_put(&symbol_out, "%#llx %s\n", a, info.dli_sname);
    }
    return pa_out_flush(&symbol_out);
}

static int render_symbol_count(int fd) { return write(fd, "num_symbols: 1\n", 15) == 15 ? 0 : errno; }

static bool profiling_off(client_t *c)
{
    if (pa_prof_on) return false;
    respond_text(c, 503, "profiling is off in this process (POOLALLOC_PROFILE_PID names another)", NULL);
    return true;
}

static void answer_pprof(client_t *c, const pa_http_snapshot_t *base, bool allocs, uint64_t window_ns)
{
    if (too_much_held(c)) return;
    int body = new_body();
    int err = body < 0 ? errno : pa_http_pprof(body, base, allocs ? "alloc_space" : NULL, window_ns);
    if (err) {
        if (body >= 0) close(body);
        respond_text(c, err == EFBIG ? 503 : 500, errno_text(err), NULL);
        return;
    }
    respond(c, 200, "application/octet-stream", allocs ? "Content-Disposition: attachment; filename=\"allocs\"\r\n"
                                                        : "Content-Disposition: attachment; filename=\"heap\"\r\n",
            body, false);
}

static size_t waiting(void)
{
    size_t n = 0;
    for (int i = 0; i < MAX_CLIENTS; i++) n += clients[i].state == WAITING;
    return n;
}

static bool takes_body(const pa_http_request_t *r)
{
    return r->method == PA_HTTP_POST && !strcmp(r->path, "/debug/pprof/symbol");
}

static int render_sampling(int fd)
{
    pa_out_open(&symbol_out, fd);
    pa_out_put(&symbol_out, "sampling %s\n", atomic_load(&pa_prof_sampling) ? "on" : "off");
    return pa_out_flush(&symbol_out);
}

/* POST /debug/poolalloc/sampling?on=1 (or 0): the switch. A browser's
 * cross-site request carries Origin, and is refused: a web page must not
 * turn profiling on in a service on the same machine. */
static void switch_sampling(client_t *c, const pa_http_request_t *r)
{
    char v[8];
    if (r->has_origin) {
        respond_text(c, 403, "a request from a web page (Origin) cannot switch sampling", NULL);
        return;
    }
    if (r->content_length > 0 || r->chunked) {
        respond_text(c, 413, "no request bodies", NULL);
        return;
    }
    if (!pa_http_query_get(r->query, r->query_len, "on", v, sizeof v) || (strcmp(v, "1") && strcmp(v, "0"))) {
        respond_text(c, 400, "?on=1 or ?on=0", NULL);
        return;
    }
    pa_prof_switch(v[0] == '1');
    respond_with(c, render_sampling, "text/plain; charset=utf-8", NULL, false);
}

/* Bound to loopback, the Host must name loopback (or be absent, HTTP/1.0):
 * a web page whose name was made to resolve to 127.0.0.1 (DNS rebinding)
 * sends its own name and is refused. */
static bool host_ok(const pa_http_request_t *r)
{
    if (!loopback || !r->host) return true;
    char h[64];
    size_t n = r->host_len;
    if (n >= sizeof h) return false;
    memcpy(h, r->host, n), h[n] = 0;
    char *end = h[0] == '[' ? strchr(h, ']') : strrchr(h, ':');
    if (h[0] == '[') {
        if (!end || (end[1] && end[1] != ':')) return false;
        *end = 0;
        struct in6_addr a6;
        return inet_pton(AF_INET6, h + 1, &a6) == 1;
    }
    if (end) *end = 0;
    struct in_addr a4;
    return !strcasecmp(h, "localhost") || inet_pton(AF_INET, h, &a4) == 1;
}

static void route(client_t *c, const pa_http_request_t *r)
{
    const char *p = r->path;
    if (!host_ok(r)) {
        respond_text(c, 403, "bound to loopback: the Host must be localhost or an address", NULL);
        return;
    }
    if (r->method == PA_HTTP_POST && !strcmp(p, "/debug/poolalloc/sampling")) {
        switch_sampling(c, r);
        return;
    }
    if (takes_body(r)) {
        symbol_query = c->in + r->head_len;
        symbol_query_len = r->content_length > 0 ? (size_t)r->content_length : 0;
        respond_with(c, render_symbols, "text/plain; charset=utf-8", NULL, false);
        return;
    }
    if (r->method != PA_HTTP_GET && r->method != PA_HTTP_HEAD) {
        respond_text(c, 405, "only GET and HEAD (POST: /debug/pprof/symbol, /debug/poolalloc/sampling)",
                     "Allow: GET, HEAD\r\n");
        return;
    }
    if (r->chunked || r->content_length > 0) {
        respond_text(c, 413, "no request bodies", NULL);
        return;
    }
    bool head = r->method == PA_HTTP_HEAD;
    if (!strcmp(p, "/debug/pprof/symbol")) {
        respond_with(c, render_symbol_count, "text/plain; charset=utf-8", NULL, head);
    } else if (!strcmp(p, "/debug/poolalloc/sampling")) {
        respond_with(c, render_sampling, "text/plain; charset=utf-8", NULL, head);
    } else if (!strcmp(p, "/") || !strcmp(p, "/debug/pprof") || !strcmp(p, "/debug/pprof/")) {
        respond_with(c, render_index, "text/html; charset=utf-8", NULL, head);
    } else if (!strcmp(p, "/metrics")) {
        respond_with(c, pa_http_metrics, "text/plain; version=0.0.4; charset=utf-8", NULL, head);
    } else if (!strcmp(p, "/debug/poolalloc/stats")) {
        respond_with(c, pa_http_stats_json, "application/json", NULL, head);
    } else if (!strcmp(p, "/debug/poolalloc/profile")) {
        if (!profiling_off(c)) respond_with(c, render_profile, "text/plain; charset=utf-8", NULL, head);
    } else if (!strcmp(p, "/debug/pprof/heap") || !strcmp(p, "/debug/pprof/allocs")) {
        if (profiling_off(c)) return;
        bool allocs = !strcmp(p, "/debug/pprof/allocs");
        char v[32];
        if (pa_http_query_get(r->query, r->query_len, "debug", v, sizeof v) && strcmp(v, "0")) {
            respond_text(c, 400, "debug=N (Go's text format) is not served: /debug/poolalloc/profile is the text", NULL);
            return;
        }
        if (!pa_http_query_get(r->query, r->query_len, "seconds", v, sizeof v) || head) {
            if (head) respond(c, 200, "application/octet-stream", NULL, -1, true);
            else answer_pprof(c, NULL, allocs, 0);
            return;
        }
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*end || !*v || n == 0 || n > MAX_SECONDS) {
            respond_text(c, 400, "seconds=N wants 1 to 300", NULL);
            return;
        }
        if (waiting() >= MAX_WAITING) {
            respond_text(c, 503, "too many ?seconds requests at once", "Retry-After: 5\r\n");
            return;
        }
        c->base = pa_http_snapshot_take();
        if (!c->base) {
            respond_text(c, 500, "out of memory", NULL);
            return;
        }
        c->state = WAITING;
        c->allocs = allocs;
        c->window_ns = n * 1000000000ull;
        c->deadline = pa_clock_ns() + c->window_ns;
    } else {
        respond_text(c, 404, "not found: /debug/pprof/ lists what is served", NULL);
    }
}

/* ---- the loop ------------------------------------------------------------- */

static void on_readable(client_t *c)
{
    bool ended = false;                   /* the client sent all it will (EOF, or an error) */
    for (;;) {
        if (c->len == sizeof c->in) break;
        ssize_t n = read(c->fd, c->in + c->len, sizeof c->in - c->len);
        if (n > 0) { c->len += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) ended = true;
        break;
    }
    pa_http_request_t r;
    const char *why;
    int rc = pa_http_parse(c->in, c->len, &r, &why);
    if (rc == PA_HTTP_INCOMPLETE && ended) { close_client(c); return; }   /* half a request, no more to come */
    if (rc == PA_HTTP_INCOMPLETE) return;
    if (rc == PA_HTTP_OK && takes_body(&r)) {
        if (r.chunked || r.content_length < 0) rc = 411, why = "a Content-Length is required";
        else if (r.content_length > MAX_BODY) rc = 413, why = "at most 64 KiB of addresses";
        else if (c->len < r.head_len + (size_t)r.content_length) {       /* the rest of the body */
            if (ended) close_client(c);
            return;
        }
    }
    shutdown(c->fd, SHUT_RD);             /* one request: what follows is not read */
    if (rc == PA_HTTP_OK) route(c, &r);
    else respond_text(c, rc, why, NULL);
}

static void on_writable(client_t *c)
{
    while (c->head_sent < c->head_len) {
        ssize_t n = send(c->fd, c->head + c->head_sent, c->head_len - c->head_sent, MSG_NOSIGNAL);
        if (n > 0) { c->head_sent += (size_t)n; progressed(c); continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        close_client(c);
        return;
    }
    while (c->body >= 0 && c->body_sent < c->body_len) {
        ssize_t n = sendfile(c->fd, c->body, &c->body_sent, (size_t)(c->body_len - c->body_sent));
        if (n > 0) { progressed(c); continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        close_client(c);
        return;
    }
    close_client(c);                      /* all sent */
}

static uint64_t accept_paused_until;

/* The listening socket is still ours: a program that closes every fd (a
 * daemon's start) may have closed it, and its number may name the
 * program's own socket or file now. */
static bool listener_ours(void) { return pa_file_is(listener, &listener_id); }

static void lose_listener(void)
{
    pa_message("POOLALLOC_HTTP: the program closed the server's socket; no more answers");
    listener = -1;
}

static void accept_clients(void)
{
    for (int k = 0; k < MAX_CLIENTS; k++) {   /* a flood of connections does not keep us here */
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) accept_paused_until = pa_clock_ns() + ACCEPT_PAUSE;
            return;
        }
        client_t *c = NULL;
        for (int i = 0; i < MAX_CLIENTS && !c; i++)
            if (clients[i].state == FREE) c = &clients[i];
        if (!c) {
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
                                       "Retry-After: 1\r\n\r\n";
            ssize_t n = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n;
            close(fd);
            continue;
        }
        reset(c, fd, READING, pa_clock_ns() + HEAD_TIMEOUT);
    }
}

static void *serve(void *arg)
{
    (void)arg;
    pa_tl_prof_busy++;                        /* nothing of ours is the program's */
    for (int i = 0; i < MAX_CLIENTS; i++) reset(&clients[i], -1, FREE, 0);
    struct pollfd pf[MAX_CLIENTS + 1];
    int who[MAX_CLIENTS + 1];
    for (;;) {
        uint64_t now = pa_clock_ns(), next = now + 1000000000ull;
        if (listener >= 0 && !listener_ours()) lose_listener();
        int n = 0;
        bool resting = now < accept_paused_until;
        if (resting && accept_paused_until < next) next = accept_paused_until;
        /* a negative fd is ignored by poll: no listener, or resting */
        pf[n++] = (struct pollfd){ .fd = listener >= 0 && !resting ? listener : -1, .events = POLLIN };
        for (int i = 0; i < MAX_CLIENTS; i++) {
            client_t *c = &clients[i];
            if (c->state == FREE) continue;
            if (c->deadline < next) next = c->deadline;
            if (c->state == WAITING) continue;
            who[n] = i;
            pf[n++] = (struct pollfd){ .fd = c->fd, .events = c->state == READING ? POLLIN : POLLOUT };
        }
        int timeout = next > now ? (int)((next - now) / 1000000 + 1) : 0;
        if (poll(pf, (nfds_t)n, timeout) < 0 && errno != EINTR) continue;
        for (int k = 1; k < n; k++) {
            client_t *c = &clients[who[k]];
            if (!pf[k].revents || c->state == FREE) continue;
            if (pf[k].revents & POLLNVAL) {   /* the program closed it: the number is not ours to close */
                c->fd = -1;
                close_client(c);
                continue;
            }
            if (c->state == READING) on_readable(c);
            if (c->state == SENDING && (pf[k].revents & (POLLOUT | POLLERR | POLLHUP))) on_writable(c);
        }
        if (pf[0].revents & POLLIN) accept_clients();
        if (pf[0].revents & POLLNVAL) lose_listener();
        now = pa_clock_ns();
        for (int i = 0; i < MAX_CLIENTS; i++) {
            client_t *c = &clients[i];
            if (c->state == FREE || now < c->deadline) continue;
            if (c->state == WAITING) {        /* the window is over: the difference */
                pa_http_snapshot_t *base = c->base;
                answer_pprof(c, base, c->allocs, c->window_ns);
                c->base = NULL;
                pa_http_snapshot_free(base);
            } else {
                close_client(c);              /* too slow a client */
            }
        }
    }
    return NULL;
}

__attribute__((destructor(101))) static void http_stop(void)
{
    if (unix_path[0]) unlink(unix_path);
}

__attribute__((constructor(103))) static void http_start(void)
{
    pa_process_init();
    if (!pa_http_serves() || !pa_prof_on) return;
    /* the programs this one runs inherit POOLALLOC_HTTP: they would take
     * the port or the socket (or fail on it); this names the one that serves */
    char pid[24];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("POOLALLOC_HTTP_PID", pid, 1);
    listener = open_listener(pa_options.http);
    if (listener < 0) return;
    int err = pa_thread_start(serve, "poolalloc-http");
    if (err) {
        pa_message("POOLALLOC_HTTP: cannot start the server thread: %s; no server", strerror(err));
        close(listener);
        listener = -1;
        return;
    }
    pa_message("serving live profiles on %s (GET /debug/pprof/ lists them)", where);
}

/* The server thread did not survive the fork: the child lets go of the
 * listening socket. The parent's clients are left as they are (their fds
 * are close-on-exec copies; the thread that owned them may have been
 * between two steps at the fork), and so is a unix socket's path. */
void pa_http_fork_child(void)
{
    int fd = listener;
    listener = -1;
    unix_path[0] = 0;
    if (fd >= 0) close(fd);
}
