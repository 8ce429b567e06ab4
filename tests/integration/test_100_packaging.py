"""Packaging (packaging/packaging.mk): `make deb` and `make rpm`.

The Debian package goes onto this machine's own Apache (/etc/apache2): it is
installed with dpkg, enabled with a2enmod, passes `apache2ctl configtest`,
serves a launch through a virtual host the test adds for the time of the
test, and is purged. The machine's Apache is then as it was found: running
or not, /etc/apache2 and a2enmod's records (/var/lib/apache2) unchanged.

The RPM is built with rpmbuild (Debian's rpm package) with --nodeps, since
the BuildRequires are RPM package names that Debian's rpm database does not
hold; the Debian build dependencies are installed instead.

Installing a package needs root (CI runs the tests as root): without it,
only the package builds are tested and the installation test is skipped.
"""
import glob
import grp
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import time

import pytest

import apache_harness as H
import wslink_client
from conftest import procs_mentioning, wait_until

PKG = "libapache2-mod-pvlaunch"
MODULE = "/usr/lib/apache2/modules/mod_pvlaunch.so"
MODS = "/etc/apache2/mods-available"
EXAMPLES = "/usr/share/doc/%s/examples" % PKG
# What the package and a2enmod put on the machine: a purge leaves none of it.
PACKAGE_PATHS = [MODULE, MODS + "/pvlaunch.load", MODS + "/pvlaunch.conf",
                 "/etc/apache2/mods-enabled/pvlaunch.load",
                 "/etc/apache2/mods-enabled/pvlaunch.conf", "/etc/pvlaunch",
                 "/var/log/pvlaunch", "/var/lib/pvlaunch", "/usr/share/doc/" + PKG]
# a2enmod's records live in /var/lib/apache2; the test puts both trees back.
TREES = ("/etc/apache2", "/var/lib/apache2")
SITE = "/etc/apache2/conf-enabled/zz-pvlaunch-package-test.conf"


def changelog_version():
    with open(os.path.join(H.REPO, "packaging", "debian", "changelog")) as f:
        return re.match(r"\S+ \(([^)]+)\)", f.readline()).group(1)


def run(cmd, timeout=120, check=True, **kw):
    env = dict(os.environ, LANG="C", DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, **kw)
    if check:
        assert r.returncode == 0, "%s: exit %d\n%s\n%s" % (
            " ".join(cmd), r.returncode, r.stdout[-6000:], r.stderr[-6000:])
    return r


