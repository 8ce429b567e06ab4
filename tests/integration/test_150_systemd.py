"""Apache under systemd, as Debian runs it: sessions survive `systemctl
restart apache2` (the same graceful-stop as `systemctl stop`, after which
systemd empties the service's cgroup) because each app lives in a scope unit
of its own in pvlaunch.slice; `systemctl reload` keeps them too; `systemctl
stop` leaves nothing; an app's limits reach its unit.

Each test boots a real systemd in private namespaces (tests/systemd_box.py)
and runs Debian's own apache2.service in it, with the module."""
import json
import os

import pytest

import apache_harness as H
from conftest import wait_until
from systemd_box import ROOT, SystemdBox

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="booting systemd in namespaces needs root")

SESSIONS = 20
LIMITS = {"memory": "512M", "cpu": "50%", "tasks": 64}

# Debian's apache2.conf loads what mods-enabled has; these the rules need.
MODULES = "".join(
    "<IfModule !%s_module>\n  LoadModule %s_module %s/mod_%s.so\n</IfModule>\n"
    % (m, m, H.MODDIR, m) for m in ("rewrite", "proxy", "proxy_http", "proxy_wstunnel"))

CONF = MODULES + """
LoadModule pvlaunch_module %(root)s/mod_pvlaunch.so
LogLevel notice
PVLaunchConfig %(root)s/launcher.json
PVLaunchStopTimeout 2
<Location /paraview>
  SetHandler pvlaunch
</Location>
%(rules)s
"""


