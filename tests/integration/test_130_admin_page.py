"""The HTML admin page (SetHandler pvlaunch-admin), in the spirit of
mod_proxy_balancer's balancer-manager: running sessions and the launch queue,
a log tail per session, Stop and Top/Up/Down/Bottom buttons behind CSRF
protection, and the same Apache authentication as the REST admin interface.

The pytest-level test reads the page over plain HTTP (escaping, well-formed
markup, the refusals: no credentials, a non-admin, no authentication
configured, POSTs without the form token or from another origin). The
browser test drives it in headless Chromium (Debian's, through playwright-core
in web/e2e/admin.mjs): Top on the last waiting launch, the log tail, Stop on
the running session, then the first waiting launch starts.

The browser's screenshot goes to build/artifacts/admin-page.png; docs/admin.png
(the README's picture) is written when missing, or rewritten when
PVL_UPDATE_SCREENSHOTS=1.
"""
import html
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
import urllib.parse
from html.parser import HTMLParser

import pytest

import apache_harness as H
from conftest import procs_mentioning, wait_until
from test_080_queue import ADMIN, ADMIN_PW, USER, USER_PW, auth_conf, basic, post_async

from browser import CHROMIUM, WEB, build_web, need_chromium
ARTIFACTS = os.path.join(H.REPO, "build", "artifacts")
DOCS_SHOT = os.path.join(H.REPO, "docs", "admin.png")

# Client- and config-chosen text that must come out escaped: an application
# name, and a tag the demo app prints into its log (its argv).
TRICKY_APP = "viz<b>&\"'\u00e9"
LOG_TAG = "<script>alert(1)</script>&amp;"


def admin_conf(tmp):
    """The REST admin interface of test_080 at /paraview, the page at
    /pvadmin for the admins group, and the page without authentication."""
    return auth_conf(tmp) + """
<Location /pvadmin>
  SetHandler pvlaunch-admin
  AuthType Basic
  AuthName pvlaunch-admin
  AuthBasicProvider file
  AuthUserFile %(tmp)s/htpasswd
  AuthGroupFile %(tmp)s/groups
  AuthzSendForbiddenOnFailure On
  Require group admins
</Location>
<Location /pvadmin-open>
  SetHandler pvlaunch-admin
</Location>""" % {"tmp": tmp}


def admin_server(factory):
    """One port, a queue, an admin page; one running session (ready) and two
    waiting launches, the second of the tricky application."""
    def mutate(cfg, tmp):
        cfg["apps"]["demo"]["cmd"] += ["--tag", LOG_TAG]
        cfg["apps"][TRICKY_APP] = {"cmd": H.app_cmd("ready", tmp=tmp),
                                   "ready_line": "Starting factory"}
    a = factory(count=1, mutate=mutate, start=False)
    a.write_conf("PVLaunchQueue 5 120\n" + admin_conf(a.tmp))
    a.allowed_log += ["AH01617", "AH01631"]  # Apache's own auth failures
    a.start()
    status, hdrs, running = post_async(a)
    assert status == 202 and running["state"] == "running", running
    assert wait_until(lambda: "sessionURL" in a.json("GET", running["uri"])[1], timeout=10)
    status, _, w1 = post_async(a)
    assert status == 202 and w1["state"] == "waiting", w1
    status, _, w2 = post_async(a, {"application": TRICKY_APP})
    assert status == 202 and w2["state"] == "waiting", w2
    return a, running["id"], w1["id"], w2["id"]


def rest_list(a):
    status, _, data = a.request("GET", "/paraview", headers=basic(ADMIN, ADMIN_PW))
    assert status == 200, data
    return json.loads(data)


def waiting_ids(a):
    return [l["id"] for l in rest_list(a) if l["state"] == "waiting"]


