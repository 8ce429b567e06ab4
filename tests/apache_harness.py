"""Starts a real Debian apache2 with a generated, self-contained config.

Used by the integration tests and by `make run`. Nothing here mocks Apache:
it writes httpd.conf into a temporary directory, runs /usr/sbin/apache2 with
it on a free loopback port, and stops it with `-k stop`.
"""
import json
import os
import pwd
import random
import re
import signal
import socket
import subprocess
import time
import http.client

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `make test-asan` points these at the sanitizer build: the module, and the
# runtime that must be preloaded into apache2 (an uninstrumented binary;
# libstdc++ too, or ASan cannot intercept C++ throws from the dlopened module).
MODULE = os.environ.get("PVL_MODULE") or os.path.join(REPO, "build", "mod_pvlaunch.so")
SANITIZER_PRELOAD = os.environ.get("PVL_SANITIZER_PRELOAD", "")
SANITIZER_LOG_DIR = os.environ.get("PVL_SANITIZER_LOG_DIR", "")
FAKE_APP = os.path.join(REPO, "tests", "fake_wslink_app.py")
APACHE = "/usr/sbin/apache2"
MODDIR = "/usr/lib/apache2/modules"
PYTHON = "/usr/bin/python3"

# Lines of these levels in the error log fail a test unless it expects them.
BAD_LEVEL = re.compile(r"\[[a-z_]+:(warn|error|crit|alert|emerg)\]")


def apache_env():
    """The environment apache2 runs with. Under the sanitizers, reports go to
    files in PVL_SANITIZER_LOG_DIR, which the tests check stay empty. Leak
    checking is off: Apache frees its pools at exit by design, not by free()."""
    env = dict(os.environ)
    if SANITIZER_PRELOAD:
        env["LD_PRELOAD"] = SANITIZER_PRELOAD
        log = os.path.join(SANITIZER_LOG_DIR or "/tmp", "report")
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:log_path=%s" % log
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:log_path=%s" % log
    return env


