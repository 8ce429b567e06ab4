"""What we ship: the example launcher configs load, and the annotated
reference documents exactly the directives the module has."""
import os
import re

import apache_harness as H

CONF = os.path.join(H.REPO, "conf")


def test_example_launcher_configs_pass_configtest(event_server):
    for name in ("launcher-wslink.json", "launcher-paraviewweb.json", "launcher-slurm.json"):
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


def test_paraview_examples_unbuffer_pvpython():
    """pvpython holds back output written to a file until it exits: every
    shipped example that runs it goes through stdbuf -oL and says why."""
    for path in (os.path.join(CONF, "launcher-wslink.json"),
                 os.path.join(CONF, "launcher-paraviewweb.json"),
                 os.path.join(CONF, "launcher-slurm.json"),
                 os.path.join(H.REPO, "packaging", "launcher.json")):
        with open(path) as f:
            text = f.read()
        cmds = re.findall(r'"cmd"\s*:\s*\[([^\]]*)\]', text)
        pv = [c for c in cmds if "python_exec" in c]
        assert pv, path
        for c in pv:
            assert re.match(r'\s*"stdbuf",\s*"-oL",', c), (path, c)
        assert "holds back" in text, path
