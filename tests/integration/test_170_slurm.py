"""Slurm (issue 14): the private one-node cluster the Slurm tests run on
(tests/slurm_cluster.py). Its facts, checked on every run: jobs run as the
apps' user, they are placed on the node, `srun --resv-ports` hands out a
port of MpiParams' range, and one squeue call lists every job."""
import json
import os
import pwd
import tempfile

import pytest

import apache_harness as H
import slurm_cluster
from conftest import wait_until


@pytest.fixture(scope="module")
def cluster():
    """One cluster for the module (starting one takes a few seconds); each
    test leaves it with no job of its own and the node up."""
    if os.geteuid() != 0:
        pytest.skip("a private Slurm cluster needs root; CI runs the tests as root")
    why = slurm_cluster.available()
    assert why is None, why  # make test installs the packages: missing ones are a failure
    c = slurm_cluster.SlurmCluster()
    try:
        yield c.start()
    finally:
        c.stop()


def wait_for(cond, timeout=20.0):
    return wait_until(cond, timeout=timeout, step=0.1)


def job_dir(cluster):
    """A directory the apps' user writes its jobs' output to."""
    H.ensure_app_user()
    app = pwd.getpwnam(H.APP_USER)
    out_dir = tempfile.mkdtemp(prefix="out-", dir=cluster.tmp)
    os.chown(out_dir, app.pw_uid, app.pw_gid)
    return app, out_dir


def test_a_job_runs_as_the_app_user_with_a_reserved_port(cluster):
    app, out_dir = job_dir(cluster)
    script = cluster.path("job.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n"
                "echo \"user $(id -un) node $SLURMD_NODENAME job $SLURM_JOB_ID\"\n"
                "srun --resv-ports=1 -n1 sh -c 'echo \"port $SLURM_STEP_RESV_PORTS\"'\n")
    os.chmod(script, 0o755)
    out = os.path.join(out_dir, "job.out")
    submit = ["setpriv", "--reuid", str(app.pw_uid), "--regid", str(app.pw_gid),
              "--init-groups", "sbatch", "--parsable", "--output", out, script]
    r = cluster.run(*submit)
    job = r.stdout.strip().split(";")[0]
    assert job.isdigit(), r

    def lines():
        try:
            with open(out) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        return text.splitlines() if "port " in text else None
    got = wait_for(lines)
    assert got, (cluster.jobs(), cluster.logs())
    assert got[0] == "user %s node localhost job %s" % (H.APP_USER, job), got
    port = int(got[1].split()[1])
    lo, hi = cluster.resv_ports
    assert lo <= port <= hi, (port, cluster.resv_ports)
    assert wait_for(lambda: job not in cluster.jobs()), cluster.jobs()


def test_one_squeue_call_lists_pending_and_running_jobs(cluster):
    script = cluster.path("sleep.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nsleep 30\n")
    os.chmod(script, 0o755)
    cluster.run("scontrol", "update", "nodename=localhost", "state=drain", "reason=test")
    held = cluster.run("sbatch", "--parsable", "--output", "/dev/null", script).stdout.strip()
    assert wait_for(lambda: cluster.jobs().get(held) == "PENDING"), cluster.jobs()
    cluster.run("scontrol", "update", "nodename=localhost", "state=resume")
    assert wait_for(lambda: cluster.jobs().get(held) == "RUNNING"), cluster.jobs()
    cluster.run("scancel", held)
    assert wait_for(lambda: held not in cluster.jobs()), cluster.jobs()


DRIVER = os.path.join(H.REPO, "build", "slurm_script_driver")


