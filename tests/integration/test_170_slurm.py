"""Slurm (issue 14): the private one-node cluster the Slurm tests run on
(tests/slurm_cluster.py). Its facts, checked on every run: jobs run as the
apps' user, they are placed on the node, `srun --resv-ports` hands out a
port of MpiParams' range, and one squeue call lists every job."""
import os
import pwd
import time

import pytest

import apache_harness as H
import slurm_cluster


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


def wait_for(cond, timeout=20.0, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def test_a_job_runs_as_the_app_user_with_a_reserved_port(cluster):
    H.ensure_app_user()
    app = pwd.getpwnam(H.APP_USER)
    out_dir = cluster.path("out")
    os.makedirs(out_dir)
    os.chown(out_dir, app.pw_uid, app.pw_gid)
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
