"""Bad requests and failing apps: a JSON error with the status that says
what happened, and nothing left behind (process, port, map entry)."""

import apache_harness as H
from conftest import procs_mentioning
from test_020_launch import port_is_free


def app_procs(a):
    return [p for p in procs_mentioning(a.tmp) if "fake_wslink_app" in p[2]]


def fault_apps(tmp):
    def app(mode, *extra):
        return {"cmd": H.app_cmd(mode, *extra, tmp=tmp), "ready_line": "Starting factory"}
    return {
        "demo": app("ready"),
        "never": app("never"),
        "early": app("exit-early"),
        "missing": {"cmd": ["/nonexistent/pvpython", "$port"], "ready_line": "x"},
        "nowhere": {"cmd": ["no-such-program-on-path"], "ready_line": "x"},
    }


def assert_pool_whole(a, count):
    """Every port of the pool can be given out again, then freed."""
    ids = []
    for _ in range(count):
        status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
        assert status == 200, obj
        ids.append(obj["id"])
    assert a.json("POST", "/paraview", {"application": "demo"})[0] == 503
    for sid in ids:
        assert a.json("DELETE", "/paraview/" + sid)[0] == 200


def test_bad_requests(server):
    a = server(apps=fault_apps, count=3, extra_conf="PVLaunchMaxBody 1000")
    cases = [
        ("POST", "/paraview", "{not json", 400, "not valid JSON"),
        ("POST", "/paraview", "[1, 2]", 400, "JSON object"),
        ("POST", "/paraview", "", 400, "not valid JSON"),
        ("POST", "/paraview", {"user": "x"}, 400, "application"),
        ("POST", "/paraview", {"application": 5}, 400, "application"),
        ("POST", "/paraview", {"application": "nope"}, 400, '"nope"'),
        ("GET", "/paraview/unknownid", None, 404, "no session"),
        ("DELETE", "/paraview/unknownid", None, 404, "no session"),
        ("GET", "/paraview/..%2f..%2fetc%2fpasswd", None, 404, None),
        ("GET", "/paraview/a.b", None, 404, "no session"),
        ("GET", "/paraview/" + "a" * 65, None, 404, "no session"),
        ("GET", "/paraview/a/b", None, 404, None),
        ("POST", "/paraview", {"application": "demo", "pad": "x" * 2000}, 413, "larger"),
    ]
    for method, path, body, want, words in cases:
        status, obj, hdrs = a.json(method, path, body)
        assert status == want, (method, path, status, obj)
        if words:
            assert words in obj["error"], (method, path, obj)
            assert hdrs["Content-Type"] == "application/json"
    status, obj, hdrs = a.json("PUT", "/paraview", {"application": "demo"})
    assert status == 405 and hdrs["Allow"] == "POST" and "error" in obj
    status, obj, hdrs = a.json("PATCH", "/paraview/someid", {})
    assert status == 405 and hdrs["Allow"] == "GET, HEAD, DELETE"
    assert app_procs(a) == []
    assert_pool_whole(a, 3)


def test_limit_request_body_gives_413(event_server):
    a = event_server(extra_conf="<Location /paraview>\n LimitRequestBody 100\n</Location>")
    status, _, _ = a.request("POST", "/paraview", '{"application": "demo", "x": "%s"}' % ("y" * 200))
    assert status == 413


def test_never_ready_is_503_with_log_tail(server):
    a = server(apps=fault_apps, count=2, timeout=1, allowed_log=["PVL00022"])
    status, obj, _ = a.json("POST", "/paraview", {"application": "never"})
    assert status == 503, obj
    assert "timeout of 1 s" in obj["error"] and "starting..." in obj["error"]
    assert app_procs(a) == [] or _gone_soon(a)
    assert_pool_whole(a, 2)


def _gone_soon(a):
    from conftest import wait_until
    return wait_until(lambda: app_procs(a) == [], timeout=4)


def test_exit_before_ready_is_502(server):
    a = server(apps=fault_apps, count=2, allowed_log=["PVL00021"])
    status, obj, _ = a.json("POST", "/paraview", {"application": "early"})
    assert status == 502, obj
    assert "exit status 3" in obj["error"] and "fatal: cannot start" in obj["error"]
    assert app_procs(a) == []
    assert_pool_whole(a, 2)


def test_program_that_cannot_start_is_502(server):
    a = server(apps=fault_apps, count=2, allowed_log=["PVL00042"])
    for app in ("missing", "nowhere"):
        status, obj, _ = a.json("POST", "/paraview", {"application": app})
        assert status == 502, obj
        assert "could not be started" in obj["error"], obj
    assert_pool_whole(a, 2)


def test_no_free_resource_and_max_session_are_503(server):
    a = server(count=2)
    ids = [a.json("POST", "/paraview", {"application": "demo"})[1]["id"] for _ in range(2)]
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 503 and "resources" in obj["error"]
    a.json("DELETE", "/paraview/" + ids[0])
    assert a.json("POST", "/paraview", {"application": "demo"})[0] == 200

    def limit(cfg, tmp):
        cfg["max_session"] = 1
    b = server(count=5, mutate=limit)
    assert b.json("POST", "/paraview", {"application": "demo"})[0] == 200
    status, obj, _ = b.json("POST", "/paraview", {"application": "demo"})
    assert status == 503 and "maximum number of sessions (1)" in obj["error"]


def test_port_in_use_by_someone_else_is_skipped(event_server):
    import socket
    a = event_server(count=2)
    base = a.launcher["resources"][0]["port_range"][0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", base))
        s.listen()
        for _ in range(2):
            status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
            if status == 200:
                assert obj["port"] != base
        assert status == 503
    assert port_is_free(base)
