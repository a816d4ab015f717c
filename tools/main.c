/* main.c -- poolalloc-prof: the command line. Reads dumps (docs/
 * profile-format.md), merges them, and writes what a user looks at. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "dump.h"
#include "flamegraph.h"
#include "fold.h"
#include "pprof.h"
#include "profile.h"
#include "symbolize.h"
#include "top.h"

static const char usage_main[] =
    "usage: poolalloc-prof COMMAND [OPTIONS] DUMP...\n"
    "Turns poolalloc allocation profiles (POOLALLOC_PROFILE=PREFIX writes\n"
    "PREFIX.PID.SEQ.prof) into what you look at. Several dumps merge into one\n"
    "profile: threads share a dump, processes (fork children) add up, and a\n"
    "process's interval dumps are cumulative, so its latest one counts.\n"
    "\n"
    "commands:\n"
    "  fold   folded stacks for flamegraph.pl, inferno, speedscope\n"
    "  svg    an interactive SVG flame graph\n"
    "  pprof  a gzipped profile.proto for `pprof -top`, `pprof -http`\n"
    "  top    the heaviest allocation sites as a table\n"
    "  diff   BASE NEW: what changed, per stack (folded, or --svg)\n"
    "\n"
    "poolalloc-prof COMMAND --help tells more. The weights (--weight):\n"
    "  alloc_space (default)  bytes allocated since the process started\n"
    "  alloc_objects          objects allocated\n"
    "  inuse_space            bytes not freed when the dump was written\n"
    "  inuse_objects          objects not freed\n";

static const char common_options[] =
    "  -w, --weight W     alloc_space (default), alloc_objects, inuse_space,\n"
    "                     inuse_objects\n"
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
};

/* ---- options every command shares ---------------------------------------- */
typedef struct {
    int weight;
    bool lines, by_cum, delta, svg;
    size_t rows;
    const char *output, *title;
    const char **search;
    unsigned nsearch;
    char **base; /* diff --base FILE... */
    int nbase;
    pp_sym_options_t sym;
} opts_t;

enum { O_NO_INLINE = 256, O_SEARCH, O_LINES, O_CUM, O_DELTA, O_SVG, O_TITLE, O_BASE };
static const struct option long_options[] = {
    {"weight", required_argument, 0, 'w'}, {"output", required_argument, 0, 'o'},
    {"help", no_argument, 0, 'h'},         {"no-inline", no_argument, 0, O_NO_INLINE},
    {"search", required_argument, 0, O_SEARCH}, {"lines", no_argument, 0, O_LINES},
    {"rows", required_argument, 0, 'n'},   {"cum", no_argument, 0, O_CUM},
    {"delta", no_argument, 0, O_DELTA},    {"svg", no_argument, 0, O_SVG},
    {"title", required_argument, 0, O_TITLE}, {"base", required_argument, 0, O_BASE}, {0, 0, 0, 0},
};

static void print_help(const command_t *c)
{
    printf("usage: poolalloc-prof %s %s\n%s\noptions:\n%s", c->name, c->synopsis, c->help, common_options);
}

/* Which command-specific options a command takes. */
enum { A_LINES = 1, A_ROWS = 2, A_CUM = 4, A_DELTA = 8, A_SVG = 16, A_TITLE = 32, A_BASE = 64 };
static unsigned option_bit(int ch)
{
    switch (ch) {
    case O_LINES: return A_LINES;
    case 'n': return A_ROWS;
    case O_CUM: return A_CUM;
    case O_DELTA: return A_DELTA;
    case O_SVG: return A_SVG;
    case O_TITLE: return A_TITLE;
    case O_BASE: return A_BASE;
    default: return 0; /* common to every command */
    }
}

