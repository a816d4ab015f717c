"""Allocation-heavy Python workload for poolalloc's real-program tests and demo.

Builds and tears down dicts, lists, sets, strings, bytes and bytearrays of
many sizes (a few bytes up to several MiB), round-trips structures through
json, and prints one line per phase plus a final checksum. Everything is
derived from a fixed-seed generator, so the output is identical on every run
and under any malloc: run it with and without LD_PRELOAD and compare.

Usage: python3 workload.py [scale]   (scale 1 = default, ~1-2 s)
"""
import hashlib
import json
import sys
import zlib


class Rng:
    """xorshift64*: deterministic, independent of Python's random module."""

    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFFFFFFFFFF or 1

    def next(self):
        s = self.s
        s ^= (s >> 12)
        s ^= (s << 25) & 0xFFFFFFFFFFFFFFFF
        s ^= (s >> 27)
        self.s = s
        return (s * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF

    def below(self, n):
        return self.next() % n


def size_mix(rng):
    """Mostly small sizes, some medium, a few large (up to ~6 MiB)."""
    r = rng.below(1000)
    if r < 700:
        return 1 + rng.below(256)
    if r < 950:
        return 256 + rng.below(32 * 1024)
    if r < 995:
        return 32 * 1024 + rng.below(512 * 1024)
    return 2 * 1024 * 1024 + rng.below(4 * 1024 * 1024)


def digest(h, obj):
    h.update(repr(obj).encode())


def phase_dicts(rng, scale, h):
    """Grow and shrink dicts of many sizes; keys are strings and ints."""
    total = 0
    for round_ in range(12 * scale):
        d = {}
        n = 2000 + rng.below(20000)
        for i in range(n):
            k = "k%d_%d" % (rng.below(n * 2), round_)
            d[k] = [i, k * (1 + rng.below(4)), rng.below(1 << 30)]
        for k in list(d)[::3]:
            del d[k]
        inner = {i: {"v": str(i) * (i % 7)} for i in range(rng.below(3000))}
        total += len(d) + len(inner)
        total += sum(len(v[1]) for v in d.values())
        digest(h, sorted(d.items())[:50])
    return total


def phase_lists(rng, scale, h):
    """Lists of mixed objects, sorting, slicing, concatenation, list growth."""
    acc = 0
    for _ in range(8 * scale):
        lst = [rng.below(1 << 40) for _ in range(50000)]
        lst.sort()
        acc = (acc * 31 + lst[len(lst) // 2]) % (1 << 61)
        chunks = [lst[i:i + 1 + rng.below(500)] for i in range(0, len(lst), 97)]
        flat = [x for c in chunks for x in c]
        acc = (acc + len(flat) + sum(flat[::1000])) % (1 << 61)
        tuples = [(x % 1000, str(x)) for x in lst[:20000]]
        tuples.sort(key=lambda t: (t[1][-3:], t[0]))
        digest(h, tuples[:20])
        s = set(x % 65536 for x in lst)
        acc = (acc + len(s)) % (1 << 61)
    return acc


def phase_strings(rng, scale, h):
    """Strings built by join, replace, split, format, encode, of many sizes."""
    acc = 0
    words = ["".join(chr(97 + rng.below(26)) for _ in range(1 + rng.below(12)))
             for _ in range(5000)]
    for _ in range(20 * scale):
        n = size_mix(rng) // 8 + 1
        text = " ".join(words[rng.below(len(words))] for _ in range(n))
        up = text.upper().replace("A", "[a]")
        parts = up.split()
        acc = (acc + len(parts) + zlib.crc32(up.encode())) % (1 << 61)
        fmt = ["%s:%d:%08x" % (w, i, i * 2654435761 & 0xFFFFFFFF) for i, w in enumerate(parts[:4000])]
        joined = "\n".join(fmt)
        acc = (acc + zlib.adler32(joined.encode("utf-16"))) % (1 << 61)
        uni = "".join(chr(0x3b1 + (ord(c) % 20)) for c in text[:20000])
        acc = (acc + len(uni.encode("utf-8"))) % (1 << 61)
    h.update(str(acc).encode())
    return acc


def phase_bytes(rng, scale, h):
    """bytes and bytearrays from a few bytes to > 2 MiB: create, grow, slice, free."""
    acc = 0
    keep = []
    for i in range(300 * scale):
        n = size_mix(rng)
        b = bytearray(n)
        step = 1 + rng.below(4096)
        for j in range(0, n, step):
            b[j] = (i + j) & 0xFF
        if rng.below(4) == 0:
            b.extend(bytes(rng.below(100000)))       # realloc growth
        if rng.below(4) == 0:
            del b[len(b) // 2:]                      # realloc shrink
        acc = (acc + zlib.crc32(b)) % (1 << 61)
        frozen = bytes(b[: 1 + rng.below(len(b) + 1)])
        acc = (acc + len(frozen)) % (1 << 61)
        keep.append(frozen)
        if len(keep) > 40:
            keep.pop(rng.below(len(keep)))
    big = [bytearray(3 * 1024 * 1024 + k * 4096) for k in range(6 * scale)]
    for k, b in enumerate(big):
        b[-1] = k
        b[0] = 255 - k
    acc = (acc + sum(b[-1] + b[0] + len(b) for b in big)) % (1 << 61)
    h.update(hashlib.sha256(b"".join(keep)).digest())
    return acc


def phase_json(rng, scale, h):
    """json round trips of nested structures, small and several MiB."""
    acc = 0
    for r in range(6 * scale):
        doc = {
            "id": r,
            "items": [
                {"name": "item-%d" % i,
                 "tags": ["t%d" % rng.below(50) for _ in range(rng.below(8))],
                 "value": rng.below(1 << 20) / 7.0,
                 "nested": {"a": [i, i * 2, {"b": "x" * rng.below(200)}]}}
                for i in range(2000 + rng.below(8000))
            ],
        }
        s = json.dumps(doc, sort_keys=True)
        back = json.loads(s)
        again = json.dumps(back, sort_keys=True)
        if again != s:
            raise SystemExit("json round trip mismatch")
        pretty = json.dumps(back, indent=2)
        acc = (acc + len(s) + len(pretty) + zlib.crc32(s.encode())) % (1 << 61)
        h.update(hashlib.md5(s.encode()).digest())
    return acc


def phase_churn(rng, scale, h):
    """Objects of varied lifetime: a sliding window of live allocations."""
    window = [None] * 4096
    acc = 0
    for i in range(200000 * scale):
        k = rng.below(len(window))
        kind = i % 5
        if kind == 0:
            window[k] = "s" * (1 + rng.below(3000))
        elif kind == 1:
            window[k] = list(range(rng.below(300)))
        elif kind == 2:
            window[k] = {j: j for j in range(rng.below(60))}
        elif kind == 3:
            window[k] = bytearray(1 + rng.below(20000))
        else:
            window[k] = None
        v = window[rng.below(len(window))]
        acc = (acc + (len(v) if v is not None else 1)) % (1 << 61)
    h.update(str(acc).encode())
    return acc


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    h = hashlib.sha256()
    rng = Rng(0x9E3779B97F4A7C15)
    for name, fn in [("dicts", phase_dicts), ("lists", phase_lists), ("strings", phase_strings),
                     ("bytes", phase_bytes), ("json", phase_json), ("churn", phase_churn)]:
        r = fn(rng, scale, h)
        print("%-8s %d" % (name, r))
    print("checksum", h.hexdigest())


if __name__ == "__main__":
    main()