def test_the_batch_script_runs_an_app_on_a_reserved_port(cluster):
    """src/core/slurm.h's batch script on a real Slurm: the job prints its
    route (the node, a port that srun reserved) before the app starts, the
    app gets ${host} and ${port} on the node, and a wslink client reaches
    it there; scancel ends it."""
    import json
    import subprocess
    import wslink_client
    assert os.path.exists(DRIVER), "build it with `make build/slurm_script_driver`"
    app, out_dir = job_dir(cluster)
    argv = [a.replace("${secret}", "s3cret 'quoted'")
            for a in H.app_cmd("ready", "--show-env", "PV_PORT")]
    spec = {"argv": argv, "dir": os.path.join(H.REPO, "tests"),
            "env": {"PV_PORT": "p=${port}"}}
    r = subprocess.run([DRIVER], input=json.dumps(spec), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    script = os.path.join(out_dir, "session.sh")
    with open(script, "w") as f:
        f.write(r.stdout)
    out = os.path.join(out_dir, "session.log")
    submit = cluster.run("setpriv", "--reuid", str(app.pw_uid), "--regid", str(app.pw_gid),
                         "--init-groups", "sbatch", "--parsable", "--job-name", "pvlaunch-test",
                         "--output", out, script)
    job = submit.stdout.strip().split(";")[0]

    def log():
        try:
            with open(out) as f:
                return f.read()
        except FileNotFoundError:
            return ""
    assert wait_for(lambda: "Starting factory" in log()), (log(), cluster.jobs(), cluster.logs())
    first = log().splitlines()[0]
    prefix, host, port = first.split(" ")
    assert (prefix, host) == ("pvlaunch-route", "localhost"), first
    lo, hi = cluster.resv_ports
    assert lo <= int(port) <= hi
    assert "PV_PORT=p=" + port in log(), log()
    reply = wslink_client.hello("ws://127.0.0.1:%s/ws" % port, "s3cret 'quoted'")
    assert "result" in reply, reply
    cluster.run("scancel", job)
    assert wait_for(lambda: job not in cluster.jobs()), cluster.jobs()
    assert wait_for(lambda: "fake_wslink_app" not in subprocess.run(
        ["ps", "-eo", "args"], capture_output=True, text=True).stdout), "the app outlived its job"


# -- Sessions as Slurm jobs, through Apache (issue 14) -------------------------

def slurm_launcher(cluster, apps=None, slurm=None, timeout=20, **top):
    """A launcher config with a local app ("demo") and Slurm apps."""
    def make(tmp, port):
        base = H.free_port_range(5)
        launcher = H.default_launcher(tmp, port, base, count=5, timeout=timeout)
        launcher["apps"]["viz"] = {
            "cmd": H.app_cmd("ready", tmp=tmp),
            "ready_line": "Starting factory",
            "slurm": {"options": ["--partition=viz", "--time=00:30:00",
                                  "--comment=${application}"]},
        }
        launcher["apps"].update(apps(tmp) if callable(apps) else (apps or {}))
        if slurm is not None:
            launcher["slurm"] = slurm
        launcher.update(top)
        return launcher
    return make


@pytest.fixture
def slurm_server(cluster, event_server):
    def make(**kw):
        kw.setdefault("launcher", slurm_launcher(cluster, **kw.pop("launcher_args", {})))
        return event_server(env={"SLURM_CONF": cluster.conf}, **kw)
    yield make
    # Nothing of a test's sessions may remain in Slurm.
    assert wait_for(lambda: not cluster.jobs(), timeout=30), cluster.jobs()


def job_of(cluster, session_id):
    """The job id of a session (its job is named pvlaunch-<id>)."""
    r = cluster.run("squeue", "-h", "-t", "all", "-n", "pvlaunch-" + session_id, "-o", "%i %T")
    rows = [line.split() for line in r.stdout.splitlines() if line.strip()]
    return rows[0] if rows else (None, None)


def test_post_answers_with_the_node_and_a_reserved_port(cluster, slurm_server):
    """POST runs the app as a Slurm job: 200 once its ready line is in the
    job's output, with the node Slurm chose and a port srun reserved; the
    websocket hello through Apache reaches it; DELETE cancels the job and
    answers once Slurm says it ended."""
    import wslink_client
    from test_020_launch import ws_url
    a = slurm_server()
    lo, hi = cluster.resv_ports
    sessions = []
    for _ in range(3):
        status, obj, _ = a.json("POST", "/paraview", {"application": "viz"})
        assert status == 200, (obj, a.read_log()[-2000:], cluster.logs())
        assert obj["host"] == "localhost", obj
        assert lo <= obj["port"] <= hi, (obj, cluster.resv_ports)
        assert "\x1d" not in json.dumps(obj) and "\\u001d" not in json.dumps(obj), obj
        sessions.append(obj)
    assert len({s["port"] for s in sessions}) == 3, sessions
    for obj in sessions:
        job, state = job_of(cluster, obj["id"])
        assert state == "RUNNING", (job, state)
        assert a.json("GET", "/paraview/" + obj["id"])[1] == obj
        reply = wslink_client.hello(ws_url(a, obj["id"]), obj["secret"])
        assert "result" in reply, reply
    # a local app of the same launcher still runs here
    status, local, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200 and local["host"] == "127.0.0.1", local
    assert a.json("DELETE", "/paraview/" + local["id"])[0] == 200
    for obj in sessions:
        job, _ = job_of(cluster, obj["id"])
        status, body, _ = a.json("DELETE", "/paraview/" + obj["id"])
        assert status == 200, body
        # answered once Slurm reports the job ended
        assert job not in cluster.jobs(), cluster.jobs()
        assert a.json("GET", "/paraview/" + obj["id"])[0] == 404
        assert wslink_client.connect_status(ws_url(a, obj["id"])) == 404
