"""Talks to the Apache of a systemd box (systemd_box.py) from inside the
box's network namespace, where it listens on 127.0.0.1:80, and prints the
results as JSON.

  box_client.py launch N APP       POST N sessions: [[status, body], ...]
  box_client.py check < sessions   GET each and say hello over its websocket
  box_client.py request METHOD PATH [JSON]
"""
import http.client
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wslink_client  # noqa: E402


def request(method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=60)
    conn.request(method, path, body=None if body is None else json.dumps(body),
                 headers={"Content-Type": "application/json"} if body is not None else {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, data.decode(errors="replace")


def check(sessions):
    out = []
    for s in sessions:
        status, got = request("GET", "/paraview/" + s["id"])
        try:
            reply = wslink_client.hello("ws://127.0.0.1:80/proxy?sessionId=" + s["id"],
                                        s["secret"])
            hello = "result" in reply
        except Exception as e:  # noqa: BLE001 - reported, not raised
            hello = "%s: %s" % (type(e).__name__, e)
        out.append({"id": s["id"], "get": status, "same": got == s, "hello": hello})
    return out


def main():
    cmd = sys.argv[1]
    if cmd == "launch":
        out = [request("POST", "/paraview", {"application": sys.argv[3]})
               for _ in range(int(sys.argv[2]))]
    elif cmd == "check":
        out = check(json.load(sys.stdin))
    elif cmd == "request":
        body = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
        out = request(sys.argv[2], sys.argv[3], body)
    else:
        raise SystemExit("unknown command " + cmd)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
