"""Multi-user sites: a session belongs to the user Apache authenticated for
its launch. Two users and an administrator with Basic auth (htpasswd) and
a group file; PVLaunchAdmin names the administrators once."""
import base64
import json
import os
import re
import subprocess
import threading

import apache_harness as H
import wslink_client
from conftest import wait_until
from test_020_launch import ws_url

ALICE, BOB, ROOT = ("alice", "alice-pw"), ("bob", "bob-pw"), ("root-admin", "admin-pw")


def basic(who):
    token = base64.b64encode(("%s:%s" % who).encode()).decode()
    return {"Authorization": "Basic " + token}


def site_conf(tmp, extra=""):
    """The README's multi-user site: everyone logs in for the API, the
    websocket route and the admin page; PVLaunchAdmin names the admins."""
    pw = os.path.join(tmp, "htpasswd")
    subprocess.run(["htpasswd", "-cbB", pw, *ALICE], check=True, capture_output=True)
    for who in (BOB, ROOT):
        subprocess.run(["htpasswd", "-bB", pw, *who], check=True, capture_output=True)
    groups = os.path.join(tmp, "groups")
    with open(groups, "w") as f:
        f.write("pvadmins: %s\n" % ROOT[0])
    # README's "Multi-user sites": authentication for everything, then the
    # handlers (and its rewrite rules: the harness's default ones).
    return """PVLaunchAdmin group pvadmins
<Location />
  AuthType Basic
  AuthName "ParaView sessions"
  AuthBasicProvider file
  AuthUserFile %s
  AuthGroupFile %s
  Require valid-user
</Location>
<Location /pvadmin>
  SetHandler pvlaunch-admin
</Location>
<Location /server-status>
  SetHandler server-status
</Location>
%s""" % (pw, groups, extra)


def users_server(factory, mutate=None, extra="", count=20):
    a = factory(count=count, mutate=mutate, start=False)
    a.write_conf(site_conf(a.tmp, extra))
    return a.start()


def launch(a, who, body=None, headers=None):
    h = basic(who)
    h.update(headers or {})
    return a.json("POST", "/paraview", body or {"application": "demo"}, headers=h)


def launched(a, who, body=None):
    """A session of `who`: the POST's answer, which must be 200."""
    status, obj, _ = launch(a, who, body)
    assert status == 200, obj
    return obj


def audit_lines(a, number):
    return [line for line in a.read_log().splitlines() if number in line]


def test_only_the_owner_reaches_a_session(server):
    a = users_server(server)
    mine = launched(a, ALICE)
    sid = mine["id"]
    # The owner reads it back (from the shared table) with its secret.
    status, got, _ = a.json("GET", "/paraview/" + sid, headers=basic(ALICE))
    assert status == 200 and got["secret"] == mine["secret"]
    # Another user: the same 404 as an id that does not exist.
    unknown = "0" * len(sid)
    for method in ("GET", "DELETE"):
        status, other, _ = a.json(method, "/paraview/" + sid, headers=basic(BOB))
        status_unknown, none, _ = a.json(method, "/paraview/" + unknown, headers=basic(BOB))
        assert (status, status_unknown) == (404, 404), (other, none)
        assert other["error"].replace(sid, "<id>") == none["error"].replace(unknown, "<id>")
    status, _, data = a.request("GET", "/paraview/%s/events" % sid, headers=basic(BOB))
    assert status == 404, data
    # The refusals are in the audit trail, with who, what and from where.
    refused = audit_lines(a, "PVL00506") + audit_lines(a, "PVL00503")
    assert len(refused) >= 3, a.read_log()
    assert all('user="bob"' in line and "client=127.0.0.1" in line and "owner alice" in line
               and "id=" + sid in line for line in refused), refused
    # It still runs: bob's DELETE did nothing.
    assert a.json("GET", "/paraview/" + sid, headers=basic(ALICE))[0] == 200
    assert a.json("DELETE", "/paraview/" + sid, headers=basic(ALICE))[0] == 200


