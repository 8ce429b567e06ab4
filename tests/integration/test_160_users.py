"""Multi-user sites: what Apache authenticated reaches the session, and
nothing a client sends can pose as it."""
import apache_harness as H
import wslink_client
from test_020_launch import ws_url
from test_080_queue import ADMIN, ADMIN_PW, USER, USER_PW, auth_conf, basic


def users_conf(tmp):
    """Everyone must log in (auth_conf's users and groups), for the API and
    the websocket route, as on a multi-user site."""
    conf = auth_conf(tmp).replace("<Location /paraview>", "<Location />")
    start = conf.index("<If ")
    return conf[:start] + "Require valid-user\n</Location>"


def tagged_apps(tmp):
    return {"demo": {"cmd": H.app_cmd("ready", "--tag", "u=${user}", tmp=tmp),
                     "ready_line": "Starting factory"}}


def session_tag(a, obj, headers=None):
    reply = wslink_client.call(ws_url(a, obj["id"]), obj["secret"], "demo.echo", ["x"],
                               headers=headers)
    return reply["result"]["session"]


def test_user_is_the_authenticated_user_never_the_payload(server):
    a = server(apps=tagged_apps, start=False)
    a.write_conf(users_conf(a.tmp))
    a.start()
    for who, pw in ((USER, USER_PW), (ADMIN, ADMIN_PW)):
        status, obj, _ = a.json("POST", "/paraview", {"application": "demo", "user": "mallory"},
                                headers=basic(who, pw))
        assert status == 200, obj
        assert session_tag(a, obj, basic(who, pw)) == "u=" + who
        assert a.json("DELETE", "/paraview/" + obj["id"], headers=basic(who, pw))[0] == 200


def test_user_is_empty_without_authentication(event_server):
    a = event_server(apps=tagged_apps)
    status, obj, _ = a.json("POST", "/paraview", {"application": "demo", "user": "mallory"})
    assert status == 200, obj
    assert session_tag(a, obj) == "u="
