#!/usr/bin/env python3
"""script — a real program: an allocation-heavy CPython script.

Models the everyday Python data script: build records (dicts of strings,
lists, nested dicts), round-trip them through JSON, index them in dicts,
turn them into tuples and sort them, format a text report, count words,
do set algebra on tags, and keep a bounded cache that is churned. It uses
only the standard library.

Stresses: the allocator as a real interpreter uses it. CPython's own
pymalloc serves objects up to 512 bytes from 256 KiB arenas it maps itself;
everything bigger goes to malloc/realloc/free: dict and set tables, list
item arrays grown by append, long strings (JSON text, reports, joins), and
the arenas' neighbours. So this measures an allocator on the mid-size and
large requests of a real program, plus realloc of growing lists.

Checksum: BLAKE2b (8 bytes) over the report texts, the JSON text and
summaries made from sorted data. Set and dict iteration in hash order never
reaches the checksum (sets are sorted first; dicts keep insertion order),
so it does not depend on PYTHONHASHSEED.

Usage: script.py [scale]   (scale multiplies the number of rounds)
"""

import hashlib
import json
import random
import re
import sys

PROG = "script"
BASE_ROUNDS = 28          # rounds at scale 1.0
RECORDS_PER_ROUND = 1500
CACHE_MAX = 20000         # entries kept in the long-lived cache

SYLLABLES = ["ka", "lo", "mi", "tran", "sev", "or", "quin", "el",
             "ba", "dus", "ri", "zen", "pha", "ul", "go", "nek"]
TAGS = ["red", "green", "blue", "urgent", "later", "billing", "ops",
        "search", "mobile", "web", "beta", "legacy", "eu", "us", "apac"]


def parse_scale(argv):
    if len(argv) > 2:
        sys.stderr.write("usage: %s [scale]\n" % PROG)
        sys.exit(2)
    if len(argv) < 2:
        return 1.0
    s = argv[1]
    # Plain decimal only, like the C workloads (float() would also take
    # 'inf', 'nan', '1e3', '1_0' and surrounding spaces).
    v = float(s) if re.fullmatch(r"[0-9]+\.?[0-9]*|\.[0-9]+", s) else 0.0
    if not 0.0 < v <= 100.0:
        sys.stderr.write("%s: scale must be a positive number (at most 100), got '%s'\n"
                         % (PROG, s))
        sys.exit(2)
    return v


def word(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 6)))


def make_records(rng, first_id, n):
    """A batch of records like rows decoded from an API or a CSV file."""
    records = []
    for i in range(first_id, first_id + n):
        records.append({
            "id": i,
            "name": "%s %s" % (word(rng).capitalize(), word(rng).capitalize()),
            "email": "%s.%d@%s.example" % (word(rng), i, word(rng)),
            "score": round(rng.random() * 1000.0, 3),
            "tags": rng.sample(TAGS, rng.randint(0, 5)),
            "history": [rng.randint(0, 10000) for _ in range(rng.randint(0, 40))],
            "address": {"city": word(rng).capitalize(), "zip": "%05d" % rng.randint(0, 99999)},
        })
    return records


def one_round(rng, r, cache, digest):
    records = make_records(rng, r * RECORDS_PER_ROUND, RECORDS_PER_ROUND)

    # JSON round trip: one big string out, a fresh object graph back in.
    text = json.dumps(records, sort_keys=True)
    back = json.loads(text)
    if back != records:
        raise SystemExit("%s: JSON round trip changed the data" % PROG)
    digest.update(hashlib.blake2b(text.encode(), digest_size=8).digest())

    # Index by name and by tag (dicts of lists grown by append).
    by_name = {rec["name"]: rec for rec in back}
    by_tag = {}
    for rec in back:
        for t in rec["tags"]:
            by_tag.setdefault(t, []).append(rec["id"])

    # Tuples, sorted two ways.
    rows = [(rec["score"], rec["name"], len(rec["history"]), rec["address"]["city"])
            for rec in back]
    rows.sort()
    by_city = sorted(rows, key=lambda row: (row[3], -row[0], row[1]))

    # A formatted report, joined into one string.
    lines = ["%-28s %9.3f %3d  %s" % (name, score, nhist, city)
             for score, name, nhist, city in rows]
    lines += [f"{city:>16} | {name:<28} | {score:10.2f}" for score, name, _, city in by_city[:500]]
    report = "\n".join(lines)
    digest.update(report.encode())

    # Word counts over the report (dict keyed by many small strings).
    counts = {}
    for w in report.split():
        counts[w] = counts.get(w, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:100]
    digest.update(repr(top).encode())

    # Set algebra on tags and history values.
    tag_sets = [frozenset(rec["tags"]) for rec in back]
    seen_pairs = set()
    for ts in tag_sets:
        st = sorted(ts)
        for a in range(len(st)):
            for b in range(a + 1, len(st)):
                seen_pairs.add((st[a], st[b]))
    hist = set()
    for rec in back:
        hist.update(rec["history"])
    common = set(by_tag.get("red", [])) & set(by_tag.get("urgent", []))
    digest.update(repr((sorted(seen_pairs), len(hist), sorted(common)[:50])).encode())

    # A long-lived cache: insert this round's records as tuples, evict the
    # oldest entries (dicts iterate in insertion order).
    for rec in back:
        cache[rec["email"]] = (rec["id"], rec["name"], tuple(rec["history"][:10]))
    while len(cache) > CACHE_MAX:
        for k in list(cache)[:len(cache) - CACHE_MAX]:
            del cache[k]
    probe = [cache.get(rec["email"]) for rec in records[::7]]
    hits = [p[0] for p in probe if p is not None]
    digest.update(repr((len(hits), sum(hits), len(by_name))).encode())


def main():
    scale = parse_scale(sys.argv)
    rounds = max(1, round(BASE_ROUNDS * scale))
    rng = random.Random(20240601)
    cache = {}
    digest = hashlib.blake2b(digest_size=8)
    for r in range(rounds):
        one_round(rng, r, cache, digest)
    digest.update(repr(len(cache)).encode())
    sys.stdout.write("checksum %s\n" % digest.hexdigest())


if __name__ == "__main__":
    main()
