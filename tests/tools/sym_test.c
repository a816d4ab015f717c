/* sym_test.c -- tools/symbolize.c on real dumps of a program it knows.
 *
 * Builds tests/tools/sym_target.cc + sym_target_c.c with -g -O2 (PIE and
 * -no-pie), runs them under LD_PRELOAD=libpoolalloc.so with every
 * allocation sampled, reads the dumps and checks the symbolized stacks:
 * function names (demangled C++, a template, C), file:line of each call
 * taken from the "SITE:" markers in the sources, inlined calls expanded
 * innermost first, then what happens when the program moved (warning, then
 * --search), was replaced (build-id mismatch), was split into a separate
 * debug file, and a hand-made dump with [vdso], [program], an address in no
 * mapping and a library loaded elsewhere.
 *
 * usage: sym_test TESTS_TOOLS_DIR LIBPOOLALLOC_SO WORK_DIR
 * Prints "N passed, N failed"; exits 1 on a failure. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "dump.h"
#include "symbolize.h"

static int passed, failed;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            passed++;                                                         \
        } else {                                                              \
            failed++;                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

static const char *src_dir, *lib_so, *work;

static void run(const char *fmt, ...) PP_PRINTF(1, 2);
static void run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd;
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    if (system(cmd) != 0)
        pp_die("sym_test: command failed: %s", cmd);
    free(cmd);
}

/* The line of "SITE:name" in a source file. */
static unsigned site_line(const char *file, const char *name)
{
    char *path = xasprintf("%s/%s", src_dir, file), *marker = xasprintf("SITE:%s", name);
    FILE *f = fopen(path, "r");
    if (!f)
        pp_die("sym_test: cannot open %s", path);
    char buf[512];
    unsigned n = 0, found = 0;
    while (fgets(buf, sizeof buf, f)) {
        n++;
        char *p = strstr(buf, marker);
        if (p && (p[strlen(marker)] == ' ' || p[strlen(marker)] == '\n'))
            found = n;
    }
    fclose(f);
    if (!found)
        pp_die("sym_test: no %s in %s", marker, path);
    free(path);
    free(marker);
    return found;
}

/* Runs program under the profiler in its directory; returns its dump. */
static pp_dump_t *profile(const char *dir, const char *program)
{
    run("cd '%s' && rm -f p.*.prof && POOLALLOC_PROFILE='%s/p' POOLALLOC_SAMPLE_RATE=1 LD_PRELOAD='%s' ./%s", dir,
        dir, lib_so, program);
    char *pat = xasprintf("%s/p.*.prof", dir);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0 || g.gl_pathc != 1)
        pp_die("sym_test: expected one dump matching %s", pat);
    char err[512];
    pp_dump_t *d = pp_dump_read(g.gl_pathv[0], err, sizeof err);
    if (!d)
        pp_die("sym_test: %s", err);
    globfree(&g);
    free(pat);
    return d;
}

/* ---- stderr capture, for the warnings ---- */
static int saved_stderr = -1;
static char *capture_path;

static void capture_begin(void)
{
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
}

static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *f = fopen(capture_path, "r");
    pp_buf_t b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        pp_buf_put(&b, buf, n);
    fclose(f);
    pp_buf_puts(&b, "");
    return b.data;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- looking at stacks ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = s ? strlen(s) : 0, b = strlen(suffix);
    return s && a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Symbolizes every frame of every stack (as the tool does) and returns the
 * stack whose first location's outermost function is fn. */
static const pp_dump_stack_t *stack_in(pp_symbolizer_t *s, const pp_dump_t *d, const char *fn)
{
    const pp_dump_stack_t *hit = NULL;
    for (size_t i = 0; i < d->nstacks; i++) {
        const pp_dump_stack_t *st = &d->stacks[i];
        for (uint32_t f = 0; f < st->nframes; f++) {
            const pp_location_t *l = pp_sym_lookup(s, d, st->frames[f]);
            if (f == 0 && strcmp(l->frames[l->nframes - 1].function, fn) == 0)
                hit = st;
        }
    }
    return hit;
}

