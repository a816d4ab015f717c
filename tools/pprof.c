/* pprof.c -- a merged profile as a gzipped perftools.profiles.Profile
 * (google/pprof's proto/profile.proto), encoded by hand: the format needs
 * only varints and length-delimited fields, not a protobuf library.
 *
 * The top-level message is streamed through deflate one field at a time
 * (a Profile is a plain concatenation of its fields, in any order), so
 * memory stays at one sample or location plus the string and function
 * tables. The string table goes last, once every string has its index. */
#include "pprof.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common.h"

/* Field numbers of profile.proto. */
enum {
    PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3, PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6, PROFILE_TIME_NANOS = 9,
    PROFILE_PERIOD_TYPE = 11, PROFILE_PERIOD = 12, PROFILE_COMMENT = 13,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,
    VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2,
    SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2,
    MAPPING_ID = 1, MAPPING_MEMORY_START = 2, MAPPING_MEMORY_LIMIT = 3, MAPPING_FILE_OFFSET = 4,
    MAPPING_FILENAME = 5, MAPPING_BUILD_ID = 6, MAPPING_HAS_FUNCTIONS = 7,
    MAPPING_HAS_FILENAMES = 8, MAPPING_HAS_LINE_NUMBERS = 9, MAPPING_HAS_INLINE_FRAMES = 10,
    LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4,
    LINE_FUNCTION_ID = 1, LINE_LINE = 2,
    FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3, FUNCTION_FILENAME = 4,
};

enum { WIRE_VARINT = 0, WIRE_BYTES = 2 };

/* ---- encoding into a buffer ---- */

