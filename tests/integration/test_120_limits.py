"""PVLaunchIdleTimeout watches a session's port for client connections and
stops it after that long without one; PVLaunchMaxLifetime stops any session
at that age. Both show in the launch's logEntries and its callback."""
import base64
import os
import socket
import time

from conftest import wait_until
from test_080_queue import Receiver


def open_websocket(a, sid):
    """A websocket upgraded through Apache's route to the app, left idle
    (no frames): a client connection the way Apache proxies it."""
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /proxy?sessionId=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "\r\n" % (sid, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def test_idle_timeout_counts_connections_not_time(server):
    a = server(extra_conf="PVLaunchIdleTimeout 2")
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    # A websocket through Apache held open longer than the timeout: kept.
    ws = open_websocket(a, obj["id"])
    time.sleep(4)
    assert a.json("GET", "/paraview/" + obj["id"])[0] == 200
    ws.close()
    # Closed: stopped about two seconds later (plus one scan).
    closed = time.time()
    assert wait_until(lambda: a.json("GET", "/paraview/" + obj["id"])[0] == 404, timeout=6)
    assert time.time() - closed >= 1.5
    assert "no client connection for 2 s" in a.read_log()


def test_max_lifetime_and_callback(event_server):
    a = event_server(extra_conf="PVLaunchMaxLifetime 1.5")
    rx = Receiver()
    try:
        status, hdrs, data = a.request(
            "POST", "/paraview", {"application": "demo"},
            {"Prefer": "respond-async",
             "Status-Location": "http://127.0.0.1:%d/cb" % rx.port})
        assert status == 202
        loc = hdrs["Content-Location"]
        assert wait_until(lambda: rx.got, timeout=10)
        body = rx.got[0][2]
        assert body["state"] == "completed"
        assert any("maximum lifetime of 1.5 s" in e["message"] for e in body["logEntries"])
        assert a.json("GET", loc)[1]["state"] == "completed"
    finally:
        rx.close()
