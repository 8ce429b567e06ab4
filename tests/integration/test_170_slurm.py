"""Slurm (issue 14): the private one-node cluster the Slurm tests run on
(tests/slurm_cluster.py). Its facts, checked on every run: jobs run as the
apps' user, they are placed on the node, `srun --resv-ports` hands out a
port of MpiParams' range, and one squeue call lists every job."""
import json
import os
import pwd
import subprocess
import tempfile
import time

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

def slurm_launcher(cluster, apps=None, slurm=None, timeout=20, **top):  # noqa: ARG001
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
        kw.setdefault("env", {"SLURM_CONF": cluster.conf})
        return event_server(**kw)
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
    a = slurm_server(launcher_args={"apps": lambda tmp: {"quiet": {
        "cmd": H.app_cmd("ready", tmp=tmp), "slurm": {"options": []}}}})
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
    # without a ready line: ready once its port on the node accepts
    status, quiet, _ = a.json("POST", "/paraview", {"application": "quiet"})
    assert status == 200 and quiet["host"] == "localhost", quiet
    assert "result" in wslink_client.hello(ws_url(a, quiet["id"]), quiet["secret"])
    sessions.append(quiet)
    # a local app of the same launcher still runs here
    status, local, _ = a.json("POST", "/paraview", {"application": "demo"})
    assert status == 200 and local["host"] == "127.0.0.1", local
    assert a.json("DELETE", "/paraview/" + local["id"])[0] == 200
    jobs = {obj["id"]: job_of(cluster, obj["id"])[0] for obj in sessions}

    def delete(obj):
        status, body, _ = a.json("DELETE", "/paraview/" + obj["id"])
        # answered once Slurm reports the job ended
        return status, body, jobs[obj["id"]] in cluster.jobs()
    for status, body, listed in parallel(delete, sessions):
        assert status == 200 and not listed, (status, body, cluster.jobs())
    for obj in sessions:
        assert a.json("GET", "/paraview/" + obj["id"])[0] == 404
        assert wslink_client.connect_status(ws_url(a, obj["id"])) == 404