def test_administrators_see_and_stop_everything_but_never_the_secret(server):
    a = users_server(server)
    mine = launched(a, ALICE)
    sid = mine["id"]
    status, seen, _ = a.json("GET", "/paraview/" + sid, headers=basic(ROOT))
    assert status == 200 and seen["id"] == sid, seen
    assert "secret" not in seen
    # The admin API lists it with its owner; bob may not list.
    status, listing, _ = a.json("GET", "/paraview", headers=basic(ROOT))
    assert status == 200, listing
    assert [(x["id"], x.get("owner")) for x in listing] == [(sid, "alice")]
    assert "secret" not in json.dumps(listing)
    status, refused, _ = a.json("GET", "/paraview", headers=basic(BOB))
    assert status == 403 and "PVLaunchAdmin" in refused["error"]
    # The admin page: owner column; bob is refused.
    status, _, page = a.request("GET", "/pvadmin", headers=basic(ROOT))
    assert status == 200
    assert re.search(r'data-id="%s".*?<td class="owner">alice</td>' % sid, page.decode(), re.S)
    assert mine["secret"] not in page.decode()
    assert a.request("GET", "/pvadmin", headers=basic(BOB))[0] == 403
    # server-status names the owner too.
    status, _, st = a.request("GET", "/server-status", headers=basic(ROOT))
    assert status == 200 and "<td>alice</td>" in st.decode()
    # The log header says whose session it is.
    with open(os.path.join(a.tmp, "logs", sid + ".log")) as f:
        header = f.readline()
    assert header.startswith("# mod_pvlaunch: session started: id=" + sid), header
    assert 'user="alice"' in header and "client=127.0.0.1" in header
    # The admin stops it and gets the session without its secret.
    status, stopped, _ = a.json("DELETE", "/paraview/" + sid, headers=basic(ROOT))
    assert status == 200 and stopped["id"] == sid and "secret" not in stopped, stopped
    assert a.json("GET", "/paraview/" + sid, headers=basic(ALICE))[0] == 404
    stops = audit_lines(a, "PVL00502")
    assert len(stops) == 1 and "administrator" in stops[0] and 'user="root-admin"' in stops[0]


def test_the_websocket_route_refuses_other_users(server):
    a = users_server(server)
    mine = launched(a, ALICE)
    url = ws_url(a, mine["id"])
    # The owner's client connects and talks to the app.
    assert wslink_client.hello(url, mine["secret"], headers=basic(ALICE))["result"]
    # Another user with the id and the secret: refused before the proxy,
    # as an unknown id is.
    assert wslink_client.connect_status(url, headers=basic(BOB)) == 404
    assert wslink_client.connect_status(ws_url(a, "0" * 32), headers=basic(BOB)) == 404
    # Nobody authenticated: Apache asks for credentials first.
    assert wslink_client.connect_status(url) == 401
    refused = [line for line in audit_lines(a, "PVL00506") if "websocket" in line]
    assert len(refused) == 1 and 'user="bob"' in refused[0], a.read_log()
    assert a.json("DELETE", "/paraview/" + mine["id"], headers=basic(ALICE))[0] == 200


def test_route_without_authentication_is_refused_for_owned_sessions(event_server):
    """A site that protects the API but forgot the websocket's location:
    owned sessions are not reachable anonymously; the log says what to do."""
    a = event_server(start=False, allowed_log=("PVL00225",))
    a.write_conf(site_conf(a.tmp, "<Location /proxy>\n  Require all granted\n</Location>"))
    a.start()
    mine = launched(a, ALICE)
    assert wslink_client.connect_status(ws_url(a, mine["id"])) == 404
    assert "PVL00225" in a.read_log()
    assert a.json("DELETE", "/paraview/" + mine["id"], headers=basic(ALICE))[0] == 200


def test_sessions_keep_their_owner_across_a_restart(event_server):
    a = users_server(event_server)
    mine = launched(a, ALICE)
    assert a.signal("graceful").returncode == 0
    assert wait_until(lambda: "resuming normal operations" in a.read_log().split(
        "SIGUSR1")[-1], timeout=15)
    assert wait_until(lambda: a.json("GET", "/paraview/" + mine["id"],
                                     headers=basic(ALICE))[0] == 200, timeout=10)
    assert a.json("GET", "/paraview/" + mine["id"], headers=basic(BOB))[0] == 404
    assert wslink_client.connect_status(ws_url(a, mine["id"]), headers=basic(BOB)) == 404
    assert a.json("DELETE", "/paraview/" + mine["id"], headers=basic(ALICE))[0] == 200


def per_user_limits(cfg, tmp):
    cfg["configuration"]["max_session_per_user"] = 2
    cfg["apps"]["other"] = dict(cfg["apps"]["demo"], max_session_per_user=1)


