// sites.cc -- known allocation sites for tests/tools/run.sh: run with
// POOLALLOC_SAMPLE_RATE=1 its profile is exact, and it prints the truth,
// one line per site: NAME ALLOC_OBJECTS ALLOC_BYTES INUSE_OBJECTS INUSE_BYTES.
//   sites SCALE [fork|dumps]
// SCALE multiplies every count (diff tests run 1 and 2). With "fork", a
// child process allocates at child_site and exits; the parent waits. With
// "dumps", a profile is written after each site (pa_profile_dump, found
// with dlsym: the program is not linked with poolalloc).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#define NOINLINE __attribute__((noinline))

void *keep[1 << 16]; // not static: the compiler must not drop the kept objects
int nkeep;

// a plain C-style site: n objects of 100 bytes, every other one kept
extern "C" NOINLINE void plain_site(int n)
{
    for (int i = 0; i < n; i++) {
        void *p = malloc(100);
        if (i % 2)
            keep[nkeep++] = p;
        else
            free(p);
    }
}

// inlined into via_inline: its malloc call is a frame of its own once the
// tool expands inline frames
static inline __attribute__((always_inline)) void *grab(size_t n) { return malloc(n); }

extern "C" NOINLINE void via_inline(int n)
{
    for (int i = 0; i < n; i++)
        free(grab(300));
}

namespace shapes {
template <typename T> struct Box {
    T v[8];
};

// a template: its demangled name carries the type
template <typename T> NOINLINE void make_boxes(int n)
{
    for (int i = 0; i < n; i++) {
        Box<T> *b = new Box<T>();
        keep[nkeep++] = b;
    }
}
} // namespace shapes

extern "C" NOINLINE void child_site(int n)
{
    for (int i = 0; i < n; i++)
        free(malloc(1000));
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    bool fork_child = argc > 2 && strcmp(argv[2], "fork") == 0;
    int (*dump)(const char *) = nullptr;
    if (argc > 2 && strcmp(argv[2], "dumps") == 0)
        dump = reinterpret_cast<int (*)(const char *)>(dlsym(RTLD_DEFAULT, "pa_profile_dump"));
    plain_site(1000 * scale);
    if (dump && dump(nullptr) != 0)
        return 1;
    via_inline(500 * scale);
    if (dump && dump(nullptr) != 0)
        return 1;
    shapes::make_boxes<double>(200 * scale);
    printf("plain_site %d %d %d %d\n", 1000 * scale, 100000 * scale, 500 * scale, 50000 * scale);
    printf("via_inline %d %d 0 0\n", 500 * scale, 150000 * scale);
    printf("make_boxes %d %d %d %d\n", 200 * scale, 200 * scale * (int)sizeof(shapes::Box<double>), 200 * scale,
           200 * scale * (int)sizeof(shapes::Box<double>));
    fflush(stdout);
    if (fork_child) {
        pid_t pid = fork();
        if (pid == 0) {
            child_site(700);
            exit(0); // not _exit: the exit dump is written by a destructor
        }
        int st;
        waitpid(pid, &st, 0);
        printf("child_site 700 700000 0 0\n");
    }
    return 0;
}