def make(target):
    """make <target> with packaging.mk, whether or not the top Makefile
    includes it yet (it guards against a second inclusion). An outer make's
    variables (make test BUILD=...) are not passed on."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env["LANG"] = "C"
    r = subprocess.run(["make", "--no-print-directory", "-f", "Makefile", "-f",
                        "packaging/packaging.mk", target], cwd=H.REPO, capture_output=True,
                       text=True, timeout=600, env=env)
    assert r.returncode == 0, "make %s: exit %d\n%s\n%s" % (
        target, r.returncode, r.stdout[-6000:], r.stderr[-6000:])
    return r


def dpkg(*args):
    """dpkg, waiting while another apt/dpkg run holds the lock."""
    deadline = time.time() + 300
    while True:
        r = run(["dpkg", *args], timeout=300, check=False)
        if r.returncode == 0 or "lock" not in r.stderr or time.time() > deadline:
            assert r.returncode == 0, "dpkg %s: exit %d\n%s\n%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr)
            return r
        time.sleep(2)


def dpkg_status(pkg):
    r = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", pkg], check=False)
    status = r.stdout.strip() if r.returncode == 0 else ""
    return "" if status in ("", "un", "pn") else status


@pytest.fixture(scope="module")
def deb():
    make("deb")
    debs = glob.glob(os.path.join(H.REPO, "build", "deb", PKG + "_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def test_deb_contents(deb):
    fields = run(["dpkg-deb", "-f", deb, "Package", "Version", "Depends"]).stdout
    assert "Package: %s\n" % PKG in fields
    assert "Version: %s\n" % changelog_version() in fields
    # dh_apache2: the Apache module ABI this module was built for
    assert re.search(r"Depends:.*\bapache2-api-\d{8}\b", fields), fields

    listing = run(["dpkg-deb", "-c", deb]).stdout
    paths = {line.split()[5].lstrip(".") for line in listing.splitlines()}
    for p in (MODULE, MODS + "/pvlaunch.load", MODS + "/pvlaunch.conf",
              "/etc/pvlaunch/launcher.json", EXAMPLES + "/pvlaunch.conf",
              EXAMPLES + "/launcher-wslink.json", EXAMPLES + "/launcher-paraviewweb.json",
              "/var/lib/pvlaunch/", "/var/log/pvlaunch/"):
        assert p in paths, (p, sorted(paths))

    conffiles = run(["dpkg-deb", "-I", deb, "conffiles"]).stdout.split()
    assert set(conffiles) == {MODS + "/pvlaunch.load", MODS + "/pvlaunch.conf",
                              "/etc/pvlaunch/launcher.json"}

    # the files are the ones of the source tree
    def shipped(path):
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True,
                             check=True).stdout
        return subprocess.run(["tar", "-xOf", "-", "." + path], input=tar, capture_output=True,
                              check=True).stdout
    for path, source in ((MODS + "/pvlaunch.load", "packaging/pvlaunch.load"),
                         (MODS + "/pvlaunch.conf", "packaging/pvlaunch.conf"),
                         ("/etc/pvlaunch/launcher.json", "packaging/launcher.json"),
                         (EXAMPLES + "/pvlaunch.conf", "conf/pvlaunch.conf")):
        with open(os.path.join(H.REPO, source), "rb") as f:
            assert shipped(path) == f.read(), path


# The machine's Apache ------------------------------------------------------

def apache_envvars():
    names = ("APACHE_PID_FILE", "APACHE_RUN_DIR", "APACHE_LOCK_DIR", "APACHE_LOG_DIR")
    out = run(["sh", "-c", ". /etc/apache2/envvars && " +
               " && ".join('echo "$%s"' % n for n in names)]).stdout.split("\n")
    return dict(zip(names, out))


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def apache_pid(env):
    """The parent of the machine's Apache, or None when it is not running."""
    try:
        with open(env["APACHE_PID_FILE"]) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if comm(pid) == "apache2" else None


def session_daemons(parent):
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and comm(int(pid)) == "pvlaunch-daemon":
            try:
                with open("/proc/%s/status" % pid) as f:
                    ppid = int(re.search(r"PPid:\s+(\d+)", f.read()).group(1))
            except (OSError, AttributeError):
                continue
            if ppid == parent:
                out.append(int(pid))
    return out


def apachectl(*args):
    return run(["apache2ctl", *args], timeout=60)


def stop_apache(env):
    pid = apache_pid(env)
    if not pid:
        return
    daemons = session_daemons(pid)
    apachectl("stop")
    assert wait_until(lambda: comm(pid) != "apache2", timeout=30), "apache2 did not stop"
    assert wait_until(lambda: not [d for d in daemons if comm(d) == "pvlaunch-daemon"],
                      timeout=15), "the session daemon outlived apache2"


def entry(p):
    """A path as the snapshot records it: symlink target, or type, mode,
    owner (and a file's bytes); None when it does not exist."""
    if not os.path.lexists(p):
        return None
    st = os.lstat(p)
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(p))
    if stat.S_ISDIR(st.st_mode):
        return ("dir", st.st_mode, st.st_uid, st.st_gid)
    with open(p, "rb") as f:
        return ("file", st.st_mode, st.st_uid, st.st_gid, f.read())


def snapshot(root):
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for p in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
            snap[p] = entry(p)
    return snap


