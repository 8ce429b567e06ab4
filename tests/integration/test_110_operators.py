"""What an operator reads: mod_status's section (HTML and ?auto) and the
Prometheus metrics handler, parsed by a real Prometheus parser."""

from prometheus_client.parser import text_string_to_metric_families

from conftest import wait_until

STATUS = """<Location /server-status>
  SetHandler server-status
</Location>
<Location /metrics>
  SetHandler pvlaunch-metrics
</Location>"""


def metrics(a):
    status, hdrs, data = a.request("GET", "/metrics")
    assert status == 200, data
    assert hdrs["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for fam in text_string_to_metric_families(data.decode()):
        for sample in fam.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def auto(a):
    status, _, data = a.request("GET", "/server-status?auto")
    assert status == 200
    lines = dict(line.split(": ", 1) for line in data.decode().splitlines() if ": " in line)
    return {k: v for k, v in lines.items() if k.startswith("PVLaunch")}


def test_status_and_metrics_follow_launches(server):
    def apps(tmp):
        import apache_harness as H
        return {
            "demo": {"cmd": H.app_cmd("ready", tmp=tmp), "ready_line": "Starting factory"},
            "early": {"cmd": H.app_cmd("exit-early", tmp=tmp), "ready_line": "Starting factory"},
        }
    a = server(apps=apps, count=3, extra_conf=STATUS + "\nPVLaunchQueue 2 1",
               allowed_log=["PVL00021", "PVL00024"])
    m = metrics(a)
    assert m[("pvlaunch_ports_free", ())] == 3
    assert m[("pvlaunch_ports", ())] == 3
    assert m[("pvlaunch_sessions", (("state", "ready"),))] == 0
    assert m[("pvlaunch_launches_started_total", ())] == 0
    s = auto(a)
    assert s["PVLaunchRunning"] == "0" and s["PVLaunchPortsFree"] == "3"

    ids = [a.json("POST", "/paraview", {"application": "demo"})[1]["id"] for _ in range(3)]
    assert a.json("POST", "/paraview", {"application": "early"})[0] == 503  # waited 1 s
    assert a.json("DELETE", "/paraview/" + ids[0])[0] == 200
    assert a.json("POST", "/paraview", {"application": "early"})[0] == 502
    m = metrics(a)
    assert m[("pvlaunch_sessions", (("state", "ready"),))] == 2
    assert m[("pvlaunch_ports_free", ())] == 1
    assert m[("pvlaunch_launches_started_total", ())] == 4
    assert m[("pvlaunch_launches_total", (("outcome", "canceled"),))] == 1
    assert m[("pvlaunch_launches_total", (("outcome", "failed"),))] == 2  # timed out, exited
    assert m[("pvlaunch_launch_duration_seconds_count", ())] == 3
    assert m[("pvlaunch_launch_duration_seconds_bucket", (("le", "+Inf"),))] == 3
    assert m[("pvlaunch_launch_duration_seconds_sum", ())] > 0
    assert m[("pvlaunch_queue_wait_seconds_count", ())] == 4
    s = auto(a)
    assert s["PVLaunchRunning"] == "2" and s["PVLaunchPortsFree"] == "1"
    assert s["PVLaunchLaunches"] == "4" and s["PVLaunchFailures"] == "2"
    status, _, html = a.request("GET", "/server-status")
    assert status == 200 and b"<h2>mod_pvlaunch</h2>" in html
    assert b"Running sessions</th><td>2<" in html
    for sid in ids[1:]:
        assert a.json("DELETE", "/paraview/" + sid)[0] == 200
    assert wait_until(lambda: metrics(a)[("pvlaunch_ports_free", ())] == 3, timeout=5)
    assert a.request("POST", "/metrics")[0] == 405
