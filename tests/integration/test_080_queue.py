"""Seed 004 on top of the ParaViewWeb API: the launch queue (PVLaunchQueue),
asynchronous launches followed through Content-Location, the launch
resource in JSON and XML, the form interface, Status-Location callbacks,
the admin listing and reordering behind Apache's own authentication, and
maintenance mode."""
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import apache_harness as H
from conftest import procs_mentioning, wait_until
from test_020_launch import port_is_free

ADMIN, ADMIN_PW = "alice", "alice-pw"
USER, USER_PW = "bob", "bob-pw"
LAUNCH_FIELDS = {"id", "uri", "service", "state", "requestNumber", "requestTime", "duration",
                 "arguments", "status", "logEntries"}


def auth_conf(tmp):
    """The issue's configuration: admins for GET/PUT on the collection,
    everyone for the rest."""
    pw = os.path.join(tmp, "htpasswd")
    subprocess.run(["htpasswd", "-cbB", pw, ADMIN, ADMIN_PW], check=True, capture_output=True)
    subprocess.run(["htpasswd", "-bB", pw, USER, USER_PW], check=True, capture_output=True)
    groups = os.path.join(tmp, "groups")
    with open(groups, "w") as f:
        f.write("admins: %s\n" % ADMIN)
    return """<Location /paraview>
  AuthType Basic
  AuthName pvlaunch-admin
  AuthBasicProvider file
  AuthUserFile %s
  AuthGroupFile %s
  AuthzSendForbiddenOnFailure On
  <If "%%{REQUEST_METHOD} in {'GET','PUT'} && %%{REQUEST_URI} =~ m#^/paraview/?$#">
    Require group admins
  </If>
  <Else>
    Require all granted
  </Else>
</Location>""" % (pw, groups)


def basic(user, pw):
    import base64
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}


def queued_server(factory, count=1, length=5, wait=30, admin=False, extra=""):
    holder = {}

    def mutate(cfg, tmp):
        holder["tmp"] = tmp
    a = factory(count=count, mutate=mutate, start=False)
    conf = "PVLaunchQueue %d %s\n%s" % (length, wait, extra)
    if admin:
        conf += "\n" + auth_conf(a.tmp)
    a.write_conf(conf)
    return a.start()


def post_async(a, body=None, headers=None):
    h = {"Prefer": "respond-async"}
    h.update(headers or {})
    status, hdrs, data = a.request("POST", "/paraview", body or {"application": "demo"}, h)
    return status, hdrs, json.loads(data)


def app_count(a):
    return len([p for p in procs_mentioning(a.tmp) if "fake_wslink_app" in p[2] and p[1] != "Z"])


def test_held_client_gets_200_when_a_session_ends(server):
    a = queued_server(server, count=1)
    status, first, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    result = {}

    def held():
        result["answer"] = a.json("POST", "/paraview", {"application": "demo"}, timeout=60)
    t = threading.Thread(target=held)
    t.start()
    time.sleep(0.5)
    assert t.is_alive()  # held, not refused
    assert app_count(a) == 1
    assert a.json("DELETE", "/paraview/" + first["id"])[0] == 200
    t.join(30)
    status, obj, _ = result["answer"]
    # exactly what a ParaViewWeb client expects
    assert status == 200, obj
    assert "sessionURL" in obj and "secret" in obj and "state" not in obj
    assert a.json("GET", "/paraview/" + obj["id"])[1] == obj
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200


def test_wait_limit_gives_503_and_leaves_the_queue(event_server):
    a = queued_server(event_server, count=1, wait=1)
    first = a.json("POST", "/paraview", {"application": "demo"})[1]
    t = time.time()
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 503 and "maximum wait of 1 s" in obj["error"], obj
    assert time.time() - t >= 0.9
    # nothing was started for it, and the queue is empty again
    assert a.json("DELETE", "/paraview/" + first["id"])[0] == 200
    assert wait_until(lambda: app_count(a) == 0, timeout=3)
    # a full queue answers 503 at once
    a2 = queued_server(event_server, count=1, length=1, wait=30)
    held = a2.json("POST", "/paraview", {"application": "demo"})[1]
    s1, h1, w1 = post_async(a2)
    assert s1 == 202 and w1["state"] == "waiting"
    status, obj, _ = a2.json("POST", "/paraview", {"application": "demo"})
    assert status == 503 and "queue is full" in obj["error"]
    assert a2.json("DELETE", "/paraview/" + w1["id"])[0] == 200
    assert a2.json("DELETE", "/paraview/" + held["id"])[0] == 200


