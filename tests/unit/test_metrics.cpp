// Operator counters and their renderings: src/core/metrics.h.
#include "core/metrics.h"

#include <string>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

void histogram_is_cumulative(void **) {
    Histogram h({0.1, 1, 10});
    for (double v : {0.05, 0.1, 0.5, 5.0, 50.0, -1.0})
        h.observe(v);
    JsonPtr j = h.to_json();
    // -1 counts as 0; 0.1 falls in the le=0.1 bucket (upper bounds are inclusive)
    assert_str_eq(json_to_string(json_object_get(j.get(), "counts")), "[3,4,5]");
    assert_int_equal(json_integer_value(json_object_get(j.get(), "count")), 6);
    assert_true(json_real_value(json_object_get(j.get(), "sum")) == 0.05 + 0.1 + 0.5 + 5 + 50);
}

JsonPtr sample_stats() {
    Histogram d({0.5, 1});
    d.observe(0.25);
    d.observe(0.75);
    Histogram w({1});
    w.observe(0);
    JsonPtr s(json_pack("{s:{s:i, s:i, s:i}, s:i, s:i, s:i, s:i, s:{s:i, s:i}, s:o, s:o, s:f}",
                        "sessions", "starting", 1, "ready", 2, "stopping", 0, "waiting", 3,
                        "ports_free", 4, "ports_total", 10, "started", 7, "outcomes", "failed", 2,
                        "completed", 1, "launch_duration_seconds", d.to_json().release(),
                        "queue_wait_seconds", w.to_json().release(), "uptime_seconds", 12.5));
    return s;
}

void prometheus_text(void **) {
    JsonPtr s = sample_stats();
    std::string t = render_prometheus(s.get());
    assert_contains(t, "# TYPE pvlaunch_sessions gauge\n");
    assert_contains(t, "pvlaunch_sessions{state=\"ready\"} 2\n");
    assert_contains(t, "pvlaunch_sessions{state=\"waiting\"} 3\n");
    assert_contains(t, "pvlaunch_ports_free 4\n");
    assert_contains(t, "pvlaunch_launches_total{outcome=\"failed\"} 2\n");
    assert_contains(t, "pvlaunch_launches_total{outcome=\"rejected\"} 0\n");
    assert_contains(t, "# TYPE pvlaunch_launch_duration_seconds histogram\n");
    assert_contains(t, "pvlaunch_launch_duration_seconds_bucket{le=\"0.5\"} 1\n");
    assert_contains(t, "pvlaunch_launch_duration_seconds_bucket{le=\"1\"} 2\n");
    assert_contains(t, "pvlaunch_launch_duration_seconds_bucket{le=\"+Inf\"} 2\n");
    assert_contains(t, "pvlaunch_launch_duration_seconds_sum 1\n");
    assert_contains(t, "pvlaunch_queue_wait_seconds_count 1\n");
    assert_contains(t, "pvlaunch_uptime_seconds 12.5\n");
}

void status_lines(void **) {
    JsonPtr s = sample_stats();
    std::string a = render_status_auto(s.get());
    assert_contains(a, "PVLaunchRunning: 3\n");
    assert_contains(a, "PVLaunchWaiting: 3\n");
    assert_contains(a, "PVLaunchPortsFree: 4\n");
    assert_contains(a, "PVLaunchLaunches: 7\n");
    assert_contains(a, "PVLaunchFailures: 2\n");
    std::string h = render_status_html(s.get());
    assert_contains(h, "<h2>mod_pvlaunch</h2>");
    assert_contains(h, "Running sessions</th><td>3</td>");
    // missing fields count as zero
    JsonPtr empty(json_object());
    assert_contains(render_status_auto(empty.get()), "PVLaunchRunning: 0\n");
    assert_contains(render_prometheus(empty.get()), "pvlaunch_queue_wait_seconds_count 0\n");
}

} // namespace

int run_metrics_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(histogram_is_cumulative),
        cmocka_unit_test(prometheus_text),
        cmocka_unit_test(status_lines),
    };
    return cmocka_run_group_tests_name("metrics", tests, nullptr, nullptr);
}