/* Parses argv (the command's); exits 2 on a bad option with one line. */
static int parse_options(const command_t *c, int argc, char **argv, opts_t *o, unsigned allowed)
{
    *o = (opts_t){.weight = PP_ALLOC_SPACE, .rows = 20, .sym = {.lines = true, .inlines = true}};
    o->search = xcalloc((size_t)argc, sizeof *o->search);
    o->base = xcalloc((size_t)argc, sizeof *o->base);
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
            o->weight = pp_value_parse(optarg);
            if (o->weight < 0) {
                pp_error("%s: unknown weight '%s' (alloc_space, alloc_objects, inuse_space, inuse_objects)", c->name, optarg);
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
        case O_TITLE:
            o->title = optarg;
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
        d[i] = pp_dump_read(paths[i], err, sizeof err);
        if (!d[i])
            pp_die("%s", err);
    }
    return d;
}

static void load(pp_profile_t *p, pp_symbolizer_t *s, char **paths, int n)
{
    pp_dump_t **d = read_dumps(paths, n);
    pp_profile_init(p);
    pp_profile_add(p, s, d, (size_t)n);
    for (int i = 0; i < n; i++)
        pp_dump_free(d[i]);
    free(d);
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
    int first = parse_options(c, argc, argv, &o, A_LINES);
    pp_symbolizer_t *s = pp_sym_new(&o.sym);
    pp_profile_t p;
    load(&p, s, argv + first, argc - first);
    size_t n;
    pp_folded_t *v = pp_fold(&p, NULL, o.weight, o.lines, &n);
    output_t out;
    output_open(&out, &o, false);
    return output_close(&out, write_folded(out.f, out.name, v, n, 0));
}

/* "PROGRAM and others (2 processes), sample rate 512 KiB" (the SVG shows the total) */
static char *describe(const pp_profile_t *p)
{
    char rate[32];
    pp_buf_t b = {0};
    pp_buf_printf(&b, "%s", pp_basename(p->program ? p->program : "?"));
    if (p->nprocesses > 1)
        pp_buf_printf(&b, " and others (%zu processes)", p->nprocesses);
    int64_t sr = p->sample_rate > INT64_MAX ? INT64_MAX : (int64_t)p->sample_rate; /* any dec is valid */
    if (sr)
        pp_buf_printf(&b, ", sample rate %s", pp_format_value(rate, sizeof rate, sr, PP_ALLOC_SPACE));
    return b.data;
}

static const char *const value_titles[PP_NVALUES] = {
    "Objects allocated", "Bytes allocated", "Objects in use", "Bytes in use",
};

static int flame(output_t *out, const pp_folded_t *v, size_t n, const char *title, const char *subtitle, int weight, bool diff)
{
    pp_flame_stack_t *st = xcalloc(n ? n : 1, sizeof *st);
    for (size_t i = 0; i < n; i++)
        st[i] = (pp_flame_stack_t){.nframes = v[i].nnames, .frames = v[i].names,
                                   .value = diff ? v[i].value[1] : v[i].value[0], .base = diff ? v[i].value[0] : 0};
    pp_flame_options_t fo = {.title = title, .subtitle = subtitle,
                             .unit = strcmp(pp_value_units[weight], "bytes") == 0 ? "bytes" : "objects", .diff = diff};
    int rc = pp_flame_svg(out->f, st, n, &fo);
    free(st);
    return rc;
}

static int cmd_svg(const command_t *c, int argc, char **argv)
{
    opts_t o;
    int first = parse_options(c, argc, argv, &o, A_LINES | A_TITLE);
    pp_symbolizer_t *s = pp_sym_new(&o.sym);
    pp_profile_t p;
    load(&p, s, argv + first, argc - first);
    size_t n;
    pp_folded_t *v = pp_fold(&p, NULL, o.weight, o.lines, &n);
    char *title = o.title ? xstrdup(o.title) : xasprintf("%s (%s)", value_titles[o.weight], pp_value_names[o.weight]);
    char *sub = describe(&p);
    output_t out;
    output_open(&out, &o, false);
    return output_close(&out, flame(&out, v, n, title, sub, o.weight, false));
}

