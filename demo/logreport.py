"""logreport.py — the Python half of poolalloc's demo: a small log analyser.

It generates a day of synthetic web-server access log (deterministic, about
400,000 lines / 40 MB), parses every line into a dict, aggregates by path,
status and client, computes latency percentiles, and round-trips the report
through json. That is the kind of work that makes an interpreter call malloc
and free millions of times, for objects from a few bytes to tens of MiB.

Usage: python3 logreport.py [lines]
"""
import json
import re
import sys
import time

PATHS = ["/", "/login", "/logout", "/search", "/cart", "/checkout", "/api/items", "/api/items/{id}",
         "/api/users/{id}", "/static/app.js", "/static/style.css", "/images/{id}.png"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (Macintosh)", "curl/8.4.0",
          "python-requests/2.31", "Googlebot/2.1", "Mozilla/5.0 (iPhone)"]
# how often each path and hour occurs: a weighted list to pick from
PATH_PICK = [p for p, w in zip(PATHS, [30, 6, 3, 14, 8, 4, 12, 20, 5, 10, 10, 18]) for _ in range(w)]
HOUR_PICK = [h for h, w in enumerate([2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 13, 12, 11, 11, 10, 9, 9, 10, 9, 7, 5, 3])
             for _ in range(w)]
LINE_RE = re.compile(r'(\S+) - - \[(\d\d):(\d\d):(\d\d)\] "(\w+) (\S+) HTTP/1.1" (\d{3}) (\d+) (\d+)ms "([^"]*)"')


def generate(n):
    x = 2463534242
    out = []
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        path = PATH_PICK[x % len(PATH_PICK)].replace("{id}", str(x % 9973))
        status = 200 if x % 17 else (404 if x % 3 else 500)
        method = "POST" if path in ("/login", "/checkout") else "GET"
        latency = 5 + (x >> 7) % 120 + (900 if x % 211 == 0 else 0)
        out.append('10.%d.%d.%d - - [%02d:%02d:%02d] "%s %s HTTP/1.1" %d %d %dms "%s"' % (
            (x >> 8) % 4, (x >> 12) % 256, (x >> 20) % 256, HOUR_PICK[(x >> 9) % len(HOUR_PICK)], (i // 7) % 60, i % 60,
            method, path, status, (x >> 3) % 50000, latency, AGENTS[(x >> 5) % len(AGENTS)]))
    return "\n".join(out)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400000
    t0 = time.perf_counter()
    text = generate(n)
    print("generated %d log lines (%.1f MB)" % (n, len(text) / 1e6))

    records = []
    for line in text.split("\n"):
        m = LINE_RE.match(line)
        ip, hh, mm, ss, method, path, status, size, ms, agent = m.groups()
        records.append({"ip": ip, "hour": int(hh), "method": method,
                        "path": re.sub(r"\d+", "{id}", path), "status": int(status),
                        "bytes": int(size), "ms": int(ms), "agent": agent})
    del text

    by_path, by_status, clients, hourly = {}, {}, {}, [0] * 24
    for r in records:
        p = by_path.setdefault(r["path"], {"hits": 0, "bytes": 0, "latencies": []})
        p["hits"] += 1
        p["bytes"] += r["bytes"]
        p["latencies"].append(r["ms"])
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        clients.setdefault(r["ip"], set()).add(r["path"])
        hourly[r["hour"]] += 1

    print("\n%-18s %8s %10s %7s %7s %7s" % ("path", "hits", "MB sent", "p50 ms", "p99 ms", "max ms"))
    for path, p in sorted(by_path.items(), key=lambda kv: -kv[1]["hits"]):
        lat = sorted(p["latencies"])
        print("%-18s %8d %10.1f %7d %7d %7d" % (path, p["hits"], p["bytes"] / 1e6,
                                                 lat[len(lat) // 2], lat[len(lat) * 99 // 100], lat[-1]))
    print("\nstatus codes: " + ", ".join("%d: %d" % kv for kv in sorted(by_status.items())))
    print("distinct clients: %d, busiest hour: %02d:00 (%d requests)" % (
        len(clients), hourly.index(max(hourly)), max(hourly)))

    report = {"paths": {k: {"hits": v["hits"], "latencies": v["latencies"]} for k, v in by_path.items()},
              "clients": {ip: sorted(paths) for ip, paths in clients.items()}}
    blob = json.dumps(report, sort_keys=True)
    back = json.loads(blob)
    assert back["paths"].keys() == report["paths"].keys()
    print("json report: %.1f MB, round trip ok" % (len(blob) / 1e6))
    print("done in %.1f s" % (time.perf_counter() - t0))


if __name__ == "__main__":
    main()
