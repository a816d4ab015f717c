/* html.h -- `poolalloc-prof html`: one self-contained page (no network,
 * works from file://) with memory over time, the flame graphs, the top
 * sites and the report. */
#ifndef PP_HTML_H
#define PP_HTML_H

#include <stdio.h>

#include "dump.h"

/* One flame graph of the page: its switch's label and the SVG text. */
typedef struct pp_html_flame {
    const char *id;       /* short, for the switch: "alloc", "inuse", ... */
    const char *label;    /* "Bytes allocated" */
    const char *svg;      /* as `poolalloc-prof svg` writes it */
} pp_html_flame_t;

typedef struct pp_html_page {
    const char *title;             /* "poolalloc profile of PROG" */
    const char *subtitle;          /* processes, duration, sample rate */
    const pp_dump_t *series;       /* the dump whose memory lines are charted, or NULL */
    const pp_html_flame_t *flames; /* in switch order; the first is shown */
    size_t nflames;
    const char *top;               /* `top` output */
    const char *report;            /* `report` output */
} pp_html_page_t;

/* Writes the page to out; 0, or -1 after an error message. */
int pp_html_write(FILE *out, const char *what, const pp_html_page_t *page);

#endif