def test_client_that_hangs_up_loses_its_place(event_server):
    a = queued_server(event_server, count=1)
    first = a.json("POST", "/paraview", {"application": "demo"})[1]
    body = json.dumps({"application": "demo"}).encode()
    s = socket.create_connection(("127.0.0.1", a.port))
    s.sendall(b"POST /paraview HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
              % (len(body), body))
    time.sleep(0.5)
    s.close()
    assert wait_until(lambda: "queued launch" in a.read_log() and "abandoned" in a.read_log(),
                      timeout=5), a.read_log()[-1500:]
    assert a.json("DELETE", "/paraview/" + first["id"])[0] == 200
    time.sleep(1)
    assert app_count(a) == 0  # nothing started for nobody


def test_async_client_follows_content_location(server):
    a = queued_server(server, count=1)
    status, hdrs, running = post_async(a, {"application": "demo", "user": "ann"})
    assert status == 202 and hdrs["Preference-Applied"] == "respond-async"
    loc = hdrs["Content-Location"]
    assert loc == "/paraview/" + running["id"] and running["uri"] == loc
    assert LAUNCH_FIELDS <= set(running), running
    assert running["service"] == "demo" and running["state"] == "running"
    assert {"name": "user", "value": "ann"} in running["arguments"]
    status, hdrs, waiting = post_async(a)
    assert status == 202 and waiting["state"] == "waiting"
    assert {"name": "queuePosition", "value": "1"} in waiting["status"]
    assert waiting["requestNumber"] > running["requestNumber"]
    # the running one becomes ready: the usual ParaViewWeb keys appear
    got = wait_until(lambda: (lambda o: o if "sessionURL" in o else None)(
        a.json("GET", loc)[1]), timeout=10)
    assert got and got["state"] == "running" and got["secret"] and "startTime" in got
    assert any(e["message"] == "application ready" for e in got["logEntries"])
    # cancel the waiting one, stop the running one: both stay visible
    status, canceled, _ = a.json("DELETE", hdrs["Content-Location"])
    assert status == 200 and canceled["state"] == "canceled" and "endTime" in canceled
    status, stopped, _ = a.json("DELETE", loc)
    assert status == 200 and stopped["state"] == "canceled"
    assert a.json("GET", loc)[1]["state"] == "canceled"
    assert a.json("GET", hdrs["Content-Location"])[1]["state"] == "canceled"
    assert wait_until(lambda: app_count(a) == 0, timeout=5)
    assert port_is_free(a.launcher["resources"][0]["port_range"][0])
    # the route is gone although the resource stays
    assert a.request("GET", "/proxy?sessionId=" + running["id"],
                     headers={"Upgrade": "websocket", "Connection": "Upgrade"})[0] == 404


def test_xml_and_accept(event_server):
    a = queued_server(event_server, count=1)
    tricky = "<b>&amp;\"'\u00e9\x01]]>"
    status, hdrs, obj = post_async(a, {"application": "demo", "note": tricky, "x<y": 1})
    assert status == 202
    loc = hdrs["Content-Location"]
    status, h, data = a.request("GET", loc, headers={"Accept": "application/xml"})
    assert status == 200 and h["Content-Type"].startswith("application/xml")
    root = ET.fromstring(data)  # a real parser: raises unless well-formed
    assert root.tag == "launch"
    assert root.find("id").text == obj["id"]
    assert root.find("state").text in ("running", "waiting")
    args = {e.find("name").text: e.find("value").text
            for e in root.find("arguments").findall("argument")}
    assert args["note"] == tricky.replace("\x01", "\ufffd")
    assert args["x<y"] == "1"
    assert root.find("logEntries").find("logEntry").find("kind").text == "progress"
    assert a.request("GET", loc, headers={"Accept": "text/html"})[0] == 406
    status, h, data = a.request("GET", loc, headers={"Accept": "text/html, */*;q=0.1"})
    assert status == 200 and h["Content-Type"].startswith("application/json")
    assert a.json("DELETE", loc)[0] == 200
    # a plain ParaViewWeb session ignores Accept, as before
    status, h, data = a.request("POST", "/paraview", {"application": "demo"},
                                {"Accept": "text/html"})
    assert status == 200 and h["Content-Type"] == "application/json"
    sid = json.loads(data)["id"]
    status, h, data = a.request("GET", "/paraview/" + sid, headers={"Accept": "application/xml"})
    assert status == 200 and json.loads(data)["id"] == sid
    assert a.json("DELETE", "/paraview/" + sid)[0] == 200


