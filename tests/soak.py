#!/usr/bin/python3
"""Soak: many create/delete cycles mixed with bad requests against a real
Apache, then an account of what is left.

Each cycle creates a session, reads it back, deletes it, and sends one bad
request, in turn: malformed JSON, an unknown application, an unknown id, an
oversize body, and a client that hangs up while its launch is starting.

Afterwards the pool must be whole (every port can be given out again), no
app process may remain, the map must be empty, and the file descriptors and
resident memory of the session daemon and of Apache's children, counted from
/proc after a warm-up and again at the end, must not grow (memory: under
1 MiB in total).

`make soak` runs 10,000 cycles (SOAK_CYCLES); the integration suite runs a
short version through run_soak().
"""
import json
import os
import socket
import sys
import time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import apache_harness as H  # noqa: E402

POOL = 8
MAX_BODY = 4096
# Fixed process and thread counts: the children measured at the start are
# the ones measured at the end.
MPM_CONF = {
    "event": ["StartServers 2", "ServerLimit 2", "ThreadsPerChild 8", "MinSpareThreads 1",
              "MaxSpareThreads 16", "MaxRequestWorkers 16"],
    "prefork": ["StartServers 3", "MinSpareServers 1", "MaxSpareServers 3", "ServerLimit 3",
                "MaxRequestWorkers 3"],
}
BAD_KINDS = ("malformed", "unknown-app", "unknown-id", "oversize", "hangup")


def soak_launcher(tmp, port, base):
    """Apps from /bin/sh, cheap to start, so the cycles measure the module.
    Each is a shell with a child (a group to kill), and names the temporary
    directory on its command line, so a leftover is found."""
    cfg = H.default_launcher(tmp, port, base, count=POOL, timeout=10)
    marker = os.path.join(tmp, "soak-app")
    cfg["apps"] = {
        "quick": {"cmd": ["/bin/sh", "-c", "echo Starting factory; sleep 3600", marker],
                  "ready_line": "Starting factory"},
        "slow": {"cmd": ["/bin/sh", "-c", "sleep 0.2; echo Starting factory; sleep 3600",
                         marker],
                 "ready_line": "Starting factory"},
    }
    return cfg


def start_apache(mpm="event"):
    tmp = H.new_tmpdir("pvl-soak-")
    port = H.free_port()
    base = H.free_port_range(POOL)
    a = H.Apache(tmp, mpm=mpm, launcher=soak_launcher(tmp, port, base), port=port,
                 loglevel="warn", mpm_conf=MPM_CONF[mpm],
                 extra_conf="PVLaunchMaxBody %d" % MAX_BODY)
    return a.start()


def proc_figures(pid):
    """(open fds, resident bytes) of a process, from /proc."""
    fds = len(os.listdir("/proc/%d/fd" % pid))
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return fds, int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for %d" % pid)


def snapshot(a):
    pids = [a.daemon_pid()] + sorted(a.child_pids())
    return {pid: proc_figures(pid) for pid in pids}


