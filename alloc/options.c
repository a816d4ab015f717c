/* options.c — every POOLALLOC_* setting in one table: name, kind, default.
 * A value that does not parse gets a one-line warning and the default. Runs
 * during process init, before anything may allocate: getenv only, no libc
 * allocation. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

pa_options_t pa_options = {
    .stats_at_exit = false,
    .purge_delay_ns = 50 * 1000000ull,
    .segment_cache = 4,
    .purge_thread = true,
    .verbose = false,
    .gogc = 100,
    .trace = false,
    .pool_debug = false,
    .profile = "",
    .sample_rate = 512 << 10,
    .memory_interval_ns = 100000000,
    .sampling = true,
};

enum kind { BOOL, DURATION, COUNT, PERCENT, PATH, SIZE, INTERVAL, SIGNAL, TEXT };

static const struct option {
    const char *env;
    enum kind kind;
    void *target;
    const char *dflt;       /* as the user would write it */
} table[] = {
    { "POOLALLOC_STATS",         BOOL,     &pa_options.stats_at_exit,  "0"    },  /* statistics at exit */
    { "POOLALLOC_PURGE_DELAY",   DURATION, &pa_options.purge_delay_ns, "50ms" },  /* free memory kept resident */
    { "POOLALLOC_SEGMENT_CACHE", COUNT,    &pa_options.segment_cache,  "4"    },  /* empty segments kept */
    { "POOLALLOC_PURGE_THREAD",  BOOL,     &pa_options.purge_thread,   "1"    },  /* purge an idle process */
    { "POOLALLOC_VERBOSE",       BOOL,     &pa_options.verbose,        "0"    },  /* settings at start */
    { "POOLALLOC_GOGC",          PERCENT,  &pa_options.gogc,           "100"  },  /* reclaim cycle pacing */
    { "POOLALLOC_TRACE",         BOOL,     &pa_options.trace,          "0"    },  /* a line per cycle */
    { "POOLALLOC_POOL_DEBUG",    BOOL,     &pa_options.pool_debug,     "0"    },  /* check every pool put */
    { "POOLALLOC_PROFILE",       PATH,     pa_options.profile,         "off"  },  /* profile file prefix */
    { "POOLALLOC_SAMPLE_RATE",   SIZE,     &pa_options.sample_rate,    "512k" },  /* mean bytes per sample */
    { "POOLALLOC_PROFILE_INTERVAL", INTERVAL, NULL,                    "none" },  /* periodic dumps */
    { "POOLALLOC_PROFILE_SIGNAL", SIGNAL,  &pa_options.profile_signal, "none" },  /* dump on a signal */
    { "POOLALLOC_PROFILE_PID",   COUNT,    &pa_options.profile_pid,    "0"    },  /* only this process */
    { "POOLALLOC_MEMORY_INTERVAL", DURATION, &pa_options.memory_interval_ns, "100ms" },  /* memory over time */
    { "POOLALLOC_HTTP",          TEXT,     pa_options.http,            "off"  },  /* live profiles over HTTP */
    { "POOLALLOC_HTTP_PID",      COUNT,    &pa_options.http_pid,       "0"    },  /* set by the serving process */
    { "POOLALLOC_SAMPLING",      BOOL,     &pa_options.sampling,       "1"    },  /* sample from the start */
    { "POOLALLOC_PROFILE_SWITCH", SIGNAL,  &pa_options.profile_switch, "none" },  /* flips sampling */
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

/* A file prefix, made absolute so that the program's chdir() does not move
 * its profiles; or off. */
static bool parse_path(const char *s, char *out)
{
    size_t n = strlen(s), cwd = 0;
    out[0] = 0;
    bool off;
    if (parse_bool(s, &off) && !off) return true;       /* 0, off, no, false: profiling off */
    if (!n) return false;
    if (s[0] != '/') {
        if (!getcwd(out, sizeof pa_options.profile - 2)) { out[0] = 0; return false; }
        cwd = strlen(out);
        out[cwd++] = '/';
    }
    if (cwd + n + 32 > sizeof pa_options.profile) { out[0] = 0; return false; }   /* room for ".pid.seq.prof" */
    memcpy(out + cwd, s, n + 1);
    /* a directory (PREFIX ending in / or naming one) gets files named after
     * the program, not hidden ones named ".PID.SEQ.prof" */
    size_t len = cwd + n;
    struct stat st;
    if (out[len - 1] == '/' || (stat(out, &st) == 0 && S_ISDIR(st.st_mode))) {
        if (len + 2 + 32 > sizeof pa_options.profile) { out[0] = 0; return false; }
        if (out[len - 1] != '/') out[len++] = '/';
        pa_program_name(out + len, sizeof pa_options.profile - 32 - len);
        if (!out[len]) snprintf(out + len, sizeof pa_options.profile - 32 - len, "prog");
    }
    return true;
}

/* Bytes, with an optional k, m or g (powers of 1024; a trailing b or ib is
 * allowed): 512k, 1g, 4096. Parses the first `len` characters of s. */
static bool parse_size_n(const char *s, size_t len, uint64_t *out)
{
    char *end;
    if (!len || *s < '0' || *s > '9') return false;
    unsigned long long v = strtoull(s, &end, 10);
    size_t rest = len - (size_t)(end - s);
    unsigned shift = 0;
    if (rest && strchr("kKmMgG", *end)) {
        shift = (*end == 'k' || *end == 'K') ? 10 : (*end == 'm' || *end == 'M') ? 20 : 30;
        end++, rest--;
        if (rest && (*end == 'i' || *end == 'I')) end++, rest--;
    }
    if (rest && (*end == 'b' || *end == 'B')) end++, rest--;
    if (rest || v > (UINT64_MAX >> shift)) return false;
    *out = (uint64_t)v << shift;
    return true;
}

static bool parse_size(const char *s, size_t *out)
{
    uint64_t v;
    if (!parse_size_n(s, strlen(s), &v) || v == 0) return false;
    *out = (size_t)v;
    return true;
}

/* Bytes allocated and/or time between dumps, comma-separated: "1g",
 * "30s", "1g,30s". A time needs its unit (ns, us, ms, s); a bare m is MiB. */
static bool parse_interval(const char *s)
{
    uint64_t bytes = 0, ns = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        char item[64];
        if (len == 0 || len >= sizeof item) return false;
        memcpy(item, s, len);
        item[len] = 0;
        bool timed = len >= 2 && item[len - 1] == 's' && strchr("0123456789nmu", item[len - 2]);
        if (timed ? !parse_duration(item, &ns) || !ns : !parse_size_n(item, len, &bytes) || !bytes) return false;
        s += len + (s[len] == ',');
    }
    if (!bytes && !ns) return false;
    pa_options.profile_every_bytes = bytes;
    pa_options.profile_every_ns = ns;
    return true;
}

