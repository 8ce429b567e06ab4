"""Apache's parent dies without stopping (kill -9, the OOM killer, a crash).
Its children exit with it, so that a new Apache can bind at once; the
session daemon keeps the sessions for PVLaunchClaimWindow, and the next
Apache started with the same configuration takes them over. If none comes,
the sessions stop when the window ends. A child whose daemon is gone
answers 503 at once, never hangs."""
import os
import signal

import pytest

import wslink_client
from conftest import procs_mentioning, wait_until
from test_020_launch import port_is_free, ws_url
from test_050_restarts import all_answer, app_pids, launch_many, settle


def state(pid):
    """A process's state letter, None once it is gone (a zombie is gone
    for our purpose: it runs nothing and holds no socket)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    return None if s in ("Z", "X") else s


def alive(pid):
    return state(pid) is not None


def kill_parent(a):
    """SIGKILL to Apache's parent; returns its children and its daemon."""
    daemon = wait_until(a.daemon_pid, timeout=5)
    children = wait_until(a.child_pids, timeout=5)
    assert children and daemon
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait()
    return children, daemon


# AH00098: the new Apache finds the dead one's pid file.
CLAIM_LOG = ["PVL00053", "AH00098"]


def test_killed_parent_hands_the_sessions_to_the_next_apache(server):
    a = server(count=10, extra_conf="PVLaunchClaimWindow 60", allowed_log=CLAIM_LOG)
    sessions = launch_many(a, 5)
    apps = app_pids(a, sessions)
    children, daemon = kill_parent(a)
    # The children die with their parent: nothing is left listening on the
    # port, and nothing answers requests without a daemon behind it.
    assert wait_until(lambda: not any(alive(p) for p in children), timeout=5), \
        [(p, state(p)) for p in children]
    assert wait_until(lambda: "PVL00053" in a.read_log(), timeout=5), a.read_log()[-2000:]
    assert "keeping 5 session(s) for 60 s" in a.read_log()
    assert alive(daemon) and all(alive(p) for p in apps.values())

    a.start()  # the same configuration, as systemd's Restart=on-abort would
    settle(a)
    assert "took over 5 session(s) kept since Apache's previous parent died" in a.read_log()
    assert "a new Apache claimed 5 session(s)" in a.read_log()
    assert wait_until(lambda: not alive(daemon), timeout=5)
    new = a.daemon_pid()
    assert new and new != daemon
    # the very same processes, routed and answering as before
    assert app_pids(a, sessions) == apps
    all_answer(a, sessions)
    # and supervised by the new daemon: DELETE stops one, its port is free
    gone = sessions.pop()
    assert a.json("DELETE", "/paraview/" + gone["id"])[0] == 200
    assert wait_until(lambda: not alive(apps[gone["id"]]), timeout=5)
    assert port_is_free(gone["port"])
    all_answer(a, sessions)


@pytest.mark.parametrize("window", [0, 1])
def test_sessions_stop_when_nobody_claims_them(event_server, window):
    a = event_server(count=5, extra_conf="PVLaunchClaimWindow %d" % window,
                     allowed_log=["PVL00047", "PVL00053", "PVL00055"])
    sessions = launch_many(a, 2)
    apps = app_pids(a, sessions)
    _, daemon = kill_parent(a)
    said = "PVL00047" if window == 0 else "PVL00055"
    assert wait_until(lambda: said in a.read_log(), timeout=10), a.read_log()[-2000:]
    assert wait_until(lambda: not alive(daemon) and not any(alive(p) for p in apps.values()),
                      timeout=10)
    assert all(port_is_free(s["port"]) for s in sessions)
    # nothing is left for a later Apache to adopt
    assert not os.path.exists(os.path.join(a.tmp, "run", "pvlaunch.state"))
    assert not procs_mentioning(a.tmp)


def send_claim(a, uid=None):
    """Sends the claim op as Apache's parent would (as root, the daemon's
    user), or as `uid` (Apache's children's user); returns the raw answer."""
    import socket
    import subprocess
    import sys
    code = ("import os, socket, sys\n"
            "uid = int(sys.argv[2])\n"
            "if uid >= 0: os.setuid(uid)\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            "s.settimeout(5)\n"
            "s.connect(sys.argv[1])\n"
            "data = b''\n"
            "try:\n"
            "    s.sendall(b'{\"op\":\"claim\"}\\n')\n"
            "    while True:\n"
            "        chunk = s.recv(4096)\n"
            "        if not chunk: break\n"
            "        data += chunk\n"
            "except OSError:\n"
            "    pass\n"
            "sys.stdout.write(data.decode())\n")
    out = subprocess.run([sys.executable, "-c", code, os.path.join(a.tmp, "run", "pvlaunch.sock"),
                          str(-1 if uid is None else uid)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_running_apache_keeps_its_daemon(event_server):
    """Only a daemon whose parent is gone can be claimed: another Apache on
    the same runtime directory is refused, and so is anything running as
    Apache's User (its children, or an app); the sessions stay."""
    a = event_server()
    sessions = launch_many(a, 1)
    out = send_claim(a)
    assert out.startswith("409 ") and "running Apache" in out, out
    if os.geteuid() == 0:
        # Apache's User outside Apache (an app): not even let in
        import pwd
        a.allowed_log.append("PVL00040")
        out = send_claim(a, pwd.getpwnam("www-data").pw_uid)
        assert out == "", out
        assert "PVL00040" in a.read_log()
    all_answer(a, sessions)
    assert a.daemon_pid()


def test_a_child_whose_daemon_is_gone_answers_503_at_once(event_server):
    # PVL00101: the child cannot reach the daemon; PVL00204: the parent
    # starts a new one once it runs again.
    a = event_server(allowed_log=["PVL00101", "PVL00204"])
    daemon = wait_until(a.daemon_pid, timeout=5)  # named just after its fork
    os.kill(a.proc.pid, signal.SIGSTOP)  # it cannot start a new daemon meanwhile
    try:
        os.kill(daemon, signal.SIGKILL)
        assert wait_until(lambda: not alive(daemon), timeout=5)
        # a client timeout far below any of the module's own: a hang fails
        status, obj, _ = a.json("POST", "/paraview", {"application": "demo"}, timeout=3)
        assert status == 503 and "error" in obj, (status, obj)
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)
    assert wait_until(lambda: a.daemon_pid() not in (None, daemon) and alive(a.daemon_pid()),
                      timeout=10)
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200, obj
    assert "result" in wslink_client.hello(ws_url(a, obj["id"]), obj["secret"])
