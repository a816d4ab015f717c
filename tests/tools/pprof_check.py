#!/usr/bin/env python3
"""Checks the profiles pprof_driver wrote (pprof_check.sh runs it):

  pprof_check.py MAIN DEFAULT1 EMPTY BIG

MAIN is the driver's profile with inuse_space as default, DEFAULT1 the same
with alloc_space, EMPTY one without stacks, BIG 20000 stacks by formula. Each is read twice: by a
protobuf walker here that knows profile.proto's field numbers (exact
encoding: ids, string table, no default-valued fields), and by Go's
`go tool pprof` (what users run), whose -raw and -top must show what the
driver put in. Exits 1 with one line per failed check."""
import gzip
import subprocess
import sys

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


# ---- what pprof_driver.c writes (keep in step with it) ----
DEMO, WIDGET, LIBC = "/usr/bin/demo", "/opt/my libs/libwidget.so", "/usr/lib/x86_64-linux-gnu/libc.so.6"
PUSH = "std::vector<int, std::allocator<int> >::push_back(int const&)"
UMLAUT = "ns::Wörterbuch::größe() const"
# location id: (address, mapping file or None, frames innermost first as (function, file, line))
LOCATIONS = {
    1: (0x555555555100, DEMO, [("main", "/src/demo/main.c", 42)]),
    2: (0x555555555200, DEMO, [(PUSH, "/usr/include/c++/12/bits/stl_vector.h", 1287)]),
    3: (0x555555555300, DEMO, [("inline_helper", "/src/demo/util.h", 10), ("session_new", "/src/demo/session.c", 88)]),
    4: (0x555555555140, DEMO, [("main", "/src/demo/main.c", 50)]),
    5: (0x555555555400, DEMO, [("render", "/src/demo/render.c", 120)]),
    6: (0x555555555500, DEMO, [(UMLAUT, "/src/demo/wörter.cc", 7)]),
    7: (0x7F0000002234, WIDGET, [("libwidget.so+0x1234", "", 0)]),
    9: (0x7F2000029D90, LIBC, [("__libc_start_main", "", 0)]),
    10: (0xDEADBEEF, None, [("0xdeadbeef", "", 0)]),
    11: (0x555555555600, DEMO, [("init", "/src/demo/a.c", 3)]),
    12: (0x555555555700, DEMO, [("init", "/src/demo/b.c", 4)]),
}
# mapping id: (start, limit, offset, file, build id, symbolized); module 3 is used by no stack
MAPPINGS = {
    2: (0x555555554000, 0x555555558000, 0x1000, DEMO, "0123456789abcdef0123456789abcdef01234567", True),
    1: (0x7F0000001000, 0x7F0000003000, 0, WIDGET, "", False),
    4: (0x7F2000028000, 0x7F20001BD000, 0x28000, LIBC, "89abcdef", True),
}
LOC_MAPPING = {1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 2, 7: 1, 9: 4, 10: 0, 11: 2, 12: 2}
SAMPLES = [
    ([2, 1], [10, 4096, 5, 2048]),
    ([3, 4], [200000, 41600000, 200000, 41600000]),
    ([5, 1], [200000, 800000000, 0, 0]),
    ([6, 7, 9], [3, 5000000000, 1, 8589934592]),
    ([10], [-2, -64, 0, 0]),
    ([11, 12], [1, 100, 1, 100]),
]
TYPES = [("alloc_objects", "count"), ("alloc_space", "bytes"), ("inuse_objects", "count"), ("inuse_space", "bytes")]
COMMENT = "poolalloc-prof: 3 dumps (2 processes) of /usr/bin/demo, sample rate 524288 bytes"
TIME_NS = 1795418550788182000