def fake_app_procs(marker=ROOT + "/fake_wslink_app.py"):
    """The box's apps as the host sees them: pid -> (cmdline, cgroup)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/cgroup" % pid) as f:
                cgroup = f.read().strip().splitlines()[-1]
        except OSError:
            continue
        if marker in cmd:
            out[int(pid)] = (cmd, cgroup)
    return out


def app_of(session):
    procs = fake_app_procs()
    return next(pid for pid, (cmd, _) in procs.items()
                if "--port %d " % session["port"] in cmd + " ")


@pytest.fixture
def box():
    b = SystemdBox()
    b.copy(H.MODULE, ROOT + "/mod_pvlaunch.so")
    b.copy(H.FAKE_APP, ROOT + "/fake_wslink_app.py")
    apps = {
        "demo": {"cmd": H.app_cmd("ready", tmp=ROOT), "ready_line": "Starting factory"},
        "limited": {"cmd": H.app_cmd("ready", tmp=ROOT), "ready_line": "Starting factory",
                    "limits": LIMITS},
        "escaper": {"cmd": H.app_cmd("escape-child", tmp=ROOT),
                    "ready_line": "Starting factory"},
    }
    launcher = H.default_launcher(ROOT, 80, 9100, count=SESSIONS + 10, timeout=10, apps=apps)
    b.put(ROOT + "/launcher.json", json.dumps(launcher, indent=2))
    b.put("/etc/apache2/conf-enabled/pvlaunch-test.conf",
          CONF % {"root": ROOT, "rules": H.PVSESSION_RULES})
    # Debian's default site is a <VirtualHost *:80>: without it the rules
    # above serve port 80 directly.
    b.put("/etc/apache2/sites-enabled/000-default.conf", "")
    # The box starts from the host's files: its own empty error log, and no
    # container's policy-rc.d forbidding maintainer scripts to restart units
    # (a real server has none).
    b.put("/var/log/apache2/error.log", "", 0o640)
    b.put("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 0\n", 0o755)
    if H.SANITIZER_PRELOAD:
        b.put("/etc/systemd/system/apache2.service.d/sanitizer.conf",
              "[Service]\nEnvironment=\"LD_PRELOAD=%s\" "
              "\"ASAN_OPTIONS=detect_leaks=0:log_path=%s/reports/report\" "
              "\"UBSAN_OPTIONS=print_stacktrace=1:log_path=%s/reports/report\"\n"
              % (H.SANITIZER_PRELOAD, ROOT, ROOT))
        b.put(ROOT + "/reports/.keep", "")
        os.chmod(os.path.join(b.stage, ROOT.lstrip("/"), "reports"), 0o1777)
    b.allowed_log = []
    b.start()
    try:
        b.run("systemctl", "start", "apache2")
        yield b
        reports = []
        rdir = b.path(ROOT + "/reports")
        if os.path.isdir(rdir):
            for name in os.listdir(rdir):
                if name != ".keep":
                    with open(os.path.join(rdir, name), errors="replace") as f:
                        reports.append(name + ":\n" + f.read()[:4000])
        bad = [line for line in b.error_log().splitlines()
               if H.BAD_LEVEL.search(line) and not any(a in line for a in b.allowed_log)]
        assert not reports, "sanitizer reports:\n" + "\n".join(reports)
        assert not bad, "unexpected error log lines:\n" + "\n".join(bad)
    finally:
        b.stop()
    assert not fake_app_procs(), "apps left behind after the box stopped"


def launch(box, n, app="demo"):
    out = box.client("launch", n, app)
    assert all(status == 200 for status, _ in out), out
    return [obj for _, obj in out]


def assert_all_answer(box, sessions):
    results = box.client("check", stdin=json.dumps(sessions))
    bad = [r for r in results if not (r["get"] == 200 and r["same"] and r["hello"] is True)]
    assert not bad, (bad, box.error_log()[-3000:])


def scope_of(pid):
    cgroup = fake_app_procs()[pid][1]
    assert "/pvlaunch.slice/pvlaunch-" in cgroup and cgroup.endswith(".scope"), cgroup
    return cgroup.rsplit("/", 1)[1]


def test_systemctl_restart_keeps_every_session(box):
    sessions = launch(box, SESSIONS)
    apps = {s["id"]: app_of(s) for s in sessions}
    # each app in a scope of its own, outside apache2.service's cgroup
    scopes = {scope_of(pid) for pid in apps.values()}
    assert len(scopes) == SESSIONS
    box.run("systemctl", "restart", "apache2")
    assert "PVL00223" in box.error_log(), box.error_log()[-3000:]
    assert_all_answer(box, sessions)
    # the very same processes, taken over by the new daemon
    assert {s["id"]: app_of(s) for s in sessions} == apps
    assert "took over %d running session(s)" % SESSIONS in box.error_log()
    # and still supervised: DELETE stops one and frees its scope
    gone = sessions.pop()
    status, _ = box.client("request", "DELETE", "/paraview/" + gone["id"])
    assert status == 200
    assert wait_until(lambda: apps[gone["id"]] not in fake_app_procs(), timeout=5)
    # a package upgrade: its maintainer scripts restart the service so
    box.run("systemctl", "enable", "apache2")
    box.run("deb-systemd-invoke", "restart", "apache2.service")
    assert box.error_log().count("PVL00223") == 2, box.error_log()[-3000:]
    assert_all_answer(box, sessions)


def test_systemctl_reload_keeps_every_session(box):
    sessions = launch(box, 5)
    apps = {s["id"]: app_of(s) for s in sessions}
    box.run("systemctl", "reload", "apache2")
    # the same daemon goes on, given the new generation's error log
    assert wait_until(lambda: "PVL00035" in box.error_log(), timeout=10), box.error_log()[-3000:]
    assert "PVL00223" not in box.error_log()
    assert_all_answer(box, sessions)
    assert {s["id"]: app_of(s) for s in sessions} == apps


def test_systemctl_stop_leaves_nothing(box):
    launch(box, 5)
    launch(box, 1, "limited")
    assert len(fake_app_procs()) == 6
    box.run("systemctl", "stop", "apache2")
    assert "PVL00223" not in box.error_log()
    assert wait_until(lambda: not fake_app_procs(), timeout=10), fake_app_procs()
    units = box.run("systemctl", "list-units", "--all", "--plain", "--no-legend",
                    "pvlaunch-*").stdout
    assert "pvlaunch-" not in units, units
    assert not os.path.exists(box.path("/var/run/apache2/pvlaunch.state"))


def test_killed_parent_restarted_by_systemd_keeps_the_sessions(box):
    """kill -9 of Apache's parent (or the OOM killer): systemd empties the
    service's cgroup and starts it again (Restart=on-abort); the apps, in
    their scopes, are adopted by the next daemon from the journal."""
    # the dead parent's pid file; the daemon may say it keeps the sessions
    # before systemd kills it with the rest of the service
    box.allowed_log = ["AH00098", "PVL00053"]
    sessions = launch(box, 3)
    apps = {s["id"]: app_of(s) for s in sessions}
    main = box.run("systemctl", "show", "-p", "MainPID", "--value", "apache2").stdout.strip()
    box.run("kill", "-9", main)
    assert wait_until(lambda: "took over 3 running session(s)" in box.error_log(), timeout=20), \
        box.error_log()[-3000:]
    assert_all_answer(box, sessions)
    assert {s["id"]: app_of(s) for s in sessions} == apps


def test_an_ended_session_takes_its_whole_scope_with_it(box):
    """A helper that left the app's process group (setsid) is out of reach
    of the group's signals, not of the scope: DELETE stops the unit."""
    (session,) = launch(box, 1, "escaper")
    marker = "escaped-from-%d" % session["port"]
    assert wait_until(lambda: fake_app_procs(marker), timeout=5)
    (child_cgroup,) = [cg for _, cg in fake_app_procs(marker).values()]
    assert child_cgroup.endswith("/" + scope_of(app_of(session)))
    status, _ = box.client("request", "DELETE", "/paraview/" + session["id"])
    assert status == 200
    assert wait_until(lambda: not fake_app_procs(marker), timeout=10), fake_app_procs(marker)