/* SIGUSR2, USR2 or 12. */
static bool parse_signal(const char *s, int *out)
{
    if (!strncasecmp(s, "SIG", 3)) s += 3;
    size_t n = 0;
    for (int sig = 1; sig < NSIG && !n; sig++) {
        const char *name = sigabbrev_np(sig);
        if (name && !strcasecmp(s, name)) n = (size_t)sig;
    }
    if (!n && !parse_count(s, &n)) return false;
    if (n == 0 || n >= NSIG || n == SIGKILL || n == SIGSTOP) return false;   /* cannot be caught */
    *out = (int)n;
    return true;
}

bool pa_http_serves(void)
{
    return pa_options.http[0] && (!pa_options.http_pid || pa_options.http_pid == (size_t)getpid());
}

/* Kept as written (its user checks it), or off. */
static bool parse_text(const char *s, char *out, size_t cap)
{
    bool on;
    out[0] = 0;
    if (parse_bool(s, &on) && !on) return true;
    if (!*s || strlen(s) >= cap) return false;
    memcpy(out, s, strlen(s) + 1);
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
        case PATH:     ok = parse_path(v, o->target); break;
        case SIZE:     ok = parse_size(v, o->target); break;
        case INTERVAL: ok = parse_interval(v); break;
        case SIGNAL:   ok = parse_signal(v, o->target); break;
        case TEXT:     ok = parse_text(v, o->target, sizeof pa_options.http); break;
        }
        if (!ok) {
            static const char *expect[] = { "a boolean (0/1, yes/no, on/off)", "a duration (e.g. 50ms, 2s)", "a count",
                                            "a percentage (e.g. 100) or off", "a usable file prefix",
                                            "a size (e.g. 4096, 512k, 1m)",
                                            "bytes and/or seconds (e.g. 1g, 30s, 1g,30s)", "a signal (e.g. SIGUSR2)",
                                            "under 256 bytes" };
            pa_message("%s=%s is not %s; using %s", o->env, v, expect[o->kind], o->dflt);
        }
    }
    warn_unknown();
    static const char *const needs_files[] = { "POOLALLOC_PROFILE_INTERVAL", "POOLALLOC_PROFILE_SIGNAL" };
    static const char *const needs_sampling[] = { "POOLALLOC_SAMPLE_RATE", "POOLALLOC_PROFILE_PID",
                                                  "POOLALLOC_MEMORY_INTERVAL", "POOLALLOC_SAMPLING",
                                                  "POOLALLOC_PROFILE_SWITCH" };
    for (size_t i = 0; i < sizeof needs_files / sizeof needs_files[0] && !pa_options.profile[0]; i++)
        if (getenv(needs_files[i])) pa_message("%s does nothing without POOLALLOC_PROFILE", needs_files[i]);
    for (size_t i = 0; i < sizeof needs_sampling / sizeof needs_sampling[0] && !pa_options.profile[0] && !pa_options.http[0]; i++)
        if (getenv(needs_sampling[i]))
            pa_message("%s does nothing without POOLALLOC_PROFILE or POOLALLOC_HTTP", needs_sampling[i]);
    if (pa_options.verbose)
        pa_message("stats=%d purge_delay=%llums segment_cache=%zu purge_thread=%d gogc=%lld trace=%d pool_debug=%d profile=%s "
                   "sample_rate=%zu profile_interval=%lluB,%llums profile_signal=%d http=%s", pa_options.stats_at_exit,
                   (unsigned long long)(pa_options.purge_delay_ns / 1000000), pa_options.segment_cache,
                   pa_options.purge_thread, (long long)pa_options.gogc, pa_options.trace, pa_options.pool_debug,
                   pa_options.profile[0] ? pa_options.profile : "off", pa_options.sample_rate,
                   (unsigned long long)pa_options.profile_every_bytes,
                   (unsigned long long)(pa_options.profile_every_ns / 1000000), pa_options.profile_signal,
                   pa_options.http[0] ? pa_options.http : "off");
}
