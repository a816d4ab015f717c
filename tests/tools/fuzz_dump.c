/* fuzz_dump.c -- libFuzzer target for the dump parser (tools/dump.c).
 *
 * A parse that succeeds must give a dump that keeps the promises of dump.h
 * and docs/profile-format.md, and that reads back the same once written in
 * the canonical form; a parse that fails must say why in one line naming a
 * real line. Any broken promise aborts, so the fuzzer keeps the input.
 * tests/tools/fuzz_replay.c runs the same function on a corpus without
 * libFuzzer. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dump.h"

#define NAME "fuzz.prof"

#define CHECK(cond, ...)                                                                \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_dump: %s:%d: invariant '%s' broken: ", __FILE__,      \
                    __LINE__, #cond);                                                   \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* Lines as a reader counts them: the last one may lack its newline. */
static size_t count_lines(const uint8_t *data, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    if (size && data[size - 1] != '\n')
        n++;
    return n;
}

static void check_error(const char *err, size_t err_size, size_t nlines)
{
    size_t len = strnlen(err, err_size);
    CHECK(len < err_size, "the message is not terminated");
    CHECK(len > 0, "empty message");
    for (size_t i = 0; i < len; i++)
        CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f, "control byte 0x%02x in '%s'",
              (unsigned char)err[i], err);
    size_t nl = strlen(NAME);
    CHECK(strncmp(err, NAME ":", nl + 1) == 0, "'%s' does not start with '" NAME ":'", err);
    const char *p = err + nl + 1;
    if (*p >= '0' && *p <= '9') { /* "NAME:LINE: why" */
        uint64_t line = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            CHECK(line < UINT64_MAX / 10 - 10, "line number overflows in '%s'", err);
            line = line * 10 + (uint64_t)(*p - '0');
        }
        CHECK(*p == ':', "'%s': no ':' after the line number", err);
        p++;
        CHECK(line >= 1 && line <= nlines + 1, "'%s' names line %" PRIu64 " of %zu", err, line, nlines);
    }
    CHECK(p[0] == ' ' && p[1] != '\0', "'%s' has no reason after the location", err);
}

/* The mapping holding addr by looking at every one. */
static const pp_mapping_t *scan_mapping(const pp_dump_t *d, uint64_t addr)
{
    for (size_t i = 0; i < d->nmappings; i++)
        if (d->mappings[i].start <= addr && addr < d->mappings[i].end)
            return &d->mappings[i];
    return NULL;
}

static void check_mapping_of(const pp_dump_t *d, uint64_t addr)
{
    const pp_mapping_t *m = pp_dump_mapping_of(d, addr);
    const pp_mapping_t *any = scan_mapping(d, addr);
    if (m) {
        CHECK(m >= d->mappings && m < d->mappings + d->nmappings, "mapping_of(0x%" PRIx64 ") is not one of the dump's", addr);
        CHECK(m->start <= addr && addr < m->end, "mapping_of(0x%" PRIx64 ") gave [0x%" PRIx64 ", 0x%" PRIx64 ")", addr,
              m->start, m->end);
    } else {
        CHECK(!any, "mapping_of(0x%" PRIx64 ") is NULL but [0x%" PRIx64 ", 0x%" PRIx64 ") (line %u) holds it", addr,
              any->start, any->end, any->line);
    }
}