static const pp_location_t *loc(pp_symbolizer_t *s, const pp_dump_t *d, const pp_dump_stack_t *st, uint32_t i)
{
    return st && i < st->nframes ? pp_sym_lookup(s, d, st->frames[i]) : NULL;
}

static void check_frame(const pp_location_t *l, uint32_t i, const char *fn, const char *file, unsigned line,
                        const char *what)
{
    CHECK(l && i < l->nframes, "%s: no frame %u (%u frames)", what, i, l ? l->nframes : 0);
    if (!l || i >= l->nframes)
        return;
    const pp_frame_t *f = &l->frames[i];
    CHECK(strcmp(f->function, fn) == 0, "%s: frame %u is '%s', want '%s'", what, i, f->function, fn);
    if (file) {
        char *suffix = xasprintf("/%s", file);
        CHECK(ends_with(f->file, suffix) && f->line == line, "%s: frame %u at %s:%u, want %s:%u", what, i,
              f->file ? f->file : "(null)", f->line, file, line);
        free(suffix);
    } else {
        CHECK(f->file == NULL && f->line == 0, "%s: frame %u at %s:%u, want no line", what, i,
              f->file ? f->file : "(null)", f->line);
    }
}

#define CC "sym_target.cc"
#define C "sym_target_c.c"
#define H "sym_target_inl.h"
#define OUTER "demo::outer(unsigned long)"
#define MAKE "demo::Pool<long>::make(unsigned long)"

/* The three allocation sites, fully or partly symbolized. */
static void check_sites(const pp_dump_t *d, bool lines, bool inlines, const char *what)
{
    pp_sym_options_t o = {.lines = lines, .inlines = inlines};
    pp_symbolizer_t *s = pp_sym_new(&o);
    const char *cc = lines ? CC : NULL, *c = lines ? C : NULL, *h = lines ? H : NULL;

    const pp_dump_stack_t *st = stack_in(s, d, OUTER);
    CHECK(st != NULL, "%s: no stack in %s", what, OUTER);
    const pp_location_t *l = loc(s, d, st, 0);
    if (inlines) {
        CHECK(l && l->nframes == 3, "%s: outer's location has %u frames, want 3", what, l ? l->nframes : 0);
        check_frame(l, 0, "demo::inner", cc, site_line(CC, "inner"), what);
        check_frame(l, 1, "demo::middle", cc, site_line(CC, "middle"), what);
        check_frame(l, 2, OUTER, cc, site_line(CC, "outer"), what);
    } else {
        CHECK(l && l->nframes == 1, "%s: outer's location has %u frames, want 1", what, l ? l->nframes : 0);
        check_frame(l, 0, OUTER, cc, site_line(CC, "outer"), what);
    }
    check_frame(loc(s, d, st, 1), 0, "main", cc, site_line(CC, "main_outer"), what);

    st = stack_in(s, d, MAKE);
    CHECK(st != NULL, "%s: no stack in %s", what, MAKE);
    check_frame(loc(s, d, st, 0), 0, MAKE, cc, site_line(CC, "make"), what);
    check_frame(loc(s, d, st, 1), 0, "main", cc, site_line(CC, "main_make"), what);

    st = stack_in(s, d, "c_site");
    CHECK(st != NULL, "%s: no stack in c_site", what);
    l = loc(s, d, st, 0);
    if (inlines) {
        check_frame(l, 0, "c_inner", h, site_line(H, "c_inner"), what);
        check_frame(l, 1, "c_site", c, site_line(C, "c_site"), what);
    } else {
        check_frame(l, 0, "c_site", c, site_line(C, "c_site"), what);
    }
    check_frame(loc(s, d, st, 1), 0, "main", cc, site_line(CC, "main_c"), what);

    /* ids in order of first use, arrays by id */
    uint32_t n;
    const pp_location_t *const *locs = pp_sym_locations(s, &n);
    bool ids_ok = n > 0;
    for (uint32_t i = 0; i < n; i++)
        ids_ok &= locs[i]->id == i + 1 && locs[i]->nframes >= 1;
    CHECK(ids_ok, "%s: location ids are not 1..%u", what, n);
    const pp_module_t *const *mods = pp_sym_modules(s, &n);
    ids_ok = n > 0;
    for (uint32_t i = 0; i < n; i++)
        ids_ok &= mods[i]->id == i + 1;
    CHECK(ids_ok, "%s: module ids are not 1..%u", what, n);
    pp_sym_free(s);
}