def test_form_interface(event_server):
    def sanitize(cfg, tmp):
        cfg["apps"]["demo"]["cmd"] = cfg["apps"]["demo"]["cmd"] + ["--tag", "${label}"]
        cfg["configuration"]["sanitize"] = {
            "label": {"type": "regexp", "regexp": "^[a-z]{1,8}$", "default": "nobody"}}
    a = event_server(mutate=sanitize, count=4)
    boundary = "XyZ123"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"label\"\r\n\r\nann\r\n"
            "--%s\r\nContent-Disposition: form-data; name=\"resolution\"\r\n\r\n1920x1080\r\n"
            "--%s--\r\n" % (boundary, boundary, boundary))
    status, hdrs, data = a.request(
        "POST", "/paraview?id=demo", body,
        {"Content-Type": "multipart/form-data; boundary=" + boundary})
    obj = json.loads(data)
    assert status == 200, obj  # seed 004: 200 with Content-Location
    assert hdrs["Content-Location"] == "/paraview/" + obj["id"]
    assert {"name": "label", "value": "ann"} in obj["arguments"]
    assert {"name": "resolution", "value": "1920x1080"} in obj["arguments"]
    # urlencoded; a value the sanitize rule rejects falls back to its default
    status, hdrs2, data = a.request("POST", "/paraview?id=demo", "label=EVIL%3Brm&x=a+b",
                                    {"Content-Type": "application/x-www-form-urlencoded"})
    obj2 = json.loads(data)
    assert status == 200, obj2
    got = wait_until(lambda: (lambda o: o if "sessionURL" in o else None)(
        a.json("GET", hdrs2["Content-Location"])[1]), timeout=10)
    assert got["label"] == "nobody"
    # parameters as headers: only the application's own parameters count
    # (${user} is the server's: whom Apache authenticated, never a field)
    status, hdrs3, data = a.request("POST", "/paraview?id=demo", None,
                                    {"label": "carl", "X-Other": "ignored"})
    obj3 = json.loads(data)
    assert status == 200, obj3
    assert [x for x in obj3["arguments"] if x["name"] == "label"] == [
        {"name": "label", "value": "carl"}]
    assert not [x for x in obj3["arguments"] if x["name"].lower() == "x-other"]
    # errors are JSON with the right status
    assert a.json("POST", "/paraview?id=nope", None)[0] == 400
    status, bad, _ = a.json("POST", "/paraview?id=demo", "--x\r\n",
                            {"Content-Type": "multipart/form-data; boundary=x"})
    assert status == 400 and "multipart" in bad["error"]
    status, bad, _ = a.json("POST", "/paraview?id=demo", "a=%zz",
                            {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    status, bad, _ = a.json("POST", "/paraview?id=demo", "<x/>", {"Content-Type": "text/xml"})
    assert status == 415
    for h in (hdrs, hdrs2, hdrs3):
        assert a.json("DELETE", h["Content-Location"])[0] == 200


class Receiver:
    """A small HTTP server that records the POSTs it gets."""

    def __init__(self, port=0):
        got = self.got = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                got.append((self.path, self.headers.get("Content-Type"),
                            json.loads(self.rfile.read(n))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_status_location_callbacks(event_server):
    a = queued_server(event_server, count=1)
    rx = Receiver()
    try:
        url = "http://127.0.0.1:%d/done?token=abc" % rx.port
        status, hdrs, obj = post_async(a, headers={"Status-Location": url})
        assert status == 202
        assert a.json("DELETE", hdrs["Content-Location"])[0] == 200
        assert wait_until(lambda: rx.got, timeout=10)
        path, ctype, body = rx.got[0]
        assert path == "/done?token=abc" and ctype == "application/json"
        assert body["id"] == obj["id"] and body["state"] == "canceled"
        # the same content as GET
        assert body == a.json("GET", hdrs["Content-Location"])[1]
    finally:
        rx.close()
    # a receiver that is down at first, then up: delivered by a retry
    port = H.free_port()
    status, hdrs, obj = post_async(a, headers={
        "Status-Location": "http://127.0.0.1:%d/late" % port})
    assert a.json("DELETE", hdrs["Content-Location"])[0] == 200
    time.sleep(0.5)
    rx = Receiver(port)
    try:
        assert wait_until(lambda: rx.got, timeout=15), a.read_log()[-2000:]
        assert rx.got[0][2]["id"] == obj["id"]
    finally:
        rx.close()
    # not an http(s) URL: refused at once
    status, _, obj = post_async(a, headers={"Status-Location": "file:///etc/passwd"})
    assert status == 400 and "Status-Location" in obj["error"]
    # http-looking but not URLs libcurl would send to: refused at the
    # request too, by the parser that would send (not accepted, then dropped)
    for bad in ("http://", "https://[::1/cb", "http://host:99999/cb", "http://exa mple/cb"):
        status, _, obj = post_async(a, headers={"Status-Location": bad})
        assert status == 400 and "Status-Location must be" in obj["error"], (bad, status, obj)
    assert "token=abc" not in a.read_log()


def test_admin_auth_list_and_reorder(server):
    a = queued_server(server, count=1, admin=True)
    a.allowed_log += ["AH01617", "AH01631"]  # Apache's own auth failures
    # Apache's auth decides: 401 without credentials, 403 for a non-admin
    assert a.request("GET", "/paraview")[0] == 401
    assert a.request("GET", "/paraview", headers=basic(USER, "wrong"))[0] == 401
    assert a.request("GET", "/paraview", headers=basic(USER, USER_PW))[0] == 403
    assert a.request("PUT", "/paraview?id=x&direction=top", headers=basic(USER, USER_PW))[0] == 403
    status, obj, _ = a.json("GET", "/paraview", headers=basic(ADMIN, ADMIN_PW))
    assert status == 200 and obj == []
    # everyone may still launch
    status, first, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    ids = [post_async(a)[2]["id"] for _ in range(3)]
    status, listing, _ = a.json("GET", "/paraview", headers=basic(ADMIN, ADMIN_PW))
    assert status == 200
    assert [x["id"] for x in listing] == [first["id"]] + ids
    assert [x["state"] for x in listing] == ["running", "waiting", "waiting", "waiting"]
    assert {"id", "uri", "service", "state", "requestNumber", "requestTime"} <= set(listing[1])
    # the XML form of the listing parses
    status, h, data = a.request("GET", "/paraview", headers=dict(
        basic(ADMIN, ADMIN_PW), Accept="application/xml"))
    assert status == 200
    assert [e.find("id").text for e in ET.fromstring(data).findall("launch")] == \
        [first["id"]] + ids
    # reorder: the last one to the top
    admin = basic(ADMIN, ADMIN_PW)
    status, listing, _ = a.json("PUT", "/paraview?id=%s&direction=top" % ids[2], headers=admin)
    assert status == 200, listing
    assert [x["id"] for x in listing][1:] == [ids[2], ids[0], ids[1]]
    status, listing, _ = a.json("PUT", "/paraview?id=%s&direction=down" % ids[2], headers=admin)
    assert [x["id"] for x in listing][1:] == [ids[0], ids[2], ids[1]]
    for bad in ("?id=%s" % ids[0], "?id=%s&direction=sideways" % ids[0],
                "?id=unknownid&direction=up", "?id=%s&direction=up" % first["id"]):
        status, obj, hdrs = a.json("PUT", "/paraview" + bad, headers=admin)
        assert status == 400 and "error" in obj, (bad, status, obj)
    # the new order is the start order: free the slot, ids[0] starts
    assert a.json("DELETE", "/paraview/" + first["id"])[0] == 200
    assert wait_until(lambda: a.json("GET", "/paraview/" + ids[0])[1]["state"] == "running",
                      timeout=10)
    assert a.json("GET", "/paraview/" + ids[2])[1]["state"] == "waiting"
    for sid in ids:
        assert a.json("DELETE", "/paraview/" + sid)[0] == 200


def test_admin_interface_needs_apache_auth(event_server):
    """Without authentication configured the collection stays POST-only."""
    a = queued_server(event_server, count=1)
    status, obj, hdrs = a.json("GET", "/paraview")
    assert status == 405 and hdrs["Allow"] == "POST" and "authentication" in obj["error"]


def test_maintenance_mode(server):
    a = queued_server(server, count=2)
    status, running, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    a.write_conf("PVLaunchQueue 5 30\nPVLaunchMaintenance On")
    assert a.signal("graceful").returncode == 0
    assert wait_until(lambda: a.json("POST", "/paraview", {"application": "demo"})[0] == 503,
                      timeout=10)
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert "maintenance" in obj["error"]
    assert a.request("POST", "/paraview?id=demo", "")[0] == 503
    # the running session is untouched
    assert a.json("GET", "/paraview/" + running["id"])[1] == running
    assert app_count(a) == 1
    a.write_conf("PVLaunchQueue 5 30\nPVLaunchMaintenance Off")
    assert a.signal("graceful").returncode == 0
    assert wait_until(lambda: a.json("GET", "/paraview/nosuch")[0] == 404, timeout=10)
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200
    for sid in (running["id"], obj["id"]):
        assert a.json("DELETE", "/paraview/" + sid)[0] == 200


def test_ended_launches_are_forgotten_after_keep_finished(event_server):
    a = queued_server(event_server, count=1, extra="PVLaunchKeepFinished 1")
    status, hdrs, obj = post_async(a)
    loc = hdrs["Content-Location"]
    assert a.json("DELETE", loc)[0] == 200
    assert a.json("GET", loc)[1]["state"] == "canceled"
    assert wait_until(lambda: a.json("GET", loc)[0] == 404, timeout=5)
    # ParaViewWeb sessions are never kept: 404 right after DELETE, as before
    status, plain, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert a.json("DELETE", "/paraview/" + plain["id"])[0] == 200
    assert a.json("GET", "/paraview/" + plain["id"])[0] == 404