static bool is_lower_hex(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static void check_dump(const pp_dump_t *d, size_t nlines)
{
    CHECK(d->path && strcmp(d->path, NAME) == 0, "path '%s'", d->path ? d->path : "(null)");
    CHECK(d->program && *d->program && !strchr(d->program, '\n'), "program");
    CHECK(d->reason && *d->reason, "reason");
    CHECK(!d->process || (*d->process && !strchr(d->process, '\n')), "process");
    CHECK(d->sample_rate > 0, "sample_rate 0");
    CHECK(d->time >= 0 && d->uptime >= 0, "negative time %f or uptime %f", d->time, d->uptime);
    CHECK(d->nmappings == 0 || d->mappings, "mappings");
    CHECK(d->nstacks == 0 || d->stacks, "stacks");
    CHECK(d->version >= 1 && d->version <= 3, "version %u", d->version);
    CHECK((d->present & PP_GO_VALUES) == PP_GO_VALUES && (d->present & ~PP_ALL_VALUES) == 0, "values present 0x%x",
          d->present);
    CHECK(d->version >= 2 || d->present == PP_GO_VALUES, "version 1 with values 0x%x", d->present);
    CHECK(d->nmemory == 0 || d->memory, "memory");
    for (size_t i = 1; i < d->nmemory; i++)
        CHECK(d->memory[i - 1].seconds <= d->memory[i].seconds, "memory points out of order at %zu", i);
    CHECK(!d->command || (*d->command && !strchr(d->command, '\n')), "command");

    for (size_t i = 0; i < d->nmappings; i++) {
        const pp_mapping_t *m = &d->mappings[i];
        CHECK(m->start < m->end, "mapping %zu: [0x%" PRIx64 ", 0x%" PRIx64 ")", i, m->start, m->end);
        CHECK(i == 0 || m[-1].start <= m->start, "mappings not sorted at %zu", i);
        CHECK(m->path && *m->path && !strchr(m->path, '\n'), "mapping %zu: path", i);
        CHECK(!m->build_id || is_lower_hex(m->build_id), "mapping %zu: build-id '%s'", i, m->build_id);
        CHECK(m->line >= 2 && m->line <= nlines, "mapping %zu: line %u of %zu", i, m->line, nlines);
        /* the edges of every mapping, inside and out */
        check_mapping_of(d, m->start);
        check_mapping_of(d, m->end - 1);
        check_mapping_of(d, m->end);
        if (m->start)
            check_mapping_of(d, m->start - 1);
    }
    check_mapping_of(d, 0);
    check_mapping_of(d, UINT64_MAX);

    for (size_t i = 0; i < d->nstacks; i++) {
        const pp_dump_stack_t *s = &d->stacks[i];
        CHECK(s->nframes <= PP_MAX_FRAMES, "stack %zu: %u frames", i, s->nframes);
        CHECK(s->nframes == 0 || s->frames, "stack %zu: frames NULL", i);
        CHECK(s->value[PP_INUSE_OBJECTS] <= s->value[PP_ALLOC_OBJECTS], "stack %zu: in-use objects", i);
        CHECK(s->value[PP_INUSE_SPACE] <= s->value[PP_ALLOC_SPACE], "stack %zu: in-use space", i);
        for (int v = 0; v < PP_NVALUES; v++)
            CHECK((d->present & PP_VALUE_BIT(v)) || s->value[v] == 0, "stack %zu: %s not in the file but %" PRIu64, i,
                  pp_value_names[v], s->value[v]);
        CHECK(s->line >= 2 && s->line <= nlines, "stack %zu: line %u of %zu", i, s->line, nlines);
        CHECK(i == 0 || s[-1].line < s->line, "stacks not in file order at %zu", i);
        CHECK(d->nmappings == 0 || s->line > d->mappings[0].line, "stack %zu before a mapping", i);
        for (uint32_t j = 0; j < s->nframes; j++)
            check_mapping_of(d, s->frames[j]);
    }
}

/* time and uptime as the writer puts them (six and three decimals), or
 * with nine when that would not give back the same double. */
static void put_seconds(pp_buf_t *b, const char *key, double v, int places)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", places, v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof tmp, "%.9f", v);
    pp_buf_printf(b, "%s %s\n", key, tmp);
}

static void write_canonical(const pp_dump_t *d, pp_buf_t *b)
{
    pp_buf_printf(b, "poolalloc-profile %u\n", d->version);
    pp_buf_printf(b, "program %s\n", d->program);
    pp_buf_printf(b, "pid %" PRIu64 "\n", d->pid);
    put_seconds(b, "time", d->time, 6);
    put_seconds(b, "uptime", d->uptime, 3);
    pp_buf_printf(b, "reason %s\n", d->reason);
    pp_buf_printf(b, "sequence %" PRIu64 "\n", d->sequence);
    pp_buf_printf(b, "sample_rate %" PRIu64 "\n", d->sample_rate);
    pp_buf_printf(b, "profiler_memory %" PRIu64 "\n", d->profiler_memory);
    if (d->process) /* added within version 1: absent from older files */
        pp_buf_printf(b, "process %s\n", d->process);
    if (d->version >= 2) { /* the known names the file had, in the writer's order */
        pp_buf_puts(b, "values");
        for (int v = 0; v < PP_NVALUES; v++)
            if (d->present & PP_VALUE_BIT(v))
                pp_buf_printf(b, " %s", pp_value_names[v]);
        pp_buf_puts(b, "\n");
    }
    for (size_t i = 0; i < d->nmappings; i++) {
        const pp_mapping_t *m = &d->mappings[i];
        pp_buf_printf(b, "mapping 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " %s %s\n", m->start, m->end, m->offset,
                      m->build_id ? m->build_id : "-", m->path);
    }
    for (size_t i = 0; i < d->nstacks; i++) {
        const pp_dump_stack_t *s = &d->stacks[i];
        pp_buf_puts(b, "stack");
        for (int v = 0; v < PP_NVALUES; v++)
            if (d->present & PP_VALUE_BIT(v))
                pp_buf_printf(b, " %" PRIu64, s->value[v]);
        for (uint32_t j = 0; j < s->nframes; j++)
            pp_buf_printf(b, " 0x%" PRIx64, s->frames[j]);
        pp_buf_puts(b, "\n");
    }
    pp_buf_printf(b, "end %zu\n", d->nstacks);
}

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* Mappings with equal starts may come out of qsort in either order, so the
 * two lists are compared sorted on every field. */
