"""A drop-in for sites that run wslink's launcher: their clients, launcher
configs and Apache rules keep working (issue 10)."""
import json
import os
import re
import shutil

import apache_harness as H
import wslink_client
from conftest import procs_mentioning, wait_until

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def ws_url(a, sid, extra=""):
    return "ws://127.0.0.1:%d/proxy?sessionId=%s%s" % (a.port, sid, extra)


def log_of(a, sid):
    with open(os.path.join(a.tmp, "logs", sid + ".log")) as f:
        return f.read()


def test_ids_survive_lowercasing(server):
    """trame's client lower-cases the whole sessionURL; other clients may
    upper-case an id. Every form finds the session."""
    a = server()
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200, obj
    sid = obj["id"]
    assert HEX_ID.match(sid), sid
    # what trame's client connects to: "?sessionid=" too (the documented
    # RewriteCond has [NC], as trame's own rules do)
    reply = wslink_client.hello(obj["sessionURL"].lower(), obj["secret"])
    assert "result" in reply, reply
    upper = sid.upper()
    reply = wslink_client.hello(ws_url(a, upper), obj["secret"])
    assert "result" in reply, reply
    status, got, _ = a.json("GET", "/paraview/" + upper)
    assert status == 200 and got["id"] == sid
    mixed = sid[:16].upper() + sid[16:]
    status, deleted, _ = a.json("DELETE", "/paraview/" + mixed)
    assert status == 200 and deleted["id"] == sid
    assert a.json("GET", "/paraview/" + sid)[0] == 404
    assert wslink_client.connect_status(ws_url(a, upper)) == 404


def fixed_secret_apps(tmp):
    """An app that keeps wslink's default secret, as ParaView's own
    test_server.py does, and one that takes ${secret}."""
    fixed = H.app_cmd("ready", tmp=tmp)
    fixed[fixed.index("${secret}")] = "wslink-secret"
    return {
        "fixed": {"cmd": fixed, "ready_line": "Starting factory"},
        "demo": {"cmd": H.app_cmd("ready", tmp=tmp), "ready_line": "Starting factory"},
    }


def test_secret_only_when_the_app_takes_one(event_server):
    a = event_server(apps=fixed_secret_apps)
    status, obj, _ = a.json("POST", "/paraview", {"application": "fixed"})
    assert status == 200, obj
    assert "secret" not in obj
    assert "secret" not in a.json("GET", "/paraview/" + obj["id"])[1]
    # SmartConnect then says hello with its default, which the app accepts
    reply = wslink_client.hello(obj["sessionURL"], obj.get("secret", "wslink-secret"))
    assert "result" in reply, reply

    # an app whose command uses ${secret} gets a fresh one, and is told it
    status, obj2, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200 and len(obj2["secret"]) >= 22
    assert "result" in wslink_client.hello(obj2["sessionURL"], obj2["secret"])
    assert wslink_client.hello(obj2["sessionURL"], "wslink-secret")["error"]["code"] == -32000

    # a client-sent secret still wins, for both
    status, obj3, _ = a.json("POST", "/paraview", {"application": "demo", "secret": "Mine-123"})
    assert status == 200 and obj3["secret"] == "Mine-123"
    assert "result" in wslink_client.hello(obj3["sessionURL"], "Mine-123")
    status, obj4, _ = a.json("POST", "/paraview", {"application": "fixed", "secret": "Mine-456"})
    assert status == 200 and obj4["secret"] == "Mine-456"


def optional_key_apps(tmp):
    cmd = H.app_cmd("ready", tmp=tmp) + ["--tag", "${fileToLoad}|$other"]
    return {"viz": {"cmd": cmd, "ready_line": "Starting factory"}}


def test_unknown_variable_is_left_as_written(server):
    """As wslink's safe_substitute: the ParaView visualizer's optional
    ${fileToLoad} stays as written, the app starts, and the operator is told."""
    a = server(apps=optional_key_apps, allowed_log=["PVL00066"])
    status, obj, _ = a.json("POST", "/paraview", {"application": "viz"})
    assert status == 200, obj
    assert '"${fileToLoad}|$other"' in log_of(a, obj["id"])
    reply = wslink_client.call(obj["sessionURL"], obj["secret"], "demo.echo", ["x"])
    assert reply["result"]["session"] == "${fileToLoad}|$other"
    warnings = [line for line in a.read_log().splitlines() if "PVL00066" in line]
    assert len(warnings) == 2, warnings
    assert "[pvlaunch:warn]" in warnings[0] and obj["id"] in warnings[0]
    assert "fileToLoad" in warnings[0] and "other" in warnings[1]

    # given, they are substituted and nothing more is logged
    status, obj2, _ = a.json("POST", "/paraview", {"application": "viz", "fileToLoad": "a.vtk",
                                                   "other": 3})
    assert status == 200
    assert '"a.vtk|3"' in log_of(a, obj2["id"])
    assert len([line for line in a.read_log().splitlines() if "PVL00066" in line]) == 2


