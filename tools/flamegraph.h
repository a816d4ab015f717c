/* flamegraph.h -- folded stacks to a self-contained interactive SVG flame
 * graph (hover: name, weight, share; click: zoom; search: highlight), and
 * its differential form (colour by growth or shrinkage). */
#ifndef PP_FLAMEGRAPH_H
#define PP_FLAMEGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct pp_flame_stack {
    uint32_t nframes;
    const char *const *frames; /* root first; any bytes (escaped on output) */
    int64_t value;             /* the weight: the frame widths (>= 0) */
    int64_t base;              /* diff only: the weight in the base profile */
} pp_flame_stack_t;

typedef struct pp_flame_options {
    const char *title;         /* e.g. "Allocations (alloc_space)" */
    const char *subtitle;      /* e.g. program, dumps, sample rate; may be NULL */
    const char *unit;          /* "bytes" or "objects": how weights print */
    bool diff;                 /* colour each frame by value - base */
} pp_flame_options_t;

/* Writes the SVG to out; returns 0, or -1 after an error message when out
 * cannot be written. Stacks may repeat a path: their weights add. */
int pp_flame_svg(FILE *out, const pp_flame_stack_t *stacks, size_t n, const pp_flame_options_t *o);

#endif
