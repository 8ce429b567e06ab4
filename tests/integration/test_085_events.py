"""GET <location>/<id>/events: a launch's progress as Server-Sent Events
(state changes, queue position, the ready line), sent as they happen."""
import http.client
import json
import queue
import socket
import threading

from conftest import wait_until
from test_080_queue import post_async, queued_server


class EventStream:
    """Reads an event stream in a thread; events arrive on a queue."""

    def __init__(self, a, path):
        self.conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream"})
        self.sock = self.conn.sock  # the response may take it from the connection
        self.resp = self.conn.getresponse()
        self.events = queue.Queue()
        if self.resp.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        name, data = None, None
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and name:
                    self.events.put((name, data))
                    name, data = None, None
        except (OSError, ValueError, AttributeError):
            pass  # closed by the test
        finally:
            self.events.put(None)  # end of stream

    def next(self, timeout=10):
        return self.events.get(timeout=timeout)

    def close(self):
        # A reader thread blocked in recv() keeps the socket open through a
        # plain close(): shut it down, so that Apache sees the client go.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


def test_events_follow_a_queued_launch(server):
    a = queued_server(server, count=1)
    status, first, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    _, hdrs1, w1 = post_async(a)
    _, hdrs2, w2 = post_async(a)
    s = EventStream(a, hdrs2["Content-Location"] + "/events")
    assert s.resp.status == 200
    assert s.resp.getheader("Content-Type") == "text/event-stream"
    # sent at once, while the launch is still waiting: no buffering
    assert s.next() == ("state", {"state": "waiting", "queuePosition": 2})
    assert a.json("DELETE", hdrs1["Content-Location"])[0] == 200  # the one ahead leaves
    assert s.next() == ("position", {"state": "waiting", "queuePosition": 1})
    assert a.json("DELETE", "/paraview/" + first["id"])[0] == 200  # a slot frees up
    assert s.next() == ("state", {"state": "running", "sessionState": "starting"})
    name, data = s.next()
    assert name == "ready" and data["line"] == "Starting factory" and data["sessionState"] == "ready"
    got = a.json("GET", hdrs2["Content-Location"])[1]
    assert got["state"] == "running" and got["sessionURL"]
    assert a.json("DELETE", hdrs2["Content-Location"])[0] == 200
    assert s.next() == ("state", {"state": "canceled"})
    assert s.next() is None  # the stream ends with the launch
    s.close()


def test_events_of_a_paraviewweb_session_and_errors(event_server):
    a = event_server()
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    s = EventStream(a, "/paraview/%s/events" % obj["id"])
    assert s.next() == ("state", {"state": "running", "sessionState": "ready"})
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200
    assert s.next() == ("state", {"state": "canceled"})
    assert s.next() is None
    s.close()
    status, err, hdrs = a.json("GET", "/paraview/%s/events" % obj["id"])
    assert status == 404 and "error" in err
    assert a.json("GET", "/paraview/bad.id/events")[0] == 404
    assert a.json("POST", "/paraview/%s/events" % obj["id"], {})[0] == 405
    # a watcher that goes away leaves nothing behind
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    s = EventStream(a, "/paraview/%s/events" % obj["id"])
    assert s.next()[0] == "state"
    s.close()
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200


def test_event_streams_are_capped(event_server):
    """Each stream holds one of Apache's workers for the launch's life: past
    PVLaunchMaxStreams (in all, per launch, per client address) a stream is
    refused with 429 and Retry-After, and Apache keeps answering."""
    a = queued_server(event_server, count=1, extra="PVLaunchMaxStreams 5 2 3")
    status, first, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    _, h1, w1 = post_async(a)
    _, h2, w2 = post_async(a)
    held = [EventStream(a, h1["Content-Location"] + "/events") for _ in range(2)]
    assert [s.resp.status for s in held] == [200, 200]
    over = EventStream(a, h1["Content-Location"] + "/events")
    assert over.resp.status == 429 and over.resp.getheader("Retry-After")
    assert "on this launch" in json.loads(over.resp.read())["error"]
    held.append(EventStream(a, h2["Content-Location"] + "/events"))
    assert held[-1].resp.status == 200
    over = EventStream(a, h2["Content-Location"] + "/events")
    assert over.resp.status == 429
    assert "from this client address" in json.loads(over.resp.read())["error"]
    # Apache still answers everything else
    assert a.json("GET", "/paraview/" + first["id"])[0] == 200
    # a stream that ends frees its place (once the daemon sees it go)
    held.pop().close()

    def reopened():
        s = EventStream(a, h2["Content-Location"] + "/events")
        if s.resp.status == 200:
            held.append(s)
            return True
        s.close()
        return False
    assert wait_until(reopened, timeout=10, step=0.1)
    for s in held:
        s.close()
    for h in (h1, h2):
        assert a.json("DELETE", h["Content-Location"])[0] == 200


def test_event_streams_in_all(event_server):
    a = queued_server(event_server, count=1, extra="PVLaunchMaxStreams 2 5 5")
    a.json("POST", "/paraview", {"application": "demo"})
    _, h1, _ = post_async(a)
    held = [EventStream(a, h1["Content-Location"] + "/events") for _ in range(2)]
    assert [s.resp.status for s in held] == [200, 200]
    over = EventStream(a, h1["Content-Location"] + "/events")
    assert over.resp.status == 429
    assert "in all" in json.loads(over.resp.read())["error"]
    for s in held:
        s.close()
    assert a.json("DELETE", h1["Content-Location"])[0] == 200
