/* flamegraph.c -- folded stacks to a self-contained interactive SVG flame
 * graph, and its differential form.
 *
 * The stacks are merged into a tree (equal prefixes share nodes, weights
 * add), children sorted by name so the output depends on the input's
 * content only. Frames are written in preorder, each a <g> carrying its
 * depth, its offset and its weight in weight units (data-d, data-x, data-w;
 * data-b: the base weight in diff mode), so the inline script can zoom and
 * search from the document alone and a test can read exact weights.
 *
 * The viewer (SCRIPT): hover shows a frame's name, weight and share in the
 * details line; a click zooms to a frame (callers stay as full-width
 * context, other branches are hidden); the search box takes a regular
 * expression (text if it is not one), highlights matching frames (not the
 * root) and prints the matched weight, each stack counted once. */
#include "flamegraph.h"

#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum {
    SVG_W = 1200,
    XPAD = 10,
    FRAMES_W = SVG_W - 2 * XPAD,
    FRAME_H = 16,        /* one row; the rect is a pixel shorter */
    CTRL_Y = 52,         /* the row of totals, search box and reset button */
    SEARCH_W = 240,
    RESET_W = 90,
};

/* The advance of the frames' 12 px monospace font, an estimate for fitting
 * labels without a browser; the script measures the real one on load. */
static const double CHAR_W = 7.2;
/* Frames narrower than this are not drawn: they cannot be seen or hovered,
 * and a profile with many of them would make a huge file. */
static const double MIN_PX = 0.1;
/* Frames narrower than this get no hairline border (class "n"). */
enum { NARROW_PX = 3 };

typedef struct node {
    const char *name; /* the caller's bytes */
    uint64_t hash;
    uint32_t parent, depth;
    uint32_t kids, nkids; /* range in the sorted children array */
    int64_t value, base;  /* subtree sums */
    int64_t x;            /* offset from the left, in weight units */
} node_t;

typedef struct kid {
    const char *name;
    uint32_t node;
} kid_t;

typedef struct tree {
    node_t *v;
    size_t n, cap;
    uint32_t *slot; /* (parent, name) -> node; root not in it */
    size_t nslot;
} tree_t;

#define NO_NODE UINT32_MAX


static void tree_rehash(tree_t *t)
{
    size_t cap = t->nslot ? t->nslot * 2 : 1024;
    uint32_t *s = xmalloc(cap * sizeof *s);
    memset(s, 0xff, cap * sizeof *s);
    for (size_t i = 1; i < t->n; i++) {
        size_t j = t->v[i].hash & (cap - 1);
        while (s[j] != NO_NODE)
            j = (j + 1) & (cap - 1);
        s[j] = (uint32_t)i;
    }
    free(t->slot);
    t->slot = s;
    t->nslot = cap;
}

static uint32_t tree_child(tree_t *t, uint32_t parent, const char *name)
{
    if (2 * (t->n + 1) > t->nslot)
        tree_rehash(t);
    uint64_t h = pp_hash_mix(pp_hash_bytes(name, strlen(name), 0), parent);
    size_t j = h & (t->nslot - 1);
    for (; t->slot[j] != NO_NODE; j = (j + 1) & (t->nslot - 1)) {
        const node_t *c = &t->v[t->slot[j]];
        if (c->hash == h && c->parent == parent && strcmp(c->name, name) == 0)
            return t->slot[j];
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    if (t->n >= NO_NODE)
        pp_die("too many distinct frames for a flame graph");
    uint32_t id = (uint32_t)t->n++;
    t->v[id] = (node_t){.name = name, .hash = h, .parent = parent, .depth = t->v[parent].depth + 1};
    t->slot[j] = id;
    return id;
}

static int kid_cmp(const void *a, const void *b)
{
    return strcmp(((const kid_t *)a)->name, ((const kid_t *)b)->name);
}

/* Children of every node, each node's sorted by name: kids[v[i].kids ...]. */
static kid_t *tree_sort_children(tree_t *t)
{
    kid_t *kids = xmalloc((t->n ? t->n : 1) * sizeof *kids);
    for (size_t i = 1; i < t->n; i++)
        t->v[t->v[i].parent].nkids++;
    uint32_t at = 0;
    for (size_t i = 0; i < t->n; i++) {
        t->v[i].kids = at;
        at += t->v[i].nkids;
        t->v[i].nkids = 0;
    }
    for (size_t i = 1; i < t->n; i++) {
        node_t *p = &t->v[t->v[i].parent];
        kids[p->kids + p->nkids++] = (kid_t){t->v[i].name, (uint32_t)i};
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].nkids > 1)
            qsort(kids + t->v[i].kids, t->v[i].nkids, sizeof *kids, kid_cmp);
    return kids;
}

