/* main.c -- poolalloc-prof: the command line. Reads dumps (docs/
 * profile-format.md), merges them, and writes what a user looks at. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "dump.h"
#include "fetch.h"
#include "flamegraph.h"
#include "fold.h"
#include "pprof.h"
#include "profile.h"
#include "html.h"
#include "report.h"
#include "run.h"
#include "symbolize.h"
#include "top.h"
#include "wrapper.h"

static const char usage_main[] =
    "usage: poolalloc-prof COMMAND [OPTIONS] DUMP...\n"
    "Turns poolalloc allocation profiles (POOLALLOC_PROFILE=PREFIX writes\n"
    "PREFIX.PID.SEQ.prof) into what you look at. Several dumps merge into one\n"
    "profile: threads share a dump, processes (fork children) add up, and a\n"
    "process's interval dumps are cumulative, so its latest one counts. A DUMP\n"
    "may be a live process's URL (POOLALLOC_HTTP): http://127.0.0.1:6060.\n"
    "\n"
    "commands:\n"
    "  run    [-o DIR] -- PROG [ARGS...]: profile a program, in one command\n"
    "  html   one self-contained page: memory over time, flame graphs, top, report\n"
    "  fold   folded stacks for flamegraph.pl, inferno, speedscope\n"
    "  svg    an interactive SVG flame graph\n"
    "  pprof  a gzipped profile.proto for `pprof -top`, `pprof -http`\n"
    "  top    the heaviest allocation sites as a table\n"
    "  diff   BASE NEW: what changed, per stack (folded, or --svg)\n"
    "  report the allocation sites to change: leaks, realloc growth, pool\n"
    "         misses, cross-thread frees, stack, pool and reuse candidates\n"
    "\n"
    "poolalloc-prof COMMAND --help tells more. The weights (--weight), all\n"
    "objects except where bytes are said; docs/lifetimes.md defines the fates:\n"
    "  alloc_space (default)  bytes allocated since the process started\n"
    "  alloc_objects          objects allocated\n"
    "  inuse_space            bytes not freed when the dump was written\n"
    "  inuse_objects          objects not freed\n"
    "  freed_lt_1us, freed_lt_10us, freed_lt_100us, freed_lt_1ms, freed_lt_10ms,\n"
    "  freed_lt_100ms, freed_lt_1s, freed_ge_1s\n"
    "                         objects freed, by lifetime (allocation to free)\n"
    "  freed_frame_0 .. freed_frame_3\n"
    "                         freed on the allocating thread while frame K of the\n"
    "                         stack (0: the caller of malloc) still ran\n"
    "  freed_returned         freed on that thread after frames 0-3 returned\n"
    "  freed_thread           freed by another thread\n"
    "  temporary              freed before the thread allocated anything else\n"
    "  moved                  moved to a new block by realloc\n"
    "  realloc_objects        allocated by a realloc that moved a block\n"
    "  realloc_copied         bytes those reallocs copied\n"
    "  pool_misses            made because pa_pool_get found its pool empty\n"
    "  peak_objects, peak_space\n"
    "                         objects, bytes in use when the sampled heap was at its\n"
    "                         highest (within 10%; the profile's peak_inuse_space)\n"
    "computed per stack from those:\n"
    "  freed_objects          freed (the eight lifetimes)\n"
    "  churn_objects          freed less than 1 ms after allocation\n"
    "  frame_local            freed while the allocating function still ran (the\n"
    "                         allocating frame: the first of frames 0-3 outside\n"
    "                         libc, libstdc++, libgcc_s and ld-linux)\n"
    "  escaped_caller         freed on that thread after it returned\n"
    "  escaped_thread         freed by another thread (= freed_thread)\n"
    "  never_freed            not freed when dumped (= inuse_objects; at exit:\n"
    "                         never freed)\n"
    "Profiles of format version 1 (older poolalloc) have the first four only.\n";

static const char weight_option[] =
    "  -w, --weight W     alloc_space (default), alloc_objects, inuse_space,\n"
    "                     inuse_objects, or another of `poolalloc-prof --help`\n";

static const char wrapper_options[] =
    "      --wrapper REGEX  a function that allocates for its callers (POSIX\n"
    "                     extended regex, matched anywhere in the name; repeat\n"
    "                     for more): its callers are named as the sites\n"
    "      --no-wrappers  do not find wrappers (those named still count)\n";

static const char common_options[] =
    "      --no-inline    one frame per address (inlined calls not expanded)\n"
    "      --search DIR   where to look for programs and libraries that moved\n"
    "                     since the dump was written (matched by build-id)\n"
    "  -o, --output FILE  write FILE (made whole, then renamed into place)\n"
    "                     instead of standard output\n"
    "  -h, --help         this text\n";

typedef struct command command_t;
struct command {
    const char *name, *synopsis, *help;
    int (*run)(const command_t *, int, char **);
    unsigned options; /* the A_* options it takes besides the common ones */
};

/* ---- options every command shares ---------------------------------------- */
typedef struct {
    int weight;
    bool lines, by_cum, delta, svg, all_values;
    size_t rows;
    bool rows_given;
    const char *output, *title;
    const char **search;
    unsigned nsearch;
    char **base; /* diff --base FILE... */
    int nbase;
    pp_sym_options_t sym;
    pp_wrappers_t wrappers;
} opts_t;

