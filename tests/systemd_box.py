"""A real systemd, booted by the tests in private namespaces, running
Debian's own apache2.service with the module (the recipe of DESIGN.md).

The box is an overlay of / with a tmpfs upper layer (nothing reaches the
host's disk), its own mount, pid, network, cgroup, UTS and IPC namespaces,
and systemd as its PID 1. Tests drive it with systemctl through nsenter and
reach its Apache over its own loopback, through box_client.py run in its
network namespace.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import apache_harness as H

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = "/opt/pvlaunch-test"  # inside the box

# Units that must not run in a box: they touch the host's kernel settings,
# devices or clock, or wait for consoles; tmpfiles-setup's "D /tmp" would
# empty /tmp.
MASKED = [
    "systemd-sysctl.service", "systemd-modules-load.service", "systemd-udevd.service",
    "systemd-udev-trigger.service", "systemd-timesyncd.service", "systemd-remount-fs.service",
    "timers.target", "getty.target", "console-getty.service", "systemd-logind.service",
    "systemd-tmpfiles-setup.service", "systemd-tmpfiles-setup-dev.service",
    "systemd-tmpfiles-clean.timer", "apt-daily.timer", "apt-daily-upgrade.timer",
]

INNER = r"""#!/bin/sh
# In the new namespaces: build the box's root, then boot systemd in it.
set -eu
B="$1"; STAGE="$2"
mount -t tmpfs -o mode=755 tmpfs "$B"
mkdir -p "$B/upper" "$B/work" "$B/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$B/upper,workdir=$B/work" "$B/root"
R="$B/root"
mount -t proc proc "$R/proc"
mount -t sysfs -o ro sysfs "$R/sys"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=755 tmpfs "$R/dev"
for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  n=${d%%:*}; r=${d#*:}; mknod -m 666 "$R/dev/$n" c "${r%%:*}" "${r#*:}"
done
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
for d in run tmp var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "$R/$d"; done
chmod 755 "$R/run"
find "$R/etc/systemd/system" -name '*.wants' -type d -prune -exec rm -rf {} +
for u in $MASKED; do ln -sf /dev/null "$R/etc/systemd/system/$u"; done
cat > "$R/etc/systemd/system/pvl-test.target" <<EOF
[Unit]
Description=mod_pvlaunch test box
Wants=basic.target dbus.socket
After=basic.target
EOF
cp -a "$STAGE/." "$R/"
exec chroot "$R" env -i container=pvl-test /lib/systemd/systemd --unit=pvl-test.target
"""


def cgroup2_root():
    for path in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(path, "cgroup.procs")):
            return path
    raise RuntimeError("no cgroup2 hierarchy is mounted")


class SystemdBox:
    def __init__(self):
        self.tmp = H.new_tmpdir("pvl-box-")
        self.stage = os.path.join(self.tmp, "stage")
        self.cgroup = None
        self.proc = None
        self.pid = None  # systemd, as the host sees it

    # Files -----------------------------------------------------------
    def put(self, path, text, mode=0o644):
        """A file of the box's root, written before it boots."""
        dest = os.path.join(self.stage, path.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w") as f:
            f.write(text)
        os.chmod(dest, mode)

    def copy(self, src, path, mode=0o755):
        dest = os.path.join(self.stage, path.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(src, dest)
        os.chmod(dest, mode)

    def path(self, path):
        """A path of the running box's root, seen from the host."""
        return "/proc/%d/root%s" % (self.pid, path)

    # Life ------------------------------------------------------------
    def start(self, timeout=30):
        os.makedirs(self.stage, exist_ok=True)
        inner = os.path.join(self.tmp, "inner.sh")
        with open(inner, "w") as f:
            f.write(INNER)
        box = os.path.join(self.tmp, "box")
        os.makedirs(box)
        self.cgroup = os.path.join(cgroup2_root(), os.path.basename(self.tmp))
        os.mkdir(self.cgroup)
        # The shell moves itself into the box's cgroup, then becomes unshare.
        outer = ('echo $$ > "%s/cgroup.procs" && exec unshare --mount --propagation private '
                 '--uts --ipc --net --cgroup --pid --fork --kill-child sh "%s" "%s" "%s"'
                 % (self.cgroup, inner, box, self.stage))
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "MASKED": " ".join(MASKED)}
        self.log = open(os.path.join(self.tmp, "boot.log"), "w")
        self.proc = subprocess.Popen(["sh", "-c", outer], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the box did not boot:\n" + self.boot_log())
            if self.pid is None:
                self.pid = self._child_of(self.proc.pid)
            if self.pid:
                state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    self.run("ip", "link", "set", "lo", "up")
                    return self
            time.sleep(0.05)
        raise RuntimeError("systemd did not come up in the box:\n" + self.boot_log())

    @staticmethod
    def _child_of(pid):
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None

    def boot_log(self):
        try:
            with open(os.path.join(self.tmp, "boot.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            if self.pid:
                try:
                    os.kill(self.pid, signal.SIGRTMIN + 4)  # systemd: power off
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.cgroup and os.path.isdir(self.cgroup):
            # Whatever is left in the box's cgroups goes, then the cgroups.
            kill = os.path.join(self.cgroup, "cgroup.kill")
            if os.path.exists(kill):
                with open(kill, "w") as f:
                    f.write("1")
            for _ in range(100):
                try:
                    for top, dirs, _files in os.walk(self.cgroup, topdown=False):
                        os.rmdir(top)
                    break
                except OSError:
                    time.sleep(0.05)
        if self.log:
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # Driving it -------------------------------------------------------
    def run(self, *cmd, check=True, timeout=120):
        """A command in every namespace of the box, with its root."""
        out = subprocess.run(["nsenter", "-t", str(self.pid), "-a", "-r", "-w"] + list(cmd),
                             capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError("%s: exit %d\n%s%s" % (" ".join(cmd), out.returncode, out.stdout,
                                                       out.stderr))
        return out

    def client(self, *args, stdin=None, timeout=120):
        """box_client.py in the box's network namespace (the host's files)."""
        out = subprocess.run(["nsenter", "-t", str(self.pid), "-n", sys.executable,
                              os.path.join(HERE, "box_client.py")] +
                             [json.dumps(a) if isinstance(a, (dict, list)) else str(a)
                              for a in args],
                             input=stdin, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError("box_client %s: %s%s" % (args, out.stdout, out.stderr))
        return json.loads(out.stdout)

    def journal(self, unit="apache2"):
        return self.run("journalctl", "-u", unit, "--no-pager", "-o", "cat", check=False).stdout

    def error_log(self):
        try:
            with open(self.path("/var/log/apache2/error.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""
