#!/usr/bin/python3
"""`make run`: a self-contained Apache on 127.0.0.1:8080 (or a free port)
with mod_pvlaunch and a demo wslink application. Ctrl-C stops everything.

--smoke runs the printed commands once and exits (used by the test suite).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

import apache_harness as H  # noqa: E402

# The demo page, built by web/build.sh; served at / by the demo Apache.
WEB_BUILD = os.path.join(REPO, "build", "web")
WEB_CONF = ("<IfModule !dir_module>\n  LoadModule dir_module %s/mod_dir.so\n</IfModule>\n"
            "DirectoryIndex index.html" % H.MODDIR)


def demo_apps(tmp):
    """The launcher's applications: the fake wslink app, ready at once."""
    return {"demo": {"cmd": H.app_cmd("ready", tmp=tmp), "ready_line": "Starting factory"}}


def install_web(htdocs):
    """Copies the built demo page into htdocs; False if it was not built."""
    if not os.path.isfile(os.path.join(WEB_BUILD, "index.html")):
        return False
    shutil.copytree(WEB_BUILD, htdocs, dirs_exist_ok=True)
    return True


def pick_port(preferred=8080):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Apache binds
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return H.free_port()


def main():
    smoke = "--smoke" in sys.argv
    tmp = H.new_tmpdir("pvlaunch-demo-")
    port = pick_port()
    base = H.free_port_range(50)
    launcher = H.default_launcher(tmp, port, base, count=50, timeout=10)
    launcher["apps"] = demo_apps(tmp)
    apache = H.Apache(tmp, mpm="event", launcher=launcher, port=port, extra_conf=WEB_CONF)
    page = install_web(os.path.join(tmp, "htdocs"))
    apache.start()
    url = "http://127.0.0.1:%d/paraview" % port
    print("""
mod_pvlaunch demo: Apache is running on http://127.0.0.1:%(port)d
  config:        %(tmp)s/httpd.conf
  launcher:      %(tmp)s/launcher.json
  error log:     %(tmp)s/error.log
  session logs:  %(tmp)s/logs/

%(page)s

Create a session (the real client sends text/plain):
  curl -s -X POST -d '{"application": "demo"}' %(url)s
Get it, then stop it (use the "id" from the answer):
  curl -s %(url)s/<id>
  curl -s -X DELETE %(url)s/<id>
Say hello to the session's app through Apache's websocket route:
  /usr/bin/python3 %(repo)s/tests/wslink_client.py 'ws://127.0.0.1:%(port)d/proxy?sessionId=<id>' <secret>

Press Ctrl-C to stop Apache and every session.
""" % {"port": port, "tmp": tmp, "url": url, "repo": REPO,
       "page": ("Open http://127.0.0.1:%d/ in a browser: the demo page starts a session with\n"
                "wslink's SmartConnect, calls the app through the websocket, and stops it."
                % port) if page else
               "(The demo page is not built: sh %s/web/build.sh, then restart.)" % REPO},
   flush=True)
    try:
        if smoke:
            out = subprocess.run(["curl", "-s", "-X", "POST", "-d", '{"application": "demo"}', url],
                                 capture_output=True, text=True, check=True).stdout
            session = json.loads(out)
            print("POST ->", out)
            print("GET ->", subprocess.run(["curl", "-s", url + "/" + session["id"]],
                                           capture_output=True, text=True).stdout)
            hello = subprocess.run([H.PYTHON, os.path.join(REPO, "tests", "wslink_client.py"),
                                    session["sessionURL"], session["secret"]],
                                   capture_output=True, text=True)
            print("hello ->", hello.stdout.strip())
            print("DELETE ->", subprocess.run(["curl", "-s", "-X", "DELETE",
                                               url + "/" + session["id"]],
                                              capture_output=True, text=True).stdout)
            return 0 if hello.returncode == 0 else 1
        def interrupt(*_):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, interrupt)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not interrupt the clean stop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        apache.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