enum { O_NO_INLINE = 256, O_SEARCH, O_LINES, O_CUM, O_DELTA, O_SVG, O_TITLE, O_BASE, O_ALL_VALUES, O_WRAPPER,
       O_NO_WRAPPERS };
static const struct option long_options[] = {
    {"weight", required_argument, 0, 'w'}, {"output", required_argument, 0, 'o'},
    {"help", no_argument, 0, 'h'},         {"no-inline", no_argument, 0, O_NO_INLINE},
    {"search", required_argument, 0, O_SEARCH}, {"lines", no_argument, 0, O_LINES},
    {"rows", required_argument, 0, 'n'},   {"cum", no_argument, 0, O_CUM},
    {"delta", no_argument, 0, O_DELTA},    {"svg", no_argument, 0, O_SVG},
    {"title", required_argument, 0, O_TITLE}, {"base", required_argument, 0, O_BASE},
    {"all-values", no_argument, 0, O_ALL_VALUES}, {"wrapper", required_argument, 0, O_WRAPPER},
    {"no-wrappers", no_argument, 0, O_NO_WRAPPERS}, {0, 0, 0, 0},
};

/* Which command-specific options a command takes. */
enum { A_LINES = 1, A_ROWS = 2, A_CUM = 4, A_DELTA = 8, A_SVG = 16, A_TITLE = 32, A_BASE = 64, A_WEIGHT = 128,
       A_ALL_VALUES = 256, A_WRAPPERS = 512 };

static void print_help(const command_t *c)
{
    if (!strcmp(c->name, "run")) { /* its own options: none of the others' */
        fputs(c->help, stdout);
        return;
    }
    printf("usage: poolalloc-prof %s %s\n%s\noptions:\n%s%s%s", c->name, c->synopsis, c->help,
           c->options & A_WEIGHT ? weight_option : "", c->options & A_WRAPPERS ? wrapper_options : "",
           common_options);
}

static unsigned option_bit(int ch)
{
    switch (ch) {
    case 'w': return A_WEIGHT;
    case O_ALL_VALUES: return A_ALL_VALUES;
    case O_LINES: return A_LINES;
    case 'n': return A_ROWS;
    case O_CUM: return A_CUM;
    case O_DELTA: return A_DELTA;
    case O_SVG: return A_SVG;
    case O_TITLE: return A_TITLE;
    case O_BASE: return A_BASE;
    case O_WRAPPER: case O_NO_WRAPPERS: return A_WRAPPERS;
    default: return 0; /* common to every command */
    }
}

/* Parses argv (the command's); exits 2 on a bad option with one line. */
static int parse_options(const command_t *c, int argc, char **argv, opts_t *o)
{
    unsigned allowed = c->options;
    *o = (opts_t){.weight = PP_ALLOC_SPACE, .rows = 20, .sym = {.lines = true, .inlines = true}};
    o->search = xcalloc((size_t)argc, sizeof *o->search);
    o->base = xcalloc((size_t)argc, sizeof *o->base);
    pp_wrappers_init(&o->wrappers);
    optind = 1;
    opterr = 0;
    int ch, li = -1;
    while ((ch = getopt_long(argc, argv, ":w:o:hn:", long_options, &li)) != -1) {
        if (option_bit(ch) & ~allowed) {
            /* name the option, not its value (argv[optind - 1] after -n 5) */
            if (li >= 0)
                pp_error("%s: no option '--%s' (see poolalloc-prof %s --help)", c->name, long_options[li].name, c->name);
            else
                pp_error("%s: no option '-%c' (see poolalloc-prof %s --help)", c->name, ch, c->name);
            exit(2);
        }
        li = -1;
        switch (ch) {
        case 'w':
            o->weight = pp_weight_parse(optarg);
            if (o->weight < 0) {
                pp_error("%s: unknown weight '%s' (alloc_space, alloc_objects, inuse_space, inuse_objects, ...: "
                         "poolalloc-prof --help lists them)", c->name, optarg);
                exit(2);
            }
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'h':
            print_help(c);
            exit(0);
        case 'n': {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(optarg, &end, 10);
            if (errno || *end || !*optarg || optarg[0] == '-' || n == 0) {
                pp_error("%s: --rows wants a positive number, not '%s'", c->name, optarg);
                exit(2);
            }
            o->rows = (size_t)n;
            o->rows_given = true;
            break;
        }
        case O_NO_INLINE:
            o->sym.inlines = false;
            break;
        case O_SEARCH:
            o->search[o->nsearch++] = optarg;
            break;
        case O_LINES:
            o->lines = true;
            break;
        case O_CUM:
            o->by_cum = true;
            break;
        case O_DELTA:
            o->delta = true;
            break;
        case O_SVG:
            o->svg = true;
            break;
        case O_BASE:
            o->base[o->nbase++] = optarg;
            break;
        case O_ALL_VALUES:
            o->all_values = true;
            break;
        case O_TITLE:
            o->title = optarg;
            break;
        case O_WRAPPER: {
            char err[256];
            if (!pp_wrappers_name(&o->wrappers, optarg, err, sizeof err)) {
                pp_error("%s: %s", c->name, err);
                exit(2);
            }
            break;
        }
        case O_NO_WRAPPERS:
            o->wrappers.detect = false;
            break;
        case ':':
            pp_error("%s: option '%s' wants a value (see poolalloc-prof %s --help)", c->name, argv[optind - 1], c->name);
            exit(2);
        default:
            pp_error("%s: unknown option '%s' (see poolalloc-prof %s --help)", c->name, argv[optind - 1], c->name);
            exit(2);
        }
    }
    o->sym.search_dirs = o->search;
    o->sym.nsearch_dirs = o->nsearch;
    if (optind == argc) {
        pp_error("%s: no profile given (usage: poolalloc-prof %s %s)", c->name, c->name, c->synopsis);
        exit(2);
    }
    return optind;
}

