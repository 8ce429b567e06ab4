"""What a local user or a network client can reach: the control socket,
the files the launcher writes, and what goes into the error log."""
import json
import os
import pwd
import stat
import subprocess

import pytest

import apache_harness as H
from conftest import wait_until


def connect_as(path, uid=65534, gid=65534, op='{"op":"create","l":0,"payload":{"application":"demo"}}'):
    """Connects to the control socket as another user (nobody by default),
    sends a request and returns what comes back (or the error)."""
    code = (
        "import os, socket, sys\n"
        "os.setgid(int(sys.argv[3])); os.setgroups([]); os.setuid(int(sys.argv[2]))\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[1])\n"
        "    s.sendall(sys.argv[4].encode() + b'\\n')\n"
        "    print('answer:', s.recv(100))\n"
        "except OSError as e:\n"
        "    print('refused:', e.errno)\n")
    return subprocess.run([H.PYTHON, "-c", code, path, str(uid), str(gid), op],
                          capture_output=True, text=True, timeout=10).stdout


def connect_as_nobody(path):
    return connect_as(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another local user needs root")
def test_control_socket_refuses_other_users(event_server):
    a = event_server(allowed_log=["PVL00040"])
    sock = os.path.join(a.tmp, "run", "pvlaunch.sock")
    st = os.stat(sock)
    assert stat.S_IMODE(st.st_mode) == 0o600
    # first line of defence: the socket's permissions
    assert connect_as_nobody(sock).startswith("refused: 13")
    # second: the daemon checks the peer's credentials
    os.chmod(sock, 0o666)
    out = connect_as_nobody(sock)
    assert out.startswith("answer: b''") or out.startswith("refused"), out
    assert "refused a control connection from a process of another user" in a.read_log()
    assert "uid 65534)" in a.read_log()
    # nothing was started
    assert not [p for p in os.listdir(os.path.join(a.tmp, "logs")) if p.endswith(".log")]


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another local user needs root")
def test_apps_cannot_drive_the_daemon(event_server):
    """A process of Apache's User outside Apache (an app run with
    PVLaunchUser www-data, a CGI script) does not open the control socket
    with that uid alone: the peer must be one of Apache's children. It can
    neither list the sessions, read a secret nor stop one."""
    a = event_server(allowed_log=["PVL00040"])
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    sock = os.path.join(a.tmp, "run", "pvlaunch.sock")
    www = pwd.getpwnam("www-data")
    for op in ('{"op":"list","l":0}', '{"op":"get","l":0,"id":"%s"}' % obj["id"],
               '{"op":"delete","l":0,"id":"%s"}' % obj["id"]):
        out = connect_as(sock, www.pw_uid, www.pw_gid, op)
        # closed unanswered: at once (broken pipe, reset) or after the send
        assert out.startswith("answer: b''") or out.startswith("refused: "), (op, out)
        assert obj["secret"] not in out
    assert "a process of Apache's user that is not one of Apache's children" in a.read_log()
    # Apache's children still use it: the session is there and answers
    status, got, _ = a.json("GET", "/paraview/" + obj["id"])
    assert status == 200 and got == obj
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200


def test_files_are_private_and_secrets_stay_out_of_logs(server):
    a = server()
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo", "user": "x"})
    assert status == 200
    logs = os.path.join(a.tmp, "logs")
    assert stat.S_IMODE(os.stat(logs).st_mode) & 0o007 == 0
    assert stat.S_IMODE(os.stat(os.path.join(logs, obj["id"] + ".log")).st_mode) & 0o007 == 0
    state = os.path.join(a.tmp, "run", "pvlaunch.state")
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200
    assert obj["secret"] not in a.read_log()


def test_map_only_routes_to_configured_resources(event_server):
    """Whatever a client puts in the request, the route is the host:port the
    launcher gave out from its resources."""
    a = event_server()
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo", "host": "evil.example",
                                                  "port": 1})
    assert status == 200
    with open(os.path.join(a.tmp, "proxy.txt")) as f:
        route = f.read().split()[1]
    lo, hi = a.launcher["resources"][0]["port_range"]
    host, port = route.split(":")
    assert host == "127.0.0.1" and lo <= int(port) <= hi
    # unknown, malformed or path-like ids route nowhere
    import wslink_client
    for sid in ("nosuch", "..%2f..", "a" * 65):
        assert wslink_client.connect_status(
            "ws://127.0.0.1:%d/proxy?sessionId=%s" % (a.port, sid)) == 404


def test_secret_on_get_off_keeps_the_secret_to_the_post(event_server):
    """PVLaunchSecretOnGet Off: whoever learns an id (it travels in the
    websocket URL, into access logs) cannot read the secret with GET; the
    POST that created the session is the only answer that carries it."""
    a = event_server(extra_conf="PVLaunchSecretOnGet Off\nPVLaunchQueue 5 30")
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200 and obj["secret"]
    status, got, _ = a.json("GET", "/paraview/" + obj["id"])
    assert status == 200 and "secret" not in got
    assert got == {k: v for k, v in obj.items() if k != "secret"}
    # a seed 004 launch resource, rendered by the daemon: the same
    status, hdrs, data = a.request("POST", "/paraview", {"application": "demo"},
                                   {"Prefer": "respond-async"})
    assert status == 202
    loc = hdrs["Content-Location"]
    assert wait_until(lambda: a.json("GET", loc)[1].get("sessionURL"), timeout=10)
    status, launch, _ = a.json("GET", loc)
    assert status == 200 and "secret" not in launch and launch["sessionURL"]
    for path in ("/paraview/" + obj["id"], loc):
        assert a.json("DELETE", path)[0] == 200