def parallel(fn, items):
    """fn over items at once (a DELETE waits for Slurm to end the job)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=max(1, len(items))) as pool:
        return list(pool.map(fn, items))


def job_user(cluster, job):
    return cluster.run("squeue", "-h", "-t", "all", "-j", job, "-o", "%u").stdout.strip()


@pytest.fixture
def drained(cluster):
    """The node takes no new job while a test runs."""
    cluster.run("scontrol", "update", "nodename=localhost", "state=drain", "reason=pvltest")
    yield
    cluster.run("scontrol", "update", "nodename=localhost", "state=resume")
    assert wait_for(lambda: cluster.node_state() in ("idle", "mixed", "allocated"))


def test_a_pending_job_holds_the_post_then_503_and_is_canceled(cluster, slurm_server,
                                                               drained):
    """Slurm's queue is the queue: a ParaViewWeb POST waits for its job up
    to the launcher's timeout, then gets 503 naming the wait, and the job is
    canceled."""
    a = slurm_server(launcher_args={"timeout": 6}, allowed_log=["PVL00022"])
    t0 = time.time()
    status, obj, _ = a.json("POST", "/paraview", {"application": "viz"})
    took = time.time() - t0
    assert status == 503, obj
    assert "is still pending" in obj["error"] and "it is canceled" in obj["error"], obj
    assert 5.5 < took < 15, took
    assert wait_for(lambda: not cluster.jobs(), timeout=15), cluster.jobs()


def test_pending_jobs_are_waiting_launches_with_their_position(cluster, slurm_server,
                                                               drained):
    """Seed 004: asynchronous launches whose jobs wait in Slurm's queue are
    "waiting", with their position among the launcher's pending jobs, in
    the order they were submitted; DELETE cancels a waiting job. (A long
    timeout: a slow Slurm only makes the test slower.)"""
    import test_080_queue
    a = slurm_server(launcher_args={"timeout": 120})
    first = test_080_queue.post_async(a, {"application": "viz"})
    second = test_080_queue.post_async(a, {"application": "viz"})
    assert first[0] == 202 and second[0] == 202, (first, second)

    def waiting(launch, position):
        def check():
            got = a.json("GET", launch[1]["Content-Location"])[1]
            return got if (got.get("state") == "waiting" and
                           {"name": "queuePosition", "value": str(position)} in got["status"]) \
                else None
        return wait_for(check, timeout=60)

    def show(launch):
        return (json.dumps(a.json("GET", launch[1]["Content-Location"])[1]),
                cluster.jobs(), a.read_log()[-3000:])
    got = waiting(first, 1)
    assert got, show(first)
    assert {"name": "slurmState", "value": "PENDING"} in got["status"], got
    assert waiting(second, 2), show(second)
    # DELETE a waiting launch: its job is canceled
    for launch in (first, second):
        status, body, _ = a.json("DELETE", launch[1]["Content-Location"])
        assert status == 200 and body["state"] == "canceled", body
    assert wait_for(lambda: not cluster.jobs(), timeout=15), cluster.jobs()


def test_jobs_that_end_by_themselves_leave_the_map(cluster, slurm_server):
    """App exit, scancel from outside and the node set down: each session is
    gone from the map within 5 s of Slurm reporting its job ended."""
    import wslink_client
    from test_020_launch import ws_url
    a = slurm_server(launcher_args={"apps": lambda tmp: {"short": {
        "cmd": H.app_cmd("crash-later", "--delay", "3", tmp=tmp),
        "ready_line": "Starting factory", "slurm": {"options": []}}}})

    def launched(app):
        status, obj, _ = a.json("POST", "/paraview", {"application": app})
        assert status == 200, obj
        return obj, job_of(cluster, obj["id"])[0]

    def gone_within_5s_of(job, obj):
        # Slurm reports the end: the job leaves squeue's running states
        assert wait_for(lambda: job not in cluster.jobs(), timeout=30), cluster.jobs()
        ended = time.time()
        assert wait_for(lambda: a.json("GET", "/paraview/" + obj["id"])[0] == 404,
                        timeout=5), a.read_log()[-2000:]
        assert time.time() - ended <= 5
        assert wslink_client.connect_status(ws_url(a, obj["id"])) == 404

    crashing, job = launched("short")
    assert job_user(cluster, job) == H.APP_USER
    gone_within_5s_of(job, crashing)
    outside, job = launched("viz")
    cluster.run("scancel", job)
    gone_within_5s_of(job, outside)
    down, job = launched("viz")
    cluster.run("scontrol", "update", "nodename=localhost", "state=down", "reason=pvltest")
    try:
        gone_within_5s_of(job, down)
    finally:
        # ReturnToService=2 may have brought it back already
        cluster.run("scontrol", "update", "nodename=localhost", "state=resume", check=False)
        assert wait_for(lambda: cluster.node_state() in ("idle", "mixed"), timeout=30), \
            cluster.node_state()
    log = a.read_log()
    assert "Slurm job %s" % job in log, log[-2000:]
    a.allowed_log += ["PVL00020", "PVL00021"]


def test_sessions_survive_restarts_and_a_killed_daemon_and_stop_cancels(cluster, slurm_server):
    """Job ids are in the journal: sessions survive -k graceful, -k restart
    and SIGKILL of the session daemon (the next one takes the jobs over);
    -k stop cancels them."""
    import signal as sig
    import wslink_client
    from test_020_launch import ws_url
    from test_050_restarts import settle
    a = slurm_server()
    a.allowed_log += ["AH00052", "PVL00204"]
    sessions = []
    for _ in range(2):
        status, obj, _ = a.json("POST", "/paraview", {"application": "viz"})
        assert status == 200, obj
        sessions.append(obj)
    jobs = {s["id"]: job_of(cluster, s["id"])[0] for s in sessions}

    def all_answer():
        for obj in sessions:
            status, got, _ = a.json("GET", "/paraview/" + obj["id"])
            assert status == 200 and got == obj, (status, got, a.read_log()[-2000:])
            assert "result" in wslink_client.hello(ws_url(a, obj["id"]), obj["secret"])
        assert {s["id"]: job_of(cluster, s["id"])[0] for s in sessions} == jobs
        assert set(cluster.jobs().values()) == {"RUNNING"}, cluster.jobs()

    for kind in ("graceful", "restart"):
        assert a.signal(kind).returncode == 0
        time.sleep(0.5)
        settle(a)
        all_answer()
    daemon = a.daemon_pid()
    os.kill(daemon, sig.SIGKILL)
    assert wait_for(lambda: a.daemon_pid() not in (None, daemon), timeout=15)
    settle(a)
    all_answer()
    # the new daemon watches them: an outside scancel ends one
    victim = sessions.pop()
    cluster.run("scancel", jobs.pop(victim["id"]))
    assert wait_for(lambda: a.json("GET", "/paraview/" + victim["id"])[0] == 404, timeout=15)
    a.stop()
    assert wait_for(lambda: not cluster.jobs(), timeout=15), cluster.jobs()
    a.allowed_log += ["PVL00020"]


def test_routing_is_confined_to_allowed_nodes(cluster, slurm_server):
    """slurm.host_regex: a job on a node it does not allow is never routed;
    the client gets 502 and the job is canceled."""
    a = slurm_server(launcher_args={"slurm": {"host_regex": "node[0-9]+"}})
    status, obj, _ = a.json("POST", "/paraview", {"application": "viz"})
    assert status == 502, obj
    assert "not allowed by slurm.host_regex" in obj["error"], obj
    assert wait_for(lambda: not cluster.jobs(), timeout=15), cluster.jobs()
    assert "PVL00076" in a.read_log()
    a.allowed_log += ["PVL00076", "PVL00027"]


def test_sbatch_refusals_answer_with_its_message_and_leave_nothing(cluster, slurm_server):
    """A bad partition: 502 with sbatch's own message; nothing is left (no
    job, no slot: the next launch works)."""
    a = slurm_server(launcher_args={"apps": {"bad": {
        "cmd": ["true"], "slurm": {"options": ["--partition=nosuchpartition"]}}},
        "slurm": {"max_jobs": 1}})
    for _ in range(3):
        status, obj, _ = a.json("POST", "/paraview", {"application": "bad"})
        assert status == 502, obj
        assert "invalid partition" in obj["error"].lower(), obj
    assert not cluster.jobs()
    status, obj, _ = a.json("POST", "/paraview", {"application": "viz"})
    assert status == 200, obj
    assert a.json("DELETE", "/paraview/" + obj["id"])[0] == 200
    a.allowed_log += ["PVL00072", "PVL00027"]


def test_slurmctld_down_keeps_sessions_and_refuses_new_launches(cluster, slurm_server):
    """slurmctld away: live sessions stay routed, a new launch gets 503
    within its timeout, and all is reconciled when it returns (a session
    whose job ended meanwhile leaves the map)."""
    import wslink_client
    from test_020_launch import ws_url
    a = slurm_server(launcher_args={"timeout": 20},
                     allowed_log=["PVL00074", "PVL00072", "PVL00027", "PVL00020"])
    sessions = []
    for _ in range(2):
        status, obj, _ = a.json("POST", "/paraview", {"application": "viz"})
        assert status == 200, obj
        sessions.append(obj)
    gone = sessions.pop()
    cluster.stop_controller()
    try:
        t0 = time.time()
        status, obj, _ = a.json("POST", "/paraview", {"application": "viz"}, timeout=60)
        assert status == 503, obj
        assert time.time() - t0 < 25
        # sbatch's own message, or (Slurm's commands retry for a while) the
        # wait for sbatch within the timeout
        assert "slurm" in obj["error"].lower(), obj
        for obj in sessions:
            assert a.json("GET", "/paraview/" + obj["id"])[0] == 200
            assert "result" in wslink_client.hello(ws_url(a, obj["id"]), obj["secret"])
        # the app of one session ends while nobody can tell Slurm's view
        subprocess.run(["pkill", "-f", "--", "--port %d " % gone["port"]])
    finally:
        cluster.start_controller()
    assert wait_for(lambda: a.json("GET", "/paraview/" + gone["id"])[0] == 404, timeout=30), \
        (cluster.jobs(), a.read_log()[-2000:])
    assert a.json("GET", "/paraview/" + sessions[0]["id"])[0] == 200
    assert a.json("DELETE", "/paraview/" + sessions[0]["id"])[0] == 200
    # squeue calls made while it was away waited for it (Slurm's retries)
    # or failed (PVL00074): either way nothing was lost meanwhile


def test_one_squeue_call_polls_every_job(cluster, slurm_server):
    """squeue runs once per poll for all the launcher's jobs (a shim in
    Apache's PATH counts the calls), not once per job."""
    shim_dir = tempfile.mkdtemp(prefix="shim-", dir=cluster.tmp)
    calls = os.path.join(shim_dir, "calls")
    with open(os.path.join(shim_dir, "squeue"), "w") as f:
        f.write("#!/bin/sh\necho \"$*\" >> %s\nexec /usr/bin/squeue \"$@\"\n" % calls)
    os.chmod(os.path.join(shim_dir, "squeue"), 0o755)
    os.chmod(shim_dir, 0o777)
    env = {"SLURM_CONF": cluster.conf, "PATH": shim_dir + ":" + os.environ["PATH"]}
    a = slurm_server(env=env, launcher_args={"slurm": {"poll_interval": 0.5}})
    ids = []
    for _ in range(4):
        status, obj, _ = a.json("POST", "/paraview", {"application": "viz"})
        assert status == 200, obj
        ids.append(obj["id"])
    start = len(open(calls).read().splitlines())
    time.sleep(3)
    lines = open(calls).read().splitlines()[start:]
    # 3 s at one call per 0.5 s: about 6, whatever the number of jobs
    assert 3 <= len(lines) <= 8, lines
    assert all("--user=" + H.APP_USER in line and "--jobs" not in line for line in lines), lines
    assert parallel(lambda sid: a.json("DELETE", "/paraview/" + sid)[0], ids) == [200] * 4