/* ---- input ---------------------------------------------------------------------- */
static pp_dump_t **read_dumps(char **paths, int n)
{
    pp_dump_t **d = xcalloc((size_t)n, sizeof *d);
    char err[512];
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
            pp_die("%s: is a directory (give the .prof files: DIR/*.prof)", paths[i]);
        d[i] = pp_is_url(paths[i]) ? pp_dump_fetch(paths[i], err, sizeof err) : pp_dump_read(paths[i], err, sizeof err);
        if (!d[i])
            pp_die("%s", err);
    }
    return d;
}

/* A weight made of values that some dumps do not have counts 0 there:
 * say so rather than let zeros pass for data. */
static void note_unrecorded(const pp_profile_t *p, int weight)
{
    uint32_t need = pp_weight_inputs(weight);
    if ((p->recorded & need) == need)
        return;
    if ((p->recorded_any & need) != need)
        fprintf(stderr, "%s: note: no profile given records %s (format version 1, or an older poolalloc): it is 0 everywhere\n",
                pp_progname, pp_weight_names[weight]);
    else
        fprintf(stderr, "%s: note: some profiles given do not record %s (format version 1, or an older poolalloc): "
                "their stacks count 0\n", pp_progname, pp_weight_names[weight]);
}

static void load(pp_profile_t *p, pp_symbolizer_t *s, char **paths, int n, int weight)
{
    pp_dump_t **d = read_dumps(paths, n);
    pp_profile_init(p);
    pp_profile_add(p, s, d, (size_t)n);
    for (int i = 0; i < n; i++)
        pp_dump_free(d[i]);
    free(d);
    if (weight >= 0)
        note_unrecorded(p, weight);
}

/* ---- output: a file made whole before it replaces anything ----------------------- */
typedef struct {
    FILE *f;
    const char *name; /* for messages */
    char *tmp;
} output_t;

/* The temporary file being written, removed if the tool dies or is
 * interrupted before renaming it into place. */
static char *volatile unfinished;

static void remove_unfinished(void)
{
    if (unfinished)
        unlink(unfinished);
}

