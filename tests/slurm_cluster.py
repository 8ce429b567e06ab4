"""A private one-node Slurm cluster for tests, from Debian's packages
(slurmctld, slurmd, slurm-client, munge), started as root in a temp dir:
its own munge key and socket, slurmctld and slurmd on free ports, the node
`localhost` with more CPUs than the machine has. Nothing of a Slurm that may
already run on the machine is used: clients find this one through
SLURM_CONF (see env()).

    with SlurmCluster() as c:
        subprocess.run(["sbatch", ...], env=c.env())
"""
import os
import shutil
import signal
import subprocess
import time

import apache_harness as H

SBIN = "/usr/sbin"


def available():
    """Why a cluster cannot be started here, or None."""
    if os.geteuid() != 0:
        return "a private Slurm cluster needs root (slurmd starts jobs as their users)"
    for prog in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol"):
        if not shutil.which(prog) and not os.path.exists(os.path.join(SBIN, prog)):
            return "%s is missing (Debian: slurmctld slurmd slurm-client munge)" % prog
    return None


class SlurmCluster:
    def __init__(self, cpus=64, resv_ports=None, extra_conf=""):
        # e.g. "MessageTimeout=60\n": one slurmd on two cores launches 200
        # jobs at once slowly, and Slurm's default 10 s fails some launches.
        self.extra_conf = extra_conf
        self.tmp = H.new_tmpdir("pvl-slurm-")
        # Job users (the apps' user) reach munge's socket and read the
        # config: the directory is traversable, not writable.
        os.chmod(self.tmp, 0o755)
        self.cpus = cpus
        self.conf = os.path.join(self.tmp, "slurm.conf")
        self.munge_socket = os.path.join(self.tmp, "munge", "munge.socket")
        self.procs = []
        self.ctld_port = H.free_port()
        self.slurmd_port = H.free_port()
        lo = H.free_port_range(100)
        self.resv_ports = resv_ports or (lo, lo + 99)

    # -- lifecycle -----------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def env(self):
        """Apache's (and a test's) environment for Slurm's commands."""
        e = dict(os.environ)
        e["SLURM_CONF"] = self.conf
        return e

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def start(self, timeout=30):
        self._start_munge()
        self._write_conf()
        for d in ("state", "spool"):
            os.makedirs(self.path(d), exist_ok=True)
        self._spawn([os.path.join(SBIN, "slurmctld"), "-D", "-f", self.conf], "slurmctld")
        self._spawn([os.path.join(SBIN, "slurmd"), "-D", "-f", self.conf, "-N", "localhost"],
                    "slurmd")
        deadline = time.time() + timeout
        while time.time() < deadline:
            state = self.node_state()
            if state in ("idle", "mixed", "allocated"):
                return self
            time.sleep(0.2)
        raise RuntimeError("the Slurm node did not become idle (state %r):\n%s" % (
            self.node_state(), self.logs()))

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        # Job steps that outlived slurmd (proctrack/pgid: their own groups).
        subprocess.run(["pkill", "-KILL", "-f", self.tmp], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def stop_controller(self):
        """slurmctld goes away (jobs keep running on the node)."""
        ctld = self._proc("slurmctld")
        ctld.send_signal(signal.SIGTERM)
        ctld.wait(timeout=15)

    def start_controller(self, timeout=30):
        self.procs = [p for p in self.procs if p.args[0] != os.path.join(SBIN, "slurmctld")]
        self._spawn([os.path.join(SBIN, "slurmctld"), "-D", "-f", self.conf], "slurmctld")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.node_state() is not None:
                return
            time.sleep(0.2)
        raise RuntimeError("slurmctld did not come back:\n" + self.logs())

    def _proc(self, name):
        return next(p for p in self.procs if p.args[0] == os.path.join(SBIN, name))

    # -- queries ---------------------------------------------------------
    def run(self, *args, check=True, timeout=30):
        return subprocess.run(list(args), capture_output=True, text=True, check=check,
                              timeout=timeout, env=self.env())

    def node_state(self):
        r = self.run("sinfo", "-h", "-n", "localhost", "-o", "%T", check=False, timeout=15)
        return r.stdout.strip().rstrip("*~#$@+") if r.returncode == 0 else None

    def jobs(self):
        """{job id: state} of every job slurmctld still lists."""
        r = self.run("squeue", "-h", "-o", "%i %T")
        return dict(line.split() for line in r.stdout.splitlines() if line.strip())

    def logs(self):
        out = []
        for name in ("munged.log", "slurmctld.log", "slurmd.log"):
            try:
                with open(self.path(name), errors="replace") as f:
                    out.append("== %s\n%s" % (name, f.read()[-3000:]))
            except OSError:
                pass
        return "\n".join(out)

    # -- pieces ------------------------------------------------------------
    def _spawn(self, argv, name):
        log = open(self.path(name + ".out"), "a")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                           env=self.env(), start_new_session=True))

    def _start_munge(self):
        d = self.path("munge")
        os.makedirs(d, mode=0o755)
        key = os.path.join(d, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        # munged as root, in the foreground, with everything of its own.
        self._spawn([os.path.join(SBIN, "munged"), "--foreground", "--force",
                     "--key-file", key, "--socket", self.munge_socket,
                     "--pid-file", os.path.join(d, "munged.pid"),
                     "--log-file", self.path("munged.log"),
                     "--seed-file", os.path.join(d, "munged.seed")], "munged")
        deadline = time.time() + 10
        while not os.path.exists(self.munge_socket):
            if time.time() > deadline or self.procs[-1].poll() is not None:
                raise RuntimeError("munged did not start:\n" + self.logs())
            time.sleep(0.05)

    def _write_conf(self):
        lo, hi = self.resv_ports
        conf = """# A private one-node cluster (tests/slurm_cluster.py)
ClusterName=pvltest
SlurmctldHost=localhost
SlurmctldPort=%(ctld)d
SlurmdPort=%(slurmd)d
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=%(munge)s
SlurmUser=root
SlurmdUser=root
StateSaveLocation=%(tmp)s/state
SlurmdSpoolDir=%(tmp)s/spool
SlurmctldPidFile=%(tmp)s/slurmctld.pid
SlurmdPidFile=%(tmp)s/slurmd.pid
SlurmctldLogFile=%(tmp)s/slurmctld.log
SlurmdLogFile=%(tmp)s/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
# The node may claim more CPUs than the machine has (200 sessions at once).
SlurmdParameters=config_overrides
SchedulerType=sched/builtin
# Pending jobs are tried every second (default 60 s): a test that frees the
# node sees its pending job start at once.
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MpiParams=ports=%(lo)d-%(hi)d
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
%(extra)sSlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=30
NodeName=localhost CPUs=%(cpus)d State=UNKNOWN
PartitionName=viz Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""" % {"ctld": self.ctld_port, "slurmd": self.slurmd_port, "munge": self.munge_socket,
       "tmp": self.tmp, "lo": lo, "hi": hi, "cpus": self.cpus, "extra": self.extra_conf}
        with open(self.conf, "w") as f:
            f.write(conf)
        os.chmod(self.conf, 0o644)