def slow_sbatch(cluster, seconds):
    """A PATH for Apache where sbatch takes `seconds` before it submits."""
    shim_dir = tempfile.mkdtemp(prefix="slow-", dir=cluster.tmp)
    with open(os.path.join(shim_dir, "sbatch"), "w") as f:
        f.write("#!/bin/sh\nsleep %s\nexec /usr/bin/sbatch \"$@\"\n" % seconds)
    os.chmod(os.path.join(shim_dir, "sbatch"), 0o755)
    os.chmod(shim_dir, 0o755)
    return {"SLURM_CONF": cluster.conf, "PATH": shim_dir + ":" + os.environ["PATH"]}


def test_a_launch_cut_short_while_sbatch_runs_leaves_no_job(cluster, slurm_server):
    """Apache stops, or the daemon is killed, while sbatch is submitting: the
    job it creates is canceled all the same (by id once sbatch answers, or
    by its name pvlaunch-<id> from the next daemon)."""
    import signal as sig
    import threading
    from test_050_restarts import settle
    for cut in ("stop", "kill"):
        a = slurm_server(env=slow_sbatch(cluster, 2),
                         allowed_log=["PVL00204", "AH00052", "PVL00102"])
        answers = []
        # Before a stop, an asynchronous launch (202 at once): a held POST
        # would keep its worker, and Apache's stop waits for it (then kills
        # it) before it stops the daemon, by which time sbatch has answered.
        headers = {"Prefer": "respond-async"} if cut == "stop" else {}

        def post():
            try:
                answers.append(a.json("POST", "/paraview", {"application": "viz"},
                                      headers=headers, timeout=60))
            except OSError:
                pass
        t = threading.Thread(target=post)
        t.start()
        assert wait_for(lambda: "PVL00501" in a.read_log(), timeout=10)
        if cut == "stop":
            a.stop()
        else:
            daemon = a.daemon_pid()
            os.kill(daemon, sig.SIGKILL)
            assert wait_for(lambda: a.daemon_pid() not in (None, daemon), timeout=15)
            settle(a)
        t.join(timeout=60)
        expected = (202,) if cut == "stop" else (502, 503)
        assert answers and answers[0][0] in expected, answers
        # the job sbatch created (after the cut) ends, and no other is left
        assert wait_for(lambda: "pvlaunch-" in cluster.run(
            "squeue", "-h", "-t", "all", "-o", "%j").stdout, timeout=10), cluster.jobs()
        assert wait_for(lambda: not cluster.jobs(), timeout=20), (cut, cluster.jobs())
        a.stop()