def sanitizer_reports():
    """Sanitizer reports written since the last call (their names and text).
    They stay in the directory, renamed seen-*, for `make test-asan` to count."""
    if not SANITIZER_LOG_DIR or not os.path.isdir(SANITIZER_LOG_DIR):
        return []
    out = []
    for name in sorted(os.listdir(SANITIZER_LOG_DIR)):
        if name.startswith("seen-"):
            continue
        path = os.path.join(SANITIZER_LOG_DIR, name)
        with open(path, errors="replace") as f:
            out.append("%s:\n%s" % (name, f.read()[:4000]))
        os.rename(path, os.path.join(SANITIZER_LOG_DIR, "seen-" + name))
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_range(count):
    """A base port such that [base, base+count) looks unused right now,
    below the kernel's ephemeral range (32768-60999), where outgoing
    connections would take ports away from the pool, as on a real site."""
    for _ in range(200):
        base = random.randrange(10000, 32768 - count)
        ok = True
        for p in range(base, base + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


def new_tmpdir(prefix="pvl-"):
    """A temporary directory Apache's User can traverse (pytest's are 0700),
    holding a copy of the fake app (the checkout may not be readable)."""
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.chmod(tmp, 0o755)
    shutil.copy(FAKE_APP, os.path.join(tmp, "fake_wslink_app.py"))
    return tmp


def app_cmd(mode="ready", *extra, tmp=None):
    app = os.path.join(tmp, "fake_wslink_app.py") if tmp else FAKE_APP
    return [PYTHON, app, "--host", "${host}", "--port", "${port}",
            "--secret", "${secret}", "--mode", mode, *extra]


def default_launcher(tmp, port, base, count=20, timeout=5, apps=None):
    """A launcher config in the wslink vocabulary with the fake app's modes."""
    apps = apps or {
        "demo": {"cmd": app_cmd("ready", tmp=tmp), "ready_line": "Starting factory"},
    }
    return {
        "configuration": {
            "endpoint": "paraview",
            "log_dir": os.path.join(tmp, "logs"),
            "proxy_file": os.path.join(tmp, "proxy.txt"),
            "sessionURL": "ws://127.0.0.1:%d/proxy?sessionId=${id}" % port,
            "timeout": timeout,
            "fields": ["host", "port"],
        },
        "apps": apps,
        "properties": {},
        "resources": [{"host": "127.0.0.1", "port_range": [base, base + count - 1]}],
    }


# The README's websocket route through int:pvsession.
PVSESSION_RULES = "\n".join([
    "RewriteEngine On",
    'RewriteMap pvsession "int:pvsession"',
    "RewriteCond %{HTTP:Upgrade} =websocket [NC]",
    "RewriteCond %{QUERY_STRING} (?:^|&)sessionId=([A-Za-z0-9_-]{1,64})(?:&|$) [NC]",
    "RewriteCond ${pvsession:%1|NOTFOUND} ^([A-Za-z0-9.-]+:[0-9]{1,5})$",
    "RewriteRule ^/proxy$ ws://%1/ws [P,L]",
    "RewriteRule ^/proxy$ - [R=404,L]",
])


APP_USER = "pvlaunch"


def ensure_app_user():
    """The applications' own user, which mod_pvlaunch runs them as when
    Apache starts as root; created here as the packages create it."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(APP_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        "--comment", "mod_pvlaunch applications", APP_USER],
                       check=True, capture_output=True)


class Apache:
    def __init__(self, tmp, mpm="event", launcher=None, launcher_text=None, port=None,
                 extra_conf="", stop_timeout=2, loglevel="info", mpm_conf=None, site=None,
                 env=None):
        self.tmp = str(tmp)
        # On top of the test's environment (e.g. SLURM_CONF for a private cluster).
        self.extra_env = dict(env or {})
        self.mpm = mpm
        self.port = port or free_port()
        self.conf = os.path.join(self.tmp, "httpd.conf")
        self.error_log = os.path.join(self.tmp, "error.log")
        self.launcher_path = os.path.join(self.tmp, "launcher.json")
        self.proc = None
        self.log_offset = 0
        ensure_app_user()
        os.makedirs(os.path.join(self.tmp, "run"), exist_ok=True)
        os.makedirs(os.path.join(self.tmp, "htdocs"), exist_ok=True)
        if launcher_text is None:
            launcher_text = json.dumps(launcher, indent=2)
        with open(self.launcher_path, "w") as f:
            f.write(launcher_text)
        self.mpm_conf = mpm_conf
        # A site's own configuration of the module (PVLaunchConfig, handlers,
        # rewrite rules), in place of the default one below.
        self.site = site
        self.write_conf(extra_conf, stop_timeout, loglevel)

    def write_conf(self, extra_conf="", stop_timeout=2, loglevel="info"):
        mods = ["authz_core", "mime", "rewrite", "proxy", "proxy_http", "proxy_wstunnel",
                "headers", "alias", "auth_basic", "authn_core", "authn_file", "authz_user",
                "authz_groupfile", "status"]
        lines = [
            "ServerRoot %s" % self.tmp,
            "ServerName localhost",
            "Listen 127.0.0.1:%d" % self.port,
            "PidFile %s/httpd.pid" % self.tmp,
            "DefaultRuntimeDir %s/run" % self.tmp,
            "Mutex file:%s/run default" % self.tmp,
            "ErrorLog %s" % self.error_log,
            "LogLevel %s" % loglevel,
            "TypesConfig /etc/mime.types",
            "DocumentRoot %s/htdocs" % self.tmp,
            "<Directory />\n  AllowOverride None\n</Directory>",
            "LoadModule mpm_%s_module %s/mod_mpm_%s.so" % (self.mpm, MODDIR, self.mpm),
        ]
        for m in mods:
            lines.append("<IfModule !%s_module>\n  LoadModule %s_module %s/mod_%s.so\n</IfModule>"
                         % (m, m, MODDIR, m))
        lines.append("LoadModule pvlaunch_module %s" % MODULE)
        if os.geteuid() == 0:
            lines += ["User www-data", "Group www-data"]
        if self.mpm_conf:
            lines += self.mpm_conf
        elif self.mpm == "prefork":
            lines += ["StartServers 4", "MinSpareServers 4", "MaxSpareServers 6"]
        else:
            lines += ["StartServers 3", "ServerLimit 4", "ThreadsPerChild 8",
                      "MinSpareThreads 8", "MaxSpareThreads 32", "MaxRequestWorkers 32"]
        lines.append("PVLaunchStopTimeout %s" % stop_timeout)
        if self.site is not None:
            lines += [self.site, extra_conf]
            with open(self.conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            return
        lines += [
            "PVLaunchConfig %s" % self.launcher_path,
            "<Location /paraview>\n  SetHandler pvlaunch\n</Location>",
            PVSESSION_RULES,
            extra_conf,
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def configtest(self):
        return subprocess.run([APACHE, "-f", self.conf, "-t"], capture_output=True, text=True,
                              env=self.env())

    def env(self):
        return dict(apache_env(), **self.extra_env)

    def start(self, timeout=15, daemon=True):
        """Starts Apache and waits until it listens and (with `daemon`) the
        session daemon's socket exists."""
        self.proc = subprocess.Popen([APACHE, "-f", self.conf, "-DFOREGROUND"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=self.env())
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace")
                raise RuntimeError("apache2 exited (%s): %s\n%s" % (self.proc.returncode, out,
                                                                    self.read_log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
                if not daemon or os.path.exists(os.path.join(self.tmp, "run", "pvlaunch.sock")):
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("apache2 did not start listening:\n" + self.read_log())

    def signal(self, action):
        return subprocess.run([APACHE, "-f", self.conf, "-k", action],
                              capture_output=True, text=True, env=self.env())

    def stop(self, timeout=20):
        if not self.proc or self.proc.poll() is not None:
            return
        self.signal("stop")
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise RuntimeError("apache2 did not stop within %ss" % timeout)

    def read_log(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def unexpected_log_lines(self, allowed=()):
        bad = []
        for line in self.read_log().splitlines():
            if BAD_LEVEL.search(line) and not any(a in line for a in allowed):
                bad.append(line)
        return bad

    def daemon_pid(self):
        """The session daemon: the process named pvlaunch-daemon in our tree."""
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/comm" % pid) as f:
                    if f.read().strip() != "pvlaunch-daemon":
                        continue
                with open("/proc/%s/status" % pid) as f:
                    ppid = int(re.search(r"PPid:\s+(\d+)", f.read()).group(1))
                if ppid == self.proc.pid:
                    return int(pid)
            except (OSError, AttributeError):
                continue
        return None

    def child_pids(self):
        """Apache's request-serving children."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/status" % pid) as f:
                    st = f.read()
                with open("/proc/%s/comm" % pid) as f:
                    comm = f.read().strip()
            except OSError:
                continue
            m = re.search(r"PPid:\s+(\d+)", st)
            if m and int(m.group(1)) == self.proc.pid and comm == "apache2":
                out.append(int(pid))
        return out

    # HTTP helpers -----------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, dict(resp.getheaders()), data
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None, timeout=30):
        status, hdrs, data = self.request(method, path, body, headers, timeout)
        try:
            obj = json.loads(data) if data else None
        except ValueError:
            obj = {"_raw": data.decode(errors="replace")}
        return status, obj, hdrs