def test_form_interface_still_requires_every_parameter(event_server):
    """Seed 004's form and header interface names the service's parameters:
    a missing one is still a 400, and nothing runs."""
    a = event_server(apps=optional_key_apps)
    status, obj, _ = a.json("POST", "/paraview?id=viz", "other=1",
                            {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and "fileToLoad" in obj["error"], obj
    status, obj, _ = a.json("POST", "/paraview?id=viz", None, {"other": "1"})
    assert status == 400 and "fileToLoad" in obj["error"], obj
    assert not [p for p in procs_mentioning(a.tmp) if "fake_wslink_app" in p[2]]
    status, obj, _ = a.json("POST", "/paraview?id=viz", "other=1&fileToLoad=b.vtk",
                            {"Content-Type": "application/x-www-form-urlencoded"})
    assert status in (200, 202), obj


def unknown_keys(cfg, tmp):
    cfg["apps"]["demo"]["description"] = "a key of some other launcher"
    cfg["resources"][0]["weight"] = 2
    cfg["configuration"]["upload_dirs"] = []
    cfg["site"] = "x"


def test_unknown_keys_at_any_level_are_warnings(event_server):
    """wslink ignores keys it does not know: Apache starts, and the operator
    is told on the console of apachectl -t and in the error log."""
    expected = ['application "demo" has an unknown key "description"',
                'resources[0] has an unknown key "weight"',
                'configuration has an unknown key "upload_dirs"',
                'unknown top-level key "site"']
    a = event_server(mutate=unknown_keys, start=False, allowed_log=["PVL00302"])
    r = a.configtest()
    assert r.returncode == 0, r.stderr
    for text in expected:
        line = [x for x in r.stderr.splitlines() if text in x]
        assert line and "PVL00302" in line[0] and a.launcher_path in line[0], (text, r.stderr)
    a.start()
    log = [x for x in a.read_log().splitlines() if "PVL00302" in x]
    for text in expected:
        assert [x for x in log if text in x and "[pvlaunch:warn]" in x], (text, log)
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200, obj


def env_apps(tmp):
    cmd = H.app_cmd("ready", tmp=tmp) + [
        "--show-env", "PVL_PASSED", "--show-env", "PVL_BOTH", "--show-env", "PVL_NOT_PASSED",
        "--show-env", "PVL_UNSET"]
    return {"demo": {"cmd": cmd, "ready_line": "Starting factory",
                     "env": {"PVL_BOTH": "from-the-app"}}}


def test_apps_start_like_wslinks(event_server, monkeypatch):
    """In the launcher config's directory, with the variables PVLaunchPassEnv
    names from Apache's environment (the app's env wins), and nothing else."""
    monkeypatch.setenv("PVL_PASSED", "from-apache")
    monkeypatch.setenv("PVL_BOTH", "from-apache")
    monkeypatch.setenv("PVL_NOT_PASSED", "secret-of-apache")
    a = event_server(apps=env_apps, allowed_log=["PVL00303"],
                     extra_conf="PVLaunchPassEnv PVL_PASSED PVL_BOTH\n"
                                "PVLaunchPassEnv PVL_UNSET")
    warned = [x for x in a.read_log().splitlines() if "PVL00303" in x]
    assert warned and "PVL_UNSET" in warned[0] and "httpd.conf" in warned[0], warned
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200, obj
    log = log_of(a, obj["id"])
    assert "cwd: %s\n" % os.path.dirname(a.launcher_path) in log
    assert "env PVL_PASSED=from-apache\n" in log
    assert "env PVL_BOTH=from-the-app\n" in log
    assert "env PVL_NOT_PASSED=<unset>\n" in log
    assert "env PVL_UNSET=<unset>\n" in log


def test_apps_get_every_group_of_their_user(event_server):
    """GPU rendering needs the render/video groups: apps get all the groups
    of the user they run as, not its primary group only."""
    import grp
    import pwd
    import subprocess
    import uuid
    if os.geteuid() != 0:
        import pytest
        pytest.skip("only a root Apache switches apps to another user")
    tag = "pvl" + uuid.uuid4().hex[:8]
    subprocess.run(["groupadd", "--system", tag + "g"], check=True)
    try:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "-G", tag + "g", tag], check=True)
        try:
            a = event_server(extra_conf="PVLaunchUser %s" % tag)
            status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
            assert status == 200, obj
            line = [x for x in log_of(a, obj["id"]).splitlines() if x.startswith("groups: ")]
            groups = set(int(g) for g in line[0][len("groups: "):].strip("[]").split(",") if g)
            assert grp.getgrnam(tag + "g").gr_gid in groups, groups
            assert pwd.getpwnam(tag).pw_gid in groups, groups
            assert 0 not in groups  # none of root's (the daemon's) groups
            assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200
        finally:
            subprocess.run(["userdel", tag], check=False)
    finally:
        subprocess.run(["groupdel", tag + "g"], check=False)


