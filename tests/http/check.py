#!/usr/bin/env python3
"""check.py -- POOLALLOC_HTTP from the outside: target.c under LD_PRELOAD
with the server on a loopback port the kernel picks, read by Go's pprof,
Prometheus's parser, poolalloc-prof, and clients that misbehave.

    check.py LIB TOOL TARGET

Prints "PASS name: ..." or "FAIL name: ..." per check and "N passed, N
failed"; exits 1 if any failed. Every client is on loopback and bounded in
count and time. Prometheus's parser is Debian's python3-prometheus-client,
run by /usr/bin/python3 (the Debian interpreter it is installed for).
"""
import gzip
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from harness import check, finish, result  # noqa: E402

LIB, TOOL, TARGET = (os.path.abspath(a) for a in sys.argv[1:4])
WORK = tempfile.mkdtemp(prefix="poolalloc-http.")
GOENV = dict(os.environ, HOME=WORK, PPROF_TMPDIR=WORK)


class Target:
    """target.c with the server; commands on its stdin."""

    def __init__(self, **env):
        e = {k: v for k, v in os.environ.items() if not k.startswith("POOLALLOC_")}
        e.update(LD_PRELOAD=LIB, POOLALLOC_HTTP="127.0.0.1:0", **env)
        self.p = subprocess.Popen([TARGET], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=e)
        line = self.p.stderr.readline()
        m = re.search(r"serving live profiles on (http://127\.0\.0\.1:(\d+))", line)
        if not m:
            self.p.kill()
            raise RuntimeError(f"no server line on stderr: {line!r}")
        self.url, self.port = m.group(1), int(m.group(2))

    @classmethod
    def unix(cls, path, **env):
        """the target serving on a unix socket"""
        t = cls.__new__(cls)
        e = {k: v for k, v in os.environ.items() if not k.startswith("POOLALLOC_")}
        e.update(LD_PRELOAD=LIB, POOLALLOC_HTTP="unix:" + path, **env)
        t.p = subprocess.Popen([TARGET], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=e)
        line = t.p.stderr.readline()
        if "serving live profiles" not in line:
            t.p.kill()
            raise RuntimeError(f"no server line on stderr: {line!r}")
        return t

    def cmd(self, c):
        self.p.stdin.write(c + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def rss_kib(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except Exception:
            self.p.kill()


def get(url, timeout=10, data=None, method=None):
    """(status, headers, body bytes)"""
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def raw(port, data, timeout=10):
    """what the server answers to bytes sent as they are"""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out


def unix_get(path, request):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    s.sendall(request)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    return out


def pprof_top(src, index):
    """{function: flat bytes or count} from `go tool pprof -top`"""
    r = subprocess.run(["go", "tool", "pprof", "-top", "-nodecount=100", "-nodefraction=0", "-unit=B" if "space" in index else "-unit=",
                        "-sample_index=" + index, src], capture_output=True, text=True, timeout=120, env=GOENV)
    if r.returncode != 0:
        raise RuntimeError(f"go tool pprof {src}: {r.stderr.strip()[-300:]}")
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*(-?\d+)B?\s+[\d.]+%\s+[\d.]+%\s+-?\d+B?\s+[\d.]+%\s+(.+)$", line)
        if m:
            out[m.group(2).strip()] = out.get(m.group(2).strip(), 0) + int(m.group(1))
    return out, r.stdout


def folded_leaves(prof_path, weight):
    """{leaf function: weight} from poolalloc-prof fold"""
    r = subprocess.run([TOOL, "fold", "-w", weight, prof_path], capture_output=True, text=True, timeout=120)
    out = {}
    for line in r.stdout.splitlines():
        stack, w = line.rsplit(" ", 1)
        leaf = stack.split(";")[-1]
        out[leaf] = out.get(leaf, 0) + int(w)
    return out


SITES = ["keep_big", "keep_mid", "churn"]
T = None


def target():
    global T
    if T is None:
        T = Target()
        if T.cmd("build") != "built":
            raise RuntimeError("target did not build")
        time.sleep(0.3)   # the purger's delay: resident memory settles
    return T


@check("heap-same-as-poolalloc-prof")
def _(name):
    # the program is idle: /debug/pprof/heap and the text profile are of
    # the same moment, so Go's pprof and poolalloc-prof must agree exactly
    t = target()
    st, _, body = get(t.url + "/debug/poolalloc/profile")
    text = os.path.join(WORK, "live.prof")
    with open(text, "wb") as f:
        f.write(body)
    bad = [] if st == 200 else [f"/debug/poolalloc/profile: {st}"]
    for index in ("inuse_space", "alloc_space", "alloc_objects", "inuse_objects"):
        go, raw_out = pprof_top(t.url + "/debug/pprof/heap", index)
        ours = folded_leaves(text, index)
        for s in SITES:
            if go.get(s, 0) != ours.get(s, 0):
                bad.append(f"{index} {s}: go tool pprof {go.get(s, 0)}, poolalloc-prof {ours.get(s, 0)}")
        top_go = sorted((v, k) for k, v in go.items() if k in SITES and v)[::-1]
        top_ours = sorted((v, k) for k, v in ours.items() if k in SITES and v)[::-1]
        if [k for _, k in top_go] != [k for _, k in top_ours]:
            bad.append(f"{index}: order {top_go} vs {top_ours}")
    go, out = pprof_top(t.url + "/debug/pprof/heap", "alloc_space")
    if "__libc_start_main" not in out:
        bad.append("libc's frames not named (the /debug/pprof/symbol answer): " + out[-400:])
    result(not bad, name, "go tool pprof -top on /debug/pprof/heap equals poolalloc-prof fold on /debug/poolalloc/profile "
           "for the three sites and four sample types; libc named through /debug/pprof/symbol" if not bad else "; ".join(bad))


@check("allocs-seconds-window")
def _(name):
    # allocs?seconds=2 holds only what was allocated in those 2 seconds:
    # window_site, started 0.3 s in, and none of the sites built before
    t = target()
    got = {}

    def fetch():
        got["r"] = get(t.url + "/debug/pprof/allocs?seconds=2", timeout=20)

    th = threading.Thread(target=fetch)
    start = time.time()
    th.start()
    time.sleep(0.3)
    n = int(t.cmd("window").split()[1])
    th.join()
    took = time.time() - start
    st, hdr, body = got["r"]
    path = os.path.join(WORK, "allocs.pb.gz")
    with open(path, "wb") as f:
        f.write(body)
    go, out = pprof_top(path, "alloc_space")
    rate = 512 * 1024
    w = go.get("window_site", 0)
    ok = st == 200 and 1.9 < took < 4 and abs(w - n) <= 5 * (n * rate) ** 0.5 and not any(go.get(s) for s in SITES)
    ok &= "Duration: 2s" in out and "Type: alloc_space" in out
    result(ok, name, f"status {st} after {took:.1f} s; window_site {w} B (allocated {n}), the earlier sites "
           f"{[go.get(s, 0) for s in SITES]}" + ("" if ok else "\n" + out[-600:]))


@check("metrics-prometheus")
def _(name):
    t = target()
    mine = t.cmd("stats").split()
    stats = {mine[i]: int(mine[i + 1]) for i in range(0, len(mine), 2)}
    st, hdr, body = get(t.url + "/metrics")
    st2, _, js = get(t.url + "/debug/poolalloc/stats")
    parse = ("import sys, json\nfrom prometheus_client.parser import text_string_to_metric_families as f\n"
             "out = {}\nfor fam in f(sys.stdin.read()):\n"
             "    for s in fam.samples: out[s.name] = [s.value, fam.type]\nprint(json.dumps(out))\n")
    r = subprocess.run(["/usr/bin/python3", "-c", parse], input=body.decode(), capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        result(False, name, f"prometheus_client could not parse /metrics: {r.stderr.strip()[-300:]}")
        return
    prom = json.loads(r.stdout)
    js = json.loads(js)
    names = {"alloc_objects": "poolalloc_alloc_objects_total", "alloc_bytes": "poolalloc_alloc_bytes_total",
             "free_objects": "poolalloc_free_objects_total", "free_bytes": "poolalloc_free_bytes_total",
             "live_objects": "poolalloc_live_objects", "live_bytes": "poolalloc_live_bytes",
             "remote_frees": "poolalloc_remote_frees_total", "large_allocs": "poolalloc_large_allocs_total",
             "large_frees": "poolalloc_large_frees_total", "large_live_bytes": "poolalloc_large_live_bytes",
             "mapped_bytes": "poolalloc_mapped_bytes", "committed_bytes": "poolalloc_committed_bytes",
             "resident_bytes": "poolalloc_resident_bytes", "purged_bytes": "poolalloc_purged_bytes_total",
             "segments": "poolalloc_segments", "heaps": "poolalloc_heaps_created_total",
             "heaps_abandoned": "poolalloc_heaps_abandoned", "cycles": "poolalloc_reclaim_cycles_total",
             "realloc_moves": "poolalloc_realloc_moves_total",
             "realloc_copied_bytes": "poolalloc_realloc_copied_bytes_total"}
    bad = [f"{k}: program {stats[k]}, /metrics {prom.get(v, [None])[0]}" for k, v in names.items()
           if prom.get(v, [None])[0] != stats[k]]
    bad += [f"{k}: program {stats[k]}, stats JSON {js.get(k)}" for k in names if js.get(k) != stats[k]]
    bad += [f"{n} is a {prom[n][1]}" for n in prom if n.endswith("_total") and prom[n][1] != "counter"]
    bad += [] if hdr.get("Content-Type", "").startswith("text/plain; version=0.0.4") else [f"type {hdr.get('Content-Type')}"]
    result(st == 200 and st2 == 200 and not bad, name,
           f"{len(prom)} samples parsed by prometheus_client, each equal to pa_stats_get at the same moment"
           if not bad else "; ".join(bad))


@check("requests-refused")
def _(name):
    t = target()
    p = t.port
    cases = [
        (b"GET /nope HTTP/1.1\r\n\r\n", 404), (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405),
        (b"GET /metrics HTTP/2.0\r\n\r\n", 505), (b"GARBAGE\r\n\r\n", 400), (b"GET nopath HTTP/1.1\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 413),
        (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 40 + b"\r\n", 431),
        (b"GET /" + b"a" * 300 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /debug/pprof/allocs?seconds=9999 HTTP/1.1\r\n\r\n", 400),
        (b"GET /debug/pprof/heap?debug=1 HTTP/1.1\r\n\r\n", 400),
        (b"POST /debug/pprof/symbol HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
        (b"POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", 413),
        (b"HEAD /metrics HTTP/1.0\r\n\r\n", 200), (b"GET /debug/pprof/ HTTP/1.0\n\n", 200),
    ]
    bad = []
    for req, want in cases:
        ans = raw(p, req)
        m = re.match(rb"HTTP/1\.1 (\d+) ", ans)
        if not m or int(m.group(1)) != want:
            bad.append(f"{req[:40]!r}: {ans[:60]!r}, want {want}")
        elif want >= 400 and len(ans.split(b"\r\n\r\n", 1)[1].strip().splitlines()) != 1:
            bad.append(f"{req[:40]!r}: not one line of reason: {ans!r}")
    st, _, body = get(t.url + "/debug/pprof/")
    bad += [] if st == 200 and b"/debug/pprof/heap" in body else ["index page"]
    result(not bad, name, f"{len(cases)} requests, each the status it should get with a one-line reason"
           if not bad else "; ".join(bad))


@check("abuse-bounded")
def _(name):
    # slow clients, floods of connections and requests: the server keeps
    # answering, closes the slow ones, and the program's memory stays put
    t = target()
    rss0 = t.rss_kib()
    slow = []
    for _ in range(8):   # one byte a second: closed at 5 s without an answer
        s = socket.create_connection(("127.0.0.1", t.port), timeout=15)
        s.sendall(b"G")
        slow.append(s)
    stop = time.time() + 4
    errors, done = [], [0]

    def puller():
        while time.time() < stop:
            try:
                st, _, b = get(t.url + "/debug/pprof/heap", timeout=10)
                if st == 200:
                    gzip.decompress(b)
                    done[0] += 1
                elif st != 503:
                    errors.append(st)
            except (OSError, EOFError) as e:
                if "reset" not in str(e).lower() and "closed" not in str(e).lower():
                    errors.append(str(e))

    th = [threading.Thread(target=puller) for _ in range(64)]
    for x in th:
        x.start()
    for x in th:
        x.join()
    t0 = time.time()
    for s in slow:
        try:
            s.sendall(b"E")
        except OSError:
            pass
    closed = 0
    for s in slow:
        try:
            s.settimeout(8)
            closed += s.recv(100) == b""
        except OSError:
            closed += 1
        s.close()
    waited = time.time() - t0
    st, _, _ = get(t.url + "/metrics", timeout=5)
    rss1 = t.rss_kib()
    ok = not errors and done[0] > 0 and closed == len(slow) and st == 200 and rss1 - rss0 < 8192
    result(ok, name, f"64 clients pulled {done[0]} heap profiles in 4 s alongside 8 slow clients (all closed by the "
           f"server, {waited:.1f} s after the pull); then /metrics {st}; RSS {rss0} -> {rss1} KiB"
           + (f"; errors {errors[:5]}" if errors else ""))


@check("bad-address")
def _(name):
    e = {k: v for k, v in os.environ.items() if not k.startswith("POOLALLOC_")}
    bad = []
    for addr, want in (("nonsense", "is not an address"), ("127.0.0.1:99999", "is not an address"),
                       ("unix:" + "x" * 200, "is not an address")):
        r = subprocess.run([TARGET], input="exit\n", capture_output=True, text=True, timeout=30,
                           env=dict(e, LD_PRELOAD=LIB, POOLALLOC_HTTP=addr))
        if r.returncode != 0 or len(r.stderr.splitlines()) != 1 or want not in r.stderr:
            bad.append(f"{addr}: exit {r.returncode}, {r.stderr!r}")
    sock = os.path.join(WORK, "s.sock")
    r = subprocess.Popen([TARGET], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(e, LD_PRELOAD=LIB, POOLALLOC_HTTP="unix:" + sock))
    line = r.stderr.readline()
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(sock)
        s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
        ans = b""
        while chunk := s.recv(65536):
            ans += chunk
        if not ans.startswith(b"HTTP/1.1 200") or b"poolalloc_live_bytes" not in ans:
            bad.append(f"unix socket: {ans[:80]!r}")
        if os.stat(sock).st_mode & 0o077:
            bad.append(f"unix socket mode {oct(os.stat(sock).st_mode)}")
    except OSError as ex:
        bad.append(f"unix socket {line!r}: {ex}")
    r.communicate("exit\n", timeout=10)
    result(not bad, name, "a bad POOLALLOC_HTTP is one line and the program runs; unix:PATH serves, mode 0600"
           if not bad else "; ".join(bad))


def live_leaves(t, weight="alloc_objects"):
    """{leaf function: weight} of the live text profile"""
    st, _, body = get(t.url + "/debug/poolalloc/profile")
    path = os.path.join(WORK, f"switch.{time.time()}.prof")
    with open(path, "wb") as f:
        f.write(body)
    return folded_leaves(path, weight)


SPINS = ["spin_0", "spin_1", "spin_2", "spin_3"]


@check("poolalloc-prof-url")
def _(name):
    # poolalloc-prof reads a live process by its URL
    t = target()
    r = subprocess.run([TOOL, "fold", "-w", "inuse_space", t.url], capture_output=True, text=True, timeout=120)
    live = {}
    for line in r.stdout.splitlines():
        stack, w = line.rsplit(" ", 1)
        live[stack.split(";")[-1]] = live.get(stack.split(";")[-1], 0) + int(w)
    st, _, body = get(t.url + "/debug/poolalloc/profile")
    path = os.path.join(WORK, "url.prof")
    with open(path, "wb") as f:
        f.write(body)
    ours = folded_leaves(path, "inuse_space")
    bad = [] if r.returncode == 0 and all(live.get(x) == ours.get(x) for x in SITES) else [f"fold URL {live} vs {ours}"]
    e = subprocess.run([TOOL, "top", f"http://127.0.0.1:{t.port}/nope"], capture_output=True, text=True, timeout=60)
    bad += [] if e.returncode == 1 and len(e.stderr.splitlines()) == 1 and "answered 404" in e.stderr else [f"404: {e.stderr!r}"]
    result(not bad, name, "poolalloc-prof fold URL equals the text profile; a 404 is one line" if not bad else "; ".join(bad))


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@check("hardening")
def _(name):
    bad = []
    t = target()
    # DNS rebinding: bound to loopback, a request naming another host is refused
    for host, want in ((b"evil.example", 403), (b"evil.example:80", 403), (b"localhost:1", 200),
                       (b"127.0.0.1:%d" % t.port, 200), (b"[::1]", 200)):
        ans = raw(t.port, b"GET /metrics HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        if not ans.startswith(b"HTTP/1.1 %d" % want):
            bad.append(f"Host {host!r}: {ans[:40]!r}, want {want}")
    # a client that sends its request and half-closes still gets the answer
    s = socket.create_connection(("127.0.0.1", t.port), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    ans = b""
    while chunk := s.recv(65536):
        ans += chunk
    s.close()
    bad += [] if ans.startswith(b"HTTP/1.1 200") else [f"half-closed client: {ans[:40]!r}"]
    # unix socket: a live one is not taken over; a child run by the service
    # (it inherits POOLALLOC_HTTP) does not serve
    sock = os.path.join(WORK, "live.sock")
    a = Target.unix(sock)
    b = subprocess.run([TARGET], input="exit\n", capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, LD_PRELOAD=LIB, POOLALLOC_HTTP="unix:" + sock))
    spawned = a.cmd("spawn")
    ans = unix_get(sock, b"GET /debug/poolalloc/profile HTTP/1.1\r\n\r\n")
    m = re.search(rb"\npid (\d+)\n", ans)
    if not m or int(m.group(1)) != a.p.pid:
        bad.append(f"the socket answers for {m and m.group(1)}, not the service {a.p.pid}")
    if "serving" in b.stderr or spawned != "spawned 0":
        bad.append(f"a second process took the live socket: {b.stderr!r}; spawn {spawned!r}")
    # the program closes every fd: the server stops, says so once, and does not spin
    a.cmd("closeall")
    line = a.p.stderr.readline()
    c0 = cpu_ticks(a.p.pid)
    time.sleep(1.0)
    spent = cpu_ticks(a.p.pid) - c0
    if "closed the server's socket" not in line or spent > 10:
        bad.append(f"after closeall: {line!r}, {spent} ticks of CPU in 1 s")
    a.close()
    bad += [] if not os.path.exists(sock) else ["the unix socket was left behind at exit"]
    result(not bad, name, "Host must name loopback; half-closed client answered; a live unix socket is not taken over "
           "and a spawned child does not serve; a closed listening socket stops the server without spinning; the socket "
           "removed at exit"
           if not bad else "; ".join(bad))


def instructions(env, n):
    """callgrind's instruction count for target running `loop n`"""
    out = os.path.join(WORK, f"cg.{time.time()}")
    e = {k: v for k, v in os.environ.items() if not k.startswith("POOLALLOC_")}
    e.update(LD_PRELOAD=LIB, **env)
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", TARGET],
                       input=f"loop {n}\nexit\n", capture_output=True, text=True, timeout=300, env=e)
    m = re.search(r"Collected : (\d+)", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"valgrind: {r.stderr.strip()[-300:]}")
    return int(m.group(1))


@check("switched-off-costs-nothing")
def _(name):
    # the instructions of a million mallocs and frees, startup taken away:
    # with the server running and sampling switched off, the same as without
    n = 1000000
    per = {}
    for label, env in (("plain", {}), ("off", {"POOLALLOC_HTTP": "127.0.0.1:0", "POOLALLOC_SAMPLING": "off"}),
                       ("on", {"POOLALLOC_HTTP": "127.0.0.1:0"})):
        per[label] = (instructions(env, n) - instructions(env, 0)) / n
    ok = per["off"] - per["plain"] < 0.5 and per["on"] > per["off"]
    result(ok, name, f"instructions per malloc+free (and the loop): {per['plain']:.2f} without the server, "
           f"{per['off']:.2f} with it and sampling off, {per['on']:.2f} sampling on (callgrind)")


@check("sampling-switch-http")
def _(name):
    # started with sampling off: nothing is sampled; switched on while four
    # threads run, each thread's site gets samples; switched off, none more
    t = Target(POOLALLOC_SAMPLING="off")
    bad = []
    try:
        t.cmd("build")
        before = live_leaves(t)
        bad += [f"sampled while off: {before}"] if any(before.get(x) for x in SITES) else []
        st, _, b = get(t.url + "/debug/poolalloc/sampling")
        bad += [] if b == b"sampling off\n" else [f"GET sampling: {b!r}"]
        t.p.stdin.write("spin 2.5\n")
        t.p.stdin.flush()
        time.sleep(0.7)   # the four threads run, unsampled
        st, _, b = get(t.url + "/debug/poolalloc/sampling?on=1", data=b"", method="POST")
        bad += [] if (st, b) == (200, b"sampling on\n") else [f"POST on=1: {st} {b!r}"]
        prom_on = get(t.url + "/metrics")[2]
        time.sleep(1.0)
        st, _, b = get(t.url + "/debug/poolalloc/sampling?on=0", data=b"", method="POST")
        bad += [] if (st, b) == (200, b"sampling off\n") else [f"POST on=0: {st} {b!r}"]
        if t.p.stdout.readline().strip() != "spun":
            bad.append("spin did not end")
        during = live_leaves(t)
        bad += [f"{x}: no samples while on" for x in SPINS if not during.get(x)]
        t.cmd("spin 1")
        after = live_leaves(t)
        bad += [f"{x}: {during.get(x)} -> {after.get(x)} while off" for x in SPINS if after.get(x) != during.get(x)]
        bad += [] if b"poolalloc_profiling 1" in prom_on else ["/metrics poolalloc_profiling was not 1 while on"]
        bad += [] if b"poolalloc_profiling 0" in get(t.url + "/metrics")[2] else ["/metrics poolalloc_profiling not 0 after"]
        st, _, b = get(t.url + "/debug/poolalloc/sampling?on=1", data=b"", method="POST")
        req = urllib.request.Request(t.url + "/debug/poolalloc/sampling?on=0", data=b"", method="POST",
                                     headers={"Origin": "http://evil.example"})
        try:
            code = urllib.request.urlopen(req, timeout=5).status
        except urllib.error.HTTPError as e:
            code = e.code
        bad += [] if code == 403 else [f"a POST with Origin: {code}, want 403"]
        bad += [] if get(t.url + "/debug/poolalloc/sampling")[2] == b"sampling on\n" else ["Origin switched it"]
        st, _, b = get(t.url + "/debug/poolalloc/sampling?on=yes", data=b"", method="POST")
        bad += [] if st == 400 else [f"?on=yes: {st}"]
    finally:
        t.close()
    result(not bad, name, "off from the start: no samples; on over HTTP while 4 threads ran: samples at each "
           f"thread's site ({[during.get(x) for x in SPINS]}); off: none more; Origin refused"
           if not bad else "; ".join(bad))


@check("sampling-switch-signal")
def _(name):
    t = Target(POOLALLOC_SAMPLING="off", POOLALLOC_PROFILE_SWITCH="SIGUSR2")
    bad = []
    try:
        t.cmd("window")
        first = live_leaves(t).get("window_site", 0)
        os.kill(t.p.pid, 12)
        line = t.p.stderr.readline()
        bad += [] if line == "poolalloc: sampling on\n" else [f"stderr after the signal: {line!r}"]
        t.cmd("window")
        on = live_leaves(t).get("window_site", 0)
        os.kill(t.p.pid, 12)
        line = t.p.stderr.readline()
        bad += [] if line == "poolalloc: sampling off\n" else [f"stderr after the second signal: {line!r}"]
        t.cmd("window")
        off = live_leaves(t).get("window_site", 0)
        bad += [] if first == 0 and on > 0 and off == on else [f"window_site: off {first}, on {on}, off again {off}"]
    finally:
        t.close()
    result(not bad, name, f"SIGUSR2 flips sampling: window_site {first} samples while off, {on} after the switch on, "
           f"{off} after the switch off" if not bad else "; ".join(bad))


if T:
    T.close()
finish(WORK)
