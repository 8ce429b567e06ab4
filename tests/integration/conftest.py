"""Fixtures: a real Apache per test, under the event and the prefork MPM.

At teardown every test also checks what a user would notice: Apache's error
log has no unexpected warning or error, and no app process, zombie or
session daemon of that Apache is left behind.
"""
import os
import shutil
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import apache_harness as H  # noqa: E402


def procs_mentioning(text):
    """Live processes whose command line mentions `text` (our temp dir)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmd:
            found.append((int(pid), state, cmd))
    return found


def wait_until(cond, timeout=5.0, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


class ServerFactory:
    def __init__(self, mpm):
        self.mpm = mpm
        self.servers = []

    def __call__(self, apps=None, launcher=None, launcher_text=None, count=20, timeout=5,
                 extra_conf="", stop_timeout=2, start=True, allowed_log=(), mutate=None,
                 site=None, env=None):
        tmp = H.new_tmpdir()
        port = H.free_port()
        if launcher is None and launcher_text is None:
            base = H.free_port_range(count)
            launcher = H.default_launcher(tmp, port, base, count=count, timeout=timeout,
                                          apps=apps(tmp) if callable(apps) else apps)
            if mutate:
                mutate(launcher, tmp)
        elif callable(launcher):
            launcher = launcher(tmp, port)
        elif callable(launcher_text):
            launcher_text = launcher_text(tmp, port)
        if callable(site):
            site = site(tmp, port)
        a = H.Apache(tmp, mpm=self.mpm, launcher=launcher, launcher_text=launcher_text,
                     port=port, extra_conf=extra_conf, stop_timeout=stop_timeout, site=site,
                     env=env)
        a.allowed_log = list(allowed_log)
        a.launcher = launcher
        self.servers.append(a)
        if start:
            a.start()
        return a

    def finish(self):
        problems = []
        for a in self.servers:
            try:
                a.stop()
            except RuntimeError as e:
                problems.append(str(e))
            if not wait_until(lambda: not procs_mentioning(a.tmp), timeout=5):
                problems.append("processes left behind: %r" % (procs_mentioning(a.tmp),))
            bad = a.unexpected_log_lines(a.allowed_log)
            if bad:
                problems.append("unexpected error log lines:\n" + "\n".join(bad))
            reports = H.sanitizer_reports()
            if reports:
                problems.append("sanitizer reports:\n" + "\n".join(reports))
            if not problems:
                shutil.rmtree(a.tmp, ignore_errors=True)
        return problems


# The MPMs the `server` tests run under: both by default; make test-asan
# runs event only (the module's code is the same under both; the plain pass
# covers prefork's process model).
MPMS = os.environ.get("PVL_MPMS", "event prefork").split()


@pytest.fixture(params=MPMS)
def server(request):
    factory = ServerFactory(request.param)
    yield factory
    problems = factory.finish()
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def event_server():
    factory = ServerFactory("event")
    yield factory
    problems = factory.finish()
    if problems:
        pytest.fail("\n".join(problems))