static void on_signal(int sig)
{
    remove_unfinished();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void output_open(output_t *out, const opts_t *o, bool binary)
{
    *out = (output_t){.f = stdout, .name = "standard output"};
    if (!o->output || strcmp(o->output, "-") == 0) {
        if (binary && isatty(1))
            pp_die("not writing a binary profile to a terminal: give -o FILE");
        return;
    }
    out->name = o->output;
    /* a device or FIFO (-o /dev/null, -o /dev/stdout) is written to, never
     * replaced by a regular file */
    struct stat st;
    if (stat(o->output, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        out->f = fopen(o->output, "w");
        if (!out->f)
            pp_die("cannot write %s: %s", o->output, strerror(errno));
        return;
    }
    out->tmp = xasprintf("%s.tmp%ld", o->output, (long)getpid());
    out->f = fopen(out->tmp, "w");
    if (!out->f)
        pp_die("cannot write %s: %s", o->output, strerror(errno));
    unfinished = out->tmp;
    atexit(remove_unfinished);
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        signal(sigs[i], on_signal);
}

static int output_close(output_t *out, int rc)
{
    if (out->f == stdout) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
            if (rc == 0)
                pp_error("cannot write standard output: %s", strerror(errno));
            return 1;
        }
        return rc ? 1 : 0;
    }
    if (fclose(out->f) != 0 && rc == 0) {
        pp_error("cannot write %s: %s", out->name, strerror(errno));
        rc = -1;
    }
    if (!out->tmp) /* written in place */
        return rc ? 1 : 0;
    if (rc == 0 && rename(out->tmp, out->name) != 0) {
        pp_error("cannot write %s: %s", out->name, strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(out->tmp);
    unfinished = NULL;
    free(out->tmp);
    return rc ? 1 : 0;
}

/* ---- commands ---------------------------------------------------------------------- */
static int write_folded(FILE *f, const char *what, const pp_folded_t *v, size_t n, int mode)
{
    /* mode 0: "stack W"; 1: "stack BASE NEW"; 2: "stack NEW-BASE" */
    for (size_t i = 0; i < n; i++) {
        if (mode == 0)
            fprintf(f, "%s %" PRId64 "\n", v[i].key, v[i].value[0]);
        else if (mode == 1)
            fprintf(f, "%s %" PRId64 " %" PRId64 "\n", v[i].key, v[i].value[0], v[i].value[1]);
        else if (v[i].value[1] != v[i].value[0])
            fprintf(f, "%s %" PRId64 "\n", v[i].key, v[i].value[1] - v[i].value[0]);
    }
    if (ferror(f)) {
        pp_error("cannot write %s", what);
        return -1;
    }
    return 0;
}

static int cmd_fold(const command_t *c, int argc, char **argv)
{
    opts_t o;
    int first = parse_options(c, argc, argv, &o);
    pp_symbolizer_t *s = pp_sym_new(&o.sym);
    pp_profile_t p;
    load(&p, s, argv + first, argc - first, o.weight);
    size_t n;
    pp_folded_t *v = pp_fold(&p, NULL, o.weight, o.lines, &n);
    output_t out;
    output_open(&out, &o, false);
    return output_close(&out, write_folded(out.f, out.name, v, n, 0));
}

/* "PROGRAM and others (2 processes), sample rate 512 KiB" (the SVG shows the total) */
/* The program as it was run (argv[0]'s name), else its file's name. */
static const char *program_name(const pp_profile_t *p)
{
    return p->command ? p->command : pp_basename(p->program ? p->program : "?");
}

static char *describe(const pp_profile_t *p)
{
    char rate[32];
    pp_buf_t b = {0};
    pp_buf_printf(&b, "%s", program_name(p));
    if (p->nprocesses > 1)
        pp_buf_printf(&b, " and others (%zu processes)", p->nprocesses);
    int64_t sr = p->sample_rate > INT64_MAX ? INT64_MAX : (int64_t)p->sample_rate; /* any dec is valid */
    if (sr)
        pp_buf_printf(&b, ", sample rate %s", pp_format_value(rate, sizeof rate, sr, PP_ALLOC_SPACE));
    return b.data;
}

static int flame(output_t *out, const pp_folded_t *v, size_t n, const char *title, const char *subtitle, int weight, bool diff)
{
    pp_flame_stack_t *st = xcalloc(n ? n : 1, sizeof *st);
    for (size_t i = 0; i < n; i++)
        st[i] = (pp_flame_stack_t){.nframes = v[i].nnames, .frames = v[i].names,
                                   .value = diff ? v[i].value[1] : v[i].value[0], .base = diff ? v[i].value[0] : 0};
    pp_flame_options_t fo = {.title = title, .subtitle = subtitle,
                             .unit = strcmp(pp_weight_units[weight], "bytes") == 0 ? "bytes" : "objects", .diff = diff};
    int rc = pp_flame_svg(out->f, st, n, &fo);
    free(st);
    return rc;
}

static int cmd_svg(const command_t *c, int argc, char **argv)
{
    opts_t o;
    int first = parse_options(c, argc, argv, &o);
    pp_symbolizer_t *s = pp_sym_new(&o.sym);
    pp_profile_t p;
    load(&p, s, argv + first, argc - first, o.weight);
    size_t n;
    pp_folded_t *v = pp_fold(&p, NULL, o.weight, o.lines, &n);
    char *title = o.title ? xstrdup(o.title) : xasprintf("%s (%s)", pp_weight_titles[o.weight], pp_weight_names[o.weight]);
    char *sub = describe(&p);
    output_t out;
    output_open(&out, &o, false);
    return output_close(&out, flame(&out, v, n, title, sub, o.weight, false));
}

static int cmd_pprof(const command_t *c, int argc, char **argv)
{
    opts_t o;
    int first = parse_options(c, argc, argv, &o);
    if ((!o.output || strcmp(o.output, "-") == 0) && isatty(1)) /* say so before the slow part */
        pp_die("not writing a binary profile to a terminal: give -o FILE");
    pp_symbolizer_t *s = pp_sym_new(&o.sym);
    pp_profile_t p;
    load(&p, s, argv + first, argc - first, o.weight);
    /* Go's four, the weight asked for, and with --all-values every weight
     * some dump recorded */
    int types[PP_NWEIGHTS];
    size_t ntypes = 0;
    for (int w = 0; w < PP_NWEIGHTS; w++) {
        uint32_t need = pp_weight_inputs(w);
        if (w <= PP_INUSE_SPACE || w == o.weight || (o.all_values && (p.recorded_any & need) == need))
            types[ntypes++] = w;
    }
    output_t out;
    output_open(&out, &o, true);
    return output_close(&out, pp_pprof_write(out.f, out.name, &p, s, types, ntypes, o.weight));
}

static int cmd_top(const command_t *c, int argc, char **argv)
{
    opts_t o;
    int first = parse_options(c, argc, argv, &o);
    pp_symbolizer_t *s = pp_sym_new(&o.sym);
    pp_profile_t p;
    load(&p, s, argv + first, argc - first, o.weight);
    pp_wrappers_apply(&o.wrappers, &p, &p);
    output_t out;
    output_open(&out, &o, false);
    return output_close(&out, pp_top_print(out.f, out.name, &p, o.weight, o.rows, o.by_cum));
}

static int cmd_diff(const command_t *c, int argc, char **argv)
{
    opts_t o;
    int first = parse_options(c, argc, argv, &o);
    if (o.nbase == 0) { /* diff BASE NEW */
        if (argc - first != 2) {
            pp_error("diff: give two profiles, BASE and NEW, or --base BASE... NEW... (usage: poolalloc-prof diff %s)",
                     c->synopsis);
            return 2;
        }
        o.base[o.nbase++] = argv[first++];
    }
    if (o.svg && o.delta) {
        pp_error("diff: --svg and --delta do not go together");
        return 2;
    }
    pp_symbolizer_t *s = pp_sym_new(&o.sym);
    pp_profile_t base, now;
    load(&base, s, o.base, o.nbase, -1);
    load(&now, s, argv + first, argc - first, -1);
    pp_profile_t both = base; /* one note for the two sides */
    both.recorded &= now.recorded;
    both.recorded_any |= now.recorded_any;
    note_unrecorded(&both, o.weight);
    size_t n;
    pp_folded_t *v = pp_fold(&base, &now, o.weight, o.lines, &n);
    output_t out;
    output_open(&out, &o, false);
    if (!o.svg)
        return output_close(&out, write_folded(out.f, out.name, v, n, o.delta ? 2 : 1));
    char a[32], b[32];
    char *title = o.title ? xstrdup(o.title) : xasprintf("%s (%s): %s", pp_weight_titles[o.weight], pp_weight_names[o.weight], "what changed");
    char *sub = xasprintf("%s%s -> %s%s: %s -> %s; widths: NEW; red grew, blue shrank", pp_basename(o.base[0]),
                          o.nbase > 1 ? " and others" : "", pp_basename(argv[first]), argc - first > 1 ? " and others" : "",
                          pp_format_value(a, sizeof a, base.total[o.weight], o.weight),
                          pp_format_value(b, sizeof b, now.total[o.weight], o.weight));
    return output_close(&out, flame(&out, v, n, title, sub, o.weight, true));
}

static int cmd_report(const command_t *c, int argc, char **argv)
{
    opts_t o;
    int first = parse_options(c, argc, argv, &o);
    pp_symbolizer_t *s = pp_sym_new(&o.sym);
    size_t n = (size_t)(argc - first), k = 0;
    pp_dump_t **d = read_dumps(argv + first, argc - first);
    pp_profile_t all, fates;
    pp_profile_init(&all);
    pp_profile_add(&all, s, d, n);
    /* leaks count every dump; the fates only those that recorded them */
    pp_dump_t **with = xcalloc(n, sizeof *with);
    for (size_t i = 0; i < n; i++)
        if ((d[i]->present & PP_FATE_VALUES) == PP_FATE_VALUES)
            with[k++] = d[i];
    pp_profile_init(&fates);
    fates.quiet = true; /* the notes were said once */
    if (k && k < n)
        pp_profile_add(&fates, s, with, k);
    pp_wrappers_apply(&o.wrappers, &all, &all); /* the same wrappers on both */
    pp_wrappers_apply(&o.wrappers, &fates, &all);
    for (size_t i = 0; i < n; i++)
        pp_dump_free(d[i]);
    free(d);
    free(with);
    output_t out;
    output_open(&out, &o, false);
    return output_close(&out, pp_report_print(out.f, out.name, &all, k == n ? &all : &fates, o.rows_given ? o.rows : 5));
}

/* ---- html: the one-page report ------------------------------------------------------ */

/* What fn writes to a FILE, as a string (open_memstream). */
static char *written(int (*fn)(FILE *, void *), void *arg)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    if (!f)
        pp_die("out of memory");
    fn(f, arg);
    fclose(f);
    return s;
}

typedef struct {
    pp_profile_t *p;
    int weight;
    const char *title;
} page_flame_t;

static int page_flame(FILE *f, void *arg)
{
    page_flame_t *pf = arg;
    size_t n;
    pp_folded_t *v = pp_fold(pf->p, NULL, pf->weight, false, &n);
    char *sub = describe(pf->p);
    output_t out = {.f = f, .name = "a flame graph"};
    int rc = flame(&out, v, n, pf->title, sub, pf->weight, false);
    free(sub);
    return rc;
}

static int page_top(FILE *f, void *arg) { return pp_top_print(f, "the page", arg, PP_ALLOC_SPACE, 20, false); }
static int page_report(FILE *f, void *arg) { return pp_report_print(f, "the page", arg, arg, 5); }

/* The dumps, read once: merged into a profile, and kept for their memory lines. */
typedef struct {
    pp_dump_t **d;
    int n;
    pp_profile_t p;
} dumps_t;

static void dumps_load(dumps_t *ds, char **paths, int n, pp_symbolizer_t *s, const pp_wrappers_t *w)
{
    ds->d = read_dumps(paths, n);
    ds->n = n;
    pp_profile_init(&ds->p);
    pp_profile_add(&ds->p, s, ds->d, (size_t)n);
    pp_wrappers_apply(w, &ds->p, &ds->p);
}

/* Writes the page for the dumps to out. */
static int html_page(output_t *out, void *arg)
{
    dumps_t *ds = arg;
    pp_dump_t **d = ds->d;
    int n = ds->n;
    pp_profile_t p = ds->p;
    const pp_dump_t *series = NULL; /* the process with the highest peak, or the most points */
    for (int i = 0; i < n; i++)
        if (!series || d[i]->peak_inuse_space > series->peak_inuse_space ||
            (d[i]->peak_inuse_space == series->peak_inuse_space && d[i]->nmemory > series->nmemory))
            series = d[i];
    bool at_exit = p.nprocesses && p.nexit == p.nprocesses;
    pp_html_flame_t fl[4];
    size_t nf = 0;
    struct { const char *id, *label; int weight; uint32_t need; } want[] = {
        {"alloc", "Bytes allocated", PP_ALLOC_SPACE, 0},
        {"inuse", at_exit ? "In use at exit" : "In use when dumped", PP_INUSE_SPACE, 0},
        {"peak", "In use at the peak", PP_PEAK_SPACE, PP_VALUE_BIT(PP_PEAK_SPACE)},
        {"churn", "Churn (objects freed < 1 ms)", PP_CHURN_OBJECTS, pp_weight_inputs(PP_CHURN_OBJECTS)},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        if ((p.recorded_any & want[i].need) != want[i].need)
            continue;                   /* older profiles: no peak, no fates */
        char *title = xasprintf("%s (%s)", want[i].label, pp_weight_names[want[i].weight]);
        fl[nf++] = (pp_html_flame_t){want[i].id, want[i].label,
                                     written(page_flame, &(page_flame_t){&p, want[i].weight, title})};
    }
    char *sub = describe(&p), *title = xasprintf("poolalloc profile of %s", program_name(&p));
    char rate[32];
    char *subtitle = xasprintf("%s; %.3f s%s", sub, p.uptime_max,
                               p.peak_inuse_space ? xasprintf(", peak in use %s", pp_format_value(rate, sizeof rate,
                                   (int64_t)p.peak_inuse_space, PP_INUSE_SPACE)) : "");
    pp_html_page_t page = {.title = title, .subtitle = subtitle, .series = series, .flames = fl, .nflames = nf,
                           .top = written(page_top, &p), .report = written(page_report, &p)};
    return pp_html_write(out->f, out->name, &page);
}

static int cmd_html(const command_t *c, int argc, char **argv)
{
    opts_t o;
    int first = parse_options(c, argc, argv, &o);
    pp_symbolizer_t *s = pp_sym_new(&o.sym);
    dumps_t ds;
    dumps_load(&ds, argv + first, argc - first, s, &o.wrappers);
    output_t out;
    output_open(&out, &o, false);
    return output_close(&out, html_page(&out, &ds));
}

/* ---- run: profile a program in one command ------------------------------------------ */

/* Writes one of run's files into its directory; says so when it cannot. */
static bool run_write(const char *dir, const char *file, int (*fn)(output_t *, void *), void *arg)
{
    char *path = xasprintf("%s/%s", dir, file);
    opts_t o = {.output = path};
    output_t out;
    output_open(&out, &o, false);
    bool ok = output_close(&out, fn(&out, arg)) == 0;
    free(path);
    return ok;
}

static int run_flame(output_t *out, void *arg) { return page_flame(out->f, arg); }

static int run_report(output_t *out, void *arg)
{
    return pp_report_print(out->f, out->name, arg, arg, 5);
}

/* The report's section titles ("Leak suspects: ...") and how many sites each
 * names: its lines that do not start with a space, but the first. */
static void run_headlines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024], title[1024] = "";
    int sites = 0, n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (n++ == 0 || !line[0])
            continue;
        if (line[0] == ' ') {
            sites++;
            continue;
        }
        if (title[0])
            fprintf(stderr, "    %s (%d site%s)\n", title, sites, sites == 1 ? "" : "s");
        snprintf(title, sizeof title, "%s", line);
        sites = 0;
    }
    if (title[0])
        fprintf(stderr, sites ? "    %s (%d site%s)\n" : "    %s\n", title, sites, sites == 1 ? "" : "s");
    fclose(f);
}

