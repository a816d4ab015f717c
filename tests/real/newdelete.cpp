// newdelete.cpp — every form of operator new and delete, for poolalloc's
// real-program tests: plain, array, nothrow, sized delete, aligned (with
// std::align_val_t, explicit and through an alignas(64)/alignas(256) class),
// the new-handler protocol, bad_alloc for an impossible size, and standard
// container churn. Prints only facts that do not depend on the allocator
// (no addresses, no usable sizes), so its output is the same with and without
// LD_PRELOAD=libpoolalloc.so. Exit status 1 if any check failed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

static int failures = 0;
static void check(bool ok, const char *what)
{
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) failures++;
}

static bool aligned(const void *p, std::size_t a) { return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0; }

// Sizes come from a volatile so the compiler cannot see through them or elide the calls.
static volatile std::size_t vsize = 0;
static std::size_t sz(std::size_t n) { vsize = n; return vsize; }

struct alignas(64) Line {
    unsigned char bytes[64];
    Line() { std::memset(bytes, 0xA5, sizeof bytes); }
};
struct alignas(256) Page {
    double v[40];
    Page() { for (int i = 0; i < 40; i++) v[i] = i * 0.5; }
};
struct Node {
    std::string name;
    std::vector<int> data;
    Node(std::string n, int k) : name(std::move(n)), data(static_cast<std::size_t>(k), k) {}
};

static int handler_calls = 0;
static void handler()
{
    handler_calls++;
    std::set_new_handler(nullptr);   // give up: the next failure throws
}

