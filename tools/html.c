/* html.c -- the one-page report (html.h). Everything is inside the page: the
 * memory chart is inline SVG drawn here, each flame graph is the SVG that
 * `svg` writes, in an iframe of its own (a data: URL, so its script and ids
 * stay apart from the others'), and a few lines of script switch between
 * them. Numbers are those of `top` and `report`, which wrote the text. */
#include "html.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Text as HTML: & < > " escaped. */
static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void put_base64(FILE *f, const char *s)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        fputc(abc[v >> 18 & 63], f);
        fputc(abc[v >> 12 & 63], f);
        fputc(i + 1 < n ? abc[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? abc[v & 63] : '=', f);
    }
}

/* 12.3 MiB */
static const char *human(char *buf, size_t n, double v)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4)
        v /= 1024, u++;
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

enum { CW = 1000, CH = 260, PADL = 70, PADR = 20, PADT = 20, PADB = 30 };

/* The memory chart: live, resident and sampled in-use bytes over time, the
 * peak of the sampled heap marked, every point's values on hover. */
static void put_chart(FILE *f, const pp_dump_t *d)
{
    if (!d || d->nmemory < 1) {
        fputs("<p class=\"none\">These profiles have no memory over time (format version 3 writes it).</p>\n", f);
        return;
    }
    double tmax = d->memory[d->nmemory - 1].seconds, vmax = 1;
    for (size_t i = 0; i < d->nmemory; i++) {
        const pp_memory_point_t *m = &d->memory[i];
        double hi = (double)(m->resident > m->live ? m->resident : m->live);
        if ((double)m->sampled_inuse > hi)
            hi = (double)m->sampled_inuse;
        vmax = hi > vmax ? hi : vmax;
    }
    if (tmax <= 0)
        tmax = 1;
    double xs = (double)(CW - PADL - PADR) / tmax, ys = (double)(CH - PADT - PADB) / vmax;
#define X(t) (PADL + (t) * xs)
#define Y(v) (CH - PADB - (double)(v) * ys)
    fprintf(f, "<svg id=\"chart\" viewBox=\"0 0 %d %d\" width=\"100%%\" data-points=\"%zu\">\n", CW, CH, d->nmemory);
    char a[32], b[32];
    for (int k = 0; k <= 4; k++) { /* the grid, in bytes */
        double v = vmax * k / 4;
        fprintf(f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
                   "<text class=\"axis\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                PADL, CW - PADR, Y(v), Y(v), PADL - 6, Y(v) + 4, human(a, sizeof a, v));
    }
    fprintf(f, "<text class=\"axis\" x=\"%d\" y=\"%d\">0 s</text><text class=\"axis\" x=\"%d\" y=\"%d\" "
               "text-anchor=\"end\">%.3f s</text>\n", PADL, CH - 8, CW - PADR, CH - 8, tmax);
    static const struct { const char *cls, *name; } lines[] = {
        {"resident", "resident (the process)"}, {"live", "live (allocated, not freed)"},
        {"sampled", "sampled in use (the profile's)"}};
    for (int l = 0; l < 3; l++) {
        fprintf(f, "<polyline class=\"%s\" points=\"", lines[l].cls);
        for (size_t i = 0; i < d->nmemory; i++) {
            const pp_memory_point_t *m = &d->memory[i];
            uint64_t v = l == 0 ? m->resident : l == 1 ? m->live : m->sampled_inuse;
            fprintf(f, "%.1f,%.1f ", X(m->seconds), Y(v));
        }
        fprintf(f, "\"/>\n<text class=\"legend %s\" x=\"%d\" y=\"%d\">%s</text>\n", lines[l].cls, PADL + 10 + l * 250,
                PADT - 6, lines[l].name);
    }
    if (d->peak_inuse_space) { /* the peak of the sampled heap; its label on the roomier side */
        double x = X(d->peak_uptime);
        bool left = x > CW / 2;
        fprintf(f, "<g id=\"peak\"><line class=\"peak\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>"
                   "<text class=\"peak\" x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">peak of the sampled heap: %s at %.3f s</text></g>\n",
                x, x, PADT, CH - PADB, left ? x - 4 : x + 4, PADT + 14, left ? "end" : "start",
                human(a, sizeof a, (double)d->peak_inuse_space), d->peak_uptime);
        /* the peak itself: the points around it may miss it */
        fprintf(f, "<circle class=\"peak\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"/>\n", x, Y(d->peak_inuse_space));
    }
    /* hover: a column per point, its values in the title */
    for (size_t i = 0; i < d->nmemory; i++) {
        const pp_memory_point_t *m = &d->memory[i];
        double x0 = i ? (X(d->memory[i - 1].seconds) + X(m->seconds)) / 2 : PADL;
        double x1 = i + 1 < d->nmemory ? (X(m->seconds) + X(d->memory[i + 1].seconds)) / 2 : CW - PADR;
        char c[32], e[32], g[32];
        fprintf(f, "<rect class=\"hover\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\"><title>%.3f s: live %s, "
                   "resident %s, mapped %s, sampled in use %s, allocated so far %s</title></rect>\n",
                x0, PADT, x1 - x0 > 0.1 ? x1 - x0 : 0.1, CH - PADT - PADB, m->seconds, human(a, sizeof a, (double)m->live),
                human(b, sizeof b, (double)m->resident), human(c, sizeof c, (double)m->mapped),
                human(e, sizeof e, (double)m->sampled_inuse), human(g, sizeof g, (double)m->allocated));
    }
    fputs("</svg>\n", f);
#undef X
#undef Y
}

static const char style[] =
    "body{font:14px/1.4 sans-serif;margin:16px 24px;color:#222;background:#fafaf6}\n"
    "h1{font-size:20px;margin:0}h2{font-size:16px;margin:24px 0 6px}.sub{color:#666;margin:2px 0 12px}\n"
    "#chart{max-width:1000px;background:#fff;border:1px solid #ddd}\n"
    ".grid{stroke:#eee}.axis{font-size:11px;fill:#666}.legend{font-size:12px}\n"
    "polyline{fill:none;stroke-width:1.5}polyline.resident{stroke:#999}polyline.live{stroke:#1f77b4}"
    "polyline.sampled{stroke:#2ca02c}text.resident{fill:#777}text.live{fill:#1f77b4}text.sampled{fill:#2ca02c}\n"
    "line.peak{stroke:#d62728;stroke-dasharray:4 3}text.peak{fill:#d62728;font-size:12px}circle.peak{fill:#d62728}\n"
    ".hover{fill:transparent}.hover:hover{fill:rgba(0,0,0,.06)}\n"
    "#switch button{font:13px sans-serif;margin-right:4px;padding:3px 10px;border:1px solid #bbb;background:#fff;"
    "border-radius:3px;cursor:pointer}#switch button.on{background:#2ca02c;color:#fff;border-color:#2ca02c}\n"
    "iframe.flame{width:100%;border:1px solid #ddd;background:#fff;display:none}iframe.flame.on{display:block}\n"
    "pre{background:#fff;border:1px solid #ddd;padding:8px;overflow-x:auto;font-size:12px}\n";

static const char script[] =
    "function show(id){for(const b of document.querySelectorAll('#switch button'))"
    "b.classList.toggle('on',b.dataset.id===id);"
    "for(const f of document.querySelectorAll('iframe.flame'))f.classList.toggle('on',f.id==='flame-'+id);}\n"
    "for(const b of document.querySelectorAll('#switch button'))b.addEventListener('click',()=>show(b.dataset.id));\n";

int pp_html_write(FILE *f, const char *what, const pp_html_page_t *pg)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", f);
    put_escaped(f, pg->title);
    fprintf(f, "</title>\n<style>\n%s</style></head><body>\n<h1>", style);
    put_escaped(f, pg->title);
    fputs("</h1>\n<p class=\"sub\">", f);
    put_escaped(f, pg->subtitle ? pg->subtitle : "");
    fputs("</p>\n<h2>Memory over time</h2>\n", f);
    put_chart(f, pg->series);
    fputs("<h2>Where the memory went</h2>\n<div id=\"switch\">", f);
    for (size_t i = 0; i < pg->nflames; i++) {
        fprintf(f, "<button data-id=\"%s\"%s>", pg->flames[i].id, i == 0 ? " class=\"on\"" : "");
        put_escaped(f, pg->flames[i].label);
        fputs("</button>", f);
    }
    fputs("</div>\n", f);
    for (size_t i = 0; i < pg->nflames; i++) {
        /* as tall as the graph at the frame's width: the SVG's viewBox is 1200 wide */
        const char *h = strstr(pg->flames[i].svg, "data-h=\"");
        int height = h ? atoi(h + 8) : 600;
        fprintf(f, "<iframe class=\"flame%s\" id=\"flame-%s\" style=\"aspect-ratio:1200/%d\" title=\"",
                i == 0 ? " on" : "", pg->flames[i].id, height > 0 ? height : 600);
        put_escaped(f, pg->flames[i].label);
        fputs("\" src=\"data:image/svg+xml;base64,", f);
        put_base64(f, pg->flames[i].svg);
        fputs("\"></iframe>\n", f);
    }
    fputs("<h2>Top allocation sites</h2>\n<pre id=\"top\">", f);
    put_escaped(f, pg->top);
    fputs("</pre>\n<h2>What to change</h2>\n<pre id=\"report\">", f);
    put_escaped(f, pg->report);
    fprintf(f, "</pre>\n<script>\n%s</script>\n</body></html>\n", script);
    if (ferror(f)) {
        pp_error("cannot write %s", what);
        return -1;
    }
    return 0;
}
