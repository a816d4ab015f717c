/* pprof_driver.c -- writes a known profile with pp_pprof_write, for
 * pprof_check.sh to read back with `go tool pprof`. Linked with
 * tools/pprof.c and tools/common.c only: the modules, locations and stacks
 * are built here by hand, so the test does not depend on the symbolizer or
 * on dumps.
 *
 *   pprof_driver OUT [DEFAULT [empty | big]]
 *
 * OUT "-" is stdout; DEFAULT a pp_weight index (default 3, inuse_space);
 * "empty" writes a profile without stacks, "big" one of BIG_STACKS stacks
 * made by formula (see big_profile), whose gzip is several times the
 * writer's 64 KiB output buffer. */
#include <stdlib.h>
#include <string.h>

#include "../../tools/common.h"
#include "../../tools/pprof.h"

/* profile.c is not linked: the same tables as it defines (the names of
 * the weights past Go's four are the last ones, as the tool names them). */
const char *const pp_weight_names[PP_NWEIGHTS] = {
    "alloc_objects", "alloc_space", "inuse_objects", "inuse_space",
    [PP_FREED_OBJECTS] = "freed_objects", [PP_NEVER_FREED] = "never_freed",
};
const char *const pp_weight_units[PP_NWEIGHTS] = {"count", "bytes", "count", "bytes",
                                                  [PP_FREED_OBJECTS] = "count", [PP_NEVER_FREED] = "count"};

/* The program is not module 1 (ids go by first use): it must still be
 * the first mapping, the one pprof takes for the main binary. */
static pp_module_t modules[] = {
    {2, "/usr/bin/demo", "0123456789abcdef0123456789abcdef01234567", 0x555555554000, 0x555555558000, 0x1000, true},
    {1, "/opt/my libs/libwidget.so", NULL, 0x7f0000001000, 0x7f0000003000, 0x0, false},
    {3, "/usr/lib/unused.so", "ffff", 0x7f1000000000, 0x7f1000001000, 0, true},
    {4, "/usr/lib/x86_64-linux-gnu/libc.so.6", "89abcdef", 0x7f2000028000, 0x7f20001bd000, 0x28000, true},
};

enum { BIG_STACKS = 20000, BIG_LOCS = 5000 };

/* Stack i: 1 + i % 7 locations, location k of it is id 1 + (7i + 13k) %
 * BIG_LOCS, a function "fn_ID" in "/src/fID.c" at line ID, in the program;
 * values i, 2i, 3i, 4i (with i from 1). The stacks repeat every 35000
 * (5000 * 7), so all differ and pprof merges none. pprof_check.py knows
 * the formula. */
static void big_profile(pp_profile_t *p)
{
    pp_location_t *locs = xcalloc(BIG_LOCS, sizeof *locs);
    pp_frame_t *frames = xcalloc(BIG_LOCS, sizeof *frames);
    for (uint32_t id = 1; id <= BIG_LOCS; id++) {
        char name[32], file[32];
        snprintf(name, sizeof name, "fn_%u", id);
        snprintf(file, sizeof file, "/src/f%u.c", id);
        frames[id - 1] = (pp_frame_t){pp_intern(name), pp_intern(file), id};
        locs[id - 1] = (pp_location_t){id, &modules[0], 0x1000 + 16 * id, modules[0].start + 16 * id, 1, &frames[id - 1]};
    }
    p->stacks = xcalloc(BIG_STACKS, sizeof *p->stacks);
    p->nstacks = BIG_STACKS;
    for (uint32_t i = 1; i <= BIG_STACKS; i++) {
        pp_stack_t *st = &p->stacks[i - 1];
        st->nlocs = 1 + i % 7;
        st->locs = xcalloc(st->nlocs, sizeof *st->locs);
        for (uint32_t k = 0; k < st->nlocs; k++)
            st->locs[k] = &locs[(7 * i + 13 * k) % BIG_LOCS];
        for (int v = 0; v < PP_NVALUES; v++)
            st->value[v] = (int64_t)i * (v + 1);
    }
}

