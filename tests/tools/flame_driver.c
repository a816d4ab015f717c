/* flame_driver.c -- feeds folded stacks to pp_flame_svg, for the browser
 * test: "a;b;c 123" per line, or with -d "a;b;c BASE NEW".
 *
 * usage: flame_driver [-d] [-u UNIT] [-t TITLE] [-s SUBTITLE] FOLDED OUT.svg */
#include "common.h"
#include "flamegraph.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Cuts the last space-separated field off line; returns it as a number. */
static int64_t pop_number(char *line, const char *file, size_t lineno)
{
    char *sp = strrchr(line, ' '), *end;
    if (!sp)
        pp_die("%s:%zu: no weight", file, lineno);
    *sp = '\0';
    long long v = strtoll(sp + 1, &end, 10);
    if (end == sp + 1 || *end)
        pp_die("%s:%zu: bad weight '%s'", file, lineno, sp + 1);
    return v;
}

int main(int argc, char **argv)
{
    pp_flame_options_t o = {.title = "Flame graph test", .unit = "bytes"};
    int opt;
    while ((opt = getopt(argc, argv, "du:t:s:")) != -1) {
        switch (opt) {
        case 'd': o.diff = true; break;
        case 'u': o.unit = optarg; break;
        case 't': o.title = optarg; break;
        case 's': o.subtitle = optarg; break;
        default: return 2;
        }
    }
    if (argc - optind != 2)
        pp_die("usage: flame_driver [-d] [-u UNIT] [-t TITLE] [-s SUBTITLE] FOLDED OUT.svg");
    const char *in_path = argv[optind], *out_path = argv[optind + 1];
    FILE *in = fopen(in_path, "r");
    if (!in)
        pp_die("cannot open %s", in_path);

    pp_flame_stack_t *st = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    while ((len = getline(&line, &linecap, in)) > 0) {
        lineno++;
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (!len)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            st = xrealloc(st, cap * sizeof *st);
        }
        pp_flame_stack_t *s = &st[n++];
        *s = (pp_flame_stack_t){0};
        s->value = pop_number(line, in_path, lineno);
        if (o.diff)
            s->base = pop_number(line, in_path, lineno);
        /* Frames are ';'-separated; the strings are interned so they live on. */
        const char **frames = NULL;
        for (char *p = line; *p;) {
            char *semi = strchr(p, ';');
            size_t flen = semi ? (size_t)(semi - p) : strlen(p);
            frames = xrealloc(frames, (s->nframes + 1) * sizeof *frames);
            frames[s->nframes++] = pp_intern_n(p, flen);
            p += flen + (semi != NULL);
        }
        s->frames = frames;
    }
    fclose(in);

    FILE *out = fopen(out_path, "w");
    if (!out)
        pp_die("cannot open %s", out_path);
    int rc = pp_flame_svg(out, st, n, &o);
    if (fclose(out) != 0 && rc == 0) {
        pp_error("cannot write %s", out_path);
        rc = -1;
    }
    for (size_t i = 0; i < n; i++)
        free((void *)st[i].frames);
    free(st);
    free(line);
    return rc == 0 ? 0 : 1;
}