/* ---- text: names are bytes, the SVG is UTF-8 XML ---- */

/* Appends s as valid UTF-8 that XML accepts: each ill-formed sequence
 * (its maximal valid prefix, as WHATWG decoders do), C0 control and
 * U+FFFE/U+FFFF becomes U+FFFD. Returns the number of code points. */
static size_t utf8_clean(pp_buf_t *b, const char *str)
{
    static const char repl[] = "\xef\xbf\xbd";
    const unsigned char *s = (const unsigned char *)str;
    size_t ncp = 0;
    while (*s) {
        unsigned c = *s;
        size_t need;
        unsigned lo = 0x80, hi = 0xbf; /* the second byte's valid range */
        if (c < 0x80) {
            if (c < 0x20)
                pp_buf_put(b, repl, 3);
            else
                pp_buf_put(b, s, 1);
            s++;
            ncp++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            need = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            pp_buf_put(b, repl, 3);
            s++;
            ncp++;
            continue;
        }
        size_t got = 1;
        while (got <= need) {
            unsigned d = s[got];
            unsigned l = got == 1 ? lo : 0x80, h = got == 1 ? hi : 0xbf;
            if (d < l || d > h)
                break;
            got++;
        }
        bool ok = got == need + 1;
        /* U+FFFE and U+FFFF are well-formed UTF-8 but not XML characters. */
        if (ok && c == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf))
            ok = false;
        if (ok)
            pp_buf_put(b, s, got);
        else
            pp_buf_put(b, repl, 3);
        s += got;
        ncp++;
    }
    return ncp;
}

/* Writes clean UTF-8 with XML's special characters escaped. */
static void put_escaped(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: putc(s[i], f);
        }
    }
}

/* Cleans and escapes arbitrary bytes; scratch is reused. */
static void put_text(FILE *f, pp_buf_t *scratch, const char *s)
{
    scratch->len = 0;
    utf8_clean(scratch, s ? s : "");
    put_escaped(f, scratch->data ? scratch->data : "", scratch->len);
}

/* Bytes of the first ncp code points of clean UTF-8. */
static size_t utf8_prefix(const char *s, size_t len, size_t ncp)
{
    size_t i = 0;
    for (; i < len && ncp; ncp--)
        for (i++; i < len && ((unsigned char)s[i] & 0xc0) == 0x80; i++)
            ;
    return i;
}

/* ---- numbers as people read them; the script formats the same way ---- */

typedef enum { U_BYTES, U_OBJECTS, U_OTHER } unit_kind_t;

typedef struct ctx {
    FILE *out;
    unit_kind_t kind;
    const char *unit;
    int64_t total, base_total;
    bool diff;
    pp_buf_t scratch;
} ctx_t;

static uint64_t mag(int64_t v) { return v < 0 ? -(uint64_t)v : (uint64_t)v; }

/* "1,572,864" */
static void fmt_group(char buf[40], int64_t v)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, mag(v));
    char *p = buf;
    if (v < 0)
        *p++ = '-';
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            *p++ = ',';
        *p++ = digits[i];
    }
    *p = '\0';
}

/* "512 B", "1.50 MiB", "12.3 KiB", "640 GiB": three significant digits,
 * rounded half up. */
