/* dump.c -- reads a profile dump and checks it against the grammar of
 * docs/profile-format.md, versions 1 to 3. Every way a file can be wrong
 * is a "FILE:LINE: why" message, never a crash: this parser is fuzzed
 * (tests/tools/fuzz_dump.c). */
#include "dump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

const char *const pp_value_names[PP_NVALUES] = {
#define VALUE_NAME(e, name, unit) #name,
    PP_VALUE_LIST(VALUE_NAME)
#undef VALUE_NAME
};

typedef struct {
    const char *name;
    char *err;
    size_t err_size;
    unsigned line;
    const char *p, *end; /* the current line's unread part */
    unsigned version;
    /* the numbers of a stack line: how many, and where each goes (a
     * pp_value, or -1 for a name this reader does not know) */
    size_t nnumbers;
    int *slot;
    int memory_col[8];           /* `memory_values`: column i is field memory_col[i] (-1: unknown) */
    size_t nmemory_cols, memory_cap;
} parser_t;

static bool fail(parser_t *ps, const char *fmt, ...) PP_PRINTF(2, 3);
static bool fail(parser_t *ps, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (ps->line)
        snprintf(ps->err, ps->err_size, "%s:%u: %s", ps->name, ps->line, why);
    else
        snprintf(ps->err, ps->err_size, "%s: %s", ps->name, why);
    return false;
}