static const char usage_run[] =
    "usage: poolalloc-prof run [OPTIONS] [--] PROG [ARGS...]\n"
    "Runs PROG with poolalloc preloaded and allocation profiling on, its profiles in\n"
    "a directory of their own; passes its input, output, exit status and signals\n"
    "through. At its exit, says where the files are and sums up: bytes allocated and\n"
    "in use at exit, the peak, the top 5 allocation sites, the report's findings.\n"
    "The directory gets PROG.PID.SEQ.prof, report.html (poolalloc-prof html: the\n"
    "whole picture in one page), report.txt, alloc.svg and inuse.svg (flame graphs\n"
    "of bytes allocated and in use at exit). For CPython (python, python3...)\n"
    "it sets PYTHONMALLOC=malloc, which shows the small objects pymalloc hides.\n"
    "\n"
    "options:\n"
    "  -o, --output DIR   the directory (made if missing; default:\n"
    "                     poolalloc.PROG.PID in the working directory)\n"
    "      --rate BYTES   mean bytes between samples (POOLALLOC_SAMPLE_RATE;\n"
    "                     default 512k; 1: every allocation, exact)\n"
    "      --interval I   also a profile every I bytes and/or seconds\n"
    "                     (POOLALLOC_PROFILE_INTERVAL: 1g, 30s, 1g,30s)\n"
    "      --children     profile the programs PROG runs and its fork children\n"
    "                     too (default: PROG only; they run unprofiled)\n"
    "  -h, --help         this text\n"
    "The library is found beside this tool or in its prefix's lib/, or named by\n"
    "POOLALLOC_LIB.\n";

