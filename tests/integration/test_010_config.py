"""PVLaunchConfig: both launcher vocabularies load; every error fails
`apache2 -t` with a message naming the launcher file and the problem."""
import json
import os

import apache_harness as H


def wslink_config(tmp, port, base):
    return H.default_launcher(tmp, port, base)


GUIDE_TEXT = """{
  # The ParaViewWeb launcher guide's vocabulary, with comments of all kinds
  "url"        : "http://localhost:8080/paraview", // the standalone endpoint
  "log"        : "%(tmp)s/logs",
  "map_file"   : "%(tmp)s/proxy.map",
  "proxy_url"  : "ws://127.0.0.1:%(port)d/proxy?sessionId=$id",
  /* several lines
     of comment */
  "wait_line"  : ["Starting factory", "Ready"],
  "timeout"    : 10,
  "max_session": 10,
  "resources"  : [ {"host": "127.0.0.1", "port": [%(base)d, %(top)d]} ],
  "applications": {
     "loader": { "cmd": %(cmd)s, "dir": "/tmp" }
  },
  "properties": { "data_dir": "/tmp" }
}
"""


def guide_text(tmp, port, base):
    return GUIDE_TEXT % {"tmp": tmp, "port": port, "base": base, "top": base + 9,
                         "cmd": json.dumps(H.app_cmd("ready", tmp=tmp))}


def configtest_with(event_server, text):
    a = event_server(launcher_text=text, start=False)
    return a, a.configtest()


def test_wslink_vocabulary_passes_configtest(event_server):
    a = event_server(start=False)
    r = a.configtest()
    assert r.returncode == 0, r.stderr
    assert "Syntax OK" in r.stderr
    # the standalone server's own key is accepted with a notice
    assert "configuration.endpoint is for a standalone launcher" in r.stderr


def test_guide_vocabulary_serves_a_session(event_server):
    a = event_server(launcher_text=lambda tmp, port: guide_text(tmp, port, H.free_port_range(10)))
    assert a.configtest().returncode == 0
    status, obj, _ = a.json("POST", "/paraview", {"application": "loader"})
    assert status == 200, obj
    assert obj["sessionURL"] == "ws://127.0.0.1:%d/proxy?sessionId=%s" % (a.port, obj["id"])
    with open(os.path.join(a.tmp, "proxy.map")) as f:
        assert f.read().startswith(obj["id"] + " 127.0.0.1:")
    log = open(os.path.join(a.tmp, "logs", obj["id"] + ".log")).read()
    assert "cwd: /tmp" in log
    status, _, _ = a.json("DELETE", "/paraview/" + obj["id"])
    assert status == 200


def broken(tmp, port, change):
    cfg = H.default_launcher(tmp, port, 30000)
    change(cfg)
    return json.dumps(cfg, indent=2)


BROKEN = {
    "inverted port range": (lambda c: c["resources"][0].update(port_range=[9010, 9000]),
                            "inverted"),
    "empty resources": (lambda c: c.update(resources=[]), "resources"),
    "missing cmd": (lambda c: c["apps"]["demo"].pop("cmd"), 'no "cmd"'),
    "cmd not a list": (lambda c: c["apps"]["demo"].update(cmd="python3 app.py"), "cmd"),
    "app dir not a string": (lambda c: c["apps"]["demo"].update(dir=["/tmp"]), "dir must be"),
    "resource host not a string": (lambda c: c["resources"][0].update(host=5), "host must be"),
    "bad port": (lambda c: c["resources"][0].update(port_range=[0, 70000]), "port"),
    "bad sanitize": (lambda c: c["configuration"].update(
        sanitize={"file": {"type": "regexp", "regexp": "([a-z", "default": "x"}}), "regexp"),
    "no session url": (lambda c: c["configuration"].pop("sessionURL"), "session URL"),
    "bad host": (lambda c: c["resources"][0].update(host="evil.com/x"), "host"),
}