def no_ready_line_apps(tmp):
    return {
        # listens only after 1.5 s, and never prints anything we wait for
        "slow": {"cmd": H.app_cmd("slow", "--delay", "1.5", tmp=tmp)},
        "never": {"cmd": H.app_cmd("never", tmp=tmp)},
    }


def test_ready_without_ready_line_means_listening(server):
    """An app without ready_line is answered once its port accepts a
    connection, not the moment it is spawned."""
    a = server(apps=no_ready_line_apps, timeout=4, allowed_log=["PVL00022"])
    status, obj, _ = a.json("POST", "/paraview", {"application": "slow"})
    assert status == 200, obj
    # at once, with no retry: the app is there
    reply = wslink_client.hello(obj["sessionURL"], obj["secret"], timeout=2)
    assert "result" in reply, reply
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200

    # an app that never listens gets 503 after the timeout, and is stopped
    status, obj, _ = a.json("POST", "/paraview", {"application": "never"})
    assert status == 503, obj
    assert "did not accept connections on 127.0.0.1:" in obj["error"], obj
    assert wait_until(lambda: not [p for p in procs_mentioning(a.tmp)
                                   if "fake_wslink_app" in p[2]])


TRAME = os.path.join(H.REPO, "conf", "trame")


def trame_site(name):
    """trame's files as shipped in conf/trame/, changed only in paths and
    ports (and the app: our stand-in prints trame's "App running at")."""
    def make(tmp, port):
        base = H.free_port_range(10)
        deploy, opt = os.path.join(tmp, "deploy"), os.path.join(tmp, "opt")
        for d in ("deploy/server/www", "deploy/server/logs/apache",
                  "deploy/server/logs/launcher", "opt/trame"):
            os.makedirs(os.path.join(tmp, d), exist_ok=True)
        with open(os.path.join(TRAME, "launcher.json")) as f:
            launcher = f.read()
        launcher = launcher.replace('"port": 9000', '"port": %d' % port)
        launcher = launcher.replace("9001,", "%d," % base).replace("9500", str(base + 9))
        launcher = launcher.replace("/deploy", deploy).replace("/opt", opt)
        cmd = json.dumps(H.app_cmd("ready", "--trame", tmp=tmp))
        launcher = re.sub(r'"cmd": \[[^\]]*\]', '"cmd": ' + cmd, launcher)
        with open(os.path.join(deploy, "server", "launcher.json"), "w") as f:
            f.write(launcher)
        with open(os.path.join(TRAME, name)) as f:
            site = f.read()
        return site.replace("*:80", "*:%d" % port).replace("/deploy", deploy).replace(
            "/opt", opt)
    return make


def trame_session(a):
    """What trame's client does: POST to /paraview/, take sessionURL with
    USE_HOST set to the page's host, lower-case it all, say hello."""
    status, obj, _ = a.json("POST", "/paraview/", {"application": "trame"})
    assert status == 200, obj
    url = obj["sessionURL"].replace("USE_HOST", "127.0.0.1:%d" % a.port).lower()
    assert url.endswith("&path=ws"), url
    reply = wslink_client.hello(url, obj["secret"])
    assert "result" in reply, reply
    return obj, url


