"""Sessions survive Apache's restarts and a killed session daemon. A restart
keeps the same daemon (its apps stay its children); a restart that changes
the launcher configuration, or a killed daemon, makes a new daemon take the
running apps over from the persisted table."""
import json
import os
import signal
import time

import wslink_client
from conftest import procs_mentioning, wait_until
from test_020_launch import port_is_free, ws_url

SESSIONS = 50


def launch_many(a, n=SESSIONS):
    out = []
    for _ in range(n):
        status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
        assert status == 200, obj
        out.append(obj)
    return out


def all_answer(a, sessions):
    for obj in sessions:
        status, got, _ = a.json("GET", "/paraview/" + obj["id"])
        assert status == 200 and got == obj, (status, got, a.read_log()[-1500:])
        reply = wslink_client.hello(ws_url(a, obj["id"]), obj["secret"])
        assert "result" in reply, reply


def settle(a):
    """After a restart: the new generation answers launcher requests."""
    def ok():
        try:
            return a.json("GET", "/paraview/doesnotexist")[0] == 404
        except OSError:
            return False
    assert wait_until(ok, timeout=15), a.read_log()[-3000:]


def ppid(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def app_pids(a, sessions):
    """The fake app of each session, by the port on its command line."""
    out = {}
    for obj in sessions:
        out[obj["id"]] = next(p for p, _, cmd in procs_mentioning(a.tmp)
                              if "--port %d " % obj["port"] in cmd + " ")
    return out


def test_sessions_survive_graceful_and_hard_restart(server):
    a = server(count=SESSIONS + 10)
    a.allowed_log += ["AH00052"]
    sessions = launch_many(a)
    daemon = a.daemon_pid()
    for kind in ("graceful", "restart"):
        assert a.signal(kind).returncode == 0
        time.sleep(0.5)
        settle(a)
        all_answer(a, sessions)
        # the same daemon, still the parent of every app
        assert a.daemon_pid() == daemon
        assert {ppid(p) for p in app_pids(a, sessions).values()} == {daemon}
        status, new, _ = a.json("POST", "/paraview", {"application": "demo"})
        assert status == 200, new
        assert new["port"] not in {s["port"] for s in sessions}
        assert a.json("DELETE", "/paraview/" + new["id"])[0] == 200
    assert a.read_log().count("PVL00212") == 2
    # an app that dies after the restarts is reaped at once: no zombie
    victim = sessions.pop()
    pid = app_pids(a, [victim])[victim["id"]]
    os.killpg(pid, signal.SIGKILL)
    assert wait_until(lambda: a.json("GET", "/paraview/" + victim["id"])[0] == 404, timeout=1)
    assert wait_until(lambda: not os.path.exists("/proc/%d" % pid), timeout=1)
    a.allowed_log.append("PVL00020")
    # a stop after restarts leaves nothing, not even a zombie
    a.stop()
    assert procs_mentioning(a.tmp) == []


def test_daemon_logs_to_the_reopened_error_log(event_server):
    """logrotate renames the error log, then reloads Apache: the kept daemon
    writes to the new file from then on."""
    a = event_server()
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    os.rename(a.error_log, a.error_log + ".1")
    assert a.signal("graceful").returncode == 0
    settle(a)
    assert wait_until(lambda: "PVL00035" in a.read_log(), timeout=5), a.read_log()
    with open(a.error_log + ".1") as f:
        assert "PVL00035" not in f.read()
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200


def test_changed_configuration_hands_sessions_to_a_new_daemon(server):
    a = server(count=20)
    sessions = launch_many(a, 10)
    old = a.daemon_pid()
    cfg = a.launcher
    cfg["apps"]["second"] = dict(cfg["apps"]["demo"])
    with open(a.launcher_path, "w") as f:
        json.dump(cfg, f)
    assert a.signal("graceful").returncode == 0
    settle(a)
    assert wait_until(lambda: a.daemon_pid() not in (None, old), timeout=10)
    assert "PVL00214" in a.read_log()
    assert wait_until(lambda: "took over 10 running session(s)" in a.read_log(), timeout=5)
    all_answer(a, sessions)
    status, obj, _ = a.json("POST", "/paraview", {"application": "second"})
    assert status == 200, obj
    assert obj["port"] not in {s["port"] for s in sessions}
    for s in sessions + [obj]:
        assert a.json("DELETE", "/paraview/" + s["id"])[0] == 200
    assert all(port_is_free(s["port"]) for s in sessions)


def test_removing_the_launcher_stops_its_sessions(event_server):
    a = event_server()
    sessions = launch_many(a, 3)
    with open(a.conf) as f:
        conf = f.read()
    with open(a.conf, "w") as f:
        f.write("\n".join(line for line in conf.splitlines()
                          if not line.startswith("PVLaunch")) + "\n")
    assert a.signal("graceful").returncode == 0
    assert wait_until(lambda: "PVL00215" in a.read_log(), timeout=10)
    assert wait_until(lambda: not procs_mentioning(a.tmp + "/fake"), timeout=5)
    assert all(port_is_free(s["port"]) for s in sessions)


def test_killed_daemon_comes_back_and_keeps_sessions(server):
    a = server(count=SESSIONS + 10, allowed_log=["PVL00204"])
    sessions = launch_many(a)
    victim = sessions.pop()
    victim_pid = next(p for p, _, cmd in procs_mentioning(a.tmp)
                      if "--port %d " % victim["port"] in cmd + " ")
    old = a.daemon_pid()
    t0 = time.time()
    os.kill(old, signal.SIGKILL)
    # an app that dies while no daemon watches is cleaned up afterwards
    os.killpg(victim_pid, signal.SIGKILL)
    new = wait_until(lambda: (a.daemon_pid() or old) != old and a.daemon_pid(), timeout=10)
    assert new, a.read_log()[-2000:]
    assert wait_until(lambda: "took over" in a.read_log(), timeout=10)
    recovered = time.time() - t0
    all_answer(a, sessions)
    print("recovery after SIGKILL: %.3f s" % recovered)
    assert a.json("GET", "/paraview/" + victim["id"])[0] == 404
    assert port_is_free(victim["port"])
    assert "took over %d running session(s); 1 had ended" % len(sessions) in a.read_log()
    # the adopted apps are still supervised: one that crashes is noticed
    pid = next(p for p, _, cmd in procs_mentioning(a.tmp)
               if "--port %d " % sessions[0]["port"] in cmd + " ")
    os.killpg(pid, signal.SIGKILL)
    assert wait_until(lambda: a.json("GET", "/paraview/" + sessions[0]["id"])[0] == 404,
                      timeout=2)
    a.allowed_log.append("PVL00020")


def test_killed_daemon_after_journal_compaction(event_server):
    """Many changes compact the persisted journal; a daemon killed after
    that still finds exactly the live sessions."""
    a = event_server(count=45, allowed_log=["PVL00204"])
    sessions = launch_many(a, 40)
    for obj in sessions[10:]:
        assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200
    live = sessions[:10]
    with open(os.path.join(a.tmp, "run", "pvlaunch.state")) as f:
        records = f.read().splitlines()
    # 40 launches and 30 deletes are 110 records; a compaction rewrote them
    assert len(records) < 110, len(records)
    old = a.daemon_pid()
    os.kill(old, signal.SIGKILL)
    assert wait_until(lambda: "took over 10 running session(s); 0 had ended" in a.read_log(),
                      timeout=10), a.read_log()[-2000:]
    all_answer(a, live)
    for obj in sessions[10:]:
        assert a.json("GET", "/paraview/" + obj["id"])[0] == 404


def test_restart_without_the_module_stops_its_sessions(event_server):
    """a2dismod pvlaunch + reload: nobody claims the daemon any more, so it
    stops its apps instead of leaving them running unrouted."""
    # AH00488: Apache reaps the exited daemon, a child it no longer knows
    a = event_server(allowed_log=["PVL00052", "AH00488"])
    sessions = launch_many(a, 2)
    with open(a.conf) as f:
        conf = f.read()
    keep = [line for line in conf.splitlines()
            if "pvlaunch" not in line.lower() and not line.startswith("PVLaunch")
            and "pvsession" not in line and not line.startswith("RewriteRule ^/proxy$")]
    with open(a.conf, "w") as f:
        f.write("\n".join(keep) + "\n")
    assert a.signal("graceful").returncode == 0
    assert wait_until(lambda: "PVL00052" in a.read_log(), timeout=20), a.read_log()[-2000:]
    assert wait_until(lambda: not [p for p in procs_mentioning(a.tmp) if "fake_wslink" in p[2]],
                      timeout=10)
    assert all(port_is_free(s["port"]) for s in sessions)
    # the daemon itself is gone too (Apache reaps it, as any child)
    assert wait_until(lambda: a.daemon_pid() is None, timeout=5)
