/* pprof.c -- the sampled heap as Go's net/http/pprof serves it: a gzipped
 * profile.proto (github.com/google/pprof, proto/profile.proto) with the
 * sample types alloc_objects/count, alloc_space/bytes, inuse_objects/count,
 * inuse_space/bytes, period_type space/bytes and the sample rate as period.
 *
 * Frames are addresses, one Location per distinct address, each in the
 * Mapping of the loaded file it falls in, with the file's path and GNU
 * build-id: pprof symbolizes them from the local files, and Parca or
 * Pyroscope on their servers. Addresses are return addresses less one (the
 * call instruction), as Go writes them.
 *
 * Written as a stream: the string table's order is fixed before anything is
 * written (the sample types' names, then each mapping's file and build-id),
 * samples are encoded one by one while a hash table, mapped for the request
 * and unmapped after, gives each address its location id. gzip is made of
 * stored blocks (RFC 1951 3.2.4, no compression: a profile is small, and
 * deflate would need tables and time in the program's process). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "http.h"
#include "out.h"

#define MAX_MAPPINGS 2048
#define MAX_SLOTS ((size_t)1 << 22)       /* the location table's largest size (64 MiB) */

/* ---- gzip of stored blocks ------------------------------------------------ */

typedef struct {
    pa_out_t o;
    uint32_t crc, size;
    size_t len;
    uint8_t block[65535];
} gz_t;

static gz_t gz;                            /* the server's thread is the only writer */
static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static void gz_block(gz_t *g, bool final)
{
    uint8_t h[5] = { final, (uint8_t)g->len, (uint8_t)(g->len >> 8), (uint8_t)~g->len, (uint8_t)(~g->len >> 8) };
    pa_out_bytes(&g->o, h, sizeof h);
    pa_out_bytes(&g->o, g->block, g->len);
    g->len = 0;
}

static void gz_write(gz_t *g, const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) {
        g->crc = crc_table[(g->crc ^ s[i]) & 0xff] ^ (g->crc >> 8);
        if (g->len == sizeof g->block) gz_block(g, false);
        g->block[g->len++] = s[i];
    }
    g->size += (uint32_t)n;
}

static void gz_open(gz_t *g, int fd)
{
    if (!crc_table[1]) crc_init();
    pa_out_open(&g->o, fd);
    static const uint8_t header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };
    pa_out_bytes(&g->o, header, sizeof header);
    g->crc = 0xffffffffu, g->size = 0, g->len = 0;
}

static int gz_close(gz_t *g)
{
    gz_block(g, true);
    uint32_t crc = ~g->crc;
    uint8_t t[8] = { (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24),
                     (uint8_t)g->size, (uint8_t)(g->size >> 8), (uint8_t)(g->size >> 16), (uint8_t)(g->size >> 24) };
    pa_out_bytes(&g->o, t, sizeof t);
    return pa_out_flush(&g->o);
}

/* ---- protobuf ------------------------------------------------------------ */

typedef struct { uint8_t *p, *end; } msg_t;   /* a nested message being built */

static void varint(msg_t *m, uint64_t v)
{
    do {
        if (m->p < m->end) *m->p++ = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
        v >>= 7;
    } while (v);
}

static void key(msg_t *m, int field, int wire) { varint(m, (uint64_t)field << 3 | (uint64_t)wire); }
static void uint_field(msg_t *m, int field, uint64_t v) { key(m, field, 0), varint(m, v); }

/* field of the top-level message, from a nested one built in buf */
static void emit(int field, const uint8_t *buf, const msg_t *m)
{
    uint8_t h[16];
    msg_t k = { h, h + sizeof h };
    key(&k, field, 2);
    varint(&k, (uint64_t)(m->p - buf));
    gz_write(&gz, h, (size_t)(k.p - h));
    gz_write(&gz, buf, (size_t)(m->p - buf));
}

static void emit_uint(int field, uint64_t v)
{
    uint8_t h[24];
    msg_t k = { h, h + sizeof h };
    uint_field(&k, field, v);
    gz_write(&gz, h, (size_t)(k.p - h));
}

static void emit_string(const char *s)
{
    uint8_t h[16];
    msg_t k = { h, h + sizeof h };
    size_t n = strlen(s);
    key(&k, 6, 2);                         /* Profile.string_table */
    varint(&k, n);
    gz_write(&gz, h, (size_t)(k.p - h));
    gz_write(&gz, s, n);
}

/* ---- the string table, fixed in advance ---------------------------------- */

enum { S_EMPTY, S_ALLOC_OBJECTS, S_COUNT, S_ALLOC_SPACE, S_BYTES, S_INUSE_OBJECTS, S_INUSE_SPACE, S_SPACE,
       S_DEFAULT, S_MAPPINGS };