static int cmd_pprof(const command_t *c, int argc, char **argv)
{
    opts_t o;
    int first = parse_options(c, argc, argv, &o, 0);
    if ((!o.output || strcmp(o.output, "-") == 0) && isatty(1)) /* say so before the slow part */
        pp_die("not writing a binary profile to a terminal: give -o FILE");
    pp_symbolizer_t *s = pp_sym_new(&o.sym);
    pp_profile_t p;
    load(&p, s, argv + first, argc - first);
    output_t out;
    output_open(&out, &o, true);
    return output_close(&out, pp_pprof_write(out.f, out.name, &p, s, o.weight));
}

static int cmd_top(const command_t *c, int argc, char **argv)
{
    opts_t o;
    int first = parse_options(c, argc, argv, &o, A_ROWS | A_CUM);
    pp_symbolizer_t *s = pp_sym_new(&o.sym);
    pp_profile_t p;
    load(&p, s, argv + first, argc - first);
    output_t out;
    output_open(&out, &o, false);
    return output_close(&out, pp_top_print(out.f, out.name, &p, o.weight, o.rows, o.by_cum));
}

static int cmd_diff(const command_t *c, int argc, char **argv)
{
    opts_t o;
    int first = parse_options(c, argc, argv, &o, A_LINES | A_DELTA | A_SVG | A_TITLE | A_BASE);
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
    load(&base, s, o.base, o.nbase);
    load(&now, s, argv + first, argc - first);
    size_t n;
    pp_folded_t *v = pp_fold(&base, &now, o.weight, o.lines, &n);
    output_t out;
    output_open(&out, &o, false);
    if (!o.svg)
        return output_close(&out, write_folded(out.f, out.name, v, n, o.delta ? 2 : 1));
    char a[32], b[32];
    char *title = o.title ? xstrdup(o.title) : xasprintf("%s (%s): %s", value_titles[o.weight], pp_value_names[o.weight], "what changed");
    char *sub = xasprintf("%s%s -> %s%s: %s -> %s; widths: NEW; red grew, blue shrank", pp_basename(o.base[0]),
                          o.nbase > 1 ? " and others" : "", pp_basename(argv[first]), argc - first > 1 ? " and others" : "",
                          pp_format_value(a, sizeof a, base.total[o.weight], o.weight),
                          pp_format_value(b, sizeof b, now.total[o.weight], o.weight));
    return output_close(&out, flame(&out, v, n, title, sub, o.weight, true));
}

static const command_t commands[] = {
    {"fold", "[OPTIONS] DUMP...",
     "Writes folded stacks, one line per distinct stack: frames root first,\n"
     "joined by ';', a space, the weight. Lines are sorted; stacks of weight 0\n"
     "are left out. flamegraph.pl, inferno-flamegraph and speedscope read them.\n"
     "  --lines            name frames \"function file:line\"\n",
     cmd_fold},
    {"svg", "[OPTIONS] DUMP... > out.svg",
     "Writes a self-contained interactive flame graph: hover a frame for its\n"
     "name, weight and share; click to zoom; search highlights matches.\n"
     "  --lines            name frames \"function file:line\"\n"
     "  --title TEXT       the title (default: what the weight is)\n",
     cmd_svg},
    {"pprof", "[OPTIONS] DUMP... -o out.pb.gz",
     "Writes a gzipped profile.proto with the sample types alloc_objects,\n"
     "alloc_space, inuse_objects and inuse_space (--weight picks the default),\n"
     "symbolized, for `go tool pprof -top out.pb.gz` or `pprof -http=: out.pb.gz`.\n",
     cmd_pprof},
    {"top", "[OPTIONS] DUMP...",
     "Prints the allocation sites with the largest weight: flat is what the\n"
     "stacks ending at a site (a function and the line of its call) weigh,\n"
     "cum what every stack passing through it weighs, sum% the running total.\n"
     "  -n, --rows N       how many sites (default 20)\n"
     "      --cum          rank by cum instead of flat\n",
     cmd_top},
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
     cmd_diff},
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
        printf("poolalloc-prof, reads profile format version %d\n", PP_FORMAT_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(&commands[i], argc - 1, argv + 1);
    pp_error("unknown command '%s' (fold, svg, pprof, top, diff; poolalloc-prof --help)", argv[1]);
    return 2;
}
