#!/usr/bin/python3
"""`make bench`: mod_pvlaunch's figures on a real Apache, each against a
baseline measured in the same run. Writes bench/RESULTS.md. Reports, never
fails on a figure (a broken run still exits non-zero)."""
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import http.client

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(REPO, "tests"))

import apache_harness as H  # noqa: E402

READY_APP = os.path.join(REPO, "build", "bench", "ready_app")
WRK_SECONDS = int(os.environ.get("BENCH_WRK_SECONDS", "10"))
MPM_CONF = ["StartServers 2", "ServerLimit 4", "ThreadsPerChild 64", "MinSpareThreads 64",
            "MaxSpareThreads 256", "MaxRequestWorkers 256", "ListenBacklog 1024"]
rows = []


def row(figure, ours, baseline, ratio, target, met, command):
    rows.append((figure, ours, baseline, ratio, target, met, command))
    print("%-28s ours=%-18s baseline=%-18s ratio=%-8s %s" % (figure, ours, baseline, ratio,
                                                            "met" if met else "MISSED"),
          flush=True)


def launcher(tmp, port, base, count, listen=False):
    cmd = [os.path.join(tmp, "ready_app"), "${port}"] + (["listen"] if listen else [])
    cfg = H.default_launcher(tmp, port, base, count=count, timeout=10)
    cfg["apps"] = {
        "ready": {"cmd": cmd, "ready_line": "Starting factory"},
        "ws": {"cmd": H.app_cmd("ready", tmp=tmp), "ready_line": "Starting factory"},
    }
    cfg["configuration"].pop("proxy_file")
    return cfg


def start(count, extra_conf=""):
    tmp = H.new_tmpdir("pvl-bench-")
    import shutil
    shutil.copy(READY_APP, os.path.join(tmp, "ready_app"))
    port = H.free_port()
    base = H.free_port_range(count)
    a = H.Apache(tmp, mpm="event", launcher=launcher(tmp, port, base, count), port=port,
                 extra_conf=extra_conf, loglevel="warn", mpm_conf=MPM_CONF)
    return a.start()


def wrk(a, path, seconds=WRK_SECONDS, headers=()):
    cmd = ["wrk", "-t2", "-c32", "-d%ds" % seconds, "http://127.0.0.1:%d%s" % (a.port, path)]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError("wrk saw %s error answers on %s:\n%s" % (non2xx.group(1), path, out))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def post(conn, body):
    conn.request("POST", "/paraview", body=json.dumps(body), headers={"Content-Type": "text/plain"})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, json.loads(data)


def delete(conn, sid):
    conn.request("DELETE", "/paraview/" + sid)
    resp = conn.getresponse()
    resp.read()
    return resp.status


# Each pair (ours, baseline) is measured interleaved, A B A B ..., so that
# a shared machine's drift hits both; figures are medians with the spread
# of the rounds.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def interleaved(*measures, rounds=ROUNDS):
    """Runs each measure once per round, in turn; returns a list of
    results per measure."""
    out = [[] for _ in measures]
    for _ in range(rounds):
        for i, m in enumerate(measures):
            out[i].append(m())
    return out