static void fmt_bytes_short(char buf[48], int64_t v)
{
    static const char *const suffix[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    uint64_t a = mag(v), div = 1;
    const char *sign = v < 0 ? "-" : "";
    int k = 0;
    while (k < 6 && a / 1024 >= div) {
        div *= 1024;
        k++;
    }
    if (k == 0) {
        snprintf(buf, 48, "%s%" PRIu64 " B", sign, a);
        return;
    }
    /* In doubles, as the script computes it, so both print the same. */
    double x = (double)a, dd = (double)div;
    int f = x < dd * 10 ? 2 : x < dd * 100 ? 1 : 0;
    uint64_t p10 = f == 2 ? 100 : f == 1 ? 10 : 1;
    uint64_t q = (uint64_t)(x * (double)p10 / dd + 0.5);
    if (f)
        snprintf(buf, 48, "%s%" PRIu64 ".%0*" PRIu64 " %s", sign, q / p10, f, q % p10, suffix[k]);
    else
        snprintf(buf, 48, "%s%" PRIu64 " %s", sign, q, suffix[k]);
}

/* A weight with its unit, exact: "1.50 MiB (1,572,864 bytes)", "12 bytes",
 * "1,234 objects". */
static void fmt_weight(const ctx_t *c, char buf[160], int64_t v)
{
    char g[40], s[48];
    fmt_group(g, v);
    switch (c->kind) {
    case U_BYTES:
        if (mag(v) < 1024) {
            snprintf(buf, 160, "%s bytes", g);
        } else {
            fmt_bytes_short(s, v);
            snprintf(buf, 160, "%s (%s bytes)", s, g);
        }
        break;
    case U_OBJECTS: snprintf(buf, 160, "%s objects", g); break;
    default: snprintf(buf, 160, "%s%s%.100s", g, *c->unit ? " " : "", c->unit);
    }
}

/* The short form for the header: "1.50 MiB", "1,234 objects". */
static void fmt_weight_short(const ctx_t *c, char buf[160], int64_t v)
{
    if (c->kind == U_BYTES)
        fmt_bytes_short(buf, v);
    else
        fmt_weight(c, buf, v);
}

static void fmt_share(char buf[32], int64_t v, int64_t of)
{
    if (of > 0)
        snprintf(buf, 32, "%.2f%%", 100.0 * (double)v / (double)of);
    else
        snprintf(buf, 32, "-");
}

/* "+512 KiB (524,288 bytes) (+50.00%)": the change from base to value. */
static void fmt_delta(const ctx_t *c, char buf[224], int64_t value, int64_t base)
{
    char w[160], pct[40];
    int64_t d = value - base;
    fmt_weight(c, w, d < 0 ? -d : d);
    if (base > 0)
        snprintf(pct, sizeof pct, "%+.2f%%", 100.0 * (double)d / (double)base);
    else
        snprintf(pct, sizeof pct, "new");
    snprintf(buf, 224, "%s%s (%s)", d < 0 ? "-" : "+", w, pct);
}

/* ---- colours ---- */

typedef struct rgb {
    int r, g, b;
} rgb_t;

static int clamp255(double x) { return x <= 0 ? 0 : x >= 255 ? 255 : (int)(x + 0.5); }

/* Memory: greens to blue-greens, flamegraph.pl's --colors mem (no red, so
 * a memory graph is not mistaken for a CPU one), from the name alone so a
 * function keeps its colour across graphs. */
static rgb_t mem_colour(const char *name)
{
    uint64_t h = pp_hash_mix(pp_hash_bytes(name, strlen(name), 0), 0x6f6c6f63);
    double g = (double)(h & 0xffff) / 65535.0, b = (double)((h >> 16) & 0xffff) / 65535.0;
    return (rgb_t){0, clamp255(190.0 + 50.0 * g), clamp255(210.0 * b)};
}

/* Red for growth, blue for shrinkage, grey for no change; the strongest
 * colour is the largest change in the graph. */
static rgb_t diff_colour(int64_t delta, uint64_t maxabs)
{
    if (delta == 0 || maxabs == 0)
        return (rgb_t){224, 224, 224};
    double t = (double)mag(delta) / (double)maxabs;
    int fade = clamp255(225.0 - 175.0 * t);
    return delta > 0 ? (rgb_t){255, fade, fade} : (rgb_t){fade, fade, 255};
}

/* ---- the document ---- */

static const char STYLE[] =
    "text{font-family:Verdana,\"DejaVu Sans\",\"Liberation Sans\",sans-serif;font-size:12px;fill:#222}\n"
    "#title{font-size:17px;font-weight:bold}\n"
    "#subtitle,#legend{fill:#555}\n"
    "#matched{fill:#a000a0;font-weight:bold}\n"
    ".f{cursor:pointer}\n"
    ".f rect{stroke:#fafaf6;stroke-width:.5}\n" /* a hairline between neighbours, */
    ".f.n rect{stroke:none}\n"                 /* which would wash out slivers */
    ".f text{font-family:\"DejaVu Sans Mono\",Menlo,Consolas,\"Liberation Mono\",monospace;pointer-events:none}\n"
    ".f:hover rect{stroke:#222;stroke-width:.6}\n"
    ".f.lt text{fill:#fff}\n"
    ".f.hl rect{fill:rgb(200,0,200)}\n"
    ".f.hl text{fill:#fff}\n"
    ".f.anc rect{fill-opacity:.45}\n"
    ".f.hid{display:none}\n"
    ".btn{cursor:pointer}\n"
    ".btn rect{fill:#eee;stroke:#999}\n"
    ".btn:hover rect{fill:#ddd}\n"
    ".btn.off{opacity:.35;cursor:default}\n"
    "#search input{box-sizing:border-box;width:100%;height:22px;margin:0;font:12px sans-serif}\n";

/* The viewer: reads the frames back from the DOM, then zoom (click),
 * details (hover), search (the input box, "/" or Ctrl+F), Escape. Number
 * formats match the C ones above. */
static const char SCRIPT[] =
    "(function () {\n"
    "'use strict';\n"
    "var svg = document.documentElement;\n"
    "var TOTAL = Number(svg.getAttribute('data-total')), X0 = Number(svg.getAttribute('data-x0'));\n"
    "var FW = Number(svg.getAttribute('data-fw')), UNIT = svg.getAttribute('data-unit') || '';\n"
    "var DIFF = svg.getAttribute('data-diff') === '1';\n"
    "var details = document.getElementById('details'), matched = document.getElementById('matched');\n"
    "var reset = document.getElementById('reset'), input = document.querySelector('#search input');\n"
    "var frames = document.getElementById('frames'), HINT = details.textContent;\n"
    "var F = [], path = [], open = [], i;\n"
    "for (i = 0; i < frames.children.length; i++) {\n"
    "  var g = frames.children[i], d = Number(g.getAttribute('data-d'));\n"
    "  var f = { g: g, r: g.getElementsByTagName('rect')[0], t: g.getElementsByTagName('text')[0],\n"
    "    name: g.getElementsByTagName('title')[0].textContent.split('\\n')[0], cp: null,\n"
    "    d: d, x: Number(g.getAttribute('data-x')), w: Number(g.getAttribute('data-w')),\n"
    "    b: Number(g.getAttribute('data-b') || 0), parent: d > 0 ? path[d - 1] : -1, end: 0 };\n"
    "  path[d] = i;\n"
    "  g.fi = i;\n"
    "  while (open.length && F[open[open.length - 1]].d >= d) F[open.pop()].end = i;\n"
    "  open.push(i);\n"
    "  F.push(f);\n"
    "}\n"
    "while (open.length) F[open.pop()].end = F.length;\n"
    "\n"
    "function group(v) {\n"
    "  var s = String(Math.abs(v)), out = '';\n"
    "  while (s.length > 3) { out = ',' + s.slice(-3) + out; s = s.slice(0, -3); }\n"
    "  return (v < 0 ? '-' : '') + s + out;\n"
    "}\n"
    "var SUFFIX = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];\n"
    "function bytesShort(v) {\n"
    "  var a = Math.abs(v), div = 1, k = 0, sign = v < 0 ? '-' : '';\n"
    "  while (k < 6 && a >= div * 1024) { div *= 1024; k++; }\n"
    "  if (k === 0) return sign + a + ' B';\n"
    "  var f = a < div * 10 ? 2 : a < div * 100 ? 1 : 0, p10 = Math.pow(10, f);\n"
    "  var q = Math.round(a * p10 / div), ip = Math.floor(q / p10), fp = String(q % p10);\n"
    "  while (fp.length < f) fp = '0' + fp;\n"
    "  return sign + ip + (f ? '.' + fp : '') + ' ' + SUFFIX[k];\n"
    "}\n"
    "function weight(v) {\n"
    "  if (UNIT === 'bytes') return Math.abs(v) < 1024 ? group(v) + ' bytes' : bytesShort(v) + ' (' + group(v) + ' bytes)';\n"
    "  if (UNIT === 'objects') return group(v) + ' objects';\n"
    "  return group(v) + (UNIT ? ' ' + UNIT : '');\n"
    "}\n"
    "function share(v, of) { return of > 0 ? (100 * v / of).toFixed(2) + '%' : '-'; }\n"
    "function delta(f) {\n"
    "  var d = f.w - f.b;\n"
    "  var pct = f.b > 0 ? (d >= 0 ? '+' : '') + (100 * d / f.b).toFixed(2) + '%' : 'new';\n"
    "  return (d < 0 ? '-' : '+') + weight(Math.abs(d)) + ' (' + pct + ')';\n"
    "}\n"
    "\n"
    "var zoomed = 0;\n"
    "function describe(i) {\n"
    "  var f = F[i], s = f.name + ': ';\n"
    "  if (DIFF) s += 'new ' + weight(f.w) + ', base ' + weight(f.b) + ', delta ' + delta(f) + ', ';\n"
    "  else s += weight(f.w) + ', ';\n"
    "  s += share(f.w, TOTAL) + ' of total';\n"
    "  var z = F[zoomed];\n"
    "  if (zoomed > 0 && i >= zoomed && i < z.end) s += ', ' + share(f.w, z.w) + ' of zoomed frame';\n"
    "  return s;\n"
    "}\n"
    "\n"
    "/* Monospace labels: fit by counting code points. */\n"
    "var CW = 7.2, NARROW = Number(svg.getAttribute('data-narrow'));\n"
    "if (F.length) {\n"
    "  var probe = F[0].t, kept = probe.textContent;\n"
    "  probe.textContent = 'MMMMMMMMMMMMMMMMMMMM';\n"
    "  var len = probe.getComputedTextLength();\n"
    "  probe.textContent = kept;\n"
    "  if (len > 0) CW = len / 20;\n"
    "}\n"
    "function fit(f, px) {\n"
    "  var n = Math.floor((px - 6) / CW), s;\n"
    "  if (f.name.length <= n) s = f.name;\n"
    "  else {\n"
    "    if (!f.cp) f.cp = Array.from(f.name);\n"
    "    s = f.cp.length <= n ? f.name : n >= 3 ? f.cp.slice(0, n - 2).join('') + '..' : '';\n"
    "  }\n"
    "  if (f.t.textContent !== s) f.t.textContent = s;\n"
    "}\n"
    "function place(f, x, w) {\n"
    "  f.r.setAttribute('x', x.toFixed(2));\n"
    "  f.r.setAttribute('width', w.toFixed(2));\n"
    "  f.t.setAttribute('x', (x + 3).toFixed(2));\n"
    "  f.g.classList.toggle('n', w < NARROW);\n"
    "  fit(f, w);\n"
    "}\n"
    "for (i = 0; i < F.length; i++) fit(F[i], F[i].w / TOTAL * FW);\n"
    "\n"
    "/* The zoomed frame fills the width, its callees scale with it, its\n"
    "   callers stay as full-width context, everything else is hidden. */\n"
    "function zoom(z) {\n"
    "  if (!F.length) return;\n"
    "  var zf = F[z], scale = FW / zf.w, anc = {}, a;\n"
    "  for (a = zf.parent; a >= 0; a = F[a].parent) anc[a] = true;\n"
    "  for (var i = 0; i < F.length; i++) {\n"
    "    var f = F[i], c = f.g.classList;\n"
    "    if (i >= z && i < zf.end) { place(f, X0 + (f.x - zf.x) * scale, f.w * scale); c.remove('hid'); c.remove('anc'); }\n"
    "    else if (anc[i]) { place(f, X0, FW); c.remove('hid'); c.add('anc'); }\n"
    "    else c.add('hid');\n"
    "  }\n"
    "  zoomed = z;\n"
    "  reset.classList.toggle('off', z === 0);\n"
    "}\n"
    "\n"
    "/* Matches are counted once per stack: in preorder a frame's callees\n"
    "   follow it up to its end, so matches inside a counted one are skipped. */\n"
    "function search(q) {\n"
    "  var re = null, sum = 0, until = 0, n = 0;\n"
    "  if (q) {\n"
    "    var flags = /[A-Z]/.test(q) ? '' : 'i';\n"
    "    try { re = new RegExp(q, flags); }\n"
    "    catch (e) { re = new RegExp(q.replace(/[.*+?^${}()|[\\]\\\\\\/]/g, '\\\\$&'), flags); }\n"
    "  }\n"
    "  for (var i = 0; i < F.length; i++) {\n"
    "    var m = re !== null && i > 0 && re.test(F[i].name);\n"
    "    F[i].g.classList.toggle('hl', m);\n"
    "    if (m) n++;\n"
    "    if (m && i >= until) { sum += F[i].w; until = F[i].end; }\n"
    "  }\n"
    "  matched.textContent = re ? 'Matched: ' + weight(sum) + ', ' + share(sum, TOTAL) + ' of total (' + n + ' frames)' : '';\n"
    "}\n"
    "\n"
    "function target(e) {\n"
    "  var g = e.target && e.target.closest ? e.target.closest('g.f') : null;\n"
    "  return g ? g.fi : -1;\n"
    "}\n"
    "frames.addEventListener('mouseover', function (e) {\n"
    "  var i = target(e);\n"
    "  if (i >= 0) details.textContent = describe(i);\n"
    "});\n"
    "frames.addEventListener('mouseout', function (e) {\n"
    "  var to = e.relatedTarget && e.relatedTarget.closest ? e.relatedTarget.closest('g.f') : null;\n"
    "  if (!to) details.textContent = HINT;\n"
    "});\n"
    "frames.addEventListener('click', function (e) {\n"
    "  var i = target(e);\n"
    "  if (i < 0) return;\n"
    "  zoom(i);\n"
    "  details.textContent = describe(i);\n"
    "});\n"
    "reset.addEventListener('click', function () { zoom(0); details.textContent = HINT; });\n"
    "if (input) {\n"
    "  input.addEventListener('input', function () { search(input.value); });\n"
    "  input.addEventListener('keydown', function (e) {\n"
    "    if (e.key === 'Escape') { input.value = ''; search(''); input.blur(); e.stopPropagation(); }\n"
    "    else if (e.key === 'Enter') search(input.value);\n"
    "  });\n"
    "}\n"
    "document.addEventListener('keydown', function (e) {\n"
    "  if (e.target === input) return;\n"
    "  if (input && (e.key === '/' || ((e.ctrlKey || e.metaKey) && e.key === 'f'))) { e.preventDefault(); input.focus(); input.select(); }\n"
    "  else if (e.key === 'Escape') { zoom(0); details.textContent = HINT; }\n"
    "});\n"
    "})();\n";

static void put_rgb(FILE *f, rgb_t c) { fprintf(f, "rgb(%d,%d,%d)", c.r, c.g, c.b); }

static bool drawn(const ctx_t *c, const node_t *n)
{
    return n->value > 0 && (double)n->value * FRAMES_W >= MIN_PX * (double)c->total;
}

static void put_frame(ctx_t *c, const node_t *n, int top, uint32_t maxdepth, uint64_t maxabs)
{
    FILE *f = c->out;
    char w[160], share[32], dl[224], b[160];
    double x = XPAD + (double)n->x / (double)c->total * FRAMES_W;
    double width = (double)n->value / (double)c->total * FRAMES_W;
    int y = top + (int)(maxdepth - n->depth) * FRAME_H;
    rgb_t col = c->diff ? diff_colour(n->value - n->base, maxabs) : mem_colour(n->name);
    bool dark = 299 * col.r + 587 * col.g + 114 * col.b < 100000; /* white text on it */

    c->scratch.len = 0;
    size_t ncp = utf8_clean(&c->scratch, n->name);
    const char *name = c->scratch.data ? c->scratch.data : "";
    size_t nlen = c->scratch.len;

    fprintf(f, "<g class=\"f%s%s\" data-d=\"%" PRIu32 "\" data-x=\"%" PRId64 "\" data-w=\"%" PRId64 "\"",
            dark ? " lt" : "", width < NARROW_PX ? " n" : "", n->depth, n->x, n->value);
    if (c->diff)
        fprintf(f, " data-b=\"%" PRId64 "\"", n->base);
    fputs("><title>", f);
    put_escaped(f, name, nlen);
    fmt_weight(c, w, n->value);
    fmt_share(share, n->value, c->total);
    if (c->diff) {
        fmt_weight(c, b, n->base);
        fmt_delta(c, dl, n->value, n->base);
        fprintf(f, "\nnew %s, base %s\ndelta %s\n%s of total", w, b, dl, share);
    } else {
        fprintf(f, "\n%s, %s of total", w, share);
    }
    fprintf(f, "</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" rx=\"2\" fill=\"", x, y, width,
            FRAME_H - 1);
    put_rgb(f, col);
    fprintf(f, "\"/><text x=\"%.2f\" y=\"%d\">", x + 3, y + FRAME_H - 5);
    /* Same rule as the script's fit(): whole, or cut with "..", or none. */
    double room = (width - 6) / CHAR_W;
    size_t fits = room > 0 ? (size_t)room : 0;
    if (ncp <= fits)
        put_escaped(f, name, nlen);
    else if (fits >= 3) {
        put_escaped(f, name, utf8_prefix(name, nlen, fits - 2));
        fputs("..", f);
    }
    fputs("</text></g>\n", f);
}

static void put_header(ctx_t *c, const pp_flame_options_t *o, int height, size_t omitted, uint64_t maxabs,
                       int legend_y)
{
    FILE *f = c->out;
    char w[160], b[160], wl[160], bl[160];
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", f);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"100%%\" data-w=\"%d\" data-h=\"%d\" "
            "viewBox=\"0 0 %d %d\" data-total=\"%" PRId64 "\" data-x0=\"%d\" data-fw=\"%d\" data-diff=\"%d\" "
            "data-narrow=\"%d\" data-unit=\"",
            SVG_W, height, SVG_W, height, c->total, XPAD, FRAMES_W, c->diff ? 1 : 0, NARROW_PX);
    put_text(f, &c->scratch, c->unit);
    fputs("\">\n<style type=\"text/css\"><![CDATA[\n", f);
    fputs(STYLE, f);
    fputs("]]></style>\n", f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fafaf6\"/>\n", SVG_W, height);
    fprintf(f, "<text id=\"title\" x=\"%d\" y=\"24\" text-anchor=\"middle\">", SVG_W / 2);
    put_text(f, &c->scratch, o->title ? o->title : "Flame graph");
    fprintf(f, "</text>\n<text id=\"subtitle\" x=\"%d\" y=\"42\" text-anchor=\"middle\">", SVG_W / 2);
    put_text(f, &c->scratch, o->subtitle);
    fputs("</text>\n", f);

    /* Totals, short in the text and exact in the tooltip. */
    fmt_weight_short(c, w, c->total);
    fmt_weight(c, wl, c->total);
    fprintf(f, "<text id=\"totals\" x=\"%d\" y=\"%d\"><title>", XPAD, CTRL_Y + 15);
    if (c->diff) {
        char dl[224];
        fmt_weight_short(c, b, c->base_total);
        fmt_weight(c, bl, c->base_total);
        fmt_delta(c, dl, c->total, c->base_total);
        fprintf(f, "new %s\nbase %s\ndelta %s</title>Total: %s (base %s)", wl, bl, dl, w, b);
    } else {
        fprintf(f, "%s</title>Total: %s", wl, w);
    }
    fputs("</text>\n", f);

    int search_x = SVG_W - XPAD - RESET_W - 8 - SEARCH_W;
    fprintf(f, "<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"></text>\n", search_x - 10, CTRL_Y + 15);
    fprintf(f,
            "<foreignObject id=\"search\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"22\">"
            "<input xmlns=\"http://www.w3.org/1999/xhtml\" type=\"search\" spellcheck=\"false\" "
            "placeholder=\"Search frames (regex)\" title=\"A regular expression, case-insensitive unless it "
            "has a capital letter; / or Ctrl+F to focus, Escape to clear\"/></foreignObject>\n",
            search_x, CTRL_Y, SEARCH_W);
    fprintf(f,
            "<g id=\"reset\" class=\"btn off\"><title>Show the whole graph again (Escape)</title>"
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"22\" rx=\"3\"/>"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">Reset zoom</text></g>\n",
            SVG_W - XPAD - RESET_W, CTRL_Y, RESET_W, SVG_W - XPAD - RESET_W / 2, CTRL_Y + 15);

    if (legend_y) {
        fprintf(f, "<text id=\"legend\" x=\"%d\" y=\"%d\">", XPAD, legend_y);
        if (c->diff) {
            char m[48];
            if (c->kind == U_BYTES)
                fmt_bytes_short(m, (int64_t)maxabs);
            else
                fmt_group(m, (int64_t)maxabs);
            fprintf(f,
                    "Differential: widths are the new profile; colour is new \xe2\x88\x92 base of each frame "
                    "with its callees: red grew, blue shrank, grey unchanged (strongest: %s). ",
                    m);
        }
        if (omitted) {
            char g[40];
            fmt_group(g, (int64_t)omitted);
            fprintf(f, "%s frame%s narrower than %.1f px not drawn.", g, omitted == 1 ? "" : "s", MIN_PX);
        }
        fputs("</text>\n", f);
    }
}

int pp_flame_svg(FILE *out, const pp_flame_stack_t *stacks, size_t n, const pp_flame_options_t *o)
{
    static const pp_flame_options_t defaults = {0};
    if (!o)
        o = &defaults;
    ctx_t c = {.out = out, .unit = o->unit ? o->unit : "", .diff = o->diff};
    c.kind = strcmp(c.unit, "bytes") == 0 ? U_BYTES : strcmp(c.unit, "objects") == 0 ? U_OBJECTS : U_OTHER;

    tree_t t = {0};
    t.cap = 1024;
    t.v = xmalloc(t.cap * sizeof *t.v);
    t.v[0] = (node_t){.name = "all"};
    t.n = 1;
    for (size_t i = 0; i < n; i++) {
        const pp_flame_stack_t *s = &stacks[i];
        int64_t v = s->value > 0 ? s->value : 0, b = o->diff && s->base > 0 ? s->base : 0;
        if (!v && !b)
            continue;
        uint32_t cur = 0;
        t.v[0].value = pp_add_sat(t.v[0].value, v);
        t.v[0].base = pp_add_sat(t.v[0].base, b);
        for (uint32_t k = 0; k < s->nframes; k++) {
            cur = tree_child(&t, cur, s->frames[k] ? s->frames[k] : "");
            t.v[cur].value = pp_add_sat(t.v[cur].value, v);
            t.v[cur].base = pp_add_sat(t.v[cur].base, b);
        }
    }
    c.total = t.v[0].value;
    c.base_total = t.v[0].base;
    kid_t *kids = tree_sort_children(&t);

    /* What is drawn, how deep, the largest change among drawn frames. */
    size_t omitted = 0;
    uint32_t maxdepth = 0;
    uint64_t maxabs = 0;
    for (size_t i = 0; i < t.n; i++) {
        const node_t *nd = &t.v[i];
        if (!drawn(&c, nd)) {
            omitted += nd->value > 0;
            continue;
        }
        if (nd->depth > maxdepth)
            maxdepth = nd->depth;
        if (mag(nd->value - nd->base) > maxabs)
            maxabs = mag(nd->value - nd->base);
    }

    int legend_y = c.diff || omitted ? CTRL_Y + 40 : 0;
    int top = legend_y ? legend_y + 12 : CTRL_Y + 32;
    int bottom = top + (int)(maxdepth + 1) * FRAME_H;
    int height = bottom + 28;
    put_header(&c, o, height, omitted, maxabs, legend_y);

    fputs("<g id=\"frames\">\n", out);
    if (c.total > 0) {
        /* Preorder, children by name; a child's x follows its elder siblings. */
        uint32_t *stack = xmalloc(t.n * sizeof *stack);
        size_t sp = 0;
        stack[sp++] = 0;
        while (sp) {
            const node_t *nd = &t.v[stack[--sp]];
            if (!drawn(&c, nd))
                continue;
            put_frame(&c, nd, top, maxdepth, maxabs);
            int64_t x = nd->x;
            for (uint32_t k = 0; k < nd->nkids; k++) {
                node_t *kid = &t.v[kids[nd->kids + k].node];
                kid->x = x;
                x = pp_add_sat(x, kid->value); /* saturated sums: no overflow */
            }
            for (uint32_t k = nd->nkids; k-- > 0;)
                stack[sp++] = kids[nd->kids + k].node;
        }
        free(stack);
    }
    fputs("</g>\n", out);
    if (c.total <= 0)
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">No samples%s</text>\n", SVG_W / 2,
                top + 12, c.diff && c.base_total ? " in the new profile" : "");

    fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%d\">", XPAD, bottom + 18);
    fputs(c.total > 0 ? "Hover a frame for details; click to zoom; / to search" : " ", out);
    fputs("</text>\n<script type=\"text/ecmascript\"><![CDATA[\n", out);
    fputs(SCRIPT, out);
    fputs("]]></script>\n</svg>\n", out);

    free(kids);
    free(t.v);
    free(t.slot);
    pp_buf_free(&c.scratch);
    if (fflush(out) != 0 || ferror(out)) {
        pp_error("cannot write the flame graph: %s", strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}