static const char *const fixed[S_DEFAULT] = { "", "alloc_objects", "count", "alloc_space", "bytes",
                                               "inuse_objects", "inuse_space", "space" };

typedef struct {
    uintptr_t start, limit, offset;
    char name[512], build_id[130];
} mapping_t;

static mapping_t maps[MAX_MAPPINGS];
static size_t nmaps;

static void add_mapping(const pa_prof_mapping_t *m, void *arg)
{
    (void)arg;
    if (nmaps == MAX_MAPPINGS) return;
    mapping_t *d = &maps[nmaps++];
    d->start = m->start, d->limit = m->limit, d->offset = m->offset;
    snprintf(d->name, sizeof d->name, "%s", m->name);
    snprintf(d->build_id, sizeof d->build_id, "%s", strcmp(m->build_id, "-") ? m->build_id : "");
}

static uint64_t mapping_of(uintptr_t a)
{
    for (size_t i = 0; i < nmaps; i++)
        if (a >= maps[i].start && a < maps[i].limit) return i + 1;
    return 0;
}

/* ---- locations: one id per distinct address ------------------------------ */

typedef struct { uint64_t address, id; } slot_t;

typedef struct {
    slot_t *slot;
    size_t cap, n;
    bool full;                             /* an address found no room: the answer fails */
} locations_t;

