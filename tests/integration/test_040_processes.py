"""Process supervision: apps are unprivileged, isolated, reaped at once
when they die, killed with their whole group, and gone after a stop."""
import json
import os
import re
import signal
import time

import apache_harness as H
import wslink_client
from conftest import procs_mentioning, wait_until
from test_020_launch import port_is_free, ws_url


def mode_apps(tmp):
    def app(mode, *extra):
        return {"cmd": H.app_cmd(mode, *extra, tmp=tmp), "ready_line": "Starting factory"}
    return {
        "demo": app("ready"),
        "crash": app("crash-later", "--delay", "0.5"),
        "stubborn": app("ignore-term"),
        "parent": app("spawn-child"),
        "slow": app("slow", "--delay", "0.5"),
    }


def app_pid(a, sid):
    """The app of a live session: the fake app listening on its port."""
    status, obj, _ = a.json("GET", "/paraview/" + sid)
    for pid, state, cmd in procs_mentioning(a.tmp):
        if "--port %d " % obj["port"] in cmd + " " and "fake_wslink_app" in cmd:
            return pid
    return None


def test_app_isolation(server):
    a = server(apps=mode_apps)
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    pid = app_pid(a, obj["id"])
    assert pid
    with open("/proc/%d/status" % pid) as f:
        st = f.read()
    uid = int(re.search(r"Uid:\s+(\d+)", st).group(1))
    if os.geteuid() == 0:
        import pwd
        # A user of their own, never Apache's User (which could signal
        # Apache's processes).
        assert uid == pwd.getpwnam("pvlaunch").pw_uid != pwd.getpwnam("www-data").pw_uid
        groups = re.search(r"Groups:\s*(.*)", st).group(1).split()
        assert "0" not in groups
    assert uid != 0
    # nothing inherited: Apache's listeners, the daemon's socket, other logs
    with open(os.path.join(a.tmp, "logs", obj["id"] + ".log")) as f:
        assert "fds: [0, 1, 2]\n" in f.read()
    # own session and process group
    assert os.getpgid(pid) == pid and os.getsid(pid) == pid
    env = open("/proc/%d/environ" % pid, "rb").read().split(b"\0")
    names = sorted(e.split(b"=")[0].decode() for e in env if e)
    assert names == ["HOME", "PATH"], names


def test_crash_frees_map_entry_and_port_within_a_second(server):
    a = server(apps=mode_apps, allowed_log=["PVL00020"])
    status, obj, _ = a.json("POST", "/paraview", {"application": "crash"})
    assert status == 200
    with open(os.path.join(a.tmp, "proxy.txt")) as f:
        assert obj["id"] in f.read()
    # the app crashes 0.5 s after being ready; without any request, the
    # launcher notices and frees its map entry and port
    assert wait_until(lambda: open(os.path.join(a.tmp, "proxy.txt")).read() == "", timeout=2.5)
    assert port_is_free(obj["port"])
    assert a.json("GET", "/paraview/" + obj["id"])[0] == 404
    assert "killed by signal 11" in a.read_log()


def test_delete_kills_stubborn_app_and_its_group(server):
    a = server(apps=mode_apps, stop_timeout=1, allowed_log=["PVL00023"])
    status, obj, _ = a.json("POST", "/paraview", {"application": "stubborn"})
    assert status == 200
    pid = app_pid(a, obj["id"])
    t = time.time()
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200
    took = time.time() - t
    # SIGTERM was ignored for the whole grace period (1 s), then SIGKILL:
    # DELETE answers once the app is gone, within the grace plus one second.
    assert 0.9 <= took < 1 + 1, took
    assert not os.path.exists("/proc/%d" % pid)
    assert [p for p in procs_mentioning(a.tmp) if "fake_wslink_app" in p[2]] == []
    status, obj, _ = a.json("POST", "/paraview", {"application": "parent"})
    assert status == 200
    child = int(re.search(r"child pid (\d+)", open(
        os.path.join(a.tmp, "logs", obj["id"] + ".log")).read()).group(1))
    assert os.path.exists("/proc/%d" % child)
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200
    assert wait_until(lambda: not os.path.exists("/proc/%d" % child), timeout=2)


