/* out.h -- formatted output into a file descriptor through a fixed buffer:
 * no allocation, so profiles and the HTTP server's answers can be written
 * from anywhere, malloc's slow path included. One writer per out_t. */
#ifndef PA_OUT_H
#define PA_OUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct pa_out {
    int fd, err;                 /* err: the first write's errno, 0 if none */
    size_t len;
    char buf[1 << 16];
} pa_out_t;

static inline void pa_out_open(pa_out_t *o, int fd) { o->fd = fd, o->err = 0, o->len = 0; }
/* Appends printf-style; a line is never split across a write. */
void pa_out_put(pa_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3), visibility("hidden")));
/* Appends n bytes. */
void pa_out_bytes(pa_out_t *o, const void *p, size_t n) __attribute__((visibility("hidden")));
/* Writes what is buffered; returns o->err. */
int pa_out_flush(pa_out_t *o) __attribute__((visibility("hidden")));

#endif