static slot_t *slots_map(size_t cap)
{
    void *p = mmap(NULL, cap * sizeof(slot_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static slot_t *slot_of(slot_t *slot, size_t cap, uint64_t address)
{
    size_t i = (size_t)((address * 0x9e3779b97f4a7c15u) >> 20) & (cap - 1);
    while (slot[i].id && slot[i].address != address) i = (i + 1) & (cap - 1);
    return &slot[i];
}

/* Doubles the table (at most MAX_SLOTS); false if it cannot. */
static bool grow(locations_t *l)
{
    slot_t *bigger = l->cap < MAX_SLOTS ? slots_map(2 * l->cap) : NULL;
    if (!bigger) return false;
    for (size_t i = 0; i < l->cap; i++)
        if (l->slot[i].id) *slot_of(bigger, 2 * l->cap, l->slot[i].address) = l->slot[i];
    munmap(l->slot, l->cap * sizeof(slot_t));
    l->slot = bigger, l->cap *= 2;
    return true;
}

/* The id of address's Location, numbered from 1 as addresses come; 0 if
 * the table is full and cannot grow. */
static uint64_t location_id(locations_t *l, uint64_t address)
{
    if (l->n >= l->cap / 4 * 3 && !grow(l)) {
        l->full = true;
        return 0;
    }
    slot_t *s = slot_of(l->slot, l->cap, address);
    if (!s->id) *s = (slot_t){ address, ++l->n };
    return s->id;
}

/* ---- snapshots: the base of a difference ---------------------------------- */

typedef struct { const pa_prof_stack_t *st; uint64_t v[4]; } snap_entry_t;
struct pa_http_snapshot {
    size_t n, cap, bytes;
    snap_entry_t e[];
};

static void count_stack(const pa_prof_stack_t *st, void *arg)
{
    size_t *c = arg;
    c[0]++;
    c[1] += st->depth;
}

static void snap_stack(const pa_prof_stack_t *st, void *arg)
{
    pa_http_snapshot_t *s = arg;
    uint64_t v[4];
    if (s->n == s->cap || !pa_prof_heap_values(st, v)) return;
    s->e[s->n].st = st;
    memcpy(s->e[s->n].v, v, sizeof v);
    s->n++;
}

pa_http_snapshot_t *pa_http_snapshot_take(void)
{
    size_t c[2] = { 0, 0 };
    pa_prof_stacks_foreach(count_stack, c);
    size_t cap = c[0] + c[0] / 4 + 64;     /* room for the stacks that appear meanwhile */
    size_t bytes = sizeof(pa_http_snapshot_t) + cap * sizeof(snap_entry_t);
    pa_http_snapshot_t *s = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) return NULL;
    s->n = 0, s->cap = cap, s->bytes = bytes;
    pa_prof_stacks_foreach(snap_stack, s);
    return s;
}

void pa_http_snapshot_free(pa_http_snapshot_t *s)
{
    if (s) munmap(s, s->bytes);
}

/* ---- samples ------------------------------------------------------------- */

typedef struct {
    locations_t loc;
    const pa_http_snapshot_t *base;
    size_t next;                            /* in base: stacks come in the same order */
} samples_t;

static void put_sample(const pa_prof_stack_t *st, void *arg)
{
    samples_t *s = arg;
    uint64_t v[4];
    if (!pa_prof_heap_values(st, v)) return;
    int64_t d[4];
    const snap_entry_t *b = s->base && s->next < s->base->n && s->base->e[s->next].st == st ? &s->base->e[s->next++] : NULL;
    bool any = false;
    for (int i = 0; i < 4; i++) {
        d[i] = (int64_t)(v[i] - (b ? b->v[i] : 0));
        any |= d[i] != 0;
    }
    if (!any) return;
    uint8_t ids[PA_PROF_MAX_FRAMES * 10], vals[4 * 10], buf[sizeof ids + sizeof vals + 16];
    msg_t li = { ids, ids + sizeof ids }, vi = { vals, vals + sizeof vals }, m = { buf, buf + sizeof buf };
    for (uint32_t i = 0; i < st->depth; i++) {
        uintptr_t a = (uintptr_t)st->frames[i];
        if (st->frames[i] == PA_PROF_TRUNCATED) continue;   /* the mark of a cut stack: no code there */
        uint64_t id = location_id(&s->loc, a - 1);
        if (!id) return;                                 /* no room: the answer fails (EFBIG) */
        varint(&li, id);
    }
    for (int i = 0; i < 4; i++) varint(&vi, (uint64_t)d[i]);
    key(&m, 1, 2), varint(&m, (uint64_t)(li.p - ids));   /* Sample.location_id, packed */
    memcpy(m.p, ids, (size_t)(li.p - ids)), m.p += li.p - ids;
    key(&m, 2, 2), varint(&m, (uint64_t)(vi.p - vals));  /* Sample.value, packed */
    memcpy(m.p, vals, (size_t)(vi.p - vals)), m.p += vi.p - vals;
    emit(2, buf, &m);                                    /* Profile.sample */
}

static void value_type(int field, int type, int unit)
{
    uint8_t buf[16];
    msg_t m = { buf, buf + sizeof buf };
    uint_field(&m, 1, (uint64_t)type), uint_field(&m, 2, (uint64_t)unit);
    emit(field, buf, &m);
}

int pa_http_pprof(int fd, const pa_http_snapshot_t *base, const char *default_type, uint64_t duration_ns)
{
    samples_t s = { .base = base };
    s.loc.cap = 4096;                                    /* 64 KiB; doubled as addresses come */
    s.loc.slot = slots_map(s.loc.cap);
    if (!s.loc.slot) return ENOMEM;
    nmaps = 0;
    pa_prof_mappings(add_mapping, NULL);

    gz_open(&gz, fd);
    value_type(1, S_ALLOC_OBJECTS, S_COUNT);             /* Profile.sample_type */
    value_type(1, S_ALLOC_SPACE, S_BYTES);
    value_type(1, S_INUSE_OBJECTS, S_COUNT);
    value_type(1, S_INUSE_SPACE, S_BYTES);
    pa_prof_stacks_foreach(put_sample, &s);              /* the table may grow meanwhile: capped at half full */
    for (size_t i = 0; i < nmaps; i++) {                 /* Profile.mapping */
        uint8_t buf[64];
        msg_t m = { buf, buf + sizeof buf };
        uint_field(&m, 1, i + 1), uint_field(&m, 2, maps[i].start), uint_field(&m, 3, maps[i].limit);
        uint_field(&m, 4, maps[i].offset), uint_field(&m, 5, S_MAPPINGS + 2 * i);
        uint_field(&m, 6, S_MAPPINGS + 2 * i + 1);
        emit(3, buf, &m);
    }
    for (size_t i = 0; i < s.loc.cap; i++) {             /* Profile.location */
        const slot_t *l = &s.loc.slot[i];
        if (!l->id) continue;
        uint8_t buf[40];
        msg_t m = { buf, buf + sizeof buf };
        uint_field(&m, 1, l->id);
        uint64_t map = mapping_of((uintptr_t)l->address);
        if (map) uint_field(&m, 2, map);
        uint_field(&m, 3, l->address);
        emit(4, buf, &m);
    }
    for (int i = 0; i < S_DEFAULT; i++) emit_string(fixed[i]);
    emit_string(default_type ? default_type : "");      /* S_DEFAULT */
    for (size_t i = 0; i < nmaps; i++) emit_string(maps[i].name), emit_string(maps[i].build_id);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    emit_uint(9, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);   /* time_nanos */
    if (duration_ns) emit_uint(10, duration_ns);         /* duration_nanos */
    value_type(11, S_SPACE, S_BYTES);                    /* period_type */
    emit_uint(12, pa_options.sample_rate);               /* period */
    if (default_type) emit_uint(14, S_DEFAULT);          /* default_sample_type */
    munmap(s.loc.slot, s.loc.cap * sizeof(slot_t));
    int err = gz_close(&gz);
    return s.loc.full ? EFBIG : err;
}
