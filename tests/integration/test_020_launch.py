"""The launcher REST API on the happy path: POST, GET, DELETE, the
websocket route through int:pvsession, templates and sanitize."""
import grp
import os
import re
import socket
import stat

import apache_harness as H
import wslink_client
from conftest import procs_mentioning, wait_until

TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,}$")


def port_is_free(port):
    """Free as the next app sees it: bindable with SO_REUSEADDR (sockets in
    TIME_WAIT from closed websockets do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def ws_url(a, sid):
    return "ws://127.0.0.1:%d/proxy?sessionId=%s" % (a.port, sid)


def log_of(a, sid):
    with open(os.path.join(a.tmp, "logs", sid + ".log")) as f:
        return f.read()


def test_post_get_delete_and_websocket(server):
    a = server()
    payload = {"sessionManagerURL": "http://x/paraview", "application": "demo",
               "node": 1024, "user": "seb"}
    status, obj, hdrs = a.json("POST", "/paraview", payload, {"Content-Type": "text/plain"})
    assert status == 200, obj
    assert hdrs["Content-Type"] == "application/json"
    for k, v in payload.items():
        assert obj[k] == v
    assert TOKEN.match(obj["id"]) and TOKEN.match(obj["secret"])
    assert obj["sessionURL"] == ws_url(a, obj["id"])
    assert obj["host"] == "127.0.0.1" and isinstance(obj["port"], int)

    # the websocket reaches this session's app, which accepts the secret
    reply = wslink_client.hello(ws_url(a, obj["id"]), obj["secret"])
    assert reply["result"]["clientID"].startswith("c"), reply
    bad = wslink_client.hello(ws_url(a, obj["id"]), "wrong")
    assert bad["error"]["code"] == -32000
    assert wslink_client.connect_status(ws_url(a, "nosuchsession")) == 404

    # the map file for txt: RewriteMaps, which only Apache may read: an id
    # is the key to the session's secret
    with open(os.path.join(a.tmp, "proxy.txt")) as f:
        assert f.read() == "%s 127.0.0.1:%d\n" % (obj["id"], obj["port"])
    st = os.stat(os.path.join(a.tmp, "proxy.txt"))
    assert stat.S_IMODE(st.st_mode) == 0o640, oct(st.st_mode)
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (0, grp.getgrnam("www-data").gr_gid)

    status, got, _ = a.json("GET", "/paraview/" + obj["id"])
    assert status == 200 and got == obj
    status, head, data = a.request("HEAD", "/paraview/" + obj["id"])
    assert status == 200 and data == b""

    status, deleted, _ = a.json("DELETE", "/paraview/" + obj["id"])
    assert status == 200 and deleted == obj
    # when DELETE answers, the process is gone and its port is free
    assert not [p for p in procs_mentioning(a.tmp) if "fake_wslink_app" in p[2]]
    assert port_is_free(obj["port"])
    assert a.json("GET", "/paraview/" + obj["id"])[0] == 404
    assert wslink_client.connect_status(ws_url(a, obj["id"])) == 404
    with open(os.path.join(a.tmp, "proxy.txt")) as f:
        assert f.read() == ""


def test_trailing_slash_and_distinct_ids(event_server):
    a = event_server()
    s1, o1, _ = a.json("POST", "/paraview/", {"application": "demo"})
    s2, o2, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert s1 == s2 == 200
    assert o1["id"] != o2["id"] and o1["secret"] != o2["secret"] and o1["port"] != o2["port"]
    assert a.json("GET", "/paraview/%s/" % o1["id"])[0] == 200
    # each websocket goes to its own session's app
    r1 = wslink_client.call(ws_url(a, o1["id"]), o1["secret"], "demo.whoami", [])
    r2 = wslink_client.call(ws_url(a, o2["id"]), o2["secret"], "demo.whoami", [])
    assert r1["result"]["port"] == o1["port"] and r2["result"]["port"] == o2["port"]


def templated_apps(tmp):
    cmd = H.app_cmd("ready", tmp=tmp) + ["--tag", "$login:${data_dir}:$$:${application}:$id"]
    return {
        "demo": {"cmd": cmd, "ready_line": "Starting factory", "dir": tmp,
                 "env": {"PVTEST": "env-$login"}},
    }


def add_properties(cfg, tmp):
    cfg["properties"] = {"data_dir": "/srv/data"}
    cfg["configuration"]["sanitize"] = {
        "login": {"type": "regexp", "regexp": "[a-z]+", "default": "guest"},
        "color": {"type": "inList", "list": ["red", "blue"], "default": "red"},
    }
    cfg["sessionData"] = {"updir": "/home/$login", "constant": 7}


def test_templates_properties_and_sanitize(server):
    # "[a-z]+" is not anchored at its end: wslink would differ (PVL00302)
    a = server(apps=templated_apps, mutate=add_properties, allowed_log=["PVL00302"])
    # payload tries to override a property and a server key
    payload = {"application": "demo", "login": "alice", "data_dir": "/etc", "port": 1,
               "color": "green"}
    status, obj, _ = a.json("POST", "/paraview", payload)
    assert status == 200, obj
    log = log_of(a, obj["id"])
    assert '"alice:/srv/data:$:demo:%s"' % obj["id"] in log
    assert '"--port", "%d"' % obj["port"] in log
    assert "cwd: " + a.tmp in log
    assert "env PVTEST=env-alice" in log
    assert obj["color"] == "red"  # rejected by inList: the default
    assert obj["updir"] == "/home/alice" and obj["constant"] == 7
    # a regexp is anchored on the whole value: "alice1" is not [a-z]+
    status, obj2, _ = a.json("POST", "/paraview", {"application": "demo", "login": "alice1"})
    assert status == 200 and obj2["login"] == "guest"
    assert '"guest:/srv/data' in log_of(a, obj2["id"])


def test_client_secret_is_used(event_server):
    a = event_server()
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo",
                                                  "secret": "katglrt54#%dfg"})
    assert status == 200 and obj["secret"] == "katglrt54#%dfg"
    reply = wslink_client.hello(ws_url(a, obj["id"]), "katglrt54#%dfg")
    assert "result" in reply


def test_sessions_visible_from_every_child(server):
    a = server(extra_conf='LogFormat "%P %m %U" pids\nCustomLog access.log pids')
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    for _ in range(30):  # a new connection each time: spread over the children
        assert a.json("GET", "/paraview/" + obj["id"])[0] == 200
        assert wslink_client.connect_status(ws_url(a, obj["id"])) == 101
    with open(os.path.join(a.tmp, "access.log")) as f:
        pids = {line.split()[0] for line in f if "GET" in line}
    assert len(pids) >= 2, pids


def test_killing_a_child_keeps_sessions(server):
    a = server()
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    for pid in a.child_pids():
        os.kill(pid, 9)
    a.allowed_log += ["AH00052", "AH10392"]  # Apache reports the killed children

    def answers():
        try:
            return a.json("GET", "/paraview/" + obj["id"])[0] == 200
        except OSError:  # a connection to a dying child
            return False
    assert wait_until(answers, timeout=10)
    assert "result" in wslink_client.hello(ws_url(a, obj["id"]), obj["secret"])