def vhost_errors(a):
    path = os.path.join(a.tmp, "deploy", "server", "logs", "apache", "error.log")
    with open(path) as f:
        return [x for x in f.read().splitlines() if H.BAD_LEVEL.search(x)]


def check_trame_site(a):
    obj, url = trame_session(a)
    # HTTP to the app through /api/<id>/...
    status, got, _ = a.json("GET", "/api/%s/status" % obj["id"])
    with open(os.path.join(a.tmp, "opt", "trame", "proxy-mapping.txt")) as f:
        assert f.read() == "%s 0.0.0.0:%d\n" % (obj["id"], got["port"])
    # the launcher answers on /launcher too, as in trame's image
    status, other, _ = a.json("POST", "/launcher", {"application": "trame"})
    assert status == 200 and other["id"] != obj["id"]
    for sid in (obj["id"], other["id"]):
        assert a.json("DELETE", "/paraview/" + sid)[0] == 200
    return obj, url


def test_trames_own_site_and_launcher_config(event_server):
    """conf/trame/001-trame.conf: trame's rules with a txt: map of the
    launcher's proxy_file, which mod_pvlaunch writes."""
    a = event_server(site=trame_site("001-trame.conf"), start=False)
    mapfile = os.path.join(a.tmp, "opt", "trame", "proxy-mapping.txt")
    # mod_rewrite checks that the map file exists: as trame's Dockerfile, create it
    r = a.configtest()
    assert r.returncode != 0 and "proxy-mapping.txt" in r.stderr, r.stderr
    open(mapfile, "w").close()
    assert a.configtest().returncode == 0
    a.start()
    obj, url = check_trame_site(a)
    with open(mapfile) as f:
        assert f.read() == ""
    # the session is gone: trame's rule then proxies to "ws:///ws", which
    # Apache refuses with a 400 and an error line (the int:pvsession form
    # below answers 404 instead)
    assert wslink_client.connect_status(url) == 400
    assert all("AH01083" in x for x in vhost_errors(a)), vhost_errors(a)


def test_trame_site_with_int_pvsession(server):
    a = server(site=trame_site("001-trame-pvsession.conf"))
    obj, url = check_trame_site(a)
    assert wslink_client.connect_status(url) == 404
    assert a.json("GET", "/api/%s/status" % obj["id"])[0] == 404
    assert wslink_client.connect_status(url.replace("&path=ws", "&path=ws&x=1")) == 404
    assert vhost_errors(a) == []


def wslink_simple_site(tmp, port):
    """conf/wslink-simple/launcher.config in a copy of wslink's examples/simple
    directory (server/simple.py is our stand-in), changed only in paths and
    ports; the default int:pvsession routing."""
    example = os.path.join(tmp, "examples", "simple")
    os.makedirs(os.path.join(example, "server"))
    os.makedirs(os.path.join(tmp, "logs"))
    shutil.copy(H.FAKE_APP, os.path.join(example, "server", "simple.py"))
    base = H.free_port_range(10)
    with open(os.path.join(H.REPO, "conf", "wslink-simple", "launcher.config")) as f:
        text = f.read()
    text = text.replace("[9001, 9010]", "[%d, %d]" % (base, base + 9))
    text = text.replace('"/tmp/proxy-mapping.txt"', json.dumps(os.path.join(tmp, "proxy.txt")))
    text = text.replace('"/tmp"', json.dumps(os.path.join(tmp, "logs")))
    text = text.replace('"python3"', json.dumps(H.PYTHON))
    path = os.path.join(example, "launcher.config")
    with open(path, "w") as f:
        f.write(text)
    return "PVLaunchConfig %s\n<Location /paraview>\n  SetHandler pvlaunch\n</Location>" % path


def test_wslink_simple_example_runs_from_its_directory(event_server):
    a = event_server(site=wslink_simple_site, extra_conf=H.PVSESSION_RULES)
    status, obj, _ = a.json("POST", "/paraview", {"application": "simple"})
    assert status == 200, obj
    log = log_of(a, obj["id"])
    assert "cwd: %s\n" % os.path.join(a.tmp, "examples", "simple") in log
    url = obj["sessionURL"].replace("USE_HOSTNAME", "127.0.0.1:%d" % a.port)
    reply = wslink_client.hello(url, obj["secret"])
    assert "result" in reply, reply