def cleanup(a):
    for l in rest_list(a):
        a.request("DELETE", "/paraview/" + l["id"])
    assert wait_until(lambda: not [p for p in procs_mentioning(a.tmp)
                                   if "fake_wslink_app" in p[2] and p[1] != "Z"], timeout=10)


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class PageReader(HTMLParser):
    """Checks what html.parser can check of an HTML5 document (doctype, tags
    balanced, no duplicate attribute or id, no self-closing non-void tag)
    and collects the rows of #sessions and #queue, the forms and links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.doctype = None
        self.stack = []
        self.errors = []
        self.ids = set()
        self.table = None
        self.rows = {"sessions": [], "queue": []}
        self.cell = None
        self.forms = []
        self.links = []
        self.text = []

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        names = [k for k, _ in attrs]
        if len(set(names)) != len(names):
            self.errors.append("duplicate attribute in <%s>" % tag)
        a = dict(attrs)
        if "id" in a:
            if a["id"] in self.ids:
                self.errors.append("duplicate id %r" % a["id"])
            self.ids.add(a["id"])
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "table":
            self.table = a.get("id")
        elif tag == "tr" and "data-id" in a and self.table in self.rows:
            self.rows[self.table].append({"id": a["data-id"], "state": a.get("data-state"),
                                          "cells": []})
        elif tag == "td" and self.table in self.rows and self.rows[self.table]:
            self.cell = []
        elif tag == "form":
            self.forms.append({"attrs": a, "inputs": {}, "buttons": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"][a.get("name")] = a.get("value")
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append(a)
        elif tag == "a":
            self.links.append(a.get("href"))

    def handle_startendtag(self, tag, attrs):
        if tag not in VOID:
            self.errors.append("self-closing <%s/>" % tag)
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> does not close <%s>" % (tag, self.stack[-1:]))
            return
        self.stack.pop()
        if tag == "table":
            self.table = None
        elif tag == "td" and self.cell is not None:
            rows = self.rows.get(self.table)
            if rows:
                rows[-1]["cells"].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell.append(data)


def read_page(data):
    text = data.decode("utf-8")  # raises unless UTF-8
    p = PageReader()
    p.feed(text)
    p.close()
    assert p.doctype == "DOCTYPE html", p.doctype
    assert text.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert not p.errors, p.errors
    assert not p.stack, "unclosed: %r" % p.stack
    assert not re.search("[\x00-\x08\x0b\x0e-\x1f\x7f]", text)
    return p


def page(a, path="/pvadmin", headers=None):
    h = basic(ADMIN, ADMIN_PW)
    h.update(headers or {})
    return a.request("GET", path, headers=h)


def post(a, fields, user=(ADMIN, ADMIN_PW), cookie=None, origin=None, referer=None):
    h = basic(*user)
    h["Content-Type"] = "application/x-www-form-urlencoded"
    if cookie is not None:
        h["Cookie"] = "other=1; pvl_csrf=%s" % cookie
    if origin is not None:
        h["Origin"] = origin
    if referer is not None:
        h["Referer"] = referer
    return a.request("POST", "/pvadmin", urllib.parse.urlencode(fields), h)


def test_admin_page_over_http(server):
    a, run_id, w1, w2 = admin_server(server)
    own = "http://127.0.0.1:%d" % a.port

    # Apache's authentication and authorization decide, as for the REST API.
    status, hdrs, _ = a.request("GET", "/pvadmin")
    assert status == 401 and hdrs["WWW-Authenticate"].startswith("Basic")
    assert page(a, headers=basic(USER, USER_PW))[0] == 403
    assert page(a, headers=basic(ADMIN, "wrong"))[0] == 401
    # Without authentication configured the page refuses to work.
    status, hdrs, data = a.request("GET", "/pvadmin-open")
    assert status == 403 and hdrs["Content-Type"] == "text/html; charset=utf-8"
    read_page(data)
    assert "needs an administrator authenticated by Apache" in data.decode()
    assert run_id not in data.decode()

    status, hdrs, data = page(a)
    assert status == 200, data
    assert hdrs["Content-Type"] == "text/html; charset=utf-8"
    assert hdrs["Cache-Control"] == "no-store" and hdrs["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in hdrs["Content-Security-Policy"]
    assert "script-src" not in hdrs["Content-Security-Policy"]  # default-src 'none': no script
    cookie = hdrs["Set-Cookie"]
    m = re.match(r"pvl_csrf=([A-Za-z0-9_-]{43}); Path=/pvadmin; HttpOnly; SameSite=Strict$",
                 cookie)
    assert m, cookie
    token = m.group(1)
    p = read_page(data)
    raw = data.decode()

    [srow] = p.rows["sessions"]
    port = a.launcher["resources"][0]["port_range"][0]
    assert srow["id"] == run_id and srow["state"] == "running"
    assert srow["cells"][0] == run_id and srow["cells"][2] == "demo"
    assert srow["cells"][3] == "\u2014"  # no owner: launched without authentication
    assert re.fullmatch(r"\d+s|\d+m \d+s", srow["cells"][4]), srow
    assert srow["cells"][5] == "127.0.0.1:%d" % port
    assert [r["id"] for r in p.rows["queue"]] == [w1, w2]
    assert [r["cells"][0] for r in p.rows["queue"]] == ["1", "2"]
    assert [r["cells"][2] for r in p.rows["queue"]] == ["demo", TRICKY_APP]
    # escaped, never raw markup
    assert TRICKY_APP not in raw and html.escape(TRICKY_APP, quote=True).replace(
        "&#x27;", "&#39;") in raw
    assert "/pvadmin?log=" + run_id in p.links
    stop = [f for f in p.forms if f["inputs"].get("action") == "stop"]
    move = [f for f in p.forms if f["inputs"].get("action") == "move"]
    assert [f["inputs"]["id"] for f in stop] == [run_id]
    assert [f["inputs"]["id"] for f in move] == [w1, w2]
    for f in stop + move:
        assert f["attrs"] == {"method": "post", "action": "/pvadmin"}
        assert f["inputs"]["csrf"] == token
    assert [(b["value"], "disabled" in b) for b in move[0]["buttons"]] == [
        ("top", True), ("up", True), ("down", False), ("bottom", False)]
    assert [(b["value"], "disabled" in b) for b in move[1]["buttons"]] == [
        ("top", False), ("up", False), ("down", True), ("bottom", True)]
    # A browser that has a token keeps it (other tabs' forms stay valid).
    status, hdrs, data = page(a, headers={"Cookie": "pvl_csrf=" + token})
    assert status == 200 and "Set-Cookie" not in hdrs and ('value="%s"' % token) in data.decode()

    # The log tail: escaped text in a <pre>.
    status, hdrs, data = page(a, "/pvadmin?log=" + run_id)
    assert status == 200, data
    lp = read_page(data)
    assert LOG_TAG not in data.decode() and html.escape(LOG_TAG, quote=False) in data.decode()
    log_text = "".join(lp.text)
    assert "Starting factory" in log_text and LOG_TAG in log_text
    assert page(a, "/pvadmin?log=" + w1)[0] == 404  # waiting: no log yet
    assert page(a, "/pvadmin?log=no%20such")[0] == 404

    # CSRF: nothing happens without the token, with another token, or from
    # another origin; each refusal is a 403 page.
    move_w2 = {"csrf": token, "action": "move", "id": w2, "direction": "top"}
    no_token = dict(move_w2)
    del no_token["csrf"]
    refused = [
        post(a, no_token, cookie=token, origin=own),
        post(a, move_w2, origin=own),  # no cookie
        post(a, move_w2, cookie="A" * 43, origin=own),
        post(a, dict(move_w2, csrf="A" * 43), cookie=token, origin=own),
        post(a, move_w2, cookie=token, origin="http://evil.example"),
        post(a, move_w2, cookie=token, origin="http://127.0.0.1:%d" % (a.port + 1)),
        # the same host and port, another scheme: another origin
        post(a, move_w2, cookie=token, origin="https://127.0.0.1:%d" % a.port),
        post(a, move_w2, cookie=token, referer="https://127.0.0.1:%d/pvadmin" % a.port),
        post(a, move_w2, cookie=token, origin="null"),
        post(a, move_w2, cookie=token, referer="http://evil.example/pvadmin"),
        post(a, move_w2, cookie=token, referer="http://127.0.0.1:%d@evil.example/" % a.port),
        post(a, move_w2, cookie=token),  # neither Origin nor Referer
    ]
    for status, hdrs, data in refused:
        assert status == 403 and "Request refused" in data.decode(), (status, data)
        read_page(data)
    assert waiting_ids(a) == [w1, w2]
    # Apache refuses a non-admin's POST, even with a good token.
    assert post(a, move_w2, user=(USER, USER_PW), cookie=token, origin=own)[0] == 403
    assert a.request("PUT", "/pvadmin", "", basic(ADMIN, ADMIN_PW))[0] == 405

    # The same POST from this origin (or, without Origin, with a Referer of
    # this host) is carried out, and answered 303 back to the page.
    status, hdrs, data = post(a, move_w2, cookie=token, origin=own)
    assert status == 303, data
    assert hdrs["Location"] == "/pvadmin?done=moved&id=%s&direction=top" % w2
    assert waiting_ids(a) == [w2, w1]
    status, hdrs, data = post(a, dict(move_w2, direction="down"), cookie=token,
                              referer=own + "/pvadmin?done=moved")
    assert status == 303 and waiting_ids(a) == [w1, w2]
    status, _, data = page(a, hdrs["Location"])
    assert status == 200 and 'id="message" class="message ok"' in data.decode()
    assert "was moved down" in data.decode()
    # a launch that is not waiting is reported, not an error page
    status, hdrs, _ = post(a, dict(move_w2, id=run_id), cookie=token, origin=own)
    assert status == 303 and "done=not-waiting" in hdrs["Location"]
    assert post(a, dict(move_w2, direction="sideways"), cookie=token, origin=own)[0] == 400
    assert post(a, dict(move_w2, id="bad id"), cookie=token, origin=own)[0] == 400
    assert "PVL00402: admin page: refused a POST by %s" % ADMIN in a.read_log()
    cleanup(a)


# ---- the browser -------------------------------------------------------------


class Browser:
    """web/e2e/admin.mjs in its own process group; JSON lines on stdout."""

    def __init__(self, node, args):
        self.proc = subprocess.Popen([node, os.path.join(WEB, "e2e", "admin.mjs")] + args,
                                     cwd=WEB, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.buf = b""

    def line(self, timeout):
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                self.kill()
                pytest.fail("the browser said nothing within %ss:\n%s" % (timeout, self.stderr()))
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                break
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            self.kill()
            pytest.fail("admin.mjs wrote %r (exit %s):\n%s" % (line, self.proc.poll(),
                                                             self.stderr()))

    def send(self, text):
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def stderr(self):
        try:
            return self.proc.stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def test_admin_page_in_chromium(event_server):
    need_chromium("the admin page")
    node = build_web()
    a, run_id, w1, w2 = admin_server(event_server)
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "admin-page.png")
    log_shot = os.path.join(ARTIFACTS, "admin-log.png")
    for f in (shot, log_shot):
        if os.path.exists(f):
            os.unlink(f)
    b = Browser(node, ["--url", "http://127.0.0.1:%d/pvadmin" % a.port, "--user", ADMIN,
                       "--password", ADMIN_PW, "--chromium", CHROMIUM, "--timeout", "30",
                       "--shot", shot, "--log-shot", log_shot])
    try:
        first = b.line(120)
        if "checkpoint" in first:
            # Top on the last waiting launch: the REST listing agrees.
            assert first == {"checkpoint": "after-top", "queue": [w2, w1]}, first
            rest = waiting_ids(a)
            b.send("continue" if rest == [w2, w1] else "REST listing: %r" % rest)
            assert rest == [w2, w1]
            report = b.line(120)
        else:
            report = first
        b.proc.wait(30)
    finally:
        b.kill()
    with open(os.path.join(ARTIFACTS, "admin-e2e.json"), "w") as f:
        json.dump(report, f, indent=2)
    shown = json.dumps(report, indent=2) + "\n" + b.stderr()
    assert b.proc.returncode == 0 and report["ok"], "the page failed at '%s': %s\n%s" % (
        report["step"], report["error"], shown)

    # What the browser saw.
    init = report["initial"]
    port = a.launcher["resources"][0]["port_range"][0]
    assert [(s["id"], s["state"], s["application"], s["hostPort"], s["buttons"])
            for s in init["sessions"]] == [
        (run_id, "running", "demo", "127.0.0.1:%d" % port, ["Stop"])], shown
    assert [(q["id"], q["position"], q["application"]) for q in init["queue"]] == [
        (w1, "1", "demo"), (w2, "2", TRICKY_APP)], shown
    assert init["user"] == ADMIN and init["message"] is None, shown
    assert [q["id"] for q in report["afterTop"]["queue"]] == [w2, w1], shown
    assert report["afterTop"]["message"] == "Launch %s was moved to the top." % w2, shown
    assert report["log"]["url"].endswith("/pvadmin?log=" + run_id), shown
    assert LOG_TAG in report["log"]["text"] and "Starting factory" in report["log"]["text"]
    assert report["afterStop"]["message"] == "Session %s was stopped." % run_id, shown
    assert run_id not in [s["id"] for s in report["afterStop"]["sessions"]], shown
    started = report["afterStart"]
    assert [(s["id"], s["application"]) for s in started["sessions"]] == [(w2, TRICKY_APP)]
    assert [q["id"] for q in started["queue"]] == [w1], shown
    assert report["consoleErrors"] == [] and report["pageErrors"] == [], shown
    # every action was a POST answered 303 back to the page
    navs = [(n["method"], n["status"]) for n in report["navigations"]]
    assert set(navs) == {("GET", 200), ("POST", 303)} and navs.count(("POST", 303)) == 2, shown
    assert [n["path"] for n in report["navigations"] if n["method"] == "POST"] == [
        "/pvadmin", "/pvadmin"], shown

    # And from the launcher's side: the stopped session is gone, the moved
    # launch runs, the other one still waits.
    listing = rest_list(a)
    assert [(l["id"], l["state"]) for l in listing] == [(w2, "running"), (w1, "waiting")]
    status, stopped, _ = a.json("GET", "/paraview/" + run_id)
    assert status == 200 and stopped["state"] == "canceled", stopped
    assert os.path.isfile(shot) and os.path.getsize(shot) > 0
    if not os.path.exists(DOCS_SHOT) or os.environ.get("PVL_UPDATE_SCREENSHOTS") == "1":
        os.makedirs(os.path.dirname(DOCS_SHOT), exist_ok=True)
        shutil.copyfile(shot, DOCS_SHOT)
    cleanup(a)
