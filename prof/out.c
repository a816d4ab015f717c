/* out.c -- buffered output to a file descriptor, formatted with
 * vsnprintf into a fixed buffer (out.h). */
#include "out.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int pa_out_flush(pa_out_t *o)
{
    for (size_t done = 0; done < o->len && !o->err;) {
        ssize_t n = write(o->fd, o->buf + done, o->len - done);
        if (n > 0) done += (size_t)n;
        else if (n < 0 && errno != EINTR) o->err = errno;
        else if (n == 0) o->err = EIO;
    }
    o->len = 0;
    return o->err;
}

/* A line that does not fit is formatted again after a flush (no line is
 * longer than the buffer: paths are below 4 KiB). */
void pa_out_put(pa_out_t *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < sizeof o->buf - o->len || o->len == 0) {
            o->len += (size_t)n < sizeof o->buf - o->len ? (size_t)n : sizeof o->buf - o->len - 1;
            return;
        }
        pa_out_flush(o);
    }
}

void pa_out_bytes(pa_out_t *o, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        if (o->len == sizeof o->buf) pa_out_flush(o);
        size_t k = sizeof o->buf - o->len < n ? sizeof o->buf - o->len : n;
        memcpy(o->buf + o->len, s, k);
        o->len += k, s += k, n -= k;
    }
}
