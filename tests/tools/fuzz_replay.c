/* fuzz_replay.c -- runs the fuzz target (fuzz_dump.c) on saved inputs,
 * without libFuzzer, so `make check` can replay the corpus under gcc's
 * ASan+UBSan. Arguments are files, or directories whose files (not
 * subdirectories, not dot files) are read in name order.
 *
 *   fuzz_replay [-v] PATH...
 *
 * Exit 0 when every input ran; an input that breaks an invariant aborts
 * (or a sanitizer stops the run) after its path is printed. No input at
 * all is an error: a wrong path must not pass as an empty corpus. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set by the sanitizers' runtime when linked in; absent otherwise. */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));
void __sanitizer_report_error_summary(const char *summary);

static const char *current; /* the input being run, for the failure message */

static void say_current(void)
{
    if (!current)
        return;
    static const char a[] = "fuzz_replay: failing input: ";
    const char *path = current;
    current = NULL; /* once, though both hooks below may run */
    if (write(2, a, sizeof a - 1) < 0 || write(2, path, strlen(path)) < 0 || write(2, "\n", 1) < 0)
        return;
}

/* The runtimes call this after each report; gcc's UBSan stops without
 * calling the death callback, so this is where its failures are named. */
void __sanitizer_report_error_summary(const char *summary)
{
    fprintf(stderr, "%s\n", summary);
    say_current();
}

/* UBSan's defaults when linked in: a summary line (so the function above
 * runs) and a stack trace. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "print_summary=1:print_stacktrace=1"; }

static void on_abort(int sig)
{
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void die(const char *what, const char *path)
{
    fprintf(stderr, "fuzz_replay: %s: %s\n", path, what);
    exit(2);
}

/* The file's bytes in a buffer of exactly its size, as libFuzzer gives
 * them, so a read one past the end is caught by ASan. */
static void run_file(const char *path, int verbose)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(strerror(errno), path);
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    if (!buf)
        die("out of memory", path);
    if (ferror(f))
        die(strerror(errno), path);
    fclose(f);
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact)
        die("out of memory", path);
    memcpy(exact, buf, len);
    free(buf);
    if (verbose)
        fprintf(stderr, "fuzz_replay: %s (%zu bytes)\n", path, len);
    current = path;
    LLVMFuzzerTestOneInput(exact, len);
    current = NULL;
    free(exact);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static size_t run_dir(const char *dir, int verbose)
{
    DIR *d = opendir(dir);
    if (!d)
        die(strerror(errno), dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            names = realloc(names, cap * sizeof *names);
            if (!names)
                die("out of memory", dir);
        }
        if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0)
            die("out of memory", dir);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    size_t ran = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            run_file(names[i], verbose);
            ran++;
        }
        free(names[i]);
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    int verbose = 0;
    size_t ran = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    signal(SIGABRT, on_abort);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(say_current);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose = 1;
            continue;
        }
        struct stat st;
        if (stat(argv[i], &st) != 0)
            die(strerror(errno), argv[i]);
        if (S_ISDIR(st.st_mode)) {
            ran += run_dir(argv[i], verbose);
        } else {
            run_file(argv[i], verbose);
            ran++;
        }
    }
    if (ran == 0) {
        fprintf(stderr, "usage: fuzz_replay [-v] FILE|DIR...  (no input found)\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("fuzz_replay: %zu inputs, no invariant broken (%.2f s)\n", ran,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