def test_per_user_limits(event_server):
    a = users_server(event_server, mutate=per_user_limits)
    ids = []
    for _ in range(2):
        status, obj, _ = launch(a, ALICE)
        assert status == 200, obj
        ids.append(obj["id"])
    status, err, _ = launch(a, ALICE)
    assert status == 429, err
    assert err["limit"] == "max_session_per_user"
    assert "max_session_per_user is 2" in err["error"] and "you hold 2" in err["error"]
    # Another user is not affected; the per-application limit is its own.
    status, other, _ = launch(a, BOB, {"application": "other"})
    assert status == 200, other
    status, err, _ = launch(a, BOB, {"application": "other"})
    assert status == 429 and "application other" in err["error"] and "hold 1" in err["error"]
    refusals = audit_lines(a, "PVL00504")
    assert len(refusals) == 2 and 'user="alice"' in refusals[0] and "app=demo" in refusals[0]
    # A stopped session frees its place.
    assert a.json("DELETE", "/paraview/" + ids[0], headers=basic(ALICE))[0] == 200
    status, obj, _ = launch(a, ALICE)
    assert status == 200, obj
    for sid, who in ((ids[1], ALICE), (obj["id"], ALICE), (other["id"], BOB)):
        assert a.json("DELETE", "/paraview/" + sid, headers=basic(who))[0] == 200
    # Every launch and end is in the trail: 4 launched, 4 ended.
    assert len(audit_lines(a, "PVL00501")) == 4
    assert wait_until(lambda: len(audit_lines(a, "PVL00505")) == 4)


def test_queued_launches_count_against_their_user(event_server):
    def one_slot(cfg, tmp):
        cfg["configuration"]["max_session_per_user"] = 2
    a = event_server(count=1, mutate=one_slot, start=False)
    a.write_conf(site_conf(a.tmp, "PVLaunchQueue 5 30"))
    a.start()
    status, first, _ = launch(a, BOB)
    assert status == 200, first
    h = {"Prefer": "respond-async"}
    status, queued, _ = launch(a, ALICE, headers=h)
    assert status == 202 and queued["state"] == "waiting", queued
    status, queued2, _ = launch(a, ALICE, headers=h)
    assert status == 202, queued2
    # Two launches waiting: alice is at her limit without a running session.
    status, err, _ = launch(a, ALICE, headers=h)
    assert status == 429 and "you hold 2" in err["error"], err
    for lid in (queued["id"], queued2["id"]):
        assert a.json("DELETE", "/paraview/" + lid, headers=basic(ALICE))[0] == 200
    assert a.json("DELETE", "/paraview/" + first["id"], headers=basic(BOB))[0] == 200


def test_max_starting_answers_429_with_retry_after(event_server):
    def slow(tmp):
        return {"demo": {"cmd": H.app_cmd("ready", tmp=tmp), "ready_line": "Starting factory"},
                "slow": {"cmd": H.app_cmd("ready", "--delay", "3", tmp=tmp),
                         "ready_line": "Starting factory"}}
    a = event_server(apps=slow, start=False)
    a.write_conf(site_conf(a.tmp) + "\nPVLaunchMaxStarting 1")
    a.start()
    slow_answer = {}

    def launch_slow():
        slow_answer["r"] = launch(a, ALICE, {"application": "slow"})
    t = threading.Thread(target=launch_slow)
    t.start()
    assert wait_until(lambda: audit_lines(a, "PVL00501"), timeout=10)
    status, err, hdrs = launch(a, BOB)
    assert status == 429, err
    assert err["limit"] == "PVLaunchMaxStarting" and hdrs.get("Retry-After") == "5"
    t.join(30)
    assert slow_answer["r"][0] == 200, slow_answer
    status, obj, _ = launch(a, BOB)  # nothing is starting any more
    assert status == 200, obj
    assert a.json("DELETE", "/paraview/" + obj["id"], headers=basic(BOB))[0] == 200
    assert a.json("DELETE", "/paraview/" + slow_answer["r"][1]["id"],
                  headers=basic(ALICE))[0] == 200


def test_pvlaunch_admin_is_checked_at_config_time(event_server):
    a = event_server(start=False)
    for line, says in (("PVLaunchAdmin nosuch x", 'no authorization provider named "nosuch"'),
                       ("PVLaunchAdmin all granted", "does not name users"),
                       ("PVLaunchAdmin", "takes an authorization provider")):
        a.write_conf(line)
        out = a.configtest()
        assert out.returncode != 0 and says in out.stderr, out.stderr
        assert "httpd.conf" in out.stderr
