// templates.cpp — a compile-heavy C++ program for poolalloc's real-program tests.
//
// Compiling it makes cc1plus allocate a lot (recursive templates, many
// instantiations of std::map / std::unordered_map / std::function, <regex>),
// and running it prints deterministic results, so the test compiles it with
// and without LD_PRELOAD=libpoolalloc.so and compares what the binaries print.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

// ---- compile-time recursion --------------------------------------------------
template <unsigned N> struct Fib { static constexpr uint64_t value = Fib<N - 1>::value + Fib<N - 2>::value; };
template <> struct Fib<1> { static constexpr uint64_t value = 1; };
template <> struct Fib<0> { static constexpr uint64_t value = 0; };

template <unsigned... Is> struct Seq {};
template <unsigned N, unsigned... Is> struct MakeSeq : MakeSeq<N - 1, N - 1, Is...> {};
template <unsigned... Is> struct MakeSeq<0, Is...> { using type = Seq<Is...>; };

template <unsigned... Is> constexpr uint64_t fib_sum(Seq<Is...>) { return (Fib<Is>::value + ... + 0); }

// A typelist with a recursive fold: each element type is a distinct instantiation.
template <typename... Ts> struct TypeList {};
template <unsigned I> struct Tag { static constexpr unsigned id = I; };

template <typename L> struct Sum;
template <> struct Sum<TypeList<>> { static constexpr unsigned value = 0; };
template <typename T, typename... Ts> struct Sum<TypeList<T, Ts...>> {
    static constexpr unsigned value = T::id * T::id + Sum<TypeList<Ts...>>::value;
};
template <typename S> struct TagsOf;
template <unsigned... Is> struct TagsOf<Seq<Is...>> { using type = TypeList<Tag<Is>...>; };

// A recursive tuple printer instantiated for a long tuple.
template <std::size_t I = 0, typename... Ts>
void print_tuple(std::ostream &os, const std::tuple<Ts...> &t)
{
    if constexpr (I < sizeof...(Ts)) {
        os << (I ? "," : "") << std::get<I>(t);
        print_tuple<I + 1>(os, t);
    }
}

// Instantiates a map/unordered_map/function combination per index.
template <unsigned K> struct Table {
    std::map<std::string, std::vector<int>> ordered;
    std::unordered_map<int, std::string> hashed;
    std::function<int(int)> f = [](int x) { return x * int(K + 1) + int(K); };
    void fill(int n)
    {
        for (int i = 0; i < n; i++) {
            std::string k = "key" + std::to_string((i * 7919 + int(K)) % (n + 13));
            ordered[k].push_back(f(i));
            hashed[i] = k + ":" + std::to_string(f(i));
        }
    }
    uint64_t digest() const
    {
        uint64_t h = 1469598103934665603ull;
        for (auto &[k, v] : ordered) {
            for (char c : k) h = (h ^ uint8_t(c)) * 1099511628211ull;
            for (int x : v) h = (h ^ uint32_t(x)) * 1099511628211ull;
        }
        std::vector<int> keys;
        for (auto &kv : hashed) keys.push_back(kv.first);
        std::sort(keys.begin(), keys.end());
        for (int k : keys) h = (h ^ hashed.at(k).size()) * 1099511628211ull;
        return h;
    }
};

template <unsigned... Ks> uint64_t run_tables(Seq<Ks...>, int n)
{
    uint64_t h = 0;
    ((h = h * 31 + [&] { Table<Ks> t; t.fill(n + int(Ks)); return t.digest(); }()), ...);
    return h;
}

// Expression templates: a lazily evaluated vector expression tree.
template <typename E> struct Expr {
    double operator[](std::size_t i) const { return static_cast<const E &>(*this)[i]; }
    std::size_t size() const { return static_cast<const E &>(*this).size(); }
};
struct Vec : Expr<Vec> {
    std::vector<double> d;
    explicit Vec(std::size_t n, double v = 0) : d(n, v) {}
    template <typename E> Vec(const Expr<E> &e) : d(e.size()) { for (std::size_t i = 0; i < d.size(); i++) d[i] = e[i]; }
    double operator[](std::size_t i) const { return d[i]; }
    std::size_t size() const { return d.size(); }
};
template <typename A, typename B, typename Op> struct Bin : Expr<Bin<A, B, Op>> {
    const A &a; const B &b;
    Bin(const A &a_, const B &b_) : a(a_), b(b_) {}
    double operator[](std::size_t i) const { return Op{}(a[i], b[i]); }
    std::size_t size() const { return a.size(); }
};
template <typename A, typename B> auto operator+(const Expr<A> &a, const Expr<B> &b)
{ return Bin<A, B, std::plus<double>>(static_cast<const A &>(a), static_cast<const B &>(b)); }
template <typename A, typename B> auto operator*(const Expr<A> &a, const Expr<B> &b)
{ return Bin<A, B, std::multiplies<double>>(static_cast<const A &>(a), static_cast<const B &>(b)); }

