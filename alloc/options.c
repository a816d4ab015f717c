/* options.c — every POOLALLOC_* setting in one table: name, kind, default.
 * A value that does not parse gets a one-line warning and the default. Runs
 * during process init, before anything may allocate: getenv only, no libc
 * allocation. */
#include <stdlib.h>

#include "internal.h"

pa_options_t pa_options = {
    .stats_at_exit = false,
    .purge_delay_ns = 50 * 1000000ull,
    .segment_cache = 4,
    .verbose = false,
    .gogc = 100,
    .trace = false,
    .pool_debug = false,
};

enum kind { BOOL, DURATION, COUNT, PERCENT };

static const struct option {
    const char *env;
    enum kind kind;
    void *target;
    const char *dflt;       /* as the user would write it */
} table[] = {
    { "POOLALLOC_STATS",         BOOL,     &pa_options.stats_at_exit,  "0"    },  /* statistics at exit */
    { "POOLALLOC_PURGE_DELAY",   DURATION, &pa_options.purge_delay_ns, "50ms" },  /* free memory kept resident */
    { "POOLALLOC_SEGMENT_CACHE", COUNT,    &pa_options.segment_cache,  "4"    },  /* empty segments kept */
    { "POOLALLOC_VERBOSE",       BOOL,     &pa_options.verbose,        "0"    },  /* settings at start */
    { "POOLALLOC_GOGC",          PERCENT,  &pa_options.gogc,           "100"  },  /* reclaim cycle pacing */
    { "POOLALLOC_TRACE",         BOOL,     &pa_options.trace,          "0"    },  /* a line per cycle */
    { "POOLALLOC_POOL_DEBUG",    BOOL,     &pa_options.pool_debug,     "0"    },  /* check every pool put */
};

static bool parse_bool(const char *s, bool *out)
{
    static const char *yes[] = { "1", "yes", "true", "on" }, *no[] = { "0", "no", "false", "off" };
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) { *out = true; return true; }
        if (!strcasecmp(s, no[i])) { *out = false; return true; }
    }
    return false;
}

/* A number with an optional unit: ns, us, ms (the default), s. */
static bool parse_duration(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9') return false;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mul = 1000000;
    if (!strcmp(end, "ns")) mul = 1;
    else if (!strcmp(end, "us")) mul = 1000;
    else if (!strcmp(end, "ms") || !*end) mul = 1000000;
    else if (!strcmp(end, "s")) mul = 1000000000;
    else return false;
    if (v > UINT64_MAX / mul) return false;
    *out = v * mul;
    return true;
}

static bool parse_count(const char *s, size_t *out)
{
    char *end;
    if (*s < '0' || *s > '9') return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > 1000000) return false;
    *out = (size_t)v;
    return true;
}

/* A percentage as Go's GOGC: 0..1000000, or "off" (stored as -1). */
static bool parse_percent(const char *s, int64_t *out)
{
    if (!strcasecmp(s, "off")) { *out = -1; return true; }
    size_t n;
    if (!parse_count(s, &n)) return false;
    *out = (int64_t)n;
    return true;
}

/* A misspelt setting would otherwise be ignored without a word. */
static void warn_unknown(void)
{
    extern char **environ;
    static const char prefix[] = "POOLALLOC_";
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, prefix, sizeof prefix - 1)) continue;
        size_t len = strcspn(*e, "=");
        bool known = false;
        for (size_t i = 0; i < sizeof table / sizeof table[0] && !known; i++)
            known = strlen(table[i].env) == len && !strncmp(table[i].env, *e, len);
        if (!known)
            pa_message("unknown setting %.*s ignored", (int)len, *e);
    }
}

void pa_options_init(void)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const struct option *o = &table[i];
        const char *v = getenv(o->env);
        if (!v) continue;
        bool ok = false;
        switch (o->kind) {
        case BOOL:     ok = parse_bool(v, o->target); break;
        case DURATION: ok = parse_duration(v, o->target); break;
        case COUNT:    ok = parse_count(v, o->target); break;
        case PERCENT:  ok = parse_percent(v, o->target); break;
        }
        if (!ok) {
            static const char *expect[] = { "a boolean (0/1, yes/no, on/off)", "a duration (e.g. 50ms, 2s)", "a count",
                                            "a percentage (e.g. 100) or off" };
            pa_message("%s=%s is not %s; using %s", o->env, v, expect[o->kind], o->dflt);
        }
    }
    warn_unknown();
    if (pa_options.verbose)
        pa_message("stats=%d purge_delay=%llums segment_cache=%zu gogc=%lld trace=%d pool_debug=%d", pa_options.stats_at_exit,
                   (unsigned long long)(pa_options.purge_delay_ns / 1000000), pa_options.segment_cache,
                   (long long)pa_options.gogc, pa_options.trace, pa_options.pool_debug);
}