def differences(before, after):
    out = []
    for p in sorted(set(before) | set(after)):
        if p not in after:
            out.append("removed: " + p)
        elif p not in before:
            out.append("added: " + p)
        elif before[p] != after[p]:
            out.append("changed: " + p)
    return out


def remove_path(p):
    if os.path.isdir(p) and not os.path.islink(p):
        shutil.rmtree(p)
    else:
        os.unlink(p)


def restore(root, before):
    """Puts the tree under root back as the snapshot `before` has it."""
    for p in sorted(set(snapshot(root)) - set(before), reverse=True):
        if os.path.lexists(p):
            remove_path(p)
    for p in sorted(before):
        want, have = before[p], entry(p)
        if have == want:
            continue
        if have is not None and (have[0] != want[0] or want[0] == "link"):
            remove_path(p)
        if want[0] == "link":
            os.symlink(want[1], p)
            continue
        if want[0] == "dir":
            os.makedirs(p, exist_ok=True)
        else:
            with open(p, "wb") as f:
                f.write(want[4])
        os.chown(p, want[2], want[3])
        os.chmod(p, stat.S_IMODE(want[1]))


def site_conf(port, launcher):
    return """# Written by tests/integration/test_100_packaging.py while it runs.
Listen 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
    ServerName localhost
    PVLaunchConfig {launcher}
    <Location /paraview>
        SetHandler pvlaunch
    </Location>
    RewriteEngine On
    RewriteMap pvsession "int:pvsession"
    RewriteCond %{{HTTP:Upgrade}} =websocket [NC]
    RewriteCond %{{QUERY_STRING}} (?:^|&)sessionId=([A-Za-z0-9_-]{{1,64}})(?:&|$) [NC]
    RewriteCond ${{pvsession:%1|NOTFOUND}} ^([A-Za-z0-9.-]+:[0-9]{{1,5}})$
    RewriteRule ^/proxy$ ws://%1/ws [P,L]
    RewriteRule ^/proxy$ - [R=404,L]
</VirtualHost>
""".format(port=port, launcher=launcher)


class Client(H.Apache):
    """The harness's HTTP helpers, for the machine's Apache on `port`."""

    def __init__(self, port):  # pylint: disable=super-init-not-called
        self.port = port


def test_deb_installs_serves_and_purges(deb):
    if os.geteuid() != 0:
        pytest.skip("installing %s on this machine's Apache needs root "
                    "(CI runs the tests as root)" % PKG)
    status = dpkg_status(PKG)
    if status:
        pytest.fail("%s is already on this machine (dpkg status %s); this test installs and "
                    "purges it: remove it first (dpkg --purge %s)" % (PKG, status, PKG))
    env = apache_envvars()
    before = {root: snapshot(root) for root in TREES}
    ran_before = apache_pid(env)
    made_dirs = [d for d in (env["APACHE_RUN_DIR"], env["APACHE_LOCK_DIR"])
                 if not os.path.exists(d)]
    tmp = H.new_tmpdir("pvl-pkg-")
    try:
        install_serve_purge(deb, env, before, tmp)
    finally:
        put_back(env, before, ran_before, made_dirs, tmp)