def test_each_config_error_names_file_and_problem(event_server):
    for name, (change, words) in BROKEN.items():
        a = event_server(launcher_text=lambda tmp, port: broken(tmp, port, change), start=False)
        r = a.configtest()
        assert r.returncode != 0, name
        assert a.launcher_path in r.stderr, (name, r.stderr)
        assert words in r.stderr, (name, r.stderr)
        assert "httpd.conf" in r.stderr, (name, r.stderr)  # Apache adds file and line


def test_malformed_json_names_the_line(event_server):
    text = '{\n  // comment\n  "apps": {\n    "demo": {"cmd": ["x"],}\n  }\n}\n'
    a, r = configtest_with(event_server, text)
    assert r.returncode != 0
    assert a.launcher_path + ": line 4" in r.stderr, r.stderr


def test_unreadable_config_file(event_server):
    a = event_server(start=False)
    os.unlink(a.launcher_path)
    r = a.configtest()
    assert r.returncode != 0
    assert a.launcher_path in r.stderr and "cannot read" in r.stderr, r.stderr


def test_directive_arguments_are_checked(event_server):
    a = event_server(start=False, extra_conf="PVLaunchStopTimeout soon")
    r = a.configtest()
    assert r.returncode != 0 and "PVLaunchStopTimeout takes a number" in r.stderr


def python_sanitize(cfg, tmp):
    """wslink-style sanitize rules in Python's syntax, as existing sites have them."""
    cfg["apps"]["demo"]["cmd"] += ["--tag", "${login}/${name}"]
    cfg["configuration"]["sanitize"] = {
        "login": {"type": "regexp", "regexp": "(?i)^[a-z]+\\Z"},
        "name": {"type": "regexp", "regexp": "(?P<name>\\w+)"},
    }


def test_python_regexps_load_with_warnings_and_sanitize(event_server):
    a = event_server(mutate=python_sanitize, start=False, allowed_log=["PVL00302"])
    r = a.configtest()
    assert r.returncode == 0 and "Syntax OK" in r.stderr, r.stderr
    # "login" is whole-value and ASCII in wslink too: no notice for it
    assert 'sanitize rule "login"' not in r.stderr
    # Apache's log doubles each backslash
    console = r.stderr.replace("\\\\", "\\")
    assert ('sanitize rule "name": regexp "(?P<name>\\w+)" is not anchored at its end: '
            "wslink (Python re.match) accepts any value that merely starts with a match, "
            "mod_pvlaunch requires the whole value to match") in console, console
    assert ('sanitize rule "name": regexp "(?P<name>\\w+)" uses \\w: wslink (Python) matches '
            "them against Unicode characters, mod_pvlaunch against ASCII only") in console

    a.start()
    # numbered warnings in the error log too
    warned = [x for x in a.read_log().splitlines() if 'sanitize rule "name"' in x]
    assert len(warned) == 2 and all("[pvlaunch:warn]" in x and "PVL00302" in x
                                    for x in warned), warned
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo", "login": "Alice",
                                                  "name": "bob_2"})
    assert status == 200, obj
    with open(os.path.join(a.tmp, "logs", obj["id"] + ".log")) as f:
        assert '"Alice/bob_2"' in f.read()
    # Refused: a digit for (?i)^[a-z]+\Z, and a value that only starts with a
    # match (which wslink's re.match would let through).
    for login, name in (("alice1", "bob"), ("alice", "bob; rm -rf /")):
        status, err, hdrs = a.json("POST", "/paraview", {"application": "demo", "login": login,
                                                         "name": name})
        assert status == 400, err
        assert hdrs["Content-Type"] == "application/json"
        assert "sanitize rule" in err["error"]
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200


def test_module_loaded_without_a_launcher_config_changes_nothing(event_server):
    """LoadModule alone (a2enmod before the site is configured): Apache
    serves as before, its children live and no daemon starts."""
    a = event_server(site="", start=False)
    with open(os.path.join(a.tmp, "htdocs", "index.html"), "w") as f:
        f.write("plain\n")
    a.start(daemon=False)
    for _ in range(20):
        status, _, body = a.request("GET", "/index.html")
        assert status == 200 and body == b"plain\n"
    assert "AH10392" not in a.read_log()  # children killed one after another
    assert a.daemon_pid() is None
