/* fetch.c -- one GET over plain HTTP/1.1, enough for a poolalloc server
 * (POOLALLOC_HTTP answers with Content-Length and closes). */
#include "fetch.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define TIMEOUT_S 30

bool pp_is_url(const char *path) { return strncmp(path, "http://", 7) == 0; }

static bool fail(char *err, size_t n, const char *url, const char *why)
{
    snprintf(err, n, "%s: %s", url, why);
    return false;
}

static int connect_to(const char *host, const char *port, char *why, size_t n)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *a;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        snprintf(why, n, "%s", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {TIMEOUT_S, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen)) {
            snprintf(why, n, "%s", strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* GETs url's path into body; false with why in err. */
static bool fetch(const char *url, pp_buf_t *body, char *err, size_t err_size)
{
    const char *h = url + 7, *slash = strchr(h, '/');
    const char *path = slash && slash[1] ? slash : "/debug/poolalloc/profile";
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    char host[256], port[16] = "80", why[256];
    if (!hl || hl >= sizeof host)
        return fail(err, err_size, url, "no host");
    memcpy(host, h, hl);
    host[hl] = 0;
    char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
    if (colon) {
        char *p = colon + (*colon == ']' ? 2 : 1);
        if (strlen(p) >= sizeof port)
            return fail(err, err_size, url, "a bad port");
        strcpy(port, p);
        *colon = host[0] == '[' ? ']' : 0;
        if (host[0] == '[') colon[1] = 0;
    }
    if (host[0] == '[') { /* [::1] */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    int fd = connect_to(host, port, why, sizeof why);
    if (fd < 0)
        return fail(err, err_size, url, why);
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: poolalloc-prof\r\nConnection: close\r\n\r\n",
                     path, host);
    if (n < 0 || (size_t)n >= sizeof req || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return fail(err, err_size, url, "cannot send the request");
    }
    pp_buf_t all = {0};
    char chunk[1 << 16];
    ssize_t r;
    while ((r = recv(fd, chunk, sizeof chunk, 0)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0)
            pp_buf_put(&all, chunk, (size_t)r);
    int saved = errno;
    close(fd);
    if (r < 0) {
        pp_buf_free(&all);
        return fail(err, err_size, url, saved == EAGAIN ? "no answer within 30 s" : strerror(saved));
    }
    const char *data = all.data ? all.data : "";
    const char *head_end = all.len ? memmem(data, all.len, "\r\n\r\n", 4) : NULL;
    int status = 0;
    if (!head_end || sscanf(data, "HTTP/1.%*d %d", &status) != 1) {
        pp_buf_free(&all);
        return fail(err, err_size, url, "not an HTTP answer");
    }
    const char *b = head_end + 4;
    size_t blen = all.len - (size_t)(b - data);
    if (status != 200) {
        snprintf(why, sizeof why, "the server answered %d: %.*s", status, (int)(blen > 120 ? 120 : blen), b);
        why[strcspn(why, "\n")] = 0;
        pp_buf_free(&all);
        return fail(err, err_size, url, why);
    }
    pp_buf_put(body, b, blen);
    pp_buf_free(&all);
    return true;
}

pp_dump_t *pp_dump_fetch(const char *url, char *err, size_t err_size)
{
    pp_buf_t b = {0};
    pp_dump_t *d = fetch(url, &b, err, err_size) ? pp_dump_parse(url, b.data ? b.data : "", b.len, err, err_size) : NULL;
    pp_buf_free(&b);
    return d;
}