def test_stop_leaves_nothing(server):
    a = server(apps=mode_apps)
    for app in ("demo", "stubborn", "parent"):
        assert a.json("POST", "/paraview", {"application": app})[0] == 200
    assert len([p for p in procs_mentioning(a.tmp) if "fake_wslink_app" in p[2]]) >= 3
    a.stop()
    left = procs_mentioning(a.tmp)
    assert left == [], left
    assert not os.path.exists(os.path.join(a.tmp, "run", "pvlaunch.sock"))


def test_client_gone_during_launch_abandons_it(event_server):
    import socket
    a = event_server(apps=mode_apps)
    body = b'{"application": "slow"}'
    s = socket.create_connection(("127.0.0.1", a.port))
    s.sendall(b"POST /paraview HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
              % (len(body), body))
    time.sleep(0.2)
    s.close()
    # the slow app is stopped: nobody would ever learn its id
    assert wait_until(lambda: [p for p in procs_mentioning(a.tmp)
                               if "fake_wslink_app" in p[2]] == [], timeout=4)
    with open(os.path.join(a.tmp, "proxy.txt")) as f:
        assert f.read() == ""
    assert "abandoned" in a.read_log()


def test_client_gone_near_readiness_leaves_no_orphan(event_server):
    """The issue's attack: POSTs whose clients hang up around the moment the
    session becomes ready. A client that read its answer knows the id and
    stops the session itself; a session whose answer found its client gone
    is stopped by the launcher. Nothing else may stay routed."""
    import select
    import socket
    a = event_server(apps=mode_apps, count=60)
    body = b'{"application": "demo"}'
    # How long a launch of this app takes here, to hang up around it.
    times = []
    for _ in range(3):
        t0 = time.time()
        status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
        times.append(time.time() - t0)
        assert status == 200 and a.json("DELETE", "/paraview/" + obj["id"])[0] == 200
    typical = sorted(times)[1]
    known = []
    trace = []
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.sendall(b"POST /paraview HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(body), body))
        # From well before to just after the usual answer.
        hang_up_at = time.time() + typical * (0.75 + 0.012 * i)
        got = b""
        while time.time() < hang_up_at:
            ready, _, _ = select.select([s], [], [], max(0.0, hang_up_at - time.time()))
            if ready:
                got += s.recv(65536)
                if b"\r\n\r\n" in got and got.rstrip().endswith(b"}"):
                    break
        # What arrived by now is read: an answer that reached this socket
        # before it closes was delivered (the client knows the id).
        s.setblocking(False)
        try:
            while not (b"\r\n\r\n" in got and got.rstrip().endswith(b"}")):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except BlockingIOError:
            pass
        s.close()
        trace.append((i, round(time.time() - hang_up_at, 4), len(got)))
        if got:
            known.append(json.loads(got.split(b"\r\n\r\n", 1)[1])["id"])
    for sid in known:
        assert a.json("DELETE", "/paraview/" + sid)[0] == 200
    map_file = os.path.join(a.tmp, "proxy.txt")

    def routed():
        with open(map_file) as f:
            return f.read()
    left = wait_until(lambda: routed() == "", timeout=10) or routed().split()
    # (hang-up attempt, seconds past its time, bytes of answer read)
    assert left is True, "\n".join(
        ["left routed: %r" % (left,), "(attempt, s past hang-up, bytes read): %r" % (trace,)] +
        [line for line in a.read_log().splitlines() if left[0] in line])
    assert wait_until(lambda: [p for p in procs_mentioning(a.tmp)
                               if "fake_wslink_app" in p[2]] == [], timeout=10)


def test_graceful_restart_leaves_a_working_launcher(server):
    a = server(apps=mode_apps)
    assert a.json("POST", "/paraview", {"application": "demo"})[0] == 200
    assert a.signal("graceful").returncode == 0
    # every app that still runs belongs to a session the launcher knows
    def settled():
        try:
            status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
        except OSError:
            return None
        return obj if status == 200 else None
    obj = wait_until(settled, timeout=10)
    assert obj, a.read_log()
    assert "result" in wslink_client.hello(ws_url(a, obj["id"]), obj["secret"])
    running = [p for p in procs_mentioning(a.tmp) if "fake_wslink_app" in p[2]]
    with open(os.path.join(a.tmp, "proxy.txt")) as f:
        routed = f.read().splitlines()
    assert len(running) == len(routed), (running, routed)


def test_apps_run_as_the_user_the_config_names(event_server):
    import pwd
    if os.geteuid() != 0:
        # Without root there is no other user to switch to; the apps run as
        # Apache's own (unprivileged) user, which test_app_isolation checks.
        user = pwd.getpwuid(os.geteuid()).pw_name
    else:
        user = "nobody"
    a = event_server(apps=mode_apps, extra_conf="PVLaunchUser %s nogroup" % user
                     if os.geteuid() == 0 else "")
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    pid = app_pid(a, obj["id"])
    with open("/proc/%d/status" % pid) as f:
        uid = int(re.search(r"Uid:\s+(\d+)", f.read()).group(1))
    assert uid == pwd.getpwnam(user).pw_uid


def test_root_as_app_user_is_refused(event_server):
    if os.geteuid() != 0:
        import pytest
        pytest.skip("only a root Apache can be asked to run apps as root")
    a = event_server(start=False, extra_conf="PVLaunchUser root")
    try:
        a.start(timeout=5)
        started = True
    except RuntimeError as e:
        started = False
        assert "applications would run as root" in str(e)
    assert not started
    a.allowed_log.append("PVL00208")


def test_stop_with_a_stuck_daemon_leaves_nothing(server):
    """The daemon hangs (SIGSTOP) and Apache stops: the daemon is killed
    after the grace, and the apps its journal lists are killed too."""
    a = server(apps=mode_apps, stop_timeout=1,
               allowed_log=["PVL00206", "PVL00219"])
    for _ in range(2):
        assert a.json("POST", "/paraview", {"application": "demo"})[0] == 200
    daemon = a.daemon_pid()
    os.kill(daemon, signal.SIGSTOP)
    a.stop()
    assert "PVL00219" in a.read_log()
    assert wait_until(lambda: procs_mentioning(a.tmp) == [], timeout=5), procs_mentioning(a.tmp)
    assert not os.path.exists(os.path.join(a.tmp, "run", "pvlaunch.state"))


def test_apache_user_for_apps_only_when_said(event_server):
    """Apps as Apache's User only with PVLaunchUser saying so (a notice), and
    a missing pvlaunch user stops Apache rather than fall back to it."""
    import pwd
    import subprocess
    import pytest
    if os.geteuid() != 0:
        pytest.skip("only a root Apache switches users")
    a = event_server(extra_conf="PVLaunchUser www-data")
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    with open("/proc/%d/status" % app_pid(a, obj["id"])) as f:
        uid = int(re.search(r"Uid:\s+(\d+)", f.read()).group(1))
    assert uid == pwd.getpwnam("www-data").pw_uid
    assert "PVL00227" in a.read_log()
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200

    # The same machine without the pvlaunch user (a private /etc/passwd).
    b = event_server(start=False, allowed_log=["PVL00226"])
    passwd = os.path.join(b.tmp, "passwd")
    with open("/etc/passwd") as src, open(passwd, "w") as dst:
        dst.writelines(line for line in src if not line.startswith("pvlaunch:"))
    out = subprocess.run(["unshare", "-m", "sh", "-c",
                          'mount --bind "$0" /etc/passwd && exec "$1" -f "$2" -DFOREGROUND',
                          passwd, H.APACHE, b.conf],
                         capture_output=True, text=True, timeout=30, env=H.apache_env())
    assert out.returncode != 0
    log = b.read_log()
    assert "PVL00226" in log and "adduser --system" in log and "PVLaunchUser www-data" in log, log