static int cmd_run(const command_t *c, int argc, char **argv)
{
    (void)c;
    enum { R_RATE = 300, R_INTERVAL, R_CHILDREN };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"rate", required_argument, 0, R_RATE},
        {"interval", required_argument, 0, R_INTERVAL}, {"children", no_argument, 0, R_CHILDREN},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    pp_run_options_t ro = {0};
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "+:o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o': ro.dir = optarg; break;
        case R_RATE: ro.rate = optarg; break;
        case R_INTERVAL: ro.interval = optarg; break;
        case R_CHILDREN: ro.children = true; break;
        case 'h': fputs(usage_run, stdout); return 0;
        case ':':
            pp_error("run: option '%s' wants a value (see poolalloc-prof run --help)", argv[optind - 1]);
            return 2;
        default:
            pp_error("run: unknown option '%s' (see poolalloc-prof run --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (optind == argc) {
        pp_error("run: no program given (usage: poolalloc-prof run [OPTIONS] [--] PROG [ARGS...])");
        return 2;
    }
    pp_run_result_t r;
    if (pp_run(&ro, argv + optind, &r) != 0)
        return 127;
    const char *name = pp_basename(r.program);
    if (WIFEXITED(r.status))
        fprintf(stderr, "\npoolalloc-prof: %s exited with status %d\n", name, WEXITSTATUS(r.status));
    else if (WIFSIGNALED(r.status))
        fprintf(stderr, "\npoolalloc-prof: %s was killed by signal %d (%s)\n", name, WTERMSIG(r.status),
                strsignal(WTERMSIG(r.status)));
    if (!r.ndumps) {
        fprintf(stderr, "poolalloc-prof: %s wrote no profile into %s/ (a profile is written at exit: "
                "a process killed by a signal, or one that ends with _exit, writes none; --interval "
                "writes them as it runs)\n", name, r.dir);
        pp_run_exit_like(r.status);
    }
    pp_symbolizer_t *s = pp_sym_new(&(pp_sym_options_t){.lines = true, .inlines = true});
    dumps_t ds;                         /* read and symbolized once, for the summary and the page */
    pp_wrappers_t w;
    pp_wrappers_init(&w);
    dumps_load(&ds, r.dumps, (int)r.ndumps, s, &w);
    pp_profile_t p = ds.p;
    fprintf(stderr, "poolalloc-prof: %zu profile%s in %s/:", r.ndumps, r.ndumps == 1 ? "" : "s", r.dir);
    for (size_t i = 0; i < r.ndumps && i < 4; i++)
        fprintf(stderr, " %s", pp_basename(r.dumps[i]));
    fprintf(stderr, r.ndumps > 4 ? " ...\n" : "\n");
    char a[32], b[32], ao[32], io[32];
    fprintf(stderr, "  allocated %s in %s objects; in use at exit %s in %s objects\n",
            pp_format_value(a, sizeof a, p.total[PP_ALLOC_SPACE], PP_ALLOC_SPACE),
            pp_format_value(ao, sizeof ao, p.total[PP_ALLOC_OBJECTS], PP_ALLOC_OBJECTS),
            pp_format_value(b, sizeof b, p.total[PP_INUSE_SPACE], PP_INUSE_SPACE),
            pp_format_value(io, sizeof io, p.total[PP_INUSE_OBJECTS], PP_INUSE_OBJECTS));
    if (p.peak_inuse_space)
        fprintf(stderr, "  peak in use %s, %.3f s after the start%s\n",
                pp_format_value(a, sizeof a, (int64_t)p.peak_inuse_space, PP_INUSE_SPACE), p.peak_uptime,
                r.ndumps > 1 ? " (the largest process's; peaks added)" : "");
    pp_top_print(stderr, "standard error", &p, PP_ALLOC_SPACE, 5, false);
    bool ok = run_write(r.dir, "report.txt", run_report, &p);
    ok &= run_write(r.dir, "report.html", html_page, &ds);
    ok &= run_write(r.dir, "alloc.svg", run_flame, &(page_flame_t){&p, PP_ALLOC_SPACE, "Bytes allocated (alloc_space)"});
    ok &= run_write(r.dir, "inuse.svg", run_flame,
                    &(page_flame_t){&p, PP_INUSE_SPACE, "Bytes in use at exit (inuse_space)"});
    if (ok) {
        char *report = xasprintf("%s/report.txt", r.dir);
        fprintf(stderr, "  the report (%s):\n", report);
        run_headlines(report);
        free(report);
        fprintf(stderr, "  open %s/report.html: memory over time, flame graphs, top sites, the report in one page\n"
                "  (also alloc.svg and inuse.svg there: flame graphs of the bytes allocated and in use at exit)\n",
                r.dir);
    }
    if (r.python)
        fprintf(stderr, "  %s: PYTHONMALLOC=malloc was set, so the profile sees the small objects pymalloc "
                "would hide\n", name);
    if (!ro.children)
        fprintf(stderr, "  only %s itself was profiled (--children: the programs it runs too)\n", name);
    pp_run_exit_like(r.status);
}

