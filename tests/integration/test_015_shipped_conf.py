"""What we ship: the example launcher configs load, and the annotated
reference documents exactly the directives the module has."""
import os
import re

import apache_harness as H

CONF = os.path.join(H.REPO, "conf")


def test_example_launcher_configs_pass_configtest(event_server):
    for name in ("launcher-wslink.json", "launcher-paraviewweb.json"):
        with open(os.path.join(CONF, name)) as f:
            text = f.read()
        a = event_server(launcher_text=text, start=False)
        r = a.configtest()
        assert r.returncode == 0, (name, r.stderr)


def test_reference_documents_every_directive():
    with open(os.path.join(H.REPO, "mod_pvlaunch.cpp")) as f:
        code = set(re.findall(r'PVL_DIRECTIVE\(\w+, "(PVLaunch\w+)"', f.read()))
    with open(os.path.join(CONF, "pvlaunch.conf")) as f:
        documented = set(re.findall(r"^# (PVLaunch\w+) ", f.read(), re.M))
    assert code, "no directive found in the code"
    assert code == documented
