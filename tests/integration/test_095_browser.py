"""`make run`'s demo page in a real browser.

The page (web/src, built by web/build.sh into build/web) launches
asynchronously (`Prefer: respond-async`), shows the launch's progress from
GET /paraview/<id>/events (Server-Sent Events), then connects with the npm
wslink client's SmartConnect, as ParaViewWeb applications use it, with the
sessionURL and secret of the launch resource. Headless Chromium (Debian's,
driven by playwright-core through web/e2e/demo.mjs) opens it on a real
Apache, clicks Start, waits for the RPC result, clicks Stop; then the session
must be gone from the launcher and its process from the machine. Once with
no queue, once with a taken pool of one and a queue, so that the page's
launch waits first.

Screenshots and the browser's reports go to build/artifacts/. docs/demo.png
(the README's picture, from the queued run) is written when missing, or
rewritten when PVL_UPDATE_SCREENSHOTS=1.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest

import apache_harness as H
from conftest import procs_mentioning

sys.path.insert(0, os.path.join(H.REPO, "scripts"))
import run_demo  # noqa: E402

from browser import CHROMIUM, WEB, build_web, need_chromium  # noqa: E402
ARTIFACTS = os.path.join(H.REPO, "build", "artifacts")
DOCS_SHOT = os.path.join(H.REPO, "docs", "demo.png")


def run_browser(node, url, running_shot, stopped_shot, extra=(), timeout=120):
    """Runs web/e2e/demo.mjs; returns its exit status, report and stderr.
    Its own process group, so that a hung Chromium goes with it on timeout."""
    proc = subprocess.Popen([node, os.path.join(WEB, "e2e", "demo.mjs"), "--url", url,
                             "--chromium", CHROMIUM, "--timeout", "30",
                             "--running-shot", running_shot, "--stopped-shot", stopped_shot]
                            + list(extra),
                            cwd=WEB, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail("the browser did not finish within %ss:\n%s\n%s" % (timeout, out, err))
    try:
        report = json.loads(out)
    except ValueError:
        pytest.fail("demo.mjs exited %s without a report:\n%s\n%s" % (proc.returncode, out, err))
    return proc.returncode, report, err


def port_is_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def demo_apache(factory, count=20, extra_conf=""):
    """The demo's Apache, as `make run` sets it up: its app, mod_dir, the page."""
    a = factory(apps=run_demo.demo_apps, count=count,
                extra_conf=run_demo.WEB_CONF + "\n" + extra_conf, start=False)
    assert run_demo.install_web(os.path.join(a.tmp, "htdocs")), "build/web was not built"
    return a.start()


def shots(name, *kinds):
    os.makedirs(ARTIFACTS, exist_ok=True)
    paths = [os.path.join(ARTIFACTS, "%s-%s.png" % (name, kind)) for kind in kinds]
    for f in paths:
        if os.path.exists(f):
            os.unlink(f)
    return paths


def drive_page(node, a, name, running_shot, stopped_shot, extra=()):
    """Start, RPC, Stop in the browser; the report, and its text for messages."""
    code, report, stderr = run_browser(node, "http://127.0.0.1:%d/" % a.port,
                                       running_shot, stopped_shot, extra)
    with open(os.path.join(ARTIFACTS, "%s-e2e.json" % name), "w") as f:
        json.dump(report, f, indent=2)
    shown = json.dumps(report, indent=2) + "\n" + stderr
    assert code == 0 and report["ok"], "the page failed at '%s': %s\n%s" % (
        report["step"], report["error"], shown)
    return report, shown