static const command_t commands[] = {
    {"run", "[OPTIONS] [--] PROG [ARGS...]", usage_run, cmd_run, 0},
    {"html", "[OPTIONS] DUMP... -o report.html",
     "Writes one self-contained HTML page (no network; opens from file://):\n"
     "memory over time (live, resident and sampled in-use bytes, the peak\n"
     "marked, values on hover), flame graphs of the bytes allocated, in use at\n"
     "exit, in use at the peak and the churn with a switch between them, the\n"
     "top allocation sites (as `top`) and what to change (as `report`).\n",
     cmd_html, A_WRAPPERS},
    {"fold", "[OPTIONS] DUMP...",
     "Writes folded stacks, one line per distinct stack: frames root first,\n"
     "joined by ';', a space, the weight. Lines are sorted; stacks of weight 0\n"
     "are left out. flamegraph.pl, inferno-flamegraph and speedscope read them.\n"
     "  --lines            name frames \"function file:line\"\n",
     cmd_fold, A_WEIGHT | A_LINES},
    {"svg", "[OPTIONS] DUMP... > out.svg",
     "Writes a self-contained interactive flame graph: hover a frame for its\n"
     "name, weight and share; click to zoom; search highlights matches.\n"
     "  --lines            name frames \"function file:line\"\n"
     "  --title TEXT       the title (default: what the weight is)\n",
     cmd_svg, A_WEIGHT | A_LINES | A_TITLE},
    {"pprof", "[OPTIONS] DUMP... -o out.pb.gz",
     "Writes a gzipped profile.proto with the sample types alloc_objects,\n"
     "alloc_space, inuse_objects and inuse_space, and the --weight if it is\n"
     "another (--weight picks the default), symbolized, for\n"
     "`go tool pprof -top out.pb.gz` or `pprof -http=: out.pb.gz`.\n"
     "  --all-values       also every other weight the profiles record (the\n"
     "                     fates and the weights computed from them)\n",
     cmd_pprof, A_WEIGHT | A_ALL_VALUES},
    {"top", "[OPTIONS] DUMP...",
     "Prints the allocation sites with the largest weight: flat is what the\n"
     "stacks allocating at a site weigh, cum what every stack passing through\n"
     "it weighs, sum% the running total. A site is the call that allocated (a\n"
     "function and the line of the call): the first frame outside libc,\n"
     "libstdc++, libgcc_s and ld-linux (the caller of strdup), or past an\n"
     "allocation wrapper, named \"lpInsert via zrealloc_usable\". Wrappers allocate\n"
     "at 3 lines at most and are next to the allocation with \"alloc\" or \"strdup\"\n"
     "in their names, or else are the first such function called from 4 or more\n"
     "functions, with the helpers it calls; --wrapper names more.\n"
     "  -n, --rows N       how many sites (default 20)\n"
     "      --cum          rank by cum instead of flat\n",
     cmd_top, A_WEIGHT | A_ROWS | A_CUM | A_WRAPPERS},
    {"diff", "[OPTIONS] BASE NEW, or [OPTIONS] --base BASE... NEW...",
     "Compares two profiles stack by stack, as `pprof -diff_base=BASE NEW`.\n"
     "Each side may be several dumps (--base once per dump of the base side),\n"
     "merged as every command merges them.\n"
     "Writes folded lines \"stack BASE_WEIGHT NEW_WEIGHT\" (what flamegraph.pl\n"
     "draws as a differential flame graph), or with --delta \"stack NEW-BASE\"\n"
     "for the stacks that changed, or with --svg a flame graph of NEW whose\n"
     "colours show growth (red) and shrinkage (blue).\n"
     "  --lines            name frames \"function file:line\"\n"
     "  --delta            one signed difference per changed stack\n"
     "  --svg              a differential flame graph\n"
     "  --base DUMP        a dump of the base side (repeat for several)\n"
     "  --title TEXT       the SVG's title\n",
     cmd_diff, A_WEIGHT | A_LINES | A_DELTA | A_SVG | A_TITLE | A_BASE},
    {"report", "[OPTIONS] DUMP...",
     "Ranks the allocation sites by what to change, from what became of their\n"
     "objects (docs/lifetimes.md). A site is the call that allocated: the\n"
     "first frame of a stack outside libc, libstdc++, libgcc_s and ld-linux\n"
     "(the caller of strdup, not strdup) and past allocation wrappers (as top\n"
     "says), named by its function and the line of the call; the stacks of one\n"
     "site add up. Each site gets one finding,\n"
     "the first of these that applies (shares of the site's objects):\n"
     "  leak suspect     in use >= 50% of allocated (at exit: never freed);\n"
     "                   ranked by bytes in use\n"
     "  grown by realloc realloc_objects or moved >= 50% of allocated; ranked\n"
     "                   by bytes copied: preallocate\n"
     "  pool misses      pool_misses >= 50% of allocated; by misses/s\n"
     "  another thread   freed_thread >= 30% of freed; by those frees/s\n"
     "  stack candidate  frame_local >= 90% of freed, at most 64 KiB each\n"
     "  pool candidate   freed >= 50% of allocated, >= 70% of it on the\n"
     "                   allocating thread, >= 80% of it < 1 ms after allocation\n"
     "  temporary        temporary >= 50% of freed\n"
     "(the last three ranked by objects/s). Rates are per second of the\n"
     "longest-running process's uptime. Sites with fewer than 3 samples\n"
     "(estimated: objects x (1 - e^(-size/sample rate))) are not ranked.\n"
     "Profiles of format version 1 (older poolalloc) have no lifetimes: only\n"
     "leak suspects are ranked from them.\n"
     "  -n, --rows N       sites shown per finding (default 5)\n"
     "      --lines        accepted as by fold; sites are always named by the\n"
     "                     line of the call\n",
     cmd_report, A_ROWS | A_LINES | A_WRAPPERS},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        if (argc > 2)
            for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
                if (!strcmp(argv[2], commands[i].name)) {
                    print_help(&commands[i]);
                    return 0;
                }
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("poolalloc-prof, reads profile format versions 1 to 3\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(&commands[i], argc - 1, argv + 1);
    pp_error("unknown command '%s' (run, fold, svg, pprof, top, diff, report; poolalloc-prof --help)", argv[1]);
    return 2;
}