/* The mapping of the program in its dump. */
static const pp_mapping_t *program_mapping(const pp_dump_t *d, const char *base)
{
    for (size_t i = 0; i < d->nmappings; i++)
        if (ends_with(d->mappings[i].path, base))
            return &d->mappings[i];
    pp_die("sym_test: %s: no mapping for %s", d->path, base);
}

/* With the program's file unusable: one warning, frames MODULE+0xOFFSET. */
static void check_unsymbolized(const pp_dump_t *d, const char *want_warning, const char *what)
{
    pp_symbolizer_t *s = pp_sym_new(&(pp_sym_options_t){.lines = true, .inlines = true});
    const pp_mapping_t *m = program_mapping(d, "/sym_target");
    capture_begin();
    for (size_t i = 0; i < d->nstacks; i++)
        for (uint32_t f = 0; f < d->stacks[i].nframes; f++)
            pp_sym_lookup(s, d, d->stacks[i].frames[f]);
    char *err = capture_end();
    CHECK(strstr(err, want_warning) != NULL && count_lines(err) == 1, "%s: warnings:\n%s\nwant one with:\n%s", what,
          err, want_warning);
    free(err);

    bool all = true;
    int n = 0;
    for (size_t i = 0; i < d->nstacks; i++)
        for (uint32_t f = 0; f < d->stacks[i].nframes; f++) {
            uint64_t a = d->stacks[i].frames[f];
            if (a < m->start || a >= m->end)
                continue;
            const pp_location_t *l = pp_sym_lookup(s, d, a);
            char *want = xasprintf("sym_target+0x%llx", (unsigned long long)(a - m->start + m->offset));
            all &= l->nframes == 1 && strcmp(l->frames[0].function, want) == 0 && !l->frames[0].file &&
                   l->module && !l->module->symbols && l->file_offset == a - m->start + m->offset;
            n++;
            free(want);
        }
    CHECK(all && n > 0, "%s: the program's %d frames are not all sym_target+0xOFFSET", what, n);
    pp_sym_free(s);
}

/* Symbolized through a search directory, without a warning. */
static void check_searched(const pp_dump_t *d, const char *dir, const char *what)
{
    const char *dirs[] = {"/nonexistent-dir", dir};
    pp_symbolizer_t *s =
        pp_sym_new(&(pp_sym_options_t){.lines = true, .inlines = true, .search_dirs = dirs, .nsearch_dirs = 2});
    capture_begin();
    const pp_dump_stack_t *st = stack_in(s, d, OUTER);
    char *err = capture_end();
    CHECK(err[0] == '\0', "%s: unexpected warnings: %s", what, err);
    free(err);
    const pp_location_t *l = loc(s, d, st, 0);
    check_frame(l, 0, "demo::inner", CC, site_line(CC, "inner"), what);
    check_frame(l, 2, OUTER, CC, site_line(CC, "outer"), what);
    check_frame(loc(s, d, st, 1), 0, "main", CC, site_line(CC, "main_outer"), what);
    CHECK(l && l->module->symbols, "%s: module without symbols", what);
    pp_sym_free(s);
}

static char *short_id(const char *id)
{
    return xasprintf("%.12s%s", id, strlen(id) > 12 ? "..." : "");
}