# ---- a protobuf walker for profile.proto ----
# message: {field: kind}; kind "u"/"i" varint (uint64/int64), "b" bool,
# "s" bytes, "P" packed varints, or a message name. Anything else is an error.
SCHEMA = {
    "Profile": {1: "ValueType", 2: "Sample", 3: "Mapping", 4: "Location", 5: "Function", 6: "s",
                9: "i", 11: "ValueType", 12: "i", 13: "i", 14: "i"},
    "ValueType": {1: "i", 2: "i"},
    "Sample": {1: "P", 2: "P"},
    "Mapping": {1: "u", 2: "u", 3: "u", 4: "u", 5: "i", 6: "i", 7: "b", 8: "b", 9: "b", 10: "b"},
    "Location": {1: "u", 2: "u", 3: "u", 4: "Line"},
    "Line": {1: "u", 2: "i"},
    "Function": {1: "u", 2: "i", 3: "i", 4: "i", 5: "i"},
}


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def walk(b, name):
    """The message as {field: [values]}; submessages decoded too."""
    out = {}
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        field, wire = key >> 3, key & 7
        kind = SCHEMA[name].get(field)
        if not check(kind is not None, f"{name}: unexpected field {field}"):
            return out
        if wire == 0:
            check(kind in "uib", f"{name}.{field}: varint where {kind} expected")
            v, i = varint(b, i)
            # proto3 leaves default values out; this writer promises to
            check(v != 0, f"{name}.{field}: a zero value written")
            out.setdefault(field, []).append(signed(v) if kind == "i" else bool(v) if kind == "b" else v)
        elif wire == 2:
            n, i = varint(b, i)
            data = b[i:i + n]
            i += n
            if kind == "s":
                out.setdefault(field, []).append(data.decode("utf-8"))
            elif kind == "P":
                vals, j = [], 0
                while j < len(data):
                    v, j = varint(data, j)
                    vals.append(signed(v))
                check(len(vals) > 0, f"{name}.{field}: empty packed field")
                out.setdefault(field, []).extend(vals)
            elif kind in SCHEMA:
                out.setdefault(field, []).append(walk(data, kind))
            else:
                check(False, f"{name}.{field}: bytes where {kind} expected")
        else:
            check(False, f"{name}.{field}: wire type {wire}")
            return out
    return out


def one(m, field, default=0):
    vals = m.get(field, [default])
    check(len(vals) == 1, f"field {field} repeated")
    return vals[0]


