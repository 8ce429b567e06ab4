"""Tests of the status notifier (src/daemon/notifier.cpp) through its test
driver, build/notifier_driver (built from tests/notifier_driver.cpp by
`make build/notifier_driver`), against HTTP receivers run by the tests.
Run with:  /usr/bin/python3 -m pytest -q tests/test_notifier.py

Timings are never asserted tightly; subprocess timeouts only make sure a
hung driver fails the test instead of hanging it.
"""

import http.server
import os
import socket
import subprocess
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER = os.path.join(ROOT, "build", "notifier_driver")
BODY = '{"id": "6f1c", "state": "ready", "note": "caf\u00e9 & \\"quotes\\""}'
SECRET = "tok3n-s3cr3t"
RUN_TIMEOUT = 30


@pytest.fixture(scope="module")
def driver():
    if not os.path.exists(DRIVER):
        pytest.skip(f"{DRIVER} is missing: build it with `make build/notifier_driver`")
    return DRIVER


def run_driver(driver, *args, timeout=RUN_TIMEOUT):
    return subprocess.run([driver, *[str(a) for a in args]], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread. Every request is recorded as
    (method, path, headers, body); `answers` gives the status of each
    successive request (the last one repeats), `headers` extra answer
    headers."""

    def __init__(self, answers=(200,), headers=None, port=0):
        self.answers = list(answers)
        self.extra_headers = headers or {}
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.lock:
                    receiver.requests.append(
                        (self.command, self.path, dict(self.headers.items()), body))
                    n = len(receiver.requests)
                    status = receiver.answers[min(n, len(receiver.answers)) - 1]
                self.send_response(status)
                for k, v in receiver.extra_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_GET = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path="/status/6f1c"):
        return f"http://127.0.0.1:{self.port}{path}"

    def posts(self):
        with self.lock:
            return [r for r in self.requests if r[0] == "POST"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(*args, **kwargs):
        r = Receiver(*args, **kwargs)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def header(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def test_delivered_once(driver, receivers):
    rx = receivers(answers=(204,))
    url = rx.url(f"/status/6f1c?token={SECRET}")
    res = run_driver(driver, url, BODY)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "delivered=1 failed=0"
    posts = rx.posts()
    assert len(posts) == 1
    method, path, headers, body = posts[0]
    assert path == f"/status/6f1c?token={SECRET}"
    assert body == BODY.encode()
    assert header(headers, "Content-Type") == "application/json"
    assert "PVL00060" in res.stderr
    # The log shows where, never what or with which credentials.
    assert SECRET not in res.stderr
    assert "6f1c" in res.stderr and "ready" not in res.stderr


def test_userinfo_and_fragment_not_logged(driver, receivers):
    rx = receivers()
    url = f"http://user:pa55w0rd@127.0.0.1:{rx.port}/cb?k={SECRET}#frag"
    res = run_driver(driver, url, BODY)
    assert res.returncode == 0, res.stderr
    assert f"http://127.0.0.1:{rx.port}/cb" in res.stderr
    for secret in ("pa55w0rd", "user", SECRET, "frag"):
        assert secret not in res.stderr
    assert len(rx.posts()) == 1


def test_retried_after_500s(driver, receivers):
    rx = receivers(answers=(500, 500, 200))
    res = run_driver(driver, rx.url(), BODY, 6, 0.1)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "delivered=1 failed=0"
    posts = rx.posts()
    assert len(posts) == 3
    assert all(p[3] == BODY.encode() for p in posts)
    assert res.stderr.count("PVL00061") == 2
    assert "HTTP 500" in res.stderr
    assert "try 3 of 6" in res.stderr


def test_receiver_down_at_first(driver, receivers):
    port = free_port()
    # Enough tries that the receiver is up long before they run out:
    # 0.1 s doubling gives retries until about 12 s.
    proc = subprocess.Popen([driver, f"http://127.0.0.1:{port}/late", BODY, "8", "0.1"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        rx = receivers(port=port)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == "delivered=1 failed=0"
    assert len(rx.posts()) == 1
    assert "PVL00061" in err  # at least the first try found nobody listening


class HangingReceiver:
    """Accepts connections and never answers (nor reads)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            c.close()


def test_hanging_receiver_given_up(driver):
    rx = HangingReceiver()
    try:
        res = run_driver(driver, f"http://127.0.0.1:{rx.port}/hang", BODY, 2, 0.1, 0.5,
                         timeout=20)
        deadline = time.monotonic() + 5
        while len(rx.conns) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(rx.conns) == 2  # one connection per try, no more
    finally:
        rx.close()
    assert res.returncode == 1, res.stderr
    assert res.stdout.strip() == "delivered=0 failed=1"
    assert "PVL00062" in res.stderr
    assert "after 2 tries" in res.stderr


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/1",
    "ftp://127.0.0.1/status",
    "dict://127.0.0.1:2628/d:x",
    "127.0.0.1:80/no-scheme",
    "http://",
    "",
])
def test_non_http_url_refused(driver, url):
    res = run_driver(driver, url, BODY)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("refused: ")
    assert res.stdout == ""


def test_redirect_not_followed(driver, receivers):
    # A 3xx is not an acknowledgement: tried again, then given up.
    target = receivers()
    rx = receivers(answers=(302,), headers={"Location": target.url("/elsewhere")})
    res = run_driver(driver, rx.url(), BODY, 2, 0.1)
    assert res.returncode == 1, res.stderr
    assert res.stdout.strip() == "delivered=0 failed=1"
    assert len(rx.posts()) == 2
    assert target.requests == []
    assert "HTTP 302 (redirects are not followed)" in res.stderr