// ---- regex-heavy text processing ---------------------------------------------
static std::string make_log(int lines)
{
    std::ostringstream os;
    uint32_t x = 12345;
    const char *lv[] = { "INFO", "WARN", "ERROR", "DEBUG" };
    for (int i = 0; i < lines; i++) {
        x = x * 1103515245u + 12345u;
        os << "2024-0" << (1 + (x >> 8) % 9) << "-1" << (x >> 12) % 10 << " " << lv[(x >> 16) % 4]
           << " user=u" << (x >> 20) % 50 << " ip=10." << (x >> 3) % 256 << "." << (x >> 11) % 256 << ".7"
           << " msg=\"op " << i << " took " << (x >> 5) % 1000 << "ms\"\n";
    }
    return os.str();
}

static std::string regex_report(const std::string &log)
{
    std::regex line_re(R"((\d{4})-(\d{2})-(\d{2}) (INFO|WARN|ERROR|DEBUG) user=(u\d+) ip=([\d.]+) msg="op (\d+) took (\d+)ms")");
    std::map<std::string, std::pair<long, long>> per_level;
    std::map<std::string, int> per_user;
    std::istringstream in(log);
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
        if (!std::regex_match(line, m, line_re)) return "no match: " + line;
        auto &p = per_level[m[4]];
        p.first++;
        p.second += std::stol(m[8]);
        per_user[m[5]]++;
    }
    std::string redacted = std::regex_replace(log.substr(0, 2000), std::regex(R"(ip=\d+\.\d+\.\d+\.\d+)"), "ip=x.x.x.x");
    std::ostringstream os;
    for (auto &[lvl, p] : per_level) os << lvl << " n=" << p.first << " total_ms=" << p.second << "\n";
    int busiest = 0; std::string who;
    for (auto &[u, n] : per_user) if (n > busiest) { busiest = n; who = u; }
    os << "users=" << per_user.size() << " busiest=" << who << ":" << busiest << "\n";
    std::regex slow_re(R"(took (9\d\d)ms)");
    std::sregex_iterator it(log.begin(), log.end(), slow_re), end;
    os << "slow=" << std::distance(it, end) << " redacted_len=" << redacted.size() << "\n";
    return os.str();
}

// ---- a variant-based interpreter -----------------------------------------------
using Value = std::variant<long, double, std::string>;
struct Show {
    std::string operator()(long v) const { return "L" + std::to_string(v); }
    std::string operator()(double v) const { std::ostringstream o; o.precision(6); o << "D" << v; return o.str(); }
    std::string operator()(const std::string &s) const { return "S" + s; }
};

int main()
{
    using S = MakeSeq<60>::type;
    std::cout << "fib_sum " << fib_sum(S{}) << "\n";
    std::cout << "tag_sum " << Sum<TagsOf<MakeSeq<120>::type>::type>::value << "\n";

    auto tup = std::make_tuple(1, 2.5, std::string("three"), 'c', 5u, -6L, 7.25f, std::string("eight"));
    std::ostringstream to;
    print_tuple(to, tup);
    std::cout << "tuple " << to.str() << "\n";

    std::cout << "tables " << run_tables(MakeSeq<24>::type{}, 3000) << "\n";

    Vec a(1000, 1.5), b(1000, 2.0), c(1000, 0.5);
    Vec r = a * b + c * a + b;
    std::cout << "expr " << std::accumulate(r.d.begin(), r.d.end(), 0.0) << "\n";

    std::cout << regex_report(make_log(4000));

    std::vector<Value> vals;
    for (long i = 0; i < 20000; i++) {
        if (i % 3 == 0) vals.emplace_back(i);
        else if (i % 3 == 1) vals.emplace_back(double(i) / 8);
        else vals.emplace_back(std::string(size_t(i % 40), char('a' + i % 26)));
    }
    std::map<std::string, int> kinds;
    size_t total = 0;
    for (auto &v : vals) { std::string s = std::visit(Show{}, v); kinds[s.substr(0, 1)]++; total += s.size(); }
    std::cout << "variant L=" << kinds["L"] << " D=" << kinds["D"] << " S=" << kinds["S"] << " chars=" << total << "\n";

    std::vector<std::unique_ptr<std::function<long(long)>>> fs;
    for (int k = 0; k < 500; k++)
        fs.push_back(std::make_unique<std::function<long(long)>>([k, s = std::string(size_t(k % 100), 'z')](long x) { return x * k + long(s.size()); }));
    long acc = 0;
    for (int round = 0; round < 50; round++)
        for (auto &f : fs) acc = (acc + (*f)(round)) % 1000000007;
    std::cout << "functions " << acc << "\n";

    std::set<std::string> words;
    for (int i = 0; i < 30000; i++) words.insert(std::to_string(i * 2654435761u % 100003));
    std::cout << "set " << words.size() << " first=" << *words.begin() << " last=" << *words.rbegin() << "\n";
    return 0;
}