def check_encoding(path, default_type):
    raw = open(path, "rb").read()
    check(raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0", f"{path}: gzip header without mtime 0")
    p = walk(gzip.decompress(raw), "Profile")
    strs = p.get(6, [])
    check(strs[:1] == [""], "string_table[0] is not empty")
    check(len(set(strs)) == len(strs), "string_table has duplicates")

    def s(i):
        return strs[i] if 0 <= i < len(strs) else check(False, f"string index {i} out of range")

    types = [(s(one(vt, 1)), s(one(vt, 2))) for vt in p.get(1, [])]
    check(types == TYPES, f"sample types {types}")
    check(s(one(p, 14)) == default_type, f"default_sample_type {s(one(p, 14))!r}, not {default_type!r}")
    pt = p.get(11, [{}])[0]
    check((s(one(pt, 1)), s(one(pt, 2))) == ("space", "bytes"), "period_type")
    check(one(p, 12) == 524288, "period")
    # a double holds the seconds: the nanoseconds are exact to ~256 ns
    check(abs(one(p, 9) - TIME_NS) < 1000, f"time_nanos {one(p, 9)}")
    check([s(c) for c in p.get(13, [])] == [COMMENT], f"comments {[s(c) for c in p.get(13, [])]}")

    got = [(x.get(1, []), x.get(2, [])) for x in p.get(2, [])]
    check(got == SAMPLES, f"samples (location ids, values) {got}")

    maps = {one(m, 1): m for m in p.get(3, [])}
    order = [one(m, 1) for m in p.get(3, [])]
    check(order == [2, 1, 4], f"mapping ids {order}: the program's first, then the other used modules by id")
    for mid, (start, limit, off, path_, bid, sym) in MAPPINGS.items():
        m = maps.get(mid, {})
        check((one(m, 2), one(m, 3), one(m, 4), s(one(m, 5)), s(one(m, 6))) == (start, limit, off, path_, bid),
              f"mapping {mid}")
        check([one(m, f, False) for f in (7, 8, 9, 10)] == [sym] * 4, f"mapping {mid} has_* flags")

    funcs = {one(f, 1): (s(one(f, 2)), s(one(f, 3)), s(one(f, 4)), one(f, 5)) for f in p.get(5, [])}
    check(len(funcs) == len(p.get(5, [])), "function ids repeat")
    pairs = {(fn, file) for _, _, frames in LOCATIONS.values() for fn, file, _ in frames}
    check(len(funcs) == len(pairs), f"{len(funcs)} functions for {len(pairs)} distinct (name, file)")
    locs = [one(loc, 1) for loc in p.get(4, [])]
    check(locs == sorted(LOCATIONS), f"location ids {locs}: the used ones, in order")
    for loc in p.get(4, []):
        lid = one(loc, 1)
        if lid not in LOCATIONS:
            continue
        addr, _, frames = LOCATIONS[lid]
        check(one(loc, 3) == addr, f"location {lid} address")
        check(one(loc, 2) == LOC_MAPPING[lid], f"location {lid} mapping_id")
        lines = []
        for ln in loc.get(4, []):
            name, sysname, file, start = funcs.get(one(ln, 1), ("?", "?", "?", 0))
            check(name == sysname and start == 0, f"function {name}: system_name/start_line")
            lines.append((name, file, one(ln, 2)))
        check(lines == frames, f"location {lid} lines {lines}")
    return p


# ---- the same through go tool pprof ----
def pprof(*args):
    r = subprocess.run(["go", "tool", "pprof", "-symbolize=none", *args], capture_output=True, text=True)
    check(r.returncode == 0, f"go tool pprof {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def parse_raw(text):
    """-raw's sections: header lines, samples (values, location ids),
    locations (address, mapping id, lines), mappings (the line after 'N: ')."""
    head, samples, locs, maps = [], [], {}, {}
    section, last = "head", None
    for line in text.splitlines():
        if line in ("Samples:", "Locations", "Mappings"):
            section = line.rstrip(":").lower()
            continue
        if section == "head":
            head.append(line)
        elif section == "samples":
            if ":" not in line:
                head.append(line)  # the sample types' line
                continue
            vals, ids = line.split(":", 1)
            samples.append(([int(v) for v in vals.split()], [int(x) for x in ids.split()]))
        elif section == "locations":
            # "    ID: 0xADDR [M=N ]FUNC FILE:LINE s=0", then one indented line per further frame
            first, _, rest = line.strip().partition(": ")
            if first.isdigit() and rest.startswith("0x"):
                addr, _, rest = rest.partition(" ")
                mid = 0
                if rest.startswith("M="):
                    m, _, rest = rest.partition(" ")
                    mid = int(m[2:])
                last = int(first)
                locs[last] = [int(addr, 16), mid, [rest]]
            else:
                locs[last][2].append(line.strip())
        elif section == "mappings":
            mid, _, rest = line.partition(": ")
            maps[int(mid)] = rest
    return head, samples, locs, maps


def check_pprof(path, default_type):
    head, samples, locs, maps = parse_raw(pprof("-raw", path))
    want_types = " ".join(f"{t}/{u}" + ("[dflt]" if t == default_type else "") for t, u in TYPES)
    check(want_types in head, f"{path}: sample types line, want {want_types!r} in {head}")
    check("PeriodType: space bytes" in head and "Period: 524288" in head, f"period in {head}")
    check("Comment: " + COMMENT in head, f"comment in {head}")
    check(maps.get(1, "").split(" ")[1:2] == [DEMO], f"pprof's first mapping is not the program: {maps}")
    # pprof renumbers locations: compare chains by content
    want_maps = {}
    for mid, (start, limit, off, file, bid, sym) in MAPPINGS.items():
        flags = "[FN][FL][LN][IN]" if sym else ""
        want_maps[file] = f"{start:#x}/{limit:#x}/{off:#x} {file} {bid} {flags}".rstrip()
    got_maps = {v.rstrip() for v in maps.values()}
    check(got_maps == set(want_maps.values()), f"mappings {sorted(got_maps)}")

    def shown(lid):
        addr, mid, lines = locs.get(lid, (0, 0, []))
        return (addr, maps.get(mid, "").split(" ")[1:2], lines)

    def want(lid):
        addr, file, frames = LOCATIONS[lid]
        mfile = [] if file is None else want_maps[file].split(" ")[1:2]
        return (addr, mfile, [f"{fn} {fl}:{ln} s=0" for fn, fl, ln in frames])

    got = sorted((v, [shown(i) for i in ids]) for v, ids in samples)
    exp = sorted((v, [want(i) for i in ids]) for ids, v in SAMPLES)
    check(got == exp, f"pprof -raw samples:\n  got  {got}\n  want {exp}")

    # flat in-use bytes per function, as -top shows them
    top = pprof("-top", "-sample_index=inuse_space", "-unit=byte", "-nodefraction=0", "-nodecount=100", path)
    check(top.startswith("File: demo\nBuild ID: 0123456789abcdef0123456789abcdef01234567\n"), f"-top header: {top[:200]!r}")
    flat = {}
    for line in top.splitlines():
        f = line.split(None, 5)
        if len(f) == 6 and f[0].endswith("B") and f[1].endswith("%"):
            flat[f[5]] = int(f[0][:-1])
        elif len(f) == 6 and f[0] == "0" and f[1] == "0%":
            flat[f[5]] = 0
    # render and 0xdeadbeef have no bytes in use: -top leaves them out
    exp_flat = {UMLAUT: 8589934592, "inline_helper (inline)": 41600000, PUSH: 2048,
                "render": None, "0xdeadbeef": None, "main": 0, "session_new": 0, "libwidget.so+0x1234": 0, "__libc_start_main": 0}
    for fn, v in exp_flat.items():
        check(flat.get(fn) == v, f"pprof -top inuse_space flat of {fn!r}: {flat.get(fn)}, want {v}")


def check_big(path):
    """pprof_driver's big_profile: stack i (from 1) has 1 + i % 7 locations
    1 + (7i + 13k) % 5000 and values i, 2i, 3i, 4i."""
    n, nlocs = 20000, 5000
    raw = open(path, "rb").read()
    check(len(raw) > 3 * 65536, f"big profile only {len(raw)} bytes: the writer's buffer is not refilled")
    p = walk(gzip.decompress(raw), "Profile")
    want = [([1 + (7 * i + 13 * k) % nlocs for k in range(1 + i % 7)], [i, 2 * i, 3 * i, 4 * i]) for i in range(1, n + 1)]
    got = [(x.get(1, []), x.get(2, [])) for x in p.get(2, [])]
    check(got == want, "big profile: samples differ from the formula")
    check(len(p.get(4, [])) == nlocs and len(p.get(5, [])) == nlocs, "big profile: locations or functions missing")
    _, samples, locs, _ = parse_raw(pprof("-raw", path))
    check(len(samples) == n and sum(v[3] for v, _ in samples) == 4 * n * (n + 1) // 2,
          "pprof -raw of the big profile: sample count or in-use total")


def main():
    main_path, dflt1_path, empty_path, big_path = sys.argv[1:5]
    check_encoding(main_path, "inuse_space")
    check_pprof(main_path, "inuse_space")
    check_encoding(dflt1_path, "alloc_space")
    check_pprof(dflt1_path, "alloc_space")
    # no stacks: a valid profile with its types and nothing else
    p = walk(gzip.decompress(open(empty_path, "rb").read()), "Profile")
    check(not any(k in p for k in (2, 3, 4, 5)) and len(p.get(1, [])) == 4, "empty profile has stacks or lacks types")
    head, samples, locs, maps = parse_raw(pprof("-raw", empty_path))
    # pprof adds a mapping of its own (0x0/0x0/0x0) to a profile that has none
    check(not samples and not locs and all(m.startswith("0x0/0x0/0x0") for m in maps.values()),
          f"pprof -raw of the empty profile: {samples} {locs} {maps}")
    check_big(big_path)
    for f in failures:
        print("FAIL:", f)
    print(f"pprof_check.py: {'ok' if not failures else str(len(failures)) + ' failures'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