static int cmp_mapping(const void *a, const void *b)
{
    const pp_mapping_t *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* A dump made by hand: pseudo-files, no mapping, a library moved between
 * processes, and equal addresses from two dumps. */
static void check_synthetic(const pp_dump_t *real)
{
    const pp_mapping_t *libc = program_mapping(real, "/libc.so.6");
    const pp_mapping_t *prog = program_mapping(real, "/sym_target");
    const uint64_t shift = 0x10000000;
    pp_mapping_t maps[] = {
        {0x1000, 0x2000, 0x0, "0123456789abcdef", "[program]", 3},
        {prog->start + shift, prog->end + shift, prog->offset, prog->build_id, prog->path, 4},
        {libc->start + shift, libc->end + shift, libc->offset, libc->build_id, libc->path, 5},
        {0x7fff00000000, 0x7fff00001000, 0x0, "feedfacefeedface", "[vdso]", 6},
    };
    qsort(maps, 4, sizeof maps[0], cmp_mapping);
    pp_dump_t d = {.path = "hand.prof", .mappings = maps, .nmappings = 4};

    pp_symbolizer_t *s = pp_sym_new(&(pp_sym_options_t){.lines = true, .inlines = true});
    /* the real dump first: the synthetic one must find the same locations */
    const pp_dump_stack_t *st = stack_in(s, real, OUTER);
    const pp_location_t *outer = loc(s, real, st, 0), *main_loc = loc(s, real, st, 1);
    const pp_location_t *libc_loc = NULL;
    uint64_t libc_addr = 0;
    for (uint32_t f = 0; st && f < st->nframes && !libc_loc; f++)
        if (st->frames[f] >= libc->start && st->frames[f] < libc->end) {
            libc_addr = st->frames[f];
            libc_loc = loc(s, real, st, f);
        }
    CHECK(libc_loc && libc_loc->module && libc_loc->nframes >= 1, "no libc frame under main");

    capture_begin();
    const pp_location_t *o2 = pp_sym_lookup(s, &d, st->frames[0] + shift);
    const pp_location_t *m2 = pp_sym_lookup(s, &d, st->frames[1] + shift);
    const pp_location_t *l2 = libc_loc ? pp_sym_lookup(s, &d, libc_addr + shift) : NULL;
    const pp_location_t *vdso = pp_sym_lookup(s, &d, 0x7fff00000abc);
    const pp_location_t *vdso2 = pp_sym_lookup(s, &d, 0x7fff00000abc);
    const pp_location_t *progl = pp_sym_lookup(s, &d, 0x1010);
    const pp_location_t *none = pp_sym_lookup(s, &d, 0x42);
    const pp_location_t *none2 = pp_sym_lookup(s, real, 0x42);
    char *err = capture_end();

    CHECK(o2 == outer && m2 == main_loc && l2 == libc_loc,
          "the same file offsets in another dump at other addresses give other locations");
    CHECK(vdso == vdso2 && vdso->nframes == 1 && strcmp(vdso->frames[0].function, "[vdso]+0xabc") == 0 &&
              vdso->module && strcmp(vdso->module->path, "[vdso]") == 0 && vdso->file_offset == 0xabc &&
              vdso->address == 0x7fff00000abc,
          "[vdso] frame: %s", vdso->frames[0].function);
    CHECK(strcmp(progl->frames[0].function, "[program]+0x10") == 0, "[program] frame: %s", progl->frames[0].function);
    CHECK(none == none2 && none->module == NULL && none->file_offset == 0x42 && none->address == 0x42 &&
              none->nframes == 1 && strcmp(none->frames[0].function, "0x42") == 0 && !none->frames[0].file,
          "address in no mapping: %s", none->frames[0].function);
    CHECK(count_lines(err) == 1 &&
              strstr(err, "warning: hand.prof:3: [program]: the executable's path was not recorded; its frames are "
                          "shown as [program]+0xOFFSET\n"),
          "warnings for the hand-made dump:\n%s", err);
    free(err);

    /* a module is the first mapping line seen for it; location.address is
     * in that mapping */
    CHECK(outer->module->start == prog->start && outer->module->offset == prog->offset &&
              outer->address == prog->start + outer->file_offset - prog->offset,
          "module/location addresses");
    CHECK(outer->module->build_id && strcmp(outer->module->build_id, prog->build_id) == 0 &&
              strcmp(outer->module->path, prog->path) == 0 && outer->module->symbols,
          "module identity");

    uint32_t n;
    const pp_location_t *const *locs = pp_sym_locations(s, &n);
    CHECK(n >= 4 && locs[outer->id - 1] == outer && locs[none->id - 1] == none && none->id == n,
          "location array by id");
    const pp_module_t *const *mods = pp_sym_modules(s, &n);
    CHECK(vdso->module && mods[vdso->module->id - 1] == vdso->module && mods[outer->module->id - 1] == outer->module,
          "module array by id");

    /* libc through its separate debug file alone (a debug-only ELF: its
     * segment offsets are not the file's), same names and lines */
    char *dbg = xasprintf("/usr/lib/debug/.build-id/%.2s/%s.debug", libc->build_id, libc->build_id + 2);
    if (libc_loc && libc->build_id && access(dbg, R_OK) == 0) {
        pp_mapping_t gone = *libc;
        gone.path = "/nonexistent/libc.so.6";
        pp_dump_t d2 = {.path = "gone.prof", .mappings = &gone, .nmappings = 1};
        pp_symbolizer_t *s2 = pp_sym_new(&(pp_sym_options_t){.lines = true, .inlines = true});
        capture_begin();
        const pp_location_t *l3 = pp_sym_lookup(s2, &d2, libc_addr);
        err = capture_end();
        CHECK(err[0] == '\0', "libc by build-id: warnings %s", err);
        free(err);
        bool same = l3->nframes == libc_loc->nframes;
        for (uint32_t i = 0; same && i < l3->nframes; i++)
            same = l3->frames[i].function == libc_loc->frames[i].function &&
                   l3->frames[i].file == libc_loc->frames[i].file && l3->frames[i].line == libc_loc->frames[i].line;
        CHECK(same && l3->module && l3->module->symbols, "libc through %s: %s, want %s", dbg, l3->frames[0].function,
              libc_loc->frames[0].function);
        CHECK(strncmp(libc_loc->frames[libc_loc->nframes - 1].function, "__libc_start", 12) == 0 &&
                  libc_loc->frames[0].file != NULL,
              "libc frame under main: %s", libc_loc->frames[libc_loc->nframes - 1].function);
        pp_sym_free(s2);
    } else {
        printf("skipped: no %s\n", dbg);
    }
    free(dbg);
    pp_sym_free(s);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        pp_die("usage: sym_test TESTS_TOOLS_DIR LIBPOOLALLOC_SO WORK_DIR");
    /* absolute: the programs run in directories of their own */
    run("mkdir -p '%s'", argv[3]);
    char *paths[3];
    for (int i = 0; i < 3; i++)
        if (!(paths[i] = realpath(argv[i + 1], NULL)))
            pp_die("sym_test: %s: %s", argv[i + 1], strerror(errno));
    src_dir = paths[0];
    lib_so = paths[1];
    work = paths[2];
    capture_path = xasprintf("%s/stderr.txt", work);
    run("rm -rf '%s'/pie '%s'/nopie '%s'/moved '%s'/mis '%s'/split && mkdir -p '%s'/pie '%s'/nopie '%s'/moved/a "
        "'%s'/mis '%s'/split/dbg",
        work, work, work, work, work, work, work, work, work, work);
    run("gcc -g -O2 -c '%s/sym_target_c.c' -o '%s/c.o'", src_dir, work);
    run("g++ -g -O2 -pie -fPIE '%s/sym_target.cc' '%s/c.o' -o '%s/pie/sym_target'", src_dir, work, work);
    run("gcc -g -O2 -fno-pie -c '%s/sym_target_c.c' -o '%s/c-nopie.o'", src_dir, work);
    run("g++ -g -O2 -no-pie -fno-pie '%s/sym_target.cc' '%s/c-nopie.o' -o '%s/nopie/sym_target'", src_dir, work, work);

    char *pie_dir = xasprintf("%s/pie", work), *nopie_dir = xasprintf("%s/nopie", work);
    pp_dump_t *pie = profile(pie_dir, "sym_target");
    check_sites(pie, true, true, "PIE, inlines");
    check_sites(pie, true, false, "PIE, no inlines");
    check_sites(pie, false, true, "PIE, no lines");

    pp_dump_t *nopie = profile(nopie_dir, "sym_target");
    const pp_mapping_t *np = program_mapping(nopie, "/sym_target");
    CHECK(np->start == 0x401000 && np->offset == 0x1000, "non-PIE mapping at %#llx offset %#llx",
          (unsigned long long)np->start, (unsigned long long)np->offset);
    check_sites(nopie, true, true, "non-PIE, inlines");

    check_synthetic(pie);

    /* moved: run from a/, then a/ renamed to b/ */
    char *a = xasprintf("%s/moved/a", work), *b = xasprintf("%s/moved/b", work);
    run("cp '%s/pie/sym_target' '%s/'", work, a);
    pp_dump_t *moved = profile(a, "sym_target");
    run("mv '%s' '%s'", a, b);
    const pp_mapping_t *mm = program_mapping(moved, "/sym_target");
    char *want = xasprintf("poolalloc-prof: warning: %s:%u: %s/sym_target: No such file or directory; its frames are "
                           "shown as sym_target+0xOFFSET (--search DIR looks for moved files)\n",
                           moved->path, mm->line, a);
    check_unsymbolized(moved, want, "moved");
    check_searched(moved, b, "moved, --search");
    free(want);

    /* replaced: another program copied over it after the run */
    char *mis = xasprintf("%s/mis", work);
    run("cp '%s/pie/sym_target' '%s/'", work, mis);
    pp_dump_t *replaced = profile(mis, "sym_target");
    run("cp /bin/true '%s/sym_target'", mis);
    mm = program_mapping(replaced, "/sym_target");
    char *sid = short_id(mm->build_id);
    want = xasprintf("poolalloc-prof: warning: %s:%u: %s/sym_target has build-id ", replaced->path, mm->line, mis);
    check_unsymbolized(replaced, want, "replaced");
    free(want);
    want = xasprintf(", the profile says %s (changed since the profile was written); its frames are shown as "
                     "sym_target+0xOFFSET\n",
                     sid);
    check_unsymbolized(replaced, want, "replaced");
    check_searched(replaced, pie_dir, "replaced, --search finds the original");
    free(want);
    free(sid);

    /* split debug info: a stripped copy with a debuglink next to its .debug
     * file, and a non-PIE debug-only file found through --search */
    char *split = xasprintf("%s/split", work);
    run("cd '%s' && cp ../pie/sym_target . && objcopy --only-keep-debug sym_target sym_target.debug && "
        "strip -g sym_target && objcopy --add-gnu-debuglink=sym_target.debug sym_target",
        split);
    pp_dump_t *stripped = profile(split, "sym_target");
    check_sites(stripped, true, true, "stripped + debuglink");
    run("cp '%s/nopie/sym_target' '%s/split/' && cd '%s/split' && objcopy --only-keep-debug sym_target "
        "dbg/sym_target && rm -f p.*.prof",
        work, work, work);
    pp_dump_t *np2 = profile(split, "sym_target");
    run("rm '%s/sym_target'", split);
    char *dbg_dir = xasprintf("%s/dbg", split);
    check_searched(np2, dbg_dir, "non-PIE debug-only file by --search");

    pp_dump_free(pie);
    pp_dump_free(nopie);
    pp_dump_free(moved);
    pp_dump_free(replaced);
    pp_dump_free(stripped);
    pp_dump_free(np2);
    free(pie_dir);
    free(nopie_dir);
    free(a);
    free(b);
    free(mis);
    free(split);
    free(dbg_dir);
    free(capture_path);
    for (int i = 0; i < 3; i++)
        free(paths[i]);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
