"""What a local user or a network client can reach: the control socket,
the files the launcher writes, and what goes into the error log."""
import os
import stat
import subprocess

import pytest

import apache_harness as H


def connect_as_nobody(path):
    """Connects to the control socket as user nobody, sends a create request
    and returns what comes back (or the error)."""
    code = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setgroups([]); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[1])\n"
        "    s.sendall(b'{\"op\":\"create\",\"l\":0,\"payload\":{\"application\":\"demo\"}}\\n')\n"
        "    print('answer:', s.recv(100))\n"
        "except OSError as e:\n"
        "    print('refused:', e.errno)\n")
    return subprocess.run([H.PYTHON, "-c", code, path], capture_output=True, text=True,
                          timeout=10).stdout


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
    assert "refused a control connection from uid 65534" in a.read_log()
    # nothing was started
    assert not [p for p in os.listdir(os.path.join(a.tmp, "logs")) if p.endswith(".log")]


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
