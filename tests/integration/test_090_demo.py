"""`make run`'s demo: the printed commands work as printed."""
import os
import subprocess

import apache_harness as H


def test_demo_smoke():
    r = subprocess.run([H.PYTHON, os.path.join(H.REPO, "scripts", "run_demo.py"), "--smoke"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "curl -s -X POST" in r.stdout
    assert '"clientID"' in r.stdout
    assert "stopped" in r.stdout
