// sym_target.cc -- a program whose allocation sites tests/tools/sym_test.c
// knows: it finds each "SITE:" marker's line in this file and expects the
// symbolizer to name the function and that line. Built with -g -O2, so the
// always_inline helpers leave only DWARF inline records behind.
#include <cstdlib>

// keeps p live after the call, so the call is not a tail jump
#define USE(p) __asm__ volatile("" : : "r"(p) : "memory")

extern "C" void *c_site(size_t n); // sym_target_c.c: a C compile unit

namespace demo {

template <typename T> struct Pool {
    __attribute__((noinline)) T *make(size_t n)
    {
        T *p = static_cast<T *>(malloc(n * sizeof(T))); // SITE:make
        USE(p);
        return p;
    }
};

static inline __attribute__((always_inline)) void *inner(size_t n)
{
    void *p = malloc(n); // SITE:inner
    USE(p);
    return p;
}

static inline __attribute__((always_inline)) void *middle(size_t n)
{
    void *p = inner(n + 1); // SITE:middle
    USE(p);
    return p;
}

__attribute__((noinline)) void *outer(size_t n)
{
    void *p = middle(n * 2); // SITE:outer
    USE(p);
    return p;
}

} // namespace demo

void *volatile sink[64];

int main()
{
    demo::Pool<long> pool;
    for (int i = 0; i < 8; i++) {
        sink[i] = demo::outer(100 + i);      // SITE:main_outer
        sink[8 + i] = pool.make(10 + i);     // SITE:main_make
        sink[16 + i] = c_site(200 + i);      // SITE:main_c
    }
    return 0;
}