def install_serve_purge(deb, env, before, tmp):
    error_log = os.path.join(env["APACHE_LOG_DIR"], "error.log")
    log_offset = os.path.getsize(error_log) if os.path.exists(error_log) else 0

    # Install and enable, as the README tells an admin.
    dpkg("-i", deb)
    for p in (MODULE, MODS + "/pvlaunch.load", MODS + "/pvlaunch.conf",
              EXAMPLES + "/pvlaunch.conf", EXAMPLES + "/launcher-wslink.json"):
        assert os.path.isfile(p), p
    with open(MODS + "/pvlaunch.conf") as f:
        launcher = re.search(r"^\s*PVLaunchConfig\s+(\S+)", f.read(), re.M).group(1)
    assert os.path.isfile(launcher), launcher
    a2enmod_out = run(["a2enmod", "pvlaunch"]).stdout
    for mod in ("pvlaunch", "rewrite", "proxy", "proxy_wstunnel"):  # .load's Depends
        assert run(["a2query", "-m", mod], check=False).returncode == 0, (mod, a2enmod_out)
    r = apachectl("configtest")
    assert "Syntax OK" in r.stderr + r.stdout
    # the shipped launcher config draws no notice from the module
    assert "PVL" not in r.stderr + r.stdout, r.stderr
    assert "pvlaunch_module" in apachectl("-M").stdout

    # A virtual host that serves launches of the fake app, on a free port of
    # its own; Apache listens on that port only while the test runs
    # (ports.conf emptied): port 80 may be taken, and need not be opened.
    port = H.free_port()
    launcher_path = os.path.join(tmp, "launcher.json")
    with open(launcher_path, "w") as f:
        json.dump(H.default_launcher(tmp, port, H.free_port_range(10), count=10), f)
    with open(SITE, "w") as f:
        f.write(site_conf(port, launcher_path))
    with open("/etc/apache2/ports.conf", "w") as f:
        f.write("# Emptied by tests/integration/test_100_packaging.py while it runs.\n")
    apachectl("configtest")
    # A full stop and start, as the package's postinst has invoke-rc.d do
    # (an Apache that was running is started again at the end). Loading the
    # module into a running Apache with a graceful restart or SIGHUP is a
    # restart test's business, not a packaging one.
    stop_apache(env)
    apachectl("start")
    client = Client(port)

    def ready():
        pid = apache_pid(env)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            return None
        return pid if pid and session_daemons(pid) else None
    pid = wait_until(ready, timeout=30, step=0.1)
    assert pid, "the machine's apache2 did not start with the package"

    # Map files name every session id and logs hold what users typed:
    # Apache's group (for a txt: map) and root only.
    for d, group in (("/var/lib/pvlaunch", "www-data"), ("/var/log/pvlaunch", "root")):
        st = os.stat(d)
        assert stat.S_IMODE(st.st_mode) == 0o750, (d, oct(st.st_mode))
        assert (st.st_uid, st.st_gid) == (0, grp.getgrnam(group).gr_gid), (d, st)

    status, obj, _ = client.json("POST", "/paraview", {"application": "demo"})
    assert status == 200, obj
    # The app runs as the user the package created, not as Apache's User.
    apps = [p for p in procs_mentioning(tmp) if "fake_wslink_app" in p[2]]
    assert apps, procs_mentioning(tmp)
    assert os.stat("/proc/%d" % apps[0][0]).st_uid == pwd.getpwnam("pvlaunch").pw_uid
    url = "ws://127.0.0.1:%d/proxy?sessionId=%s" % (port, obj["id"])
    assert obj["sessionURL"] == url
    assert "result" in wslink_client.hello(url, obj["secret"])  # rewrite + proxy_wstunnel
    status, got, _ = client.json("GET", "/paraview/" + obj["id"])
    assert status == 200 and got == obj
    status, deleted, _ = client.json("DELETE", "/paraview/" + obj["id"])
    assert status == 200 and deleted["id"] == obj["id"]
    assert not [p for p in procs_mentioning(tmp) if "fake_wslink_app" in p[2]]
    assert client.json("GET", "/paraview/" + obj["id"])[0] == 404

    # Back to the machine's own configuration; purge with Apache stopped.
    os.unlink(SITE)
    restore_file("/etc/apache2/ports.conf", before["/etc/apache2"])
    stop_apache(env)
    dpkg("--purge", PKG)
    assert not dpkg_status(PKG)
    left = [p for p in PACKAGE_PATHS if os.path.lexists(p)]
    assert not left, "left behind by the purge: %r" % left
    assert run(["a2query", "-m", "pvlaunch"], check=False).returncode != 0
    apachectl("configtest")

    # The modules the package's Depends enabled stay enabled (as a2dismod
    # leaves them); the admin, here the test, disables them.
    added = sorted({os.path.basename(p).rsplit(".", 1)[0]
                    for p in differences(before["/etc/apache2"], snapshot("/etc/apache2"))
                    if p.startswith("added: /etc/apache2/mods-enabled/")} - {"pvlaunch"})
    assert set(added) <= {"rewrite", "proxy", "proxy_wstunnel"}, added
    if added:
        run(["a2dismod", "-q", "-f", "-p", *sorted(added, key=lambda m: m != "proxy_wstunnel")])
    assert differences(before["/etc/apache2"], snapshot("/etc/apache2")) == []
    apachectl("configtest")

    # The purge may have restarted Apache (invoke-rc.d, where policy-rc.d
    # allows it); put_back starts it again if it was running at first.
    stop_apache(env)
    assert apache_pid(env) is None

    with open(error_log, errors="replace") as f:
        f.seek(log_offset)
        bad = [line for line in f if "pvlaunch" in line and H.BAD_LEVEL.search(line)]
    assert not bad, "".join(bad)