def check_session_and_cleanup(a, report, shown, running_shot):
    """What the page did, seen from the browser, and what it left: nothing."""
    # The launcher's REST API: the asynchronous POST, the launch's events, the
    # launch resource once ready, then the DELETE; then the wslink 2 binary
    # protocol on the websocket route Apache proxies.
    sid = report["sessionId"]
    uri = "/paraview/" + sid
    assert [(r["method"], r["path"], r["status"]) for r in report["launcherRequests"]] == [
        ("POST", "/paraview", 202), ("GET", uri + "/events", 200), ("GET", uri, 200),
        ("DELETE", uri, 200)], shown
    assert report["sessionURL"] == "ws://127.0.0.1:%d/proxy?sessionId=%s" % (a.port, sid), shown
    [ws] = report["websockets"]
    assert ws["url"] == report["sessionURL"] and ws["closed"], shown
    assert ws["textFrames"] == 0, shown
    assert ws["binarySent"] >= 2 and ws["binaryReceived"] >= 2, shown  # hello + demo.info
    assert report["pageErrors"] == [] and report["consoleErrors"] == [], shown

    # The RPC result came from the session's own process, on the launcher's port.
    rpc = report["rpcResult"]
    pid, port = rpc["pid"], rpc["port"]
    base = a.launcher["resources"][0]["port_range"]
    assert base[0] <= port <= base[1], shown
    assert rpc["clientID"], shown
    assert os.path.isfile(running_shot) and os.path.getsize(running_shot) > 0

    # The stream's last event: the launch was canceled by Stop's DELETE.
    assert report["progress"][-1]["event"] == "state", shown
    assert report["progress"][-1]["state"] == "canceled", shown

    # Stop answered once the session was over: nothing of it is left.
    status, body, _ = a.json("GET", uri)
    assert status == 404 or (status == 200 and body["state"] == "canceled"), body
    assert not os.path.exists("/proc/%d" % pid), "the app (pid %d) outlived its DELETE" % pid
    assert not [p for p in procs_mentioning(a.tmp) if "fake_wslink_app" in p[2]]
    assert port_is_free(port), "port %d still in use after DELETE" % port


def strip(progress):
    return [{k: v for k, v in p.items() if k != "text"} for p in progress]


def test_demo_page_in_chromium(event_server):
    """No queue: the launch runs at once; the page shows it running, then ready."""
    need_chromium("the demo page")
    node = build_web()
    a = demo_apache(event_server)
    running_shot, stopped_shot = shots("demo", "running", "stopped")
    report, shown = drive_page(node, a, "demo", running_shot, stopped_shot)
    check_session_and_cleanup(a, report, shown, running_shot)

    # The progress the page showed: the launch running, its session starting
    # then ready with the ready line (or already ready when the stream opened).
    progress = strip(report["progressAtRunning"])
    assert progress in (
        [{"event": "state", "state": "running", "sessionState": "starting"},
         {"event": "ready", "state": "running", "sessionState": "ready",
          "line": "Starting factory"}],
        [{"event": "state", "state": "running", "sessionState": "ready"}]), shown
    assert strip(report["progress"]) == progress + [{"event": "state", "state": "canceled"}], shown
    assert report["launchState"] == "running (session ready)", shown


def test_demo_page_shows_the_queue(event_server):
    """A pool of one slot, taken, and a queue: the page's launch waits, then
    starts when the slot is freed; the page shows each step."""
    need_chromium("the demo page")
    node = build_web()
    a = demo_apache(event_server, count=1, extra_conf="PVLaunchQueue 2 30")
    status, holder, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200, holder
    running_shot, stopped_shot, waiting_shot = shots("demo-queue", "running", "stopped",
                                                     "waiting")
    report, shown = drive_page(node, a, "demo-queue", running_shot, stopped_shot,
                               ["--free-slot", "/paraview/" + holder["id"],
                                "--waiting-shot", waiting_shot])
    assert report["freeSlotStatus"] == 200, shown
    check_session_and_cleanup(a, report, shown, running_shot)

    waiting = {"event": "state", "state": "waiting", "queuePosition": 1}
    assert strip(report["progressWhileWaiting"]) == [waiting], shown
    progress = strip(report["progressAtRunning"])
    assert progress == [
        waiting,
        {"event": "state", "state": "running", "sessionState": "starting"},
        {"event": "ready", "state": "running", "sessionState": "ready",
         "line": "Starting factory"}], shown
    assert strip(report["progress"]) == progress + [{"event": "state", "state": "canceled"}], shown
    assert "queue position 1" in report["progressAtRunning"][0]["text"], shown
    assert os.path.isfile(waiting_shot) and os.path.getsize(waiting_shot) > 0

    # The README's picture: the progress events (queued, starting, ready) and
    # the RPC result.
    if not os.path.exists(DOCS_SHOT) or os.environ.get("PVL_UPDATE_SCREENSHOTS") == "1":
        os.makedirs(os.path.dirname(DOCS_SHOT), exist_ok=True)
        shutil.copyfile(running_shot, DOCS_SHOT)
