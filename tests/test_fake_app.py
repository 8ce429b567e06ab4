"""Tests of the test helpers themselves: fake_wslink_app.py and
wslink_client.py.  Run with:  /usr/bin/python3 -m pytest tests/test_fake_app.py -q
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import wslink_client  # noqa: E402

APP = os.path.join(HERE, "fake_wslink_app.py")
CLIENT = os.path.join(HERE, "wslink_client.py")
PYTHON = "/usr/bin/python3"
SECRET = "s3cr3t"
READY = "Starting factory"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    """A running fake_wslink_app.py whose output is collected by threads."""

    def __init__(self, args, env=None, cwd=None):
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
            start_new_session=True)  # own group: cleanup kills everything
        self.out = []
        self.err = []
        self.cond = threading.Condition()
        self.threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err),
                             daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, stream, lines):
        for line in stream:
            with self.cond:
                lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, predicate, timeout=5):
        """Returns the first stdout line matching predicate, None if the
        process ended or the timeout expired first."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.out:
                    if predicate(line):
                        return line
                if self.proc.poll() is not None and not self.threads[0].is_alive():
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.1))

    def wait_ready(self, text=READY, timeout=5):
        return self.wait_line(lambda l: l == text, timeout) is not None

    def finish(self, timeout=5):
        rc = self.proc.wait(timeout)
        for t in self.threads:
            t.join(2)
        return rc

    def kill_group(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except Exception:
                pass


def alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.fixture
def launch():
    started = []

    def start(mode="ready", port=None, extra=(), env=None, cwd=None):
        port = free_port() if port is None else port
        args = [PYTHON, APP, "--host", "127.0.0.1", "--port", str(port),
                "--secret", SECRET, "--mode", mode] + list(extra)
        app = AppProcess(args, env=env, cwd=cwd)
        app.port = port
        app.url = "ws://127.0.0.1:%d/ws" % port
        started.append(app)
        return app

    yield start
    for app in started:
        app.kill_group()


def test_ready_mode_full_protocol(launch, tmp_path):
    env = dict(os.environ, PVTEST="hello-env")
    app = launch("ready", extra=["--tag", "sess-42"], env=env, cwd=str(tmp_path))
    assert app.wait_ready(), (app.out, app.err)
    # Information lines precede the ready line.
    idx = app.out.index(READY)
    head = app.out[:idx]
    args_line = [l for l in head if l.startswith("args: ")]
    assert args_line and json.loads(args_line[0][6:])[-2:] == ["--tag", "sess-42"]
    assert "cwd: " + str(tmp_path) in head
    assert "env PVTEST=hello-env" in head

    ok = wslink_client.hello(app.url, SECRET)
    assert ok["id"] == "system:c0:0"
    assert ok["result"]["clientID"].startswith("c")
    assert ok["result"]["maxMsgSize"] == 4194304

    bad = wslink_client.hello(app.url, "wrong")
    assert bad["id"] == "system:c0:0"
    assert bad["error"]["code"] == -32000
    assert bad["error"]["message"] == "Authentication failed"

    echo = wslink_client.call(app.url, SECRET, "demo.echo", [{"a": [1, 2]}])
    assert echo["id"].startswith("rpc:c") and echo["id"].endswith(":1")
    assert echo["result"] == {"echo": {"a": [1, 2]}, "session": "sess-42"}

    who = wslink_client.call(app.url, SECRET, "demo.whoami", [])
    assert who["result"]["pid"] == app.proc.pid
    assert who["result"]["port"] == app.port

    with pytest.raises(wslink_client.HelloFailed):
        wslink_client.call(app.url, "wrong", "demo.echo", [1])

    # RPC before hello; then a hello split over several frames.
    replies = wslink_client.exchange(app.url, [
        {"wslink": "1.0", "id": "rpc:x:1", "method": "demo.echo",
         "args": [1], "kwargs": {}},
        {"wslink": "1.0", "id": "system:c0:0", "method": "wslink.hello",
         "args": [{"secret": SECRET}], "kwargs": {}},
    ], chunk_size=7)
    assert replies[0]["id"] == "rpc:x:1"
    assert replies[0]["error"]["code"] == -32001
    assert replies[1]["result"]["clientID"].startswith("c")

    assert wslink_client.connect_status(app.url) == 101
    assert wslink_client.connect_status(
        "ws://127.0.0.1:%d/ws?sessionId=abc" % app.port) == 101
    assert wslink_client.connect_status(
        "ws://127.0.0.1:%d/other" % app.port) == 404

    # Command line client.
    r = subprocess.run([PYTHON, CLIENT, app.url, SECRET],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"]["clientID"].startswith("c")
    r = subprocess.run([PYTHON, CLIENT, app.url, "nope"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert json.loads(r.stdout)["error"]["code"] == -32000

    t0 = time.monotonic()
    app.proc.send_signal(signal.SIGTERM)
    assert app.finish(timeout=2) == 0
    assert time.monotonic() - t0 < 2
    r = subprocess.run([PYTHON, CLIENT, app.url, SECRET],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2


def test_demo_info_and_exit_later(launch):
    """What the demo page and the npm wslink client call: demo.info (no
    secret in it) and application.exit.later, after which the app stops."""
    app = launch("ready")
    assert app.wait_ready(), (app.out, app.err)
    info = wslink_client.call(app.url, SECRET, "demo.info", [])
    assert info["result"]["pid"] == app.proc.pid
    assert info["result"]["port"] == app.port
    assert info["result"]["clientID"].startswith("c")
    assert SECRET not in json.dumps(info)
    t0 = time.monotonic()
    bye = wslink_client.call(app.url, SECRET, "application.exit.later", [0.3])
    assert bye["result"] is None and "error" not in bye
    assert app.finish(timeout=5) == 0
    assert time.monotonic() - t0 >= 0.3
    assert "exit scheduled in 0.3s (application.exit.later)" in app.out


def test_custom_ready_line_and_slow(launch):
    app = launch("slow", extra=["--delay", "0.5", "--ready-line", "GO GO"])
    t0 = time.monotonic()
    assert app.wait_ready("GO GO")
    assert time.monotonic() - t0 >= 0.45
    assert READY not in app.out
    assert wslink_client.hello(app.url, SECRET)["result"]["clientID"]


def test_exit_early(launch):
    app = launch("exit-early")
    assert app.finish(timeout=5) == 3
    assert READY not in app.out
    assert "fatal: cannot start" in app.err


def test_never_mode(launch):
    app = launch("never")
    assert app.wait_line(lambda l: l == "starting...")
    assert not app.wait_ready(timeout=0.5)
    assert app.proc.poll() is None
    app.proc.send_signal(signal.SIGTERM)
    assert app.finish(timeout=2) == 0
    assert READY not in app.out


def test_ignore_term(launch):
    app = launch("ignore-term")
    assert app.wait_ready()
    app.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert app.proc.poll() is None
    assert wslink_client.hello(app.url, SECRET)["result"]["clientID"]
    app.proc.kill()
    assert app.finish(timeout=2) == -signal.SIGKILL


def test_crash_later(launch):
    app = launch("crash-later", extra=["--delay", "0.3"])
    assert app.wait_ready()
    assert app.finish(timeout=5) == -signal.SIGSEGV


def test_spawn_child(launch):
    app = launch("spawn-child")
    assert app.wait_ready()
    line = app.wait_line(lambda l: l.startswith("child pid "))
    assert app.out.index(line) < app.out.index(READY)
    child = int(line.split()[-1])
    assert os.getpgid(child) == os.getpgid(app.proc.pid)
    os.killpg(app.proc.pid, signal.SIGTERM)
    assert app.finish(timeout=2) == 0
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        if not alive(child):
            break
        time.sleep(0.05)
    else:
        pytest.fail("child survived the group SIGTERM")


def test_bind_failure_and_bad_port(launch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        app = launch("ready", port=s.getsockname()[1])
        assert app.finish(timeout=5) == 4
        assert READY not in app.out
        assert app.err
    r = subprocess.run([PYTHON, APP, "--port", "abc", "--secret", "x"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "port" in r.stderr