static int mapping_cmp(const void *pa, const void *pb)
{
    const pp_mapping_t *a = pa, *b = pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    int c = strcmp(a->build_id ? a->build_id : "-", b->build_id ? b->build_id : "-");
    return c ? c : strcmp(a->path, b->path);
}

static void check_same(const pp_dump_t *a, const pp_dump_t *b)
{
    CHECK(str_eq(a->program, b->program), "round trip: program '%s' became '%s'", a->program, b->program);
    CHECK(str_eq(a->reason, b->reason), "round trip: reason '%s' became '%s'", a->reason, b->reason);
    CHECK(str_eq(a->process, b->process), "round trip: process '%s' became '%s'", a->process ? a->process : "(none)",
          b->process ? b->process : "(none)");
    CHECK(a->pid == b->pid && a->sequence == b->sequence && a->sample_rate == b->sample_rate &&
              a->profiler_memory == b->profiler_memory,
          "round trip: a numeric header changed");
    CHECK(a->time == b->time, "round trip: time %.17g became %.17g", a->time, b->time);
    CHECK(a->uptime == b->uptime, "round trip: uptime %.17g became %.17g", a->uptime, b->uptime);
    CHECK(a->version == b->version && a->present == b->present, "round trip: version %u values 0x%x became %u 0x%x",
          a->version, a->present, b->version, b->present);
    CHECK(a->nmappings == b->nmappings, "round trip: %zu mappings became %zu", a->nmappings, b->nmappings);
    CHECK(a->nstacks == b->nstacks, "round trip: %zu stacks became %zu", a->nstacks, b->nstacks);

    size_t n = a->nmappings;
    if (n) {
        pp_mapping_t *ma = xmalloc(n * sizeof *ma), *mb = xmalloc(n * sizeof *mb);
        memcpy(ma, a->mappings, n * sizeof *ma);
        memcpy(mb, b->mappings, n * sizeof *mb);
        qsort(ma, n, sizeof *ma, mapping_cmp);
        qsort(mb, n, sizeof *mb, mapping_cmp);
        for (size_t i = 0; i < n; i++)
            CHECK(mapping_cmp(&ma[i], &mb[i]) == 0, "round trip: mapping at line %u differs", ma[i].line);
        free(ma);
        free(mb);
    }

    for (size_t i = 0; i < a->nstacks; i++) {
        const pp_dump_stack_t *x = &a->stacks[i], *y = &b->stacks[i];
        CHECK(memcmp(x->value, y->value, sizeof x->value) == 0, "round trip: stack %zu values", i);
        CHECK(x->nframes == y->nframes, "round trip: stack %zu: %u frames became %u", i, x->nframes, y->nframes);
        CHECK(x->nframes == 0 || memcmp(x->frames, y->frames, x->nframes * sizeof *x->frames) == 0,
              "round trip: stack %zu frames", i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t nlines = count_lines(data, size);
    char err[512];
    memset(err, 'X', sizeof err);
    pp_dump_t *d = pp_dump_parse(NAME, (const char *)data, size, err, sizeof err);
    if (!d) {
        check_error(err, sizeof err, nlines);
        /* a short buffer gets the start of the same message, terminated */
        char small[17];
        memset(small, 'X', sizeof small);
        CHECK(!pp_dump_parse(NAME, (const char *)data, size, small, sizeof small), "second parse succeeded");
        CHECK(strnlen(small, sizeof small) < sizeof small, "short message not terminated");
        CHECK(strncmp(small, err, strlen(small)) == 0 && strlen(small) == (strlen(err) < 16 ? strlen(err) : 16),
              "short message '%s' is not the start of '%s'", small, err);
        return 0;
    }
    check_dump(d, nlines);

    pp_buf_t out = {0};
    write_canonical(d, &out);
    char err2[512];
    pp_dump_t *again = pp_dump_parse(NAME, out.data, out.len, err2, sizeof err2);
    CHECK(again, "round trip: the canonical form does not parse: %s", err2);
    check_dump(again, count_lines((const uint8_t *)out.data, out.len));
    check_same(d, again);
    pp_dump_free(again);
    pp_buf_free(&out);
    pp_dump_free(d);
    return 0;
}