def test_limits_reach_the_unit(box):
    (session,) = launch(box, 1, "limited")
    unit = scope_of(app_of(session))
    shown = box.run("systemctl", "show", unit, "-p", "Slice", "-p", "MemoryMax", "-p",
                    "CPUQuotaPerSecUSec", "-p", "TasksMax").stdout
    props = dict(line.split("=", 1) for line in shown.split())
    assert props == {"Slice": "pvlaunch.slice", "MemoryMax": str(512 << 20),
                     "CPUQuotaPerSecUSec": "500ms", "TasksMax": "64"}, shown
    # an app without limits gets none
    (plain,) = launch(box, 1)
    shown = box.run("systemctl", "show", scope_of(app_of(plain)), "-p", "MemoryMax", "-p",
                    "TasksMax").stdout
    assert "MemoryMax=infinity" in shown, shown


def test_a_refused_scope_fails_a_launch_with_limits(box):
    """systemd unreachable (its bus stopped): an app with limits is not run
    unlimited (502, nothing left); one without runs on, with a warning."""
    box.allowed_log = ["PVL00042", "PVL00056"]
    box.run("systemctl", "stop", "dbus.socket", "dbus.service")
    status, obj = box.client("request", "POST", "/paraview", {"application": "limited"})
    assert status == 502 and "scope unit" in obj["error"], (status, obj)
    assert wait_until(lambda: not fake_app_procs(), timeout=5), fake_app_procs()
    (session,) = launch(box, 1)
    assert "PVL00056" in box.error_log()
    assert "/pvlaunch.slice/" not in fake_app_procs()[app_of(session)][1]
    assert_all_answer(box, [session])


def test_limits_without_systemd_are_refused_at_start(event_server):
    def apps(tmp):
        return {"demo": {"cmd": H.app_cmd("ready", tmp=tmp), "ready_line": "Starting factory",
                         "limits": LIMITS}}
    a = event_server(apps=apps, start=False, allowed_log=["PVL00224", "AH00016"])
    with pytest.raises(RuntimeError):
        a.start()
    log = a.read_log()
    assert "PVL00224" in log and 'application "demo" sets "limits"' in log, log[-2000:]
    assert a.launcher_path in log