/* Function and file names: interned, as the symbolizer hands them out. */
#define S(x) pp_intern(x)

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: pprof_driver OUT [DEFAULT [empty | big]]\n");
        return 2;
    }
    int dflt = argc > 2 ? atoi(argv[2]) : PP_INUSE_SPACE;
    bool empty = argc > 3 && strcmp(argv[3], "empty") == 0;

    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        modules[i].path = S(modules[i].path);
        if (modules[i].build_id)
            modules[i].build_id = S(modules[i].build_id);
    }
    const char *main_c = S("/src/demo/main.c");
    pp_frame_t f_main42[] = {{S("main"), main_c, 42}};
    pp_frame_t f_main50[] = {{S("main"), main_c, 50}};
    pp_frame_t f_push[] = {{S("std::vector<int, std::allocator<int> >::push_back(int const&)"),
                            S("/usr/include/c++/12/bits/stl_vector.h"), 1287}};
    /* inlined: inline_helper's code inside session_new */
    pp_frame_t f_inl[] = {{S("inline_helper"), S("/src/demo/util.h"), 10},
                          {S("session_new"), S("/src/demo/session.c"), 88}};
    pp_frame_t f_render[] = {{S("render"), S("/src/demo/render.c"), 120}};
    pp_frame_t f_umlaut[] = {{S("ns::Wörterbuch::größe() const"), S("/src/demo/wörter.cc"), 7}};
    pp_frame_t f_widget[] = {{S("libwidget.so+0x1234"), NULL, 0}};
    pp_frame_t f_start[] = {{S("__libc_start_main"), NULL, 0}};
    pp_frame_t f_nomod[] = {{S("0xdeadbeef"), NULL, 0}};
    /* two static functions of one name: two functions */
    pp_frame_t f_init_a[] = {{S("init"), S("/src/demo/a.c"), 3}};
    pp_frame_t f_init_b[] = {{S("init"), S("/src/demo/b.c"), 4}};

    /* ids out of order of first use here, to show that output goes by id */
    pp_location_t l_main42 = {1, &modules[0], 0x2100, 0x555555555100, 1, f_main42};
    pp_location_t l_push = {2, &modules[0], 0x2200, 0x555555555200, 1, f_push};
    pp_location_t l_inl = {3, &modules[0], 0x2300, 0x555555555300, 2, f_inl};
    pp_location_t l_main50 = {4, &modules[0], 0x2140, 0x555555555140, 1, f_main50};
    pp_location_t l_render = {5, &modules[0], 0x2400, 0x555555555400, 1, f_render};
    pp_location_t l_umlaut = {6, &modules[0], 0x2500, 0x555555555500, 1, f_umlaut};
    pp_location_t l_widget = {7, &modules[1], 0x1234, 0x7f0000002234, 1, f_widget};
    pp_location_t l_start = {9, &modules[3], 0x29d90, 0x7f2000029d90, 1, f_start};
    pp_location_t l_nomod = {10, NULL, 0xdeadbeef, 0xdeadbeef, 1, f_nomod};
    pp_location_t l_init_a = {11, &modules[0], 0x2600, 0x555555555600, 1, f_init_a};
    pp_location_t l_init_b = {12, &modules[0], 0x2700, 0x555555555700, 1, f_init_b};

    const pp_location_t *s1[] = {&l_push, &l_main42};
    const pp_location_t *s2[] = {&l_inl, &l_main50};
    const pp_location_t *s3[] = {&l_render, &l_main42};
    const pp_location_t *s4[] = {&l_umlaut, &l_widget, &l_start};
    const pp_location_t *s5[] = {&l_nomod};
    const pp_location_t *s6[] = {&l_init_a, &l_init_b};
    pp_stack_t stacks[] = {
        {.nlocs = 2, .locs = s1, .value = {10, 4096, 5, 2048}},
        {.nlocs = 2, .locs = s2, .value = {200000, 41600000, 200000, 41600000}},
        {.nlocs = 2, .locs = s3, .value = {200000, 800000000, 0, 0}},
        {.nlocs = 3, .locs = s4, .value = {3, 5000000000, 1, 8589934592}},  /* over 32 bits */
        {.nlocs = 1, .locs = s5, .value = {-2, -64, 0, 0}},                 /* negative: as a diff has */
        {.nlocs = 2, .locs = s6, .value = {1, 100, 1, 100}},
    };

    pp_profile_t p = {0};
    p.stacks = stacks;
    p.nstacks = empty ? 0 : sizeof stacks / sizeof stacks[0];
    if (argc > 3 && strcmp(argv[3], "big") == 0)
        big_profile(&p);
    p.ndumps = 3;
    p.nprocesses = 2;
    p.program = "/usr/bin/demo"; /* not interned: compared by content */
    p.sample_rate = 524288;
    p.time_first = 1795418500.5;
    p.time_last = 1795418550.788182;

    FILE *out = strcmp(argv[1], "-") == 0 ? stdout : fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    static const int go_types[] = {PP_ALLOC_OBJECTS, PP_ALLOC_SPACE, PP_INUSE_OBJECTS, PP_INUSE_SPACE};
    int r = pp_pprof_write(out, argv[1], &p, NULL, go_types, 4, dflt);
    if (out != stdout && fclose(out) != 0 && r == 0) {
        perror(argv[1]);
        return 1;
    }
    return r < 0 ? 1 : 0;
}
