/* run.h -- `poolalloc-prof run`: runs a program under libpoolalloc.so with
 * profiling on and its profiles in a directory of their own, passing its
 * standard streams, exit status and signals through. */
#ifndef PP_RUN_H
#define PP_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct pp_run_options {
    const char *dir;      /* -o DIR; NULL: poolalloc.PROG.PID in the working directory */
    const char *rate;     /* POOLALLOC_SAMPLE_RATE, NULL: the library's default */
    const char *interval; /* POOLALLOC_PROFILE_INTERVAL, NULL: none */
    bool children;        /* profile the processes PROG starts too */
} pp_run_options_t;

typedef struct pp_run_result {
    char *dir;            /* where the profiles are */
    const char *program;  /* PROG's name as given */
    pid_t pid;
    int status;           /* as waitpid gives it */
    char **dumps;         /* each process's latest profile: PROG's, and with
                             children theirs */
    size_t ndumps;
    bool python;          /* PYTHONMALLOC=malloc was set for it */
} pp_run_result_t;

/* The library the tool runs programs with: next to the tool (a build
 * directory) or in the install prefix's lib directory; NULL if none. */
char *pp_run_find_library(void);

/* Runs argv[0] with argv; fills *r. Returns 0, or -1 with one line said
 * (the program could not be started: no library, no directory, no such
 * program: r->status is then 127 << 8). */
int pp_run(const pp_run_options_t *o, char **argv, pp_run_result_t *r);

/* Ends the tool as the program ended: the same exit status, or the same
 * signal. */
void pp_run_exit_like(int status) __attribute__((noreturn));

#endif