int main()
{
    // plain and array new/delete, sized delete
    {
        int *p = new int(42);
        check(p && *p == 42 && aligned(p, alignof(std::max_align_t)), "new int / delete");
        delete p;
        char *a = new char[sz(1000)];
        std::memset(a, 'x', 1000);
        check(a[999] == 'x', "new char[] / delete[]");
        delete[] a;
        Node *n = new Node("node", 100);
        check(n->data.size() == 100 && n->data[99] == 100, "new Node / sized delete");
        delete n;   // -fsized-deallocation: operator delete(void*, size_t)
        void *raw = ::operator new(sz(333));
        std::memset(raw, 1, 333);
        ::operator delete(raw, std::size_t(333));
        void *raw2 = ::operator new[](sz(4096));
        ::operator delete[](raw2, std::size_t(4096));
        void *big = ::operator new(sz(5u << 20));   // a huge block
        std::memset(big, 2, 5u << 20);
        ::operator delete(big, std::size_t(5u << 20));
        check(true, "operator new/delete(size), new[]/delete[](size), 5 MiB");
    }
    // nothrow
    {
        int *p = new (std::nothrow) int[sz(64)];
        check(p != nullptr, "new (nothrow) int[]");
        p[63] = 1;
        delete[] p;
        void *q = ::operator new(sz(100), std::nothrow);
        check(q != nullptr, "operator new(nothrow)");
        ::operator delete(q, std::nothrow);
        void *r = ::operator new[](sz(100), std::nothrow);
        ::operator delete[](r, std::nothrow);
        void *none = ::operator new(sz(SIZE_MAX / 2), std::nothrow);
        check(none == nullptr, "operator new(nothrow) impossible size -> nullptr");
    }
    // aligned new/delete with std::align_val_t, every form
    {
        bool ok = true;
        for (std::size_t al = 16; al <= (std::size_t(1) << 22); al <<= 1) {
            for (std::size_t n : { std::size_t(1), std::size_t(al / 2 + 1), std::size_t(3 * al), std::size_t(100000) }) {
                void *p = ::operator new(sz(n), std::align_val_t(al));
                ok &= aligned(p, al);
                std::memset(p, 3, n);
                ::operator delete(p, std::align_val_t(al));
                p = ::operator new[](sz(n), std::align_val_t(al));
                ok &= aligned(p, al);
                std::memset(p, 4, n);
                ::operator delete[](p, n, std::align_val_t(al));   // sized + aligned
                p = ::operator new(sz(n), std::align_val_t(al), std::nothrow);
                ok &= p && aligned(p, al);
                ::operator delete(p, std::align_val_t(al), std::nothrow);
                p = ::operator new[](sz(n), std::align_val_t(al), std::nothrow);
                ok &= p && aligned(p, al);
                ::operator delete[](p, std::align_val_t(al), std::nothrow);
                p = ::operator new(sz(n), std::align_val_t(al));
                ::operator delete(p, n, std::align_val_t(al));       // sized + aligned, scalar
                p = ::operator new[](sz(n), std::align_val_t(al));
                ::operator delete[](p, std::align_val_t(al));
            }
        }
        check(ok, "aligned new/delete 16 B .. 4 MiB alignment, all forms");
    }
    // over-aligned classes use the aligned operators implicitly
    {
        bool ok = true;
        std::vector<Line *> lines;
        for (int i = 0; i < 1000; i++) { lines.push_back(new Line); ok &= aligned(lines.back(), 64); }
        for (Line *l : lines) { ok &= l->bytes[63] == 0xA5; delete l; }
        Line *arr = new Line[sz(77)];
        ok &= aligned(arr, 64) && arr[76].bytes[0] == 0xA5;
        delete[] arr;
        Page *pg = new Page[sz(9)];
        ok &= aligned(pg, 256) && pg[8].v[39] == 19.5;
        delete[] pg;
        std::vector<Page> pv(300);
        ok &= aligned(pv.data(), 256);
        auto up = std::make_unique<Line[]>(sz(50));
        ok &= aligned(up.get(), 64);
        auto sp = std::make_shared<Page>();
        ok &= aligned(sp.get(), 256);
        Line *nl = new (std::nothrow) Line;
        ok &= nl && aligned(nl, 64);
        delete nl;
        check(ok, "alignas(64)/alignas(256) new, new[], vector, make_unique, make_shared");
    }
    // containers: vector / string / map / unordered_map churn
    {
        std::map<std::string, std::vector<std::string>> m;
        std::unordered_map<int, std::string> u;
        std::uint64_t h = 1469598103934665603ull;
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < 3000; i++) {
                std::string k = "k" + std::to_string((i * 7919 + round) % 5003);
                m[k].push_back(std::string(static_cast<std::size_t>(i % 200), char('a' + i % 26)));
                u[i * 31 + round] = k + k;
            }
            for (auto it = m.begin(); it != m.end();) {
                if (it->second.size() > 3) it = m.erase(it); else ++it;
            }
            for (int i = 0; i < 3000; i += 2) u.erase(i * 31 + round);
            std::vector<std::string> v;
            for (auto &kv : m) v.push_back(kv.first + std::to_string(kv.second.size()));
            v.shrink_to_fit();
            for (auto &s : v) for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
        }
        std::printf("containers map=%zu unordered=%zu hash=%llu\n", m.size(), u.size(), static_cast<unsigned long long>(h));
    }
    // bad_alloc for an impossible size, and the new-handler protocol
    {
        bool caught = false;
        try {
            void *p = ::operator new(sz(SIZE_MAX / 2));
            ::operator delete(p);
        } catch (const std::bad_alloc &) {
            caught = true;
        }
        check(caught, "operator new(SIZE_MAX/2) throws std::bad_alloc");
        caught = false;
        try {
            char *p = new char[sz(std::size_t(1) << 62)];
            delete[] p;
        } catch (const std::bad_alloc &) {
            caught = true;
        }
        check(caught, "new char[1 << 62] throws std::bad_alloc");
        caught = false;
        try {
            void *p = ::operator new(sz(SIZE_MAX / 2), std::align_val_t(64));
            ::operator delete(p, std::align_val_t(64));
        } catch (const std::bad_alloc &) {
            caught = true;
        }
        check(caught, "aligned operator new(SIZE_MAX/2) throws std::bad_alloc");
        std::set_new_handler(handler);
        caught = false;
        try {
            void *p = ::operator new(sz(SIZE_MAX / 4));
            ::operator delete(p);
        } catch (const std::bad_alloc &) {
            caught = true;
        }
        check(caught && handler_calls == 1, "new-handler called once, then std::bad_alloc");
    }
    std::printf("%s\n", failures ? "FAILED" : "all operator new/delete checks passed");
    return failures ? 1 : 0;
}
