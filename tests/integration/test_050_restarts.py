"""Sessions survive Apache's restarts and a killed session daemon: the next
daemon takes the running apps over from the persisted table."""
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


def test_sessions_survive_graceful_and_hard_restart(server):
    a = server(count=SESSIONS + 10)
    a.allowed_log += ["AH00052"]
    sessions = launch_many(a)
    for kind in ("graceful", "restart"):
        assert a.signal(kind).returncode == 0
        time.sleep(0.5)
        settle(a)
        all_answer(a, sessions)
        status, new, _ = a.json("POST", "/paraview", {"application": "demo"})
        assert status == 200, new
        assert new["port"] not in {s["port"] for s in sessions}
        assert a.json("DELETE", "/paraview/" + new["id"])[0] == 200
    assert "took over %d running session(s)" % SESSIONS in a.read_log()
    # a stop after restarts still leaves nothing (checked at teardown too)
    a.stop()
    assert [p for p in procs_mentioning(a.tmp) if p[1] != "Z"] == []


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
