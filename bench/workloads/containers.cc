/*
 * containers — C++17 standard-container churn.
 *
 * Models the data handling of a typical C++ service or tool: text split into
 * std::vector<std::string> tokens with substr, joined back with +=, counted in
 * an std::unordered_map<std::string, ...>, a persistent unordered_map index
 * (~25k entries of string + vector) whose entries are retired 64 rounds after
 * insertion, an ordered std::map<int, std::string> (~30k entries) that is
 * inserted into, searched and trimmed, and periodic rebuilds (copy of a whole
 * container, then swap).
 * All memory comes from the default allocator (operator new -> malloc).
 *
 * Stresses: small-object malloc/free through operator new/delete (hash and
 * tree nodes, strings just over the 15-character SSO limit), growth of
 * vectors and strings, bucket-array rehashes, and frees in an order unlike
 * the allocation order (tree erases, index entries retired in bulk).
 *
 * Checksum: FNV-1a of strings seen in a deterministic order (sorted tokens,
 * std::map iteration, lookup results); unordered containers contribute only
 * through order-independent sums, so bucket order never matters.
 *
 * Usage: containers [scale]   (scale multiplies the number of rounds)
 */
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "workload.h"

namespace {

const char *const PROG = "containers";
const double BASE_ROUNDS = 800.0; // rounds at scale 1.0

// ---- PRNG and checksum (see workload.h) ----------------------------------

uint64_t rng_state = 0x5eed0003u;

inline uint64_t rnd() { return splitmix64(&rng_state); }

inline uint64_t rnd_below(uint64_t n) { return rnd() % n; }

uint64_t checksum = 0x243f6a8885a308d3ULL;

inline void fold(uint64_t v) { checksum = fold64(checksum, v); }

// Our own string hash, so nothing depends on the library's std::hash.
inline uint64_t fnv1a(const std::string &s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : s)
        h = (h ^ c) * 0x100000001b3ULL;
    return h;
}

// ---- the data ---------------------------------------------------------------

// Words are 1–8 syllables (2–32 characters): about half are longer than the
// 15-character small-string buffer, so they allocate.
const char *const SYLLABLES[] = {"ka", "lo",  "mi",  "tran", "sev", "or", "quin", "el",
                                 "ba", "dus", "ri",  "zen",  "pha", "ul", "go",   "nek"};

std::string make_word()
{
    std::string w;
    int n = 1 + (int)rnd_below(8);
    for (int i = 0; i < n; i++)
        w += SYLLABLES[rnd_below(16)];
    return w;
}

struct Entry {
    std::string text;
    std::vector<uint32_t> refs;
};

const unsigned INDEX_GENERATIONS = 64;  // an index key lives this many rounds
const size_t TIMELINE_MAX = 30000;      // std::map entries kept
const unsigned REBUILD_EVERY = 16;      // rounds between full rebuilds

struct State {
    std::unordered_map<std::string, Entry> index;
    std::vector<std::string> index_keys[INDEX_GENERATIONS]; // keys by round added
    std::map<int, std::string> timeline;
};

