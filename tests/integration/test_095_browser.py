"""`make run`'s demo page in a real browser.

The page (web/src, built by web/build.sh into build/web) is the npm wslink
client's SmartConnect, as ParaViewWeb applications use it. Headless Chromium
(Debian's, driven by playwright-core through web/e2e/demo.mjs) opens it on a
real Apache, clicks Start, waits for the RPC result, clicks Stop; then the
session must be gone from the launcher and its process from the machine.

Screenshots and the browser's report go to build/artifacts/. docs/demo.png
(the README's picture) is written when missing, or rewritten when
PVL_UPDATE_SCREENSHOTS=1.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import warnings

import pytest

import apache_harness as H
from conftest import procs_mentioning

sys.path.insert(0, os.path.join(H.REPO, "scripts"))
import run_demo  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
WEB = os.path.join(H.REPO, "web")
ARTIFACTS = os.path.join(H.REPO, "build", "artifacts")
DOCS_SHOT = os.path.join(H.REPO, "docs", "demo.png")


def need_chromium():
    """Skips, loudly, only where Chromium is not installed (scripts/ensure-deps.sh
    installs Debian's chromium for `make test`)."""
    if os.access(CHROMIUM, os.X_OK):
        return
    why = ("Chromium is not installed (%s missing; `apt-get install chromium`): "
           "the browser test of the demo page did NOT run" % CHROMIUM)
    warnings.warn(why)
    pytest.skip(why)


def build_web():
    """web/build.sh: npm ci when the lock file changed, then the bundle."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are needed to build and drive the demo page "
                    "(Debian: apt-get install nodejs npm)")
    r = subprocess.run(["sh", os.path.join(WEB, "build.sh")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, "web/build.sh failed:\n" + r.stdout + r.stderr
    return node


def run_browser(node, url, running_shot, stopped_shot, timeout=120):
    """Runs web/e2e/demo.mjs; returns its exit status, report and stderr.
    Its own process group, so that a hung Chromium goes with it on timeout."""
    proc = subprocess.Popen([node, os.path.join(WEB, "e2e", "demo.mjs"), "--url", url,
                             "--chromium", CHROMIUM, "--timeout", "30",
                             "--running-shot", running_shot, "--stopped-shot", stopped_shot],
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


def test_demo_page_in_chromium(event_server):
    need_chromium()
    node = build_web()

    # The demo's Apache, as `make run` sets it up: its app, mod_dir, the page.
    a = event_server(apps=run_demo.demo_apps, extra_conf=run_demo.WEB_CONF, start=False)
    assert run_demo.install_web(os.path.join(a.tmp, "htdocs")), "build/web was not built"
    a.start()

    os.makedirs(ARTIFACTS, exist_ok=True)
    running_shot = os.path.join(ARTIFACTS, "demo-running.png")
    stopped_shot = os.path.join(ARTIFACTS, "demo-stopped.png")
    for f in (running_shot, stopped_shot):
        if os.path.exists(f):
            os.unlink(f)
    code, report, stderr = run_browser(node, "http://127.0.0.1:%d/" % a.port,
                                       running_shot, stopped_shot)
    with open(os.path.join(ARTIFACTS, "demo-e2e.json"), "w") as f:
        json.dump(report, f, indent=2)
    shown = json.dumps(report, indent=2) + "\n" + stderr
    assert code == 0 and report["ok"], "the page failed at '%s': %s\n%s" % (
        report["step"], report["error"], shown)

    # What the page did, seen from the browser: the launcher's REST API with
    # the real client's POST, then the wslink 2 binary protocol on the
    # websocket route Apache proxies.
    sid = report["sessionId"]
    assert [(r["method"], r["path"], r["status"]) for r in report["launcherRequests"]] == [
        ("POST", "/paraview", 200), ("DELETE", "/paraview/" + sid, 200)], shown
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

    # Stop answered once the session was over: nothing of it is left.
    status, body, _ = a.json("GET", "/paraview/" + sid)
    assert status == 404, body
    assert not os.path.exists("/proc/%d" % pid), "the app (pid %d) outlived its DELETE" % pid
    assert not [p for p in procs_mentioning(a.tmp) if "fake_wslink_app" in p[2]]
    assert port_is_free(port), "port %d still in use after DELETE" % port

    if not os.path.exists(DOCS_SHOT) or os.environ.get("PVL_UPDATE_SCREENSHOTS") == "1":
        os.makedirs(os.path.dirname(DOCS_SHOT), exist_ok=True)
        shutil.copyfile(running_shot, DOCS_SHOT)
