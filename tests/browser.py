"""What the headless-Chromium tests share: where Chromium is, skipping
(loudly) only where it is not installed, and building web/ (npm ci from the
lock file, then the bundle) so that node_modules has playwright-core."""
import os
import shutil
import subprocess
import warnings

import pytest

import apache_harness as H

CHROMIUM = "/usr/bin/chromium"
WEB = os.path.join(H.REPO, "web")


def need_chromium(what):
    """Skips, with a warning in pytest's summary, only where Chromium is not
    installed (scripts/ensure-deps.sh installs Debian's chromium for
    `make test`). `what` names the test that did not run."""
    if os.access(CHROMIUM, os.X_OK):
        return
    why = ("Chromium is not installed (%s missing; `apt-get install chromium`): "
           "the browser test of %s did NOT run" % (CHROMIUM, what))
    warnings.warn(why)
    pytest.skip(why)


def build_web():
    """web/build.sh: npm ci when the lock file changed, then the bundle into
    build/web. Returns the node executable."""
    node = shutil.which("node")
    if not node or not shutil.which("npm"):
        pytest.fail("node and npm are needed to build and drive the web pages "
                    "(Debian: apt-get install nodejs npm)")
    r = subprocess.run(["sh", os.path.join(WEB, "build.sh")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, "web/build.sh failed:\n" + r.stdout + r.stderr
    return node