def restore_file(path, snap):
    want = snap[path]
    with open(path, "wb") as f:
        f.write(want[4])
    os.chmod(path, stat.S_IMODE(want[1]))


def put_back(env, before, ran_before, made_dirs, tmp):
    """Whatever happened, the machine's Apache as the test found it."""
    if os.path.lexists(SITE):
        os.unlink(SITE)
    def stop():
        try:
            stop_apache(env)
        except AssertionError:  # did not stop: its process group (a session)
            pid = apache_pid(env)
            if pid:
                os.killpg(pid, 9)
    stop()
    if dpkg_status(PKG):
        run(["dpkg", "--purge", PKG], check=False, timeout=300)
    for root in TREES:
        restore(root, before[root])
    stop()  # if the purge restarted it
    if ran_before:
        apachectl("start")
    else:
        for d in made_dirs:
            shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)


# RPM -------------------------------------------------------------------------

def test_rpm_builds_and_lists_the_module():
    make("rpm")
    rpm_dir = os.path.join(H.REPO, "build", "rpm")
    rpms = [p for p in glob.glob(os.path.join(rpm_dir, "mod_pvlaunch-*.rpm"))
            if not p.endswith(".src.rpm")]
    srpms = glob.glob(os.path.join(rpm_dir, "mod_pvlaunch-*.src.rpm"))
    assert len(rpms) == 1 and len(srpms) == 1, os.listdir(rpm_dir)
    files = run(["rpm", "-qlp", rpms[0]]).stdout.split()
    assert [f for f in files if f.endswith("/httpd/modules/mod_pvlaunch.so")], files
    config = set(run(["rpm", "-qcp", rpms[0]]).stdout.split())
    assert {"/etc/pvlaunch/launcher.json", "/etc/httpd/conf.d/pvlaunch.conf",
            "/etc/httpd/conf.modules.d/10-pvlaunch.conf"} <= config, config
    docs = run(["rpm", "-qdp", rpms[0]]).stdout.split()
    assert [d for d in docs if d.endswith("/pvlaunch.conf")], docs
    version = run(["rpm", "-qp", "--qf", "%{VERSION}", rpms[0]]).stdout
    assert version == changelog_version().split("-")[0]

    # the source tarball is the working tree's files, not build/ or .git
    tarball = "mod_pvlaunch-%s.tar.gz" % version
    assert tarball in run(["rpm", "-qlp", srpms[0]]).stdout.split()
    names = run(["tar", "-tzf", os.path.join(rpm_dir, "SOURCES", tarball)]).stdout.split()
    top = "mod_pvlaunch-%s/" % version
    assert all(n.startswith(top) for n in names)
    for needed in ("Makefile", "mod_pvlaunch.cpp", "packaging/rpm/mod_pvlaunch.spec",
                   "packaging/launcher.json", "conf/pvlaunch.conf"):
        assert top + needed in names, needed
    assert not [n for n in names if n.startswith((top + "build/", top + ".git/"))]