void round_once(State &st, uint32_t round)
{
    // 1. A document of words, then joined into one text with +=.
    std::vector<std::string> words;
    size_t nwords = 400 + rnd_below(800);
    for (size_t i = 0; i < nwords; i++)
        words.push_back(make_word());
    std::string text;
    for (const std::string &w : words) {
        text += w;
        text += ' ';
    }

    // 2. Split it back with find + substr, like a tokenizer.
    std::vector<std::string> tokens;
    for (size_t pos = 0, end; (end = text.find(' ', pos)) != std::string::npos; pos = end + 1)
        tokens.push_back(text.substr(pos, end - pos));
    if (tokens.size() != words.size())
        std::abort();

    // 3. Word frequencies; folded order-independently.
    std::unordered_map<std::string, uint32_t> freq;
    for (const std::string &t : tokens)
        ++freq[t];
    uint64_t fsum = 0;
    for (const auto &kv : freq)
        fsum += fnv1a(kv.first) * kv.second;
    fold(fsum ^ freq.size());

    // 4. Persistent index: add keyed entries now, retire this slot's keys
    //    from INDEX_GENERATIONS rounds ago.
    std::vector<std::string> &gen = st.index_keys[round % INDEX_GENERATIONS];
    for (const std::string &k : gen)
        st.index.erase(k);
    gen.clear();
    for (size_t i = 0; i < tokens.size(); i += 2) {
        std::string key = tokens[i] + "/" + std::to_string(round % 97) + "/" +
                          tokens[(i * 7) % tokens.size()].substr(0, 6);
        Entry &e = st.index[key];
        if (e.text.empty())
            e.text = "entry of " + tokens[i] + " in round " + std::to_string(round);
        e.refs.push_back((uint32_t)i);
        gen.push_back(std::move(key));
    }
    // Lookups, some hitting, some (prefix-only keys) missing.
    uint64_t hits = 0, hsum = 0;
    for (size_t i = 0; i < tokens.size(); i++) {
        const std::vector<std::string> &keys = st.index_keys[rnd_below(INDEX_GENERATIONS)];
        const std::string &g = keys.empty() ? tokens[i] : keys[rnd_below(keys.size())];
        auto it = st.index.find(rnd_below(4) ? g : g.substr(0, g.size() / 2));
        if (it != st.index.end()) {
            hits++;
            hsum += fnv1a(it->second.text) + it->second.refs.size();
        }
    }
    fold(hits);
    fold(hsum);

    // 5. Ordered map: insert pairs of words, look up, trim at random keys.
    for (size_t i = 0; i < tokens.size() / 2; i++) {
        int key = (int)rnd_below(1000000);
        st.timeline[key] = tokens[i] + " " + tokens[tokens.size() - 1 - i];
    }
    uint64_t tsum = 0;
    for (int i = 0; i < 1000; i++) {
        auto it = st.timeline.lower_bound((int)rnd_below(1000000));
        if (it != st.timeline.end())
            tsum += fnv1a(it->second) ^ (uint64_t)it->first;
    }
    fold(tsum);
    while (st.timeline.size() > TIMELINE_MAX) {
        auto it = st.timeline.lower_bound((int)rnd_below(1000000));
        if (it == st.timeline.end())
            it = st.timeline.begin();
        // erase a short run, as a range delete would
        for (int k = 0; k < 8 && it != st.timeline.end(); k++)
            it = st.timeline.erase(it);
    }

    // 6. Sort and dedupe the tokens; fold them in order.
    std::sort(tokens.begin(), tokens.end());
    tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
    uint64_t ssum = 0;
    for (const std::string &t : tokens)
        ssum = ssum * 31 + fnv1a(t);
    fold(ssum ^ tokens.size());

    // 7. Periodic rebuild: copy everything into fresh containers and swap,
    //    as a config reload or snapshot would; the old ones are freed whole.
    if (round % REBUILD_EVERY == REBUILD_EVERY - 1) {
        std::unordered_map<std::string, Entry> index2(st.index);
        st.index.swap(index2);
        std::map<int, std::string> timeline2;
        for (const auto &kv : st.timeline)
            timeline2.emplace_hint(timeline2.end(), kv.first, kv.second + ".");
        st.timeline.swap(timeline2);
        uint64_t msum = 0;
        for (const auto &kv : st.timeline)
            msum = msum * 31 + fnv1a(kv.second) + (uint64_t)kv.first;
        fold(msum);
    }
}

} // namespace

int main(int argc, char **argv)
{
    double scale = parse_scale(argc, argv, PROG);
    uint32_t rounds = (uint32_t)std::lround(BASE_ROUNDS * scale);
    if (rounds < 1)
        rounds = 1;

    {
        State st;
        for (uint32_t r = 0; r < rounds; r++)
            round_once(st, r);
        fold(st.index.size());
        fold(st.timeline.size());
        if (std::getenv("WORKLOAD_VERBOSE"))
            std::fprintf(stderr, "%s: %u rounds, index %zu entries, timeline %zu entries\n",
                         PROG, rounds, st.index.size(), st.timeline.size());
    }
    std::printf("checksum %016llx\n", (unsigned long long)checksum);
    return 0;
}