class Client:
    """One keep-alive connection, re-opened when Apache closes it."""

    def __init__(self, a):
        self.a = a
        self.conn = None

    def request(self, method, path, body=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.a.port, timeout=30)
            try:
                self.conn.request(method, path, body=body,
                                  headers={"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, (json.loads(data) if data else None)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # Keep-alive timed out between requests: once more, fresh.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def close(self):
        if self.conn:
            self.conn.close()


def hang_up_during_launch(a):
    """Send a POST for a slow app and close the connection before the answer."""
    body = json.dumps({"application": "slow"}).encode()
    s = socket.create_connection(("127.0.0.1", a.port))
    s.sendall(b"POST /paraview HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    time.sleep(0.01)
    s.close()


def bad_request(c, a, kind, n):
    if kind == "malformed":
        status, obj = c.request("POST", "/paraview", '{"application": "quick", ' * (n % 3 + 1))
        want = 400
    elif kind == "unknown-app":
        status, obj = c.request("POST", "/paraview", json.dumps({"application": "x%d" % n}))
        want = 400
    elif kind == "unknown-id":
        method = "GET" if n % 2 else "DELETE"
        status, obj = c.request(method, "/paraview/nosuchid%d" % n)
        want = 404
    elif kind == "oversize":
        status, obj = c.request("POST", "/paraview", json.dumps(
            {"application": "quick", "pad": "x" * (MAX_BODY + n % 100)}))
        want = 413
    else:
        hang_up_during_launch(a)
        return
    if status != want or not isinstance(obj, dict) or "error" not in obj:
        raise AssertionError("%s: %s %r, expected %d with an error" % (kind, status, obj, want))


def cycles(a, c, count, start=0, ids_seen=None):
    for n in range(start, start + count):
        status, obj = c.request("POST", "/paraview", json.dumps({"application": "quick"}))
        if status == 503:
            # Every port is briefly held by hung-up slow launches being
            # stopped: wait for them, as a client would retry.
            time.sleep(0.05)
            status, obj = c.request("POST", "/paraview", json.dumps({"application": "quick"}))
        if status != 200:
            raise AssertionError("create %d: %s %r" % (n, status, obj))
        sid = obj["id"]
        if ids_seen is not None and len(ids_seen) < 50:
            ids_seen.append(sid)
        status, got = c.request("GET", "/paraview/" + sid)
        if status != 200 or got["id"] != sid:
            raise AssertionError("get %d: %s %r" % (n, status, got))
        status, obj = c.request("DELETE", "/paraview/" + sid)
        if status != 200:
            raise AssertionError("delete %d: %s %r" % (n, status, obj))
        bad_request(c, a, BAD_KINDS[n % len(BAD_KINDS)], n)


def app_processes(a):
    """Processes the daemon started that are still alive (its descendants)."""
    daemon = a.daemon_pid()
    kids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == daemon:
            kids.append((int(pid), fields[0]))
    return kids


def settle(a, timeout=10):
    """Wait for hung-up launches to be stopped: no app left under the daemon."""
    deadline = time.time() + timeout
    while time.time() < deadline and app_processes(a):
        time.sleep(0.05)
    return app_processes(a)


def assert_pool_whole(c):
    ids = []
    for _ in range(POOL):
        status, obj = c.request("POST", "/paraview", json.dumps({"application": "quick"}))
        if status != 200:
            raise AssertionError("pool not whole: %s %r after %d" % (status, obj, len(ids)))
        ids.append(obj["id"])
    status, obj = c.request("POST", "/paraview", json.dumps({"application": "quick"}))
    if status != 503:
        raise AssertionError("pool larger than configured: %s %r" % (status, obj))
    for sid in ids:
        if c.request("DELETE", "/paraview/" + sid)[0] != 200:
            raise AssertionError("cannot delete %s" % sid)


def run_soak(a, count, warmup=None, progress=None):
    """Runs the soak on a started Apache; returns the figures, raises
    AssertionError when something is left behind or grew."""
    warmup = warmup if warmup is not None else min(500, max(50, count // 10))
    c = Client(a)
    cycles(a, c, warmup)
    left = settle(a)
    if left:
        raise AssertionError("processes left after warm-up: %r" % left)
    c.close()
    c = Client(a)
    before = snapshot(a)
    t0 = time.time()
    ids = []
    done = 0
    step = max(1, count // 10)
    while done < count:
        n = min(step, count - done)
        cycles(a, c, n, start=warmup + done, ids_seen=ids)
        done += n
        if progress:
            progress(done, count, time.time() - t0)
    elapsed = time.time() - t0
    left = settle(a)
    c.close()
    c = Client(a)
    # A child may still be closing the last hung-up connection: growth that
    # persists for seconds is a leak, a socket on its way out is not.
    deadline = time.time() + 3
    while True:
        after = snapshot(a)
        if time.time() > deadline or all(
                after.get(pid, (0, 0))[0] <= before[pid][0] for pid in before):
            break
        time.sleep(0.1)
    problems = []
    if left:
        problems.append("processes left: %r" % left)
    if sorted(before) != sorted(after):
        problems.append("processes changed: %r -> %r" % (sorted(before), sorted(after)))
    fd_growth = {pid: after[pid][0] - before[pid][0] for pid in before if pid in after}
    if any(d > 0 for d in fd_growth.values()):
        problems.append("fd growth: %r" % fd_growth)
    mem_growth = sum(after[pid][1] - before[pid][1] for pid in before if pid in after)
    # Under AddressSanitizer freed memory sits in its quarantine, so RSS says
    # nothing about leaks there; ASan itself reports those.
    if mem_growth >= 1 << 20 and not H.SANITIZER_PRELOAD:
        problems.append("memory grew by %d bytes: %r -> %r" % (mem_growth, before, after))
    # The map forgets every deleted session.
    for sid in ids:
        status, _ = c.request("GET", "/paraview/" + sid)
        if status != 404:
            problems.append("deleted session %s still answers %d" % (sid, status))
    with open(os.path.join(a.tmp, "proxy.txt")) as f:
        if f.read().strip():
            problems.append("map file not empty")
    # The persisted table is a journal, compacted as it grows: it stays
    # proportional to the live table (here empty), not to the history.
    with open(os.path.join(a.tmp, "run", "pvlaunch.state")) as f:
        records = len(f.read().splitlines())
    if records > 4 * POOL + 65:
        problems.append("state journal holds %d records" % records)
    assert_pool_whole(c)
    c.close()
    if settle(a):
        problems.append("processes left after the pool check: %r" % app_processes(a))
    if problems:
        raise AssertionError("\n".join(problems))
    return {
        "cycles": count, "seconds": elapsed, "before": before, "after": after,
        "fd_growth": fd_growth, "mem_growth": mem_growth,
    }


def describe(a, fig):
    daemon = a.daemon_pid()
    lines = ["%d cycles in %.1f s (%.0f cycles/s), each: create, GET, DELETE, one bad request"
             % (fig["cycles"], fig["seconds"], fig["cycles"] / fig["seconds"])]
    for pid in sorted(fig["before"]):
        who = "session daemon" if pid == daemon else "apache2 child "
        (f0, m0), (f1, m1) = fig["before"][pid], fig["after"][pid]
        lines.append("%s %6d: fds %d -> %d, RSS %d KiB -> %d KiB" % (who, pid, f0, f1,
                                                                  m0 // 1024, m1 // 1024))
    lines.append("total RSS growth: %+d KiB (limit 1024 KiB)" % (fig["mem_growth"] // 1024))
    return "\n".join(lines)


def main():
    count = int(os.environ.get("SOAK_CYCLES", "10000"))
    status = 0
    for mpm in os.environ.get("SOAK_MPMS", "event prefork").split():
        a = start_apache(mpm)
        try:
            print("soak under %s: %d cycles" % (mpm, count), flush=True)
            fig = run_soak(a, count, progress=lambda d, n, t: print(
                "  %d/%d cycles, %.0f s" % (d, n, t), flush=True))
            print(describe(a, fig), flush=True)
            bad = a.unexpected_log_lines()
            if bad:
                print("unexpected error log lines:\n" + "\n".join(bad[:20]))
                status = 1
        except AssertionError as e:
            print("SOAK FAILED under %s: %s" % (mpm, e))
            status = 1
        finally:
            a.stop()
    if os.environ.get("SOAK_SLURM", "1") != "0":
        status = slurm_time_limit() or status
    print("soak: %s" % ("passed" if status == 0 else "failed"))
    return status


def slurm_time_limit():
    """A Slurm session whose job reaches its --time (one minute, Slurm's
    least; it checks limits about every 30 s) leaves the map within 5 s of
    Slurm reporting the job ended. Returns 1 on failure."""
    import slurm_cluster
    why = slurm_cluster.available()
    if why:
        print("slurm time limit: not run: " + why)
        return 0
    c = slurm_cluster.SlurmCluster().start()
    tmp = H.new_tmpdir("pvl-soak-slurm-")
    port = H.free_port()
    cfg = H.default_launcher(tmp, port, H.free_port_range(2), count=2, timeout=30)
    cfg["apps"] = {"limited": {"cmd": H.app_cmd("ready", tmp=tmp), "ready_line": "Starting factory",
                               "slurm": {"options": ["--time=1"]}}}
    a = H.Apache(tmp, launcher=cfg, port=port, env={"SLURM_CONF": c.conf}).start()
    try:
        status, obj, _ = a.json("POST", "/paraview", {"application": "limited"})
        assert status == 200, obj
        t0 = time.time()
        while time.time() - t0 < 180 and c.jobs():
            time.sleep(0.2)
        ended = time.time()
        assert not c.jobs(), "the job outlived its --time: %r" % c.jobs()
        while time.time() - ended < 5 and a.json("GET", "/paraview/" + obj["id"])[0] != 404:
            time.sleep(0.1)
        late = time.time() - ended
        assert a.json("GET", "/paraview/" + obj["id"])[0] == 404, "still routed after 5 s"
        print("slurm time limit: the job ended %.0f s after launch; gone from the map %.1f s "
              "after Slurm reported it" % (ended - t0, late), flush=True)
        return 0
    except AssertionError as e:
        print("SLURM TIME LIMIT FAILED: %s\n%s" % (e, a.read_log()[-2000:]))
        return 1
    finally:
        a.stop()
        c.stop()


if __name__ == "__main__":
    sys.exit(main())
