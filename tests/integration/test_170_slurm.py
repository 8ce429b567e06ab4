"""Slurm (issue 14): the private one-node cluster the Slurm tests run on
(tests/slurm_cluster.py). Its facts, checked on every run: jobs run as the
apps' user, they are placed on the node, `srun --resv-ports` hands out a
port of MpiParams' range, and one squeue call lists every job."""
import os
import pwd

import pytest

import apache_harness as H
import slurm_cluster
from conftest import wait_until


@pytest.fixture
def cluster():
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
    out_dir = cluster.path("out")
    os.makedirs(out_dir)
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