/* Writes v at p (room for 10 bytes); returns its length. */
static size_t varint_to(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static void put_varint(pp_buf_t *b, uint64_t v)
{
    unsigned char tmp[10];
    pp_buf_put(b, tmp, varint_to(tmp, v));
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void put_key(pp_buf_t *b, unsigned field, unsigned wire) { put_varint(b, (uint64_t)field << 3 | wire); }

/* Scalars equal to their default are left out, as proto3 encoders do.
 * int64 fields carry two's complement, so a negative value is 10 bytes. */
static void put_u64(pp_buf_t *b, unsigned field, uint64_t v)
{
    if (v) {
        put_key(b, field, WIRE_VARINT);
        put_varint(b, v);
    }
}

static void put_i64(pp_buf_t *b, unsigned field, int64_t v) { put_u64(b, field, (uint64_t)v); }

static void put_bool(pp_buf_t *b, unsigned field, bool v) { put_u64(b, field, v); }

static void put_bytes(pp_buf_t *b, unsigned field, const void *p, size_t n)
{
    put_key(b, field, WIRE_BYTES);
    put_varint(b, n);
    pp_buf_put(b, p, n);
}

/* A packed repeated varint field; values are uint64 or two's complement
 * int64 alike. */
static void put_packed(pp_buf_t *b, unsigned field, const uint64_t *v, size_t n)
{
    if (!n)
        return;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += varint_size(v[i]);
    put_key(b, field, WIRE_BYTES);
    put_varint(b, len);
    for (size_t i = 0; i < n; i++)
        put_varint(b, v[i]);
}

/* ---- the string table: indices by content, "" is 0 ---- */

typedef struct {
    const char *s;
    size_t len;
} str_t;

typedef struct {
    str_t *strs;          /* by index */
    size_t n, cap;
    pp_index_t index;
} strtab_t;

static uint64_t str_hash_at(const void *strs, size_t i)
{
    const str_t *e = (const str_t *)strs + i;
    return pp_hash_bytes(e->s, e->len, 0);
}

/* s must stay valid until the table is written. */
static int64_t strtab_index(strtab_t *t, const char *s)
{
    size_t len = strlen(s);
    pp_index_reserve(&t->index, t->n, str_hash_at, t->strs);
    size_t j = pp_index_first(&t->index, pp_hash_bytes(s, len, 0));
    for (; t->index.slot[j]; j = pp_index_next(&t->index, j)) {
        const str_t *e = &t->strs[t->index.slot[j] - 1];
        if (e->len == len && memcmp(e->s, s, len) == 0)
            return (int64_t)t->index.slot[j] - 1;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->strs = xrealloc(t->strs, t->cap * sizeof *t->strs);
    }
    t->strs[t->n] = (str_t){s, len};
    t->index.slot[j] = ++t->n;
    return (int64_t)t->n - 1;
}

/* ---- functions: one per distinct (name, file), both interned ---- */

typedef struct {
    const char *name, *file;
} func_t;

typedef struct {
    func_t *funcs;        /* id - 1 */
    size_t n, cap;
    pp_index_t index;
} functab_t;

static uint64_t func_hash(const char *name, const char *file)
{
    return pp_hash_mix(pp_hash_mix(0, (uintptr_t)name), (uintptr_t)file);
}

static uint64_t func_hash_at(const void *funcs, size_t i)
{
    const func_t *f = (const func_t *)funcs + i;
    return func_hash(f->name, f->file);
}

static uint64_t functab_id(functab_t *t, const char *name, const char *file)
{
    pp_index_reserve(&t->index, t->n, func_hash_at, t->funcs);
    size_t j = pp_index_first(&t->index, func_hash(name, file));
    for (; t->index.slot[j]; j = pp_index_next(&t->index, j)) {
        const func_t *f = &t->funcs[t->index.slot[j] - 1];
        if (f->name == name && f->file == file)
            return t->index.slot[j];
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->funcs = xrealloc(t->funcs, t->cap * sizeof *t->funcs);
    }
    t->funcs[t->n] = (func_t){name, file};
    t->index.slot[j] = ++t->n;
    return t->n;
}

/* ---- the gzip stream to out ---- */

typedef struct {
    FILE *out;
    const char *what;
    z_stream z;
    int failed;
    unsigned char zbuf[1 << 16];
} gz_t;

static int gz_open(gz_t *g, FILE *out, const char *what)
{
    memset(&g->z, 0, sizeof g->z);
    g->out = out;
    g->what = what;
    g->failed = 0;
    /* 15 + 16: a gzip wrapper; with no header set, zlib writes mtime 0 and
     * no name, so equal profiles give equal files. */
    if (deflateInit2(&g->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        pp_error("cannot write %s: zlib: %s", what, g->z.msg ? g->z.msg : "cannot start deflate");
        return -1;
    }
    return 0;
}

/* Compresses n bytes at p; flush Z_FINISH ends the stream. After an
 * error (already reported) it does nothing. */
static void gz_run(gz_t *g, const void *p, size_t n, int flush)
{
    const unsigned char *in = p;
    if (g->failed || (!n && flush == Z_NO_FLUSH))
        return;
    for (;;) {
        /* avail_in is 32 bits: feed large inputs in slices */
        if (!g->z.avail_in && n) {
            size_t k = n < (1u << 30) ? n : (1u << 30);
            g->z.next_in = (unsigned char *)in;
            g->z.avail_in = (uInt)k;
            in += k;
            n -= k;
        }
        g->z.next_out = g->zbuf;
        g->z.avail_out = sizeof g->zbuf;
        int r = deflate(&g->z, n ? Z_NO_FLUSH : flush);
        if (r == Z_STREAM_ERROR) {
            pp_error("cannot write %s: zlib: %s", g->what, g->z.msg ? g->z.msg : "deflate failed");
            g->failed = 1;
            return;
        }
        if (pp_write_all(g->out, g->zbuf, sizeof g->zbuf - g->z.avail_out, g->what) < 0) {
            g->failed = 1;
            return;
        }
        /* done when the input is taken and deflate had room to spare
         * (under Z_FINISH that is Z_STREAM_END) */
        if (r == Z_STREAM_END || (g->z.avail_out && !g->z.avail_in && !n && flush != Z_FINISH))
            return;
    }
}

/* One top-level field whose message is in m. */
static void gz_field(gz_t *g, unsigned field, const pp_buf_t *m)
{
    unsigned char head[20];
    size_t n = varint_to(head, (uint64_t)field << 3 | WIRE_BYTES);
    n += varint_to(head + n, m->len);
    gz_run(g, head, n, Z_NO_FLUSH);
    gz_run(g, m->data, m->len, Z_NO_FLUSH);
}

/* ---- the profile ---- */

typedef struct {
    gz_t gz;
    strtab_t strs;
    functab_t funcs;
    pp_buf_t m;           /* the top-level field being built */
    pp_buf_t sub;         /* a message nested in it */
} writer_t;

static void value_type(writer_t *w, pp_buf_t *b, unsigned field, const char *type, const char *unit)
{
    w->sub.len = 0;
    put_i64(&w->sub, VALUE_TYPE_TYPE, strtab_index(&w->strs, type));
    put_i64(&w->sub, VALUE_TYPE_UNIT, strtab_index(&w->strs, unit));
    put_bytes(b, field, w->sub.data, w->sub.len);
}

/* Samples whose stack was not kept (a record with no frames) get one
 * location of this name, as fold and top show them: pprof counts a sample
 * without locations in its totals but shows it nowhere. */
static const char no_stack[] = PP_NO_STACK;

static void write_samples(writer_t *w, const pp_profile_t *p, uint64_t no_stack_id, const int *types, size_t ntypes)
{
    size_t cap = PP_MAX_FRAMES;
    uint64_t *ids = xmalloc(cap * sizeof *ids);
    uint64_t v[PP_NWEIGHTS];
    for (size_t i = 0; i < p->nstacks; i++) {
        const pp_stack_t *st = &p->stacks[i];
        if (st->nlocs > cap) {
            cap = st->nlocs;
            ids = xrealloc(ids, cap * sizeof *ids);
        }
        for (uint32_t k = 0; k < st->nlocs; k++)
            ids[k] = st->locs[k]->id;
        for (size_t k = 0; k < ntypes; k++)
            v[k] = (uint64_t)st->value[types[k]];
        w->m.len = 0;
        if (st->nlocs == 0)
            put_packed(&w->m, SAMPLE_LOCATION_ID, &no_stack_id, 1);
        put_packed(&w->m, SAMPLE_LOCATION_ID, ids, st->nlocs);
        put_packed(&w->m, SAMPLE_VALUE, v, ntypes);
        gz_field(&w->gz, PROFILE_SAMPLE, &w->m);
    }
    free(ids);
}

/* Entries [id - 1] of the locations the stacks use, and of their modules;
 * gaps stay NULL. Going by id keeps the output in a stable order. */
static const pp_location_t **used_locations(const pp_profile_t *p, size_t *n)
{
    uint32_t max = 0;
    for (size_t i = 0; i < p->nstacks; i++)
        for (uint32_t k = 0; k < p->stacks[i].nlocs; k++)
            if (p->stacks[i].locs[k]->id > max)
                max = p->stacks[i].locs[k]->id;
    const pp_location_t **byid = xcalloc(max, sizeof *byid);
    for (size_t i = 0; i < p->nstacks; i++)
        for (uint32_t k = 0; k < p->stacks[i].nlocs; k++) {
            const pp_location_t *l = p->stacks[i].locs[k];
            if (l->id)
                byid[l->id - 1] = l;
        }
    *n = max;
    return byid;
}

static const pp_module_t **used_modules(const pp_location_t *const *locs, size_t nlocs, size_t *n)
{
    uint32_t max = 0;
    for (size_t i = 0; i < nlocs; i++)
        if (locs[i] && locs[i]->module && locs[i]->module->id > max)
            max = locs[i]->module->id;
    const pp_module_t **byid = xcalloc(max, sizeof *byid);
    for (size_t i = 0; i < nlocs; i++)
        if (locs[i] && locs[i]->module && locs[i]->module->id)
            byid[locs[i]->module->id - 1] = locs[i]->module;
    *n = max;
    return byid;
}

static void write_mapping(writer_t *w, const pp_module_t *mod)
{
    w->m.len = 0;
    put_u64(&w->m, MAPPING_ID, mod->id);
    put_u64(&w->m, MAPPING_MEMORY_START, mod->start);
    put_u64(&w->m, MAPPING_MEMORY_LIMIT, mod->end);
    put_u64(&w->m, MAPPING_FILE_OFFSET, mod->offset);
    put_i64(&w->m, MAPPING_FILENAME, strtab_index(&w->strs, mod->path ? mod->path : ""));
    put_i64(&w->m, MAPPING_BUILD_ID, strtab_index(&w->strs, mod->build_id ? mod->build_id : ""));
    /* Symbolized already: pprof must not try again (and cannot do better) */
    put_bool(&w->m, MAPPING_HAS_FUNCTIONS, mod->symbols);
    put_bool(&w->m, MAPPING_HAS_FILENAMES, mod->symbols);
    put_bool(&w->m, MAPPING_HAS_LINE_NUMBERS, mod->symbols);
    put_bool(&w->m, MAPPING_HAS_INLINE_FRAMES, mod->symbols);
    gz_field(&w->gz, PROFILE_MAPPING, &w->m);
}

static void write_location(writer_t *w, const pp_location_t *l)
{
    w->m.len = 0;
    put_u64(&w->m, LOCATION_ID, l->id);
    put_u64(&w->m, LOCATION_MAPPING_ID, l->module ? l->module->id : 0);
    put_u64(&w->m, LOCATION_ADDRESS, l->address);
    for (uint32_t k = 0; k < l->nframes; k++) {
        const pp_frame_t *f = &l->frames[k];
        w->sub.len = 0;
        put_u64(&w->sub, LINE_FUNCTION_ID, functab_id(&w->funcs, f->function, f->file));
        put_i64(&w->sub, LINE_LINE, f->line);
        put_bytes(&w->m, LOCATION_LINE, w->sub.data, w->sub.len);
    }
    gz_field(&w->gz, PROFILE_LOCATION, &w->m);
}

static void write_functions(writer_t *w)
{
    for (size_t i = 0; i < w->funcs.n; i++) {
        const func_t *f = &w->funcs.funcs[i];
        int64_t name = strtab_index(&w->strs, f->name);
        w->m.len = 0;
        put_u64(&w->m, FUNCTION_ID, i + 1);
        put_i64(&w->m, FUNCTION_NAME, name);
        put_i64(&w->m, FUNCTION_SYSTEM_NAME, name);
        put_i64(&w->m, FUNCTION_FILENAME, strtab_index(&w->strs, f->file ? f->file : ""));
        gz_field(&w->gz, PROFILE_FUNCTION, &w->m);
    }
}

static char *comment_text(const pp_profile_t *p)
{
    pp_buf_t b = {0};
    pp_buf_printf(&b, "poolalloc-prof: %zu dump%s", p->ndumps, p->ndumps == 1 ? "" : "s");
    if (p->nprocesses != p->ndumps)
        pp_buf_printf(&b, " (%zu process%s)", p->nprocesses, p->nprocesses == 1 ? "" : "es");
    if (p->program)
        pp_buf_printf(&b, " of %s", p->program);
    if (p->sample_rate)
        pp_buf_printf(&b, ", sample rate %llu bytes", (unsigned long long)p->sample_rate);
    else if (p->ndumps > 1)
        pp_buf_puts(&b, ", sample rates differ");
    return b.data;
}

int pp_pprof_write(FILE *out, const char *what, const pp_profile_t *p, const pp_symbolizer_t *s, const int *types,
                   size_t ntypes, int default_weight)
{
    (void)s; /* the stacks point at their locations: nothing to look up */
    writer_t *w = xcalloc(1, sizeof *w);
    if (gz_open(&w->gz, out, what) < 0) {
        free(w);
        return -1;
    }
    strtab_index(&w->strs, "");

    bool has_default = false;
    for (size_t i = 0; i < ntypes; i++) {
        has_default |= types[i] == default_weight;
        w->m.len = 0;
        value_type(w, &w->m, PROFILE_SAMPLE_TYPE, pp_weight_names[types[i]], pp_weight_units[types[i]]);
        /* value_type wrote a whole field into m: pass it through as is */
        gz_run(&w->gz, w->m.data, w->m.len, Z_NO_FLUSH);
    }
    size_t nlocs, nmods;
    const pp_location_t **locs = used_locations(p, &nlocs);
    uint64_t no_stack_id = 0; /* after every real location's id */
    for (size_t i = 0; i < p->nstacks && !no_stack_id; i++)
        if (p->stacks[i].nlocs == 0)
            no_stack_id = (uint64_t)nlocs + 1;
    write_samples(w, p, no_stack_id, types, ntypes);

    const pp_module_t **mods = used_modules(locs, nlocs, &nmods);
    /* pprof takes the first mapping for the main binary (its "File:"):
     * the program's, then the others by id */
    size_t prog = nmods;
    for (size_t i = 0; i < nmods && p->program; i++)
        if (mods[i] && mods[i]->path && strcmp(mods[i]->path, p->program) == 0) {
            prog = i;
            write_mapping(w, mods[i]);
            break;
        }
    for (size_t i = 0; i < nmods; i++)
        if (mods[i] && i != prog)
            write_mapping(w, mods[i]);
    for (size_t i = 0; i < nlocs; i++)
        if (locs[i])
            write_location(w, locs[i]);
    if (no_stack_id) {
        pp_frame_t f = {pp_intern(no_stack), NULL, 0};
        pp_location_t l = {.id = (uint32_t)no_stack_id, .nframes = 1, .frames = &f};
        write_location(w, &l);
    }
    free(mods);
    free(locs);
    write_functions(w);

    char *comment = comment_text(p);
    w->m.len = 0;
    value_type(w, &w->m, PROFILE_PERIOD_TYPE, "space", "bytes");
    put_i64(&w->m, PROFILE_PERIOD, p->sample_rate > INT64_MAX ? INT64_MAX : (int64_t)p->sample_rate);
    if (p->time_last > 0 && p->time_last < 9e9) /* int64 nanoseconds end in 2262 */
        put_i64(&w->m, PROFILE_TIME_NANOS, (int64_t)(p->time_last * 1e9 + 0.5));
    put_i64(&w->m, PROFILE_COMMENT, strtab_index(&w->strs, comment));
    if (has_default)
        /* a string index: the name of the sample type, not its position */
        put_i64(&w->m, PROFILE_DEFAULT_SAMPLE_TYPE, strtab_index(&w->strs, pp_weight_names[default_weight]));
    gz_run(&w->gz, w->m.data, w->m.len, Z_NO_FLUSH);

    for (size_t i = 0; i < w->strs.n; i++) {
        w->m.len = 0;
        put_bytes(&w->m, PROFILE_STRING_TABLE, w->strs.strs[i].s, w->strs.strs[i].len);
        gz_run(&w->gz, w->m.data, w->m.len, Z_NO_FLUSH);
    }
    gz_run(&w->gz, NULL, 0, Z_FINISH);

    int failed = w->gz.failed;
    if (!failed && fflush(out) != 0) {
        pp_error("cannot write %s: %s", what, strerror(errno));
        failed = 1;
    }
    deflateEnd(&w->gz.z);
    free(comment);
    free(w->strs.strs);
    pp_index_free(&w->strs.index);
    free(w->funcs.funcs);
    pp_index_free(&w->funcs.index);
    pp_buf_free(&w->m);
    pp_buf_free(&w->sub);
    free(w);
    return failed ? -1 : 0;
}