/* The first n bytes of s, printable, for quoting a bad line. */
static const char *quote(const char *s, const char *end, char *out, size_t size)
{
    size_t j = 0;
    for (; s < end && j + 4 < size; s++)
        out[j++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    if (s < end && j >= 3)
        out[j - 3] = out[j - 2] = out[j - 1] = '.';
    out[j] = '\0';
    return out;
}

static bool take(parser_t *ps, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
        return false;
    ps->p += n;
    return true;
}

/* dec = 1*DIGIT, at most UINT64_MAX */
static bool take_dec(parser_t *ps, uint64_t *v)
{
    const char *p = ps->p;
    uint64_t x = 0;
    for (; p < ps->end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    if (p == ps->p)
        return false;
    ps->p = p;
    *v = x;
    return true;
}

/* hex = "0x" 1*(DIGIT / a-f), at most 16 digits */
static bool take_hex(parser_t *ps, uint64_t *v)
{
    const char *p = ps->p;
    if (ps->end - p < 3 || p[0] != '0' || p[1] != 'x')
        return false;
    p += 2;
    const char *digits = p;
    uint64_t x = 0;
    for (; p < ps->end; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (*p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else
            break;
        if (x >> 60)
            return false;
        x = x << 4 | d;
    }
    if (p == digits)
        return false;
    ps->p = p;
    *v = x;
    return true;
}

/* A decimal with an optional fraction, as time and uptime are written. */
static bool parse_seconds(const char *s, const char *end, double *v)
{
    const char *p = s;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    if (p == s || p - s > 15)
        return false;
    if (p < end && *p == '.') {
        const char *f = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == f || p - f > 9)
            return false;
    }
    if (p != end)
        return false;
    char tmp[32];
    memcpy(tmp, s, (size_t)(end - s));
    tmp[end - s] = '\0';
    *v = strtod(tmp, NULL);
    return *v < 1e15; /* 15 nines and a fraction can round up to 16 digits */
}

static bool is_key_char(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
static bool is_name_char(char c) { return is_key_char(c) || (c >= '0' && c <= '9'); }

/* the keys every version-1 file has, then those added later (optional),
 * then version 2's `values` (required there: checked at the first line
 * that needs it) */
enum { H_PROGRAM, H_PID, H_TIME, H_UPTIME, H_REASON, H_SEQUENCE, H_SAMPLE_RATE, H_PROFILER_MEMORY, H_REQUIRED,
       H_PROCESS = H_REQUIRED, H_PEAK_INUSE_SPACE, H_PEAK_UPTIME, H_COMMAND, H_VALUES, H_N };
static const char *const header_keys[H_N] = {"program", "pid", "time", "uptime", "reason", "sequence", "sample_rate",
                                             "profiler_memory", "process", "peak_inuse_space", "peak_uptime",
                                             "command", "values"};

/* the names of a `values` line, found again by content (not interned: a
 * fuzzed file could fill the intern table with names) */
typedef struct {
    const char *s;
    size_t len;
} name_t;

static uint64_t name_hash_at(const void *names, size_t i)
{
    const name_t *n = (const name_t *)names + i;
    return pp_hash_bytes(n->s, n->len, 0);
}

/* `values NAME...`: which number of a stack line is which value. Names are
 * 1*(a-z / 0-9 / "_"), one space apart, each once; Go's four must be there. */
static bool values_line(parser_t *ps, pp_dump_t *d)
{
    name_t *names = NULL;
    pp_index_t seen = {0}; /* duplicates in linear time */
    size_t cap = 0;
    char q[64];
    bool ok = false;
    for (;;) {
        const char *n = ps->p;
        while (ps->p < ps->end && is_name_char(*ps->p))
            ps->p++;
        if (ps->p == n) {
            if (n < ps->end && *n != ' ') {
                const char *t = n;
                while (t < ps->end && *t != ' ')
                    t++;
                fail(ps, "bad name '%s' in 'values' (names are a-z, 0-9 and _)", quote(n, t, q, sizeof q));
            } else {
                fail(ps, "malformed 'values' line: an empty name (names are separated by single spaces)");
            }
            goto out;
        }
        if (ps->p < ps->end && *ps->p != ' ') {
            while (ps->p < ps->end && *ps->p != ' ')
                ps->p++;
            fail(ps, "bad name '%s' in 'values' (names are a-z, 0-9 and _)", quote(n, ps->p, q, sizeof q));
            goto out;
        }
        size_t len = (size_t)(ps->p - n);
        pp_index_reserve(&seen, ps->nnumbers, name_hash_at, names);
        size_t j = pp_index_first(&seen, pp_hash_bytes(n, len, 0));
        for (; seen.slot[j]; j = pp_index_next(&seen, j)) {
            const name_t *o = &names[seen.slot[j] - 1];
            if (o->len == len && memcmp(o->s, n, len) == 0) {
                fail(ps, "'values' names '%s' twice", quote(n, ps->p, q, sizeof q));
                goto out;
            }
        }
        int v = -1;
        for (int i = 0; i < PP_NVALUES && v < 0; i++)
            if (strlen(pp_value_names[i]) == len && memcmp(n, pp_value_names[i], len) == 0)
                v = i;
        if (ps->nnumbers == cap) {
            cap = cap ? cap * 2 : 32;
            ps->slot = xrealloc(ps->slot, cap * sizeof *ps->slot);
            names = xrealloc(names, cap * sizeof *names);
        }
        names[ps->nnumbers] = (name_t){n, len};
        seen.slot[j] = ps->nnumbers + 1;
        ps->slot[ps->nnumbers++] = v;
        if (v >= 0)
            d->present |= PP_VALUE_BIT(v);
        if (ps->p == ps->end)
            break;
        ps->p++; /* the space */
    }
    for (int i = 0; i < PP_NVALUES; i++)
        if ((PP_GO_VALUES & PP_VALUE_BIT(i)) && !(d->present & PP_VALUE_BIT(i))) {
            fail(ps, "'values' does not name '%s' (every profile has alloc_objects, alloc_space, inuse_objects, "
                     "inuse_space)", pp_value_names[i]);
            goto out;
        }
    ok = true;
out:
    pp_index_free(&seen);
    free(names);
    return ok;
}

/* Memory over time: `memory_values NAME...` names the columns of the
 * `memory` lines that follow it; the first must be `seconds`. */
static const char *const memory_names[] = {"seconds", "live", "resident", "mapped", "allocated", "sampled_inuse"};

static bool memory_values_line(parser_t *ps)
{
    char q[64];
    ps->nmemory_cols = 0;
    while (ps->p < ps->end) {
        const char *n = ps->p;
        while (ps->p < ps->end && is_name_char(*ps->p))
            ps->p++;
        if (ps->p == n || (ps->p < ps->end && *ps->p != ' ') || ps->nmemory_cols == 8)
            return fail(ps, "malformed 'memory_values' line '%s'", quote(n, ps->end, q, sizeof q));
        int f = -1;
        for (int i = 0; i < 6; i++)
            if (strlen(memory_names[i]) == (size_t)(ps->p - n) && !memcmp(memory_names[i], n, (size_t)(ps->p - n)))
                f = i;
        ps->memory_col[ps->nmemory_cols++] = f;
        if (ps->p < ps->end)
            ps->p++;
    }
    if (!ps->nmemory_cols || ps->memory_col[0] != 0)
        return fail(ps, "'memory_values' must begin with 'seconds'");
    return true;
}

static bool memory_line(parser_t *ps, pp_dump_t *d)
{
    char q[64];
    const char *line = ps->p;
    if (!ps->nmemory_cols)
        return fail(ps, "a 'memory' line before 'memory_values'");
    pp_memory_point_t pt = {0};
    for (size_t c = 0; c < ps->nmemory_cols; c++) {
        const char *v = ps->p;
        while (ps->p < ps->end && *ps->p != ' ')
            ps->p++;
        uint64_t x = 0;
        parser_t sub = *ps;
        sub.p = v;
        sub.end = ps->p;
        bool ok = c == 0 ? parse_seconds(v, ps->p, &pt.seconds) : take_dec(&sub, &x) && sub.p == ps->p;
        if (!ok)
            return fail(ps, "malformed 'memory' line '%s'", quote(line, ps->end, q, sizeof q));
        uint64_t *field[] = {NULL, &pt.live, &pt.resident, &pt.mapped, &pt.allocated, &pt.sampled_inuse};
        if (c > 0 && ps->memory_col[c] > 0)
            *field[ps->memory_col[c]] = x;
        if (c + 1 < ps->nmemory_cols && !take(ps, " "))
            return fail(ps, "malformed 'memory' line '%s': %zu numbers wanted", quote(line, ps->end, q, sizeof q),
                        ps->nmemory_cols);
    }
    if (ps->p != ps->end)
        return fail(ps, "malformed 'memory' line '%s': %zu numbers wanted", quote(line, ps->end, q, sizeof q),
                    ps->nmemory_cols);
    if (d->nmemory && pt.seconds < d->memory[d->nmemory - 1].seconds)
        return fail(ps, "'memory' lines out of time order");
    if (d->nmemory == ps->memory_cap) {
        ps->memory_cap = ps->memory_cap ? 2 * ps->memory_cap : 64;
        d->memory = xrealloc(d->memory, ps->memory_cap * sizeof *d->memory);
    }
    d->memory[d->nmemory++] = pt;
    return true;
}

/* One "KEY VALUE" header line (known keys checked, others skipped). */
static bool header_line(parser_t *ps, pp_dump_t *d, const char *key, size_t klen, unsigned *seen)
{
    int k = -1;
    if (klen == 13 && !memcmp(key, "memory_values", 13))
        return memory_values_line(ps);
    if (klen == 6 && !memcmp(key, "memory", 6))
        return memory_line(ps, d);
    for (int i = 0; i < H_N; i++)
        if (strlen(header_keys[i]) == klen && memcmp(header_keys[i], key, klen) == 0)
            k = i;
    if (k < 0 || (k == H_VALUES && ps->version < 2))
        return true; /* a key added later within the version */
    if (*seen & (1u << k))
        return fail(ps, "a second '%s' line", header_keys[k]);
    *seen |= 1u << k;
    const char *v = ps->p, *e = ps->end;
    char q[64];
    bool ok = true;
    switch (k) {
    case H_VALUES:
        return values_line(ps, d);
    case H_PROGRAM:
        ok = v < e;
        if (ok)
            d->program = pp_intern_n(v, (size_t)(e - v));
        break;
    case H_COMMAND:
        ok = v < e;
        if (ok)
            d->command = pp_intern_n(v, (size_t)(e - v));
        break;
    case H_REASON:
        for (const char *c = v; c < e; c++)
            ok &= *c >= 'a' && *c <= 'z';
        ok &= v < e;
        if (ok)
            d->reason = pp_intern_n(v, (size_t)(e - v));
        break;
    case H_PROCESS:
        for (const char *c = v; c < e; c++)
            ok &= (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f');
        ok &= v < e && e - v <= 32;
        if (ok)
            d->process = pp_intern_n(v, (size_t)(e - v));
        break;
    case H_TIME:
        ok = parse_seconds(v, e, &d->time);
        break;
    case H_UPTIME:
        ok = parse_seconds(v, e, &d->uptime);
        break;
    case H_PEAK_UPTIME:
        ok = parse_seconds(v, e, &d->peak_uptime);
        break;
    default: {
        uint64_t x = 0; /* read below even when take_dec fails */
        ok = take_dec(ps, &x) && ps->p == e;
        if (k == H_PID)
            d->pid = x;
        else if (k == H_SEQUENCE)
            d->sequence = x;
        else if (k == H_SAMPLE_RATE)
            d->sample_rate = x, ok &= x > 0;
        else if (k == H_PEAK_INUSE_SPACE)
            d->peak_inuse_space = x;
        else
            d->profiler_memory = x;
    }
    }
    if (!ok)
        return fail(ps, "bad '%s' value '%s'", header_keys[k], quote(v, e, q, sizeof q));
    return true;
}

static bool mapping_line(parser_t *ps, pp_mapping_t *m)
{
    if (!take_hex(ps, &m->start) || !take(ps, " ") || !take_hex(ps, &m->end) || !take(ps, " ") ||
        !take_hex(ps, &m->offset) || !take(ps, " "))
        return fail(ps, "malformed mapping line (want: mapping START END OFFSET BUILDID PATH)");
    const char *b = ps->p;
    if (take(ps, "- ")) {
        m->build_id = NULL;
    } else {
        while (ps->p < ps->end && ((*ps->p >= '0' && *ps->p <= '9') || (*ps->p >= 'a' && *ps->p <= 'f')))
            ps->p++;
        if (ps->p == b || ps->p - b > 256 || !take(ps, " "))
            return fail(ps, "malformed mapping line: bad build-id");
        m->build_id = pp_intern_n(b, (size_t)(ps->p - b - 1));
    }
    if (ps->p == ps->end)
        return fail(ps, "malformed mapping line: no path");
    m->path = pp_intern_n(ps->p, (size_t)(ps->end - ps->p));
    if (m->start >= m->end)
        return fail(ps, "mapping with START >= END");
    m->line = ps->line;
    return true;
}

/* frames of all stacks go into one array; offsets become pointers at the end */
typedef struct {
    uint64_t *v;
    size_t n, cap;
} frames_t;

/* "stack NUMBER... FRAME...": as many numbers as `values` names (version
 * 1: four), each kept by name, then at most PP_MAX_FRAMES 0x frames. */
static bool stack_line(parser_t *ps, pp_dump_stack_t *s, frames_t *fr)
{
    char q[64];
    size_t k = 0;
    memset(s->value, 0, sizeof s->value);
    while (ps->p < ps->end && !(ps->end - ps->p >= 2 && ps->p[0] == '0' && ps->p[1] == 'x')) {
        const char *t = ps->p;
        uint64_t x;
        if (!take_dec(ps, &x) || (ps->p < ps->end && *ps->p != ' ')) {
            bool digits = ps->p == t && t < ps->end && *t >= '0' && *t <= '9'; /* take_dec refused: too large */
            while (ps->p < ps->end && *ps->p != ' ')
                ps->p++;
            if (digits)
                return fail(ps, "malformed stack line: number %s is above 2^64-1", quote(t, ps->p, q, sizeof q));
            return fail(ps, "malformed stack line: '%s' is neither a number nor a 0x frame", quote(t, ps->p, q, sizeof q));
        }
        if (k < ps->nnumbers && ps->slot[k] >= 0)
            s->value[ps->slot[k]] = x;
        k++;
        if (ps->p < ps->end)
            ps->p++; /* the space: a space at the end is caught below */
    }
    if (k != ps->nnumbers) {
        if (ps->version < 2)
            return fail(ps, "stack line has %zu numbers, format version 1 has 4 (ALLOC_OBJECTS ALLOC_SPACE "
                            "INUSE_OBJECTS INUSE_SPACE)", k);
        return fail(ps, "stack line has %zu numbers, 'values' names %zu", k, ps->nnumbers);
    }
    size_t first = fr->n;
    while (ps->p < ps->end) {
        uint64_t a;
        if (fr->n - first == PP_MAX_FRAMES)
            return fail(ps, "stack with more than %d frames", PP_MAX_FRAMES);
        if (!take_hex(ps, &a) || (ps->p < ps->end && !take(ps, " ")))
            return fail(ps, "malformed stack line: bad frame address");
        if (fr->n == fr->cap) {
            fr->cap = fr->cap ? fr->cap * 2 : 1024;
            fr->v = xrealloc(fr->v, fr->cap * sizeof *fr->v);
        }
        fr->v[fr->n++] = a;
    }
    if (ps->end[-1] == ' ')
        return fail(ps, "malformed stack line: a space at the end");
    if (s->value[PP_INUSE_OBJECTS] > s->value[PP_ALLOC_OBJECTS] || s->value[PP_INUSE_SPACE] > s->value[PP_ALLOC_SPACE])
        return fail(ps, "stack with more in use than allocated");
    s->nframes = (uint32_t)(fr->n - first);
    s->frames = (uint64_t *)(uintptr_t)first; /* an offset until the end */
    s->line = ps->line;
    return true;
}

/* The first line past the header: version 2 must have named its numbers. */
static bool header_done(parser_t *ps, unsigned seen)
{
    if (ps->version >= 2 && !(seen & (1u << H_VALUES)))
        return fail(ps, "no 'values' line in the header (format version 2 names the numbers of its stack lines there)");
    return true;
}

static int by_start(const void *a, const void *b)
{
    const pp_mapping_t *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

pp_dump_t *pp_dump_parse(const char *name, const char *data, size_t len, char *err, size_t err_size)
{
    parser_t ps = {.name = name, .err = err, .err_size = err_size};
    pp_dump_t *d = xcalloc(1, sizeof *d);
    d->path = pp_intern(name);
    frames_t fr = {0};
    size_t mcap = 0, scap = 0;
    unsigned seen = 0;
    bool ok = false, ended = false;
    uint64_t end_n = 0;
    const char *p = data, *stop = data + len;

    if (len == 0) {
        fail(&ps, "empty file");
        goto out;
    }
    if (len < 18 || memcmp(data, "poolalloc-profile ", 18) != 0) {
        ps.line = 1;
        fail(&ps, "not a poolalloc profile (no 'poolalloc-profile VERSION' first line)");
        goto out;
    }
    if (data[len - 1] != '\n') {
        ps.line = 1;
        for (const char *c = data; c < stop - 1; c++)
            ps.line += *c == '\n';
        fail(&ps, "truncated: the last line has no newline");
        goto out;
    }
    while (p < stop) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        ps.line++;
        ps.p = p;
        ps.end = nl;
        p = nl + 1;
        if (memchr(ps.p, '\0', (size_t)(ps.end - ps.p))) {
            fail(&ps, "a NUL byte (not a text profile, or corrupted)");
            goto out;
        }
        char q[64];
        if (ps.line == 1) {
            uint64_t v;
            take(&ps, "poolalloc-profile "); /* checked before the loop */
            if (!take_dec(&ps, &v) || ps.p != ps.end) {
                fail(&ps, "bad format version '%s'", quote(ps.p, ps.end, q, sizeof q));
                goto out;
            }
            if (v < 1 || v > PP_FORMAT_VERSION) {
                fail(&ps, "format version %llu; this poolalloc-prof reads versions 1 to 3", (unsigned long long)v);
                goto out;
            }
            d->version = ps.version = (unsigned)v;
            if (v == 1) { /* the four numbers of Go's heap profile, unnamed */
                ps.slot = xmalloc(4 * sizeof *ps.slot);
                for (int i = 0; i < 4; i++)
                    ps.slot[i] = i;
                ps.nnumbers = 4;
                d->present = PP_GO_VALUES;
            }
            continue;
        }
        if (ended) {
            fail(&ps, "text after the 'end' line");
            goto out;
        }
        bool body = (ps.end - ps.p >= 8 && memcmp(ps.p, "mapping ", 8) == 0) ||
                    (ps.end - ps.p >= 6 && memcmp(ps.p, "stack ", 6) == 0) ||
                    (ps.end - ps.p >= 4 && memcmp(ps.p, "end ", 4) == 0);
        if (body && !header_done(&ps, seen))
            goto out;
        if (take(&ps, "mapping ")) {
            if (d->nstacks) {
                fail(&ps, "a mapping line after stack lines");
                goto out;
            }
            if (d->nmappings == mcap) {
                mcap = mcap ? mcap * 2 : 16;
                d->mappings = xrealloc(d->mappings, mcap * sizeof *d->mappings);
            }
            if (!mapping_line(&ps, &d->mappings[d->nmappings]))
                goto out;
            d->nmappings++;
        } else if (take(&ps, "stack ")) {
            if (d->nstacks == scap) {
                scap = scap ? scap * 2 : 64;
                d->stacks = xrealloc(d->stacks, scap * sizeof *d->stacks);
            }
            if (!stack_line(&ps, &d->stacks[d->nstacks], &fr))
                goto out;
            d->nstacks++;
        } else if (take(&ps, "end ")) {
            const char *line = ps.p - 4;
            if (!take_dec(&ps, &end_n) || ps.p != ps.end) {
                fail(&ps, "malformed end line '%s'", quote(line, ps.end, q, sizeof q));
                goto out;
            }
            if (end_n != d->nstacks) {
                fail(&ps, "'end %llu' but %zu stack lines: lines are missing or added", (unsigned long long)end_n, d->nstacks);
                goto out;
            }
            ended = true;
        } else {
            const char *k = ps.p;
            while (ps.p < ps.end && is_key_char(*ps.p))
                ps.p++;
            size_t klen = (size_t)(ps.p - k);
            if (klen == 0 || !take(&ps, " ")) {
                fail(&ps, "not a profile line: '%s'", quote(k, ps.end, q, sizeof q));
                goto out;
            }
            if (d->nmappings || d->nstacks) {
                fail(&ps, "header line '%.*s' after mappings or stacks", (int)(klen > 40 ? 40 : klen), k);
                goto out;
            }
            if (!header_line(&ps, d, k, klen, &seen))
                goto out;
        }
    }
    if (!ended) {
        fail(&ps, "truncated: no 'end' line (the file was cut short)");
        goto out;
    }
    for (int i = 0; i < H_REQUIRED; i++)
        if (!(seen & (1u << i))) {
            fail(&ps, "no '%s' line in the header", header_keys[i]);
            goto out;
        }
    if (d->nmappings > 1) /* qsort wants a non-NULL array, even for 0 */
        qsort(d->mappings, d->nmappings, sizeof *d->mappings, by_start);
    for (size_t i = 1; i < d->nmappings; i++) {
        const pp_mapping_t *a = &d->mappings[i - 1], *b = &d->mappings[i];
        if (b->start < a->end) { /* pp_dump_mapping_of wants one mapping per address */
            ps.line = a->line > b->line ? a->line : b->line;
            fail(&ps, "mapping overlaps the one on line %u", a->line > b->line ? b->line : a->line);
            goto out;
        }
    }
    ok = true;
out:
    free(ps.slot);
    if (!ok) {
        free(fr.v);
        for (size_t i = 0; i < d->nstacks; i++)
            d->stacks[i].frames = NULL;
        pp_dump_free(d);
        return NULL;
    }
    for (size_t i = 0; i < d->nstacks; i++) /* fr.v is NULL when no stack has frames */
        d->stacks[i].frames = fr.v ? fr.v + (size_t)(uintptr_t)d->stacks[i].frames : NULL;
    d->frames_storage = fr.v;
    return d;
}

pp_dump_t *pp_dump_read(const char *path, char *err, size_t err_size)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "(stdin)" : path;
    int fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_size, "%s: %s", name, strerror(errno));
        return NULL;
    }
    pp_buf_t b = {0};
    char chunk[1 << 16];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_size, "%s: %s", name, strerror(errno));
            if (!is_stdin)
                close(fd);
            pp_buf_free(&b);
            return NULL;
        }
        if (n == 0)
            break;
        pp_buf_put(&b, chunk, (size_t)n);
    }
    if (!is_stdin)
        close(fd);
    pp_dump_t *d = pp_dump_parse(name, b.data ? b.data : "", b.len, err, err_size);
    pp_buf_free(&b);
    return d;
}

void pp_dump_free(pp_dump_t *d)
{
    if (!d)
        return;
    free(d->mappings);
    free(d->memory);
    free(d->stacks);
    free(d->frames_storage);
    free(d);
}

const char *pp_dump_file_of(const char *path)
{
    static const char deleted[] = " (deleted)";
    size_t n = strlen(path), k = sizeof deleted - 1;
    return n > k && memcmp(path + n - k, deleted, k) == 0 ? pp_intern_n(path, n - k) : pp_intern(path);
}

const pp_mapping_t *pp_dump_mapping_of(const pp_dump_t *d, uint64_t addr)
{
    size_t lo = 0, hi = d->nmappings;
    while (lo < hi) { /* the last mapping with start <= addr */
        size_t mid = (lo + hi) / 2;
        if (d->mappings[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || addr >= d->mappings[lo - 1].end)
        return NULL;
    return &d->mappings[lo - 1];
}
