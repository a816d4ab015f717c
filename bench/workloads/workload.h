/* workload.h — what every benchmark workload shares: the scale argument, the
 * splitmix64 PRNG and the checksum mix. Header-only (each workload is one
 * program built from one source file); C and C++. */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t splitmix64(uint64_t *state)
{
    *state += GOLDEN;
    return mix64(*state);
}

/* uniform in (0, 1] */
static inline double unit_interval(uint64_t *state)
{
    return (double)((splitmix64(state) >> 11) + 1) * 0x1.0p-53;
}

/* log-uniform integer in [lo, hi] */
static inline size_t log_uniform(uint64_t *state, size_t lo, size_t hi)
{
    double x = exp(log((double)lo) + unit_interval(state) * (log((double)hi + 1.0) - log((double)lo)));
    size_t n = (size_t)x;
    return n < lo ? lo : n > hi ? hi : n;
}

/* Folds v into a running checksum (order matters). */
static inline uint64_t fold64(uint64_t sum, uint64_t v)
{
    return mix64(sum ^ v) + GOLDEN;
}

/* argv[1], if any: a plain decimal in (0, 100] (no sign, exponent, inf or
 * nan, which strtod would otherwise accept); else one line and exit 2. */
static inline double parse_scale(int argc, char **argv, const char *name)
{
    if (argc > 2) {
        fprintf(stderr, "%s: usage: %s [scale]\n", name, name);
        exit(2);
    }
    if (argc < 2)
        return 1.0;
    const char *s = argv[1];
    int digits = 0, dots = 0;
    for (const char *c = s; *c; c++) {
        if (*c >= '0' && *c <= '9')
            digits++;
        else if (*c == '.')
            dots++;
        else
            digits = -1000;
    }
    double v = (digits > 0 && dots <= 1) ? strtod(s, NULL) : 0.0;
    if (!(v > 0.0 && v <= 100.0)) {
        fprintf(stderr, "%s: scale must be a positive number (at most 100), got '%s'\n", name, s);
        exit(2);
    }
    return v;
}

/* A workload that finds its data wrong: one line and exit 1. */
static inline void die(const char *name, const char *what)
{
    fprintf(stderr, "%s: %s\n", name, what);
    exit(1);
}

#endif