def spread(values, fmt):
    """ "median (min-max)" of a round's results."""
    return "%s (%s-%s)" % (fmt % statistics.median(values), fmt % min(values), fmt % max(values))


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def bench_launch(n=200):
    a = start(20)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", a.port)
        cmd = [os.path.join(a.tmp, "ready_app"), "9"]
        per_round = max(1, n // ROUNDS)

        def ours():
            times = []
            for _ in range(per_round):
                t = time.perf_counter()
                status, obj = post(conn, {"application": "ready"})
                times.append(time.perf_counter() - t)
                assert status == 200, obj
                assert delete(conn, obj["id"]) == 200
            return times

        def fork_exec():
            times = []
            for _ in range(per_round):
                t = time.perf_counter()
                p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
                p.stdout.readline()
                times.append(time.perf_counter() - t)
                p.kill()
                p.wait()
            return times
        ours(), fork_exec()  # warm-up
        mine, base = interleaved(ours, fork_exec)
        times = [t for r in mine for t in r]
        btimes = [t for r in base for t in r]
        per_round_ratios = [statistics.median(m) / statistics.median(b) for m, b in zip(mine, base)]
        med, p99, bmed = statistics.median(times), pct(times, 99), statistics.median(btimes)
        row("launch latency (median)", "%.2f ms" % (med * 1e3), "%.2f ms" % (bmed * 1e3),
            spread(per_round_ratios, "%.2fx"), "<= 1.5x",
            statistics.median(per_round_ratios) <= 1.5,
            "POST->200, %d sequential launches in %d rounds interleaved with fork/exec+first "
            "line" % (per_round * ROUNDS, ROUNDS))
        row("launch latency (p99)", "%.2f ms" % (p99 * 1e3), "%.2f ms" % (pct(btimes, 99) * 1e3),
            "%.2fx" % (p99 / pct(btimes, 99)), "report", True, "same run")
    finally:
        a.stop()


def bench_get_and_route(a, label, sid, body):
    """Lists of req/s per round: GET, static, int: route, txt: route."""
    with open(os.path.join(a.tmp, "htdocs", "session.json"), "w") as f:
        f.write(body)
    return interleaved(lambda: wrk(a, "/paraview/" + sid), lambda: wrk(a, "/session.json"),
                       lambda: wrk(a, "/int?id=" + sid), lambda: wrk(a, "/txt?id=" + sid))


def ratios(a, b):
    return [x / y for x, y in zip(a, b)]


ROUTE_CONF = """
RewriteMap pvtxt "txt:%(tmp)s/route.txt"
RewriteCond %%{QUERY_STRING} ^id=([A-Za-z0-9_-]+)$
RewriteCond ${pvsession:%%1|NOTFOUND} ^([A-Za-z0-9.-]+:[0-9]+)$
RewriteRule ^/int$ /session.json [L]
RewriteCond %%{QUERY_STRING} ^id=([A-Za-z0-9_-]+)$
RewriteCond ${pvtxt:%%1|NOTFOUND} ^([A-Za-z0-9.-]+:[0-9]+)$
RewriteRule ^/txt$ /session.json [L]
"""


def create_sessions(a, n):
    conn = http.client.HTTPConnection("127.0.0.1", a.port)
    out = []
    for _ in range(n):
        status, obj = post(conn, {"application": "ready"})
        assert status == 200, obj
        out.append(obj)
    return out


def daemon_rss_kib(a):
    """The daemon's resident memory outside the shared table (whose pages
    it writes, but which is counted once, per port, below)."""
    total, skip = 0, False
    with open("/proc/%d/smaps" % a.daemon_pid()) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                skip = line.rstrip().endswith("/dev/zero (deleted)")
            m = re.match(r"^Rss:\s+(\d+)", line)
            if m and not skip:
                total += int(m.group(1))
    return total


def bench_throughput_and_scale(small=10, large=2000):
    # the route target and the txt: map must exist before Apache reads its config
    tmp_conf = {}
    results = {}
    a = None
    try:
        tmp = H.new_tmpdir("pvl-bench-")
        import shutil
        shutil.copy(READY_APP, os.path.join(tmp, "ready_app"))
        port = H.free_port()
        base = H.free_port_range(large + 50)
        open(os.path.join(tmp, "route.txt"), "w").close()
        a = H.Apache(tmp, mpm="event", launcher=launcher(tmp, port, base, large + 50), port=port,
                     extra_conf=ROUTE_CONF % {"tmp": tmp}, loglevel="warn", mpm_conf=MPM_CONF)
        a.start()
        # Per session means what one more costs: the pages a daemon touches
        # once (code and libraries first used by a launch, its first
        # buffers) are touched by a few launches before the first figure.
        rss_cold = daemon_rss_kib(a)
        conn = http.client.HTTPConnection("127.0.0.1", a.port)
        for _ in range(20):
            status, obj = post(conn, {"application": "ready"})
            assert status == 200 and delete(conn, obj["id"]) == 200, obj
        rss0 = daemon_rss_kib(a)
        warm_up_kib = rss0 - rss_cold
        sessions = create_sessions(a, small)
        sid = sessions[0]["id"]
        with open(os.path.join(tmp, "route.txt"), "w") as f:
            f.write("%s %s:%d\n" % (sid, sessions[0]["host"], sessions[0]["port"]))
        conn = http.client.HTTPConnection("127.0.0.1", a.port)
        conn.request("GET", "/paraview/" + sid)
        body = conn.getresponse().read().decode()
        results[small] = bench_get_and_route(a, "small", sid, body)
        ours, static, r_int, r_txt = results[small]
        med = statistics.median
        g, r = ratios(ours, static), ratios(r_int, r_txt)
        row("GET throughput", "%.0f req/s" % med(ours), "%.0f req/s (static)" % med(static),
            spread(g, "%.2f"), ">= 0.9", med(g) >= 0.9,
            "wrk -t2 -c32 -d%ds GET /paraview/<id> vs the same JSON as a file, %d rounds "
            "interleaved" % (WRK_SECONDS, ROUNDS))
        row("routing cost", "%.0f req/s" % med(r_int), "%.0f req/s (txt:)" % med(r_txt),
            spread(r, "%.2f"), ">= 0.95", med(r) >= 0.95,
            "wrk, rewrite through ${pvsession:id} vs a txt: map with the same entry, %d rounds "
            "interleaved" % ROUNDS)
        sessions += create_sessions(a, large - small)
        rss1 = daemon_rss_kib(a)
        results[large] = bench_get_and_route(a, "large", sid, body)
        # Against the static file of the same round, so that the two runs
        # (minutes apart) compare through their own baselines.
        g_small, g_large = ratios(results[small][0], results[small][1]), ratios(
            results[large][0], results[large][1])
        r_small, r_large = ratios(results[small][2], results[small][3]), ratios(
            results[large][2], results[large][3])
        g_ratio = med(g_large) / med(g_small)
        r_ratio = med(r_large) / med(r_small)
        row("scale: GET", "%.0f req/s @%d" % (med(results[large][0]), large),
            "%.0f req/s @%d" % (med(results[small][0]), small), "%.2f" % g_ratio, ">= 0.95",
            g_ratio >= 0.95, "wrk GET with %d vs %d live sessions, each against the static "
            "file of its rounds" % (large, small))
        row("scale: routing", "%.0f req/s @%d" % (med(results[large][2]), large),
            "%.0f req/s @%d" % (med(results[small][2]), small), "%.2f" % r_ratio, ">= 0.95",
            r_ratio >= 0.95, "wrk int: route with %d vs %d live sessions, each against the "
            "txt: map of its rounds" % (large, small))
        ports = large + 50
        shared_per_port = H_shared_bytes(ports) / ports
        per_session = (rss1 - rss0) * 1024.0 / (large - small) + shared_per_port
        row("scale: memory/session", "%.0f B" % per_session,
            "daemon RSS +%d KiB (+%d KiB once, for the first launches); shared table "
            "%.0f B/port" % (rss1 - rss0, warm_up_kib, shared_per_port), "-",
            "<= 4 KiB", per_session <= 4096,
            "daemon RSS growth (shared table excluded) over %d sessions, after 20 warm-up "
            "launches, + table size per port" % (large - small))
        conn = http.client.HTTPConnection("127.0.0.1", a.port)
        for s in sessions:
            assert delete(conn, s["id"]) == 200
    finally:
        if a:
            a.stop()
    return tmp_conf


def H_shared_bytes(ports):
    """The shared table's size for `ports` ports, from the module's own
    formula (build/bench/table_size)."""
    helper = os.path.join(REPO, "build", "bench", "table_size")
    return int(subprocess.run([helper, str(ports)], capture_output=True, text=True,
                              check=True).stdout)


def handshake(port, path, host="127.0.0.1", extra=""):
    s = socket.create_connection((host, port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
               % (path, extra)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.startswith(b"HTTP/1.1 101")


def bench_websocket(n=1000):
    a = start(10)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", a.port)
        status, obj = post(conn, {"application": "ws"})
        assert status == 200, obj

        per_round = max(1, n // ROUNDS)

        def rate(port, path):
            for _ in range(20):
                assert handshake(port, path)
            t = time.perf_counter()
            for _ in range(per_round):
                assert handshake(port, path)
            return per_round / (time.perf_counter() - t)
        ours, direct = interleaved(lambda: rate(a.port, "/proxy?sessionId=" + obj["id"]),
                                   lambda: rate(obj["port"], "/ws"))
        row("websocket connect", "%.0f /s" % statistics.median(ours),
            "%.0f /s (direct)" % statistics.median(direct), spread(ratios(ours, direct), "%.2f"),
            "report", True, "%d sequential upgrade handshakes through Apache vs to the app, %d "
            "rounds interleaved" % (per_round * ROUNDS, ROUNDS))
        delete(conn, obj["id"])
    finally:
        a.stop()


OWNER_CONF = """
<Location />
  AuthType Basic
  AuthName bench
  AuthBasicProvider file
  AuthUserFile %(tmp)s/htpasswd
  Require valid-user
</Location>
<Location /open>
  SetHandler pvlaunch
  Require all granted
</Location>
""" + ROUTE_CONF


def bench_owners(n=3000):
    """The owner check on the route (int:pvsession notes the owner, a fixup
    compares it with the authenticated user): a session launched by an
    authenticated user against one launched anonymously, both reached by
    the same authenticated client, so that only the check differs."""
    import base64
    tmp = H.new_tmpdir("pvl-bench-")
    import shutil
    shutil.copy(READY_APP, os.path.join(tmp, "ready_app"))
    # SHA-1 entries: a bcrypt check per request would be all that is measured.
    subprocess.run(["htpasswd", "-cbs", os.path.join(tmp, "htpasswd"), "alice", "pw"],
                   check=True, capture_output=True)
    open(os.path.join(tmp, "route.txt"), "w").close()
    port = H.free_port()
    a = H.Apache(tmp, mpm="event", launcher=launcher(tmp, port, H.free_port_range(10), 10),
                 port=port, extra_conf=OWNER_CONF % {"tmp": tmp}, loglevel="warn",
                 mpm_conf=MPM_CONF).start()
    auth = "Authorization: Basic " + base64.b64encode(b"alice:pw").decode()
    try:
        def launch(path, app):
            conn = http.client.HTTPConnection("127.0.0.1", a.port)
            conn.request("POST", path, body=json.dumps({"application": app}),
                         headers={"Authorization": auth.split(": ", 1)[1]})
            resp = conn.getresponse()
            obj = json.loads(resp.read())
            assert resp.status == 200, obj
            return obj
        owned, anon = launch("/paraview", "ready"), launch("/open", "ready")
        with open(os.path.join(tmp, "htdocs", "session.json"), "w") as f:
            f.write("{}")
        mine, nobodys = interleaved(lambda: wrk(a, "/int?id=" + owned["id"], headers=[auth]),
                                    lambda: wrk(a, "/int?id=" + anon["id"], headers=[auth]))
        row("routing with owner check", "%.0f req/s" % statistics.median(mine),
            "%.0f req/s (no owner)" % statistics.median(nobodys),
            spread(ratios(mine, nobodys), "%.2f"), ">= 0.95",
            statistics.median(ratios(mine, nobodys)) >= 0.95,
            "wrk, Basic auth (SHA-1), ${pvsession:id} of a session launched by the user vs of "
            "an anonymous one, %d rounds interleaved" % ROUNDS)
        ws_owned, ws_anon = launch("/paraview", "ws"), launch("/open", "ws")
        # Short rounds, many of them: a handshake is ~1 ms and this machine's
        # drift over seconds is larger than what is measured.
        rounds = 10 * ROUNDS
        per_round = max(1, n // rounds)

        def rate(sid):
            path = "/proxy?sessionId=" + sid
            for _ in range(20):
                assert handshake(a.port, path, extra=auth + "\r\n")
            t = time.perf_counter()
            for _ in range(per_round):
                assert handshake(a.port, path, extra=auth + "\r\n")
            return per_round / (time.perf_counter() - t)
        mine, nobodys = interleaved(lambda: rate(ws_owned["id"]), lambda: rate(ws_anon["id"]),
                                    rounds=rounds)
        row("websocket connect, owner check", "%.0f /s" % statistics.median(mine),
            "%.0f /s (no owner)" % statistics.median(nobodys),
            spread(ratios(mine, nobodys), "%.2f"), ">= 0.95",
            statistics.median(ratios(mine, nobodys)) >= 0.95,
            "%d sequential authenticated upgrade handshakes through Apache to a session of "
            "the user vs an anonymous one, %d rounds interleaved" % (per_round * rounds, rounds))
        conn = http.client.HTTPConnection("127.0.0.1", a.port)
        for obj in (owned, anon, ws_owned, ws_anon):
            conn.request("DELETE", "/paraview/" + obj["id"], headers={"Authorization":
                                                                      auth.split(": ", 1)[1]})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200, resp.status
    finally:
        a.stop()


def concurrently(n, task):
    """Starts `task(i)` in n threads at once; returns the seconds until the
    last one finished, and their results."""
    results = [None] * n
    barrier = threading.Barrier(n + 1)
    done = [0.0] * n

    def one(i):
        prepare = task(i)
        barrier.wait()
        results[i] = prepare()
        done[i] = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return max(done) - t0, results


def bench_burst(n=200, pool=300):
    a = start(pool)
    try:
        cmd = [os.path.join(a.tmp, "ready_app"), "9"]

        def launch(i):
            conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
            conn.connect()
            return lambda: post(conn, {"application": "ready"})

        def spawn(i):
            def run():
                p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
                line = p.stdout.readline()
                p.kill()
                p.wait()
                return line
            return run

        def ours():
            last, results = concurrently(n, launch)
            ok = [r for r in results if r and r[0] == 200]
            ports = [r[1]["port"] for r in ok]
            conn = http.client.HTTPConnection("127.0.0.1", a.port)
            for r in ok:
                delete(conn, r[1]["id"])
            return last, len(ok), len(set(ports)) == len(ports)

        def baseline():
            return concurrently(n, spawn)[0]
        mine, base = interleaved(ours, baseline)
        lasts = [m[0] for m in mine]
        all_ok = all(m[1] == n for m in mine)
        unique = all(m[2] for m in mine)
        r = ratios(lasts, base)
        row("burst", "%d x %d ready in %s s" % (ROUNDS, n, spread(lasts, "%.2f")),
            "%s s (fork/exec); ports unique: %s" % (spread(base, "%.2f"),
                                                    "yes" if unique else "NO"),
            spread(r, "%.2fx"), "<= 1.5x; all ready; no port twice",
            all_ok and unique and statistics.median(r) <= 1.5,
            "%d concurrent POSTs on a %d-port pool vs %d concurrent fork/execs of the same "
            "command, %d rounds interleaved" % (n, pool, n, ROUNDS))
    finally:
        a.stop()


def bench_stream_flood(streams=200):
    """Launch event streams each hold a worker; PVLaunchMaxStreams caps
    them, so that a flood of them leaves Apache answering GET."""
    a = start(2, extra_conf="PVLaunchQueue 5 300")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", a.port)
        status, obj = post(conn, {"application": "ready"})  # the pool's two ports
        assert status == 200, obj
        status, obj2 = post(conn, {"application": "ready"})
        assert status == 200, obj2
        conn.request("POST", "/paraview", body=json.dumps({"application": "ready"}),
                     headers={"Prefer": "respond-async"})
        resp = conn.getresponse()
        waiting = resp.getheader("Content-Location")
        resp.read()
        assert resp.status == 202 and waiting, resp.status

        def flood():
            """Opens `streams` event streams on the waiting launch; returns
            the sockets and how many were refused with 429."""
            socks, refused = [], 0
            for _ in range(streams):
                s = socket.create_connection(("127.0.0.1", a.port))
                s.sendall(("GET %s/events HTTP/1.1\r\nHost: x\r\n\r\n" % waiting).encode())
                s.settimeout(10)
                head = s.recv(64).decode(errors="replace")
                if " 429 " in head:
                    refused += 1
                    s.close()
                else:
                    socks.append(s)
            return socks, refused

        def flooded():
            socks, refused = flood()
            try:
                return wrk(a, "/paraview/" + obj["id"], seconds=max(2, WRK_SECONDS // 2)), refused
            finally:
                for s in socks:
                    s.close()
                time.sleep(0.5)  # the daemon sees them go
        calm, under = interleaved(lambda: wrk(a, "/paraview/" + obj["id"],
                                              seconds=max(2, WRK_SECONDS // 2)), flooded)
        rates = [u[0] for u in under]
        refused = min(u[1] for u in under)
        r = ratios(rates, calm)
        row("GET under a stream flood", "%.0f req/s, %d of %d streams refused (429)" % (
            statistics.median(rates), refused, streams),
            "%.0f req/s (no streams)" % statistics.median(calm), spread(r, "%.2f"),
            "Apache answers", statistics.median(rates) > 0 and refused > 0,
            "wrk GET /paraview/<id> while %d event streams are held open on a waiting launch "
            "(default PVLaunchMaxStreams), vs without, %d rounds interleaved" % (streams, ROUNDS))
        conn = http.client.HTTPConnection("127.0.0.1", a.port)  # the first one idled out
        for sid in (obj["id"], obj2["id"]):
            delete(conn, sid)
    finally:
        a.stop()



def bench_slurm(n=5, burst=200):
    """Sessions as Slurm jobs on a private one-node cluster: POST->200 for an
    app that prints its ready line at once, against sbatch of the same kind
    of job plus waiting for the line by hand; then `burst` sessions at once
    against `burst` sbatch calls at once."""
    import pwd
    import shutil
    import slurm_cluster
    why = slurm_cluster.available()
    if why:
        row("Slurm launch", "-", "-", "-", "<= 1.2x", False, "not measured: " + why)
        return
    H.ensure_app_user()
    app = pwd.getpwnam(H.APP_USER)
    # One slurmd on two cores launches `burst` jobs slowly: Slurm's default
    # 10 s for its answers would fail some launches.
    c = slurm_cluster.SlurmCluster(cpus=burst + 16, extra_conf="MessageTimeout=60\n")
    lo = H.free_port_range(burst + 50)
    c.resv_ports = (lo, lo + burst + 49)
    c.start()
    tmp = H.new_tmpdir("pvl-bench-slurm-")
    shutil.copy(READY_APP, os.path.join(tmp, "ready_app"))
    port = H.free_port()
    cfg = launcher(tmp, port, H.free_port_range(2), 2)
    cfg["configuration"]["timeout"] = 120
    cfg["apps"] = {"job": {"cmd": [os.path.join(tmp, "ready_app"), "${port}"],
                           "ready_line": "Starting factory", "slurm": {"options": []}}}
    cfg["slurm"] = {"max_jobs": burst + 20, "poll_interval": 1}
    a = H.Apache(tmp, mpm="event", launcher=cfg, port=port, loglevel="warn",
                 mpm_conf=MPM_CONF, env={"SLURM_CONF": c.conf}).start()
    hand = os.path.join(tmp, "by-hand")
    os.makedirs(hand)
    os.chown(hand, app.pw_uid, app.pw_gid)
    script = os.path.join(tmp, "job.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nexec srun --resv-ports=1 --ntasks=1 sh -c "
                "'exec %s ${SLURM_STEP_RESV_PORTS%%%%-*}'\n" % os.path.join(tmp, "ready_app"))
    os.chmod(script, 0o755)
    counter = [0]
    lock = threading.Lock()

    def by_hand():
        """sbatch as the apps' user, then read its output until the line."""
        with lock:
            counter[0] += 1
            out = os.path.join(hand, "%d.out" % counter[0])
        t = time.perf_counter()
        r = subprocess.run(["setpriv", "--reuid", str(app.pw_uid), "--regid", str(app.pw_gid),
                            "--init-groups", "sbatch", "--parsable", "--output", out, script],
                           capture_output=True, text=True, env=c.env(), check=True)
        job = r.stdout.strip().split(";")[0]
        while True:
            try:
                with open(out) as f:
                    if "Starting factory" in f.read():
                        break
            except FileNotFoundError:
                pass
            time.sleep(0.005)
        took = time.perf_counter() - t
        threading.Thread(target=c.run, args=("scancel", job), daemon=True).start()
        return took

    def ours_one(_):
        # a connection each: the baseline's turn outlasts Apache's KeepAliveTimeout
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=130)
        t = time.perf_counter()
        status, obj = post(conn, {"application": "job"})
        took = time.perf_counter() - t
        assert status == 200, obj
        return took, obj

    def stop_later(sid):
        def run():
            conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
            delete(conn, sid)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    stoppers = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=130)

        def ours():
            times = []
            for _ in range(n):
                took, obj = ours_one(conn)
                times.append(took)
                stoppers.append(stop_later(obj["id"]))
            return times

        def base():
            return [by_hand() for _ in range(n)]
        ours(), base()  # warm-up
        mine, theirs = interleaved(ours, base)
        per_round = [statistics.median(m) / statistics.median(b) for m, b in zip(mine, theirs)]
        row("Slurm launch (median)",
            "%.0f ms" % (statistics.median([t for r in mine for t in r]) * 1e3),
            "%.0f ms" % (statistics.median([t for r in theirs for t in r]) * 1e3),
            spread(per_round, "%.2fx"), "<= 1.2x", statistics.median(per_round) <= 1.2,
            "POST->200 of a Slurm app printing its ready line at once vs sbatch + reading its "
            "output until the line (5 ms polls), %d x %d interleaved, one-node private "
            "cluster" % (ROUNDS, n))
        for t in stoppers:
            t.join()
        slurm_cluster_wait_empty(c)

        def launch(i):
            cn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=130)
            cn.connect()
            return lambda: post(cn, {"application": "job"})
        last, results = concurrently(burst, launch)
        ok = [r[1] for r in results if r and r[0] == 200]
        failed = {}
        for r in results:
            if not r or r[0] != 200:
                why = "%s %s" % (r[0], r[1].get("error", "")[:160]) if r else "no answer"
                failed[why] = failed.get(why, 0) + 1
        for why, count in failed.items():
            print("  burst: %d x %s" % (count, why), flush=True)
        routes = [(o["host"], o["port"]) for o in ok]
        unique = len(set(routes)) == len(routes)
        stoppers = [stop_later(o["id"]) for o in ok]
        for t in stoppers:
            t.join()
        slurm_cluster_wait_empty(c)
        hand_last, _ = concurrently(burst, lambda i: by_hand)
        slurm_cluster_wait_empty(c)
        row("Slurm burst", "%d/%d ready in %.1f s" % (len(ok), burst, last),
            "%.1f s (%d sbatch at once + waiting); ports unique: %s" % (
                hand_last, burst, "yes" if unique else "NO"),
            "%.2fx" % (last / hand_last), "all ready; no port twice",
            len(ok) == burst and unique,
            "%d concurrent POSTs of a Slurm app vs %d concurrent sbatch + wait, node with %d "
            "CPUs" % (burst, burst, burst + 16))
    finally:
        a.stop()
        c.stop()


def slurm_cluster_wait_empty(c, timeout=120):
    deadline = time.time() + timeout
    while c.jobs() and time.time() < deadline:
        time.sleep(0.5)


def kept_rows():
    """The rows of bench/RESULTS.md that this run did not measure (a run of
    some steps, `run_bench.py slurm`, updates only its own rows)."""
    try:
        with open(os.path.join(BENCH, "RESULTS.md")) as f:
            text = f.read()
    except OSError:
        return []
    mine = {r[0] for r in rows}
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] not in ("figure", "---") and cells[0] not in mine:
            out.append((cells[0], cells[1], cells[2], cells[3], cells[4],
                        cells[5] == "yes", cells[6]))
    return out


def write_results(partial=None):
    when = "Written by `make bench` on %s (%d cores)." % (time.strftime("%Y-%m-%d %H:%M"),
                                                         os.cpu_count())
    if partial:
        fresh = ", ".join(r[0] for r in rows)
        rows[:0] = kept_rows()
        when = ("Rows %s measured by `bench/run_bench.py %s` on %s (%d cores); the others by "
                "the last full `make bench`." % (fresh, " ".join(partial),
                                                  time.strftime("%Y-%m-%d %H:%M"),
                                                  os.cpu_count()))
    lines = ["# mod_pvlaunch benchmarks", "",
             when + " Each figure is measured against a baseline in the same run; the ratio "
             "is ours/baseline.", "",
             "| figure | ours | baseline | ratio | target | met | command |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r[0], r[1], r[2], r[3], r[4], "yes" if r[5] else "**no**", r[6]))
    lines.append("")
    with open(os.path.join(BENCH, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    only = sys.argv[1:]
    steps = [("launch", bench_launch), ("throughput", bench_throughput_and_scale),
             ("websocket", bench_websocket), ("burst", bench_burst),
             ("streams", bench_stream_flood), ("owners", bench_owners), ("slurm", bench_slurm)]
    for name, fn in steps:
        if not only or name in only:
            fn()
    write_results(partial=only)
    print("wrote bench/RESULTS.md")


if __name__ == "__main__":
    main()
