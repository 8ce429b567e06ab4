// Every tunable once: src/core/settings.h.
#include "core/settings.h"

#include <functional>
#include <string>
#include <vector>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

void defaults_are_the_documented_ones(void **) {
    // conf/pvlaunch.conf documents these; the directives start from them.
    Settings s;
    assert_true(s.stop_grace == 5.0);
    assert_true(s.keep_finished == 600.0);
    assert_true(s.idle_timeout == 0);
    assert_true(s.max_lifetime == 0);
    assert_true(s.claim_window == 300.0);
    assert_true(s.queues.empty() && s.pass_env.empty());
    assert_str_eq(s.identity(), Settings().identity());
}

void identity_changes_with_every_field(void **) {
    // The kept daemon is the one these settings would start only if no
    // field differs: each one must show in the identity.
    const std::vector<std::function<void(Settings &)>> changes = {
        [](Settings &s) { s.socket_path = "/run/x.sock"; },
        [](Settings &s) { s.state_path = "/run/x.state"; },
        [](Settings &s) { s.app_user = "viz"; },
        [](Settings &s) { s.app_group = "viz"; },
        [](Settings &s) { s.stop_grace = 5.5; },
        [](Settings &s) { s.keep_finished = 60; },
        [](Settings &s) { s.idle_timeout = 1800; },
        [](Settings &s) { s.max_lifetime = 43200; },
        [](Settings &s) { s.claim_window = 0; },
        [](Settings &s) { s.streams_total = 9; },
        [](Settings &s) { s.streams_per_launch = 9; },
        [](Settings &s) { s.streams_per_client = 9; },
        [](Settings &s) { s.queues.push_back({}); },
        [](Settings &s) {
            s.queues = {{20, 300}};
        },
        [](Settings &s) {
            s.pass_env = {{"DISPLAY", ":0"}};
        },
        [](Settings &s) {
            s.pass_env = {{"DISPLAY", ":1"}};
        },
    };
    std::vector<std::string> seen{Settings().identity()};
    for (const auto &change : changes) {
        Settings s;
        change(s);
        for (const auto &other : seen)
            if (s.identity() == other)
                fail_msg("a change left the identity as another: %s", other.c_str());
        seen.push_back(s.identity());
    }
    // Fields do not run into each other.
    Settings a, b;
    a.app_user = "ab";
    b.app_user = "a";
    b.app_group = "b";
    assert_true(a.identity() != b.identity());
    // A small difference in seconds counts.
    a = Settings();
    a.stop_grace = 5.000001;
    assert_true(a.identity() != Settings().identity());
}

void seconds_and_counts_parse_strictly(void **) {
    double d = -1;
    assert_true(parse_seconds("0", 10, false, &d) && d == 0);
    assert_true(parse_seconds("2.5", 10, false, &d) && d == 2.5);
    assert_true(parse_seconds("10", 10, false, &d) && d == 10);
    assert_false(parse_seconds("0", 10, true, &d));
    for (const char *bad : {"", "x", "1s", " 1", "-1", "+1", "0x5", "10.5", "nan", "inf", "1e999"})
        if (parse_seconds(bad, 10, false, &d))
            fail_msg("\"%s\" was taken as seconds", bad);
    assert_false(parse_seconds(nullptr, 10, false, &d));
    long long n = -1;
    assert_true(parse_count("0", 0, 5, &n) && n == 0);
    assert_true(parse_count("5", 0, 5, &n) && n == 5);
    for (const char *bad : {"", " 1", "6", "-1", "1.0", "1k", "99999999999999999999"})
        if (parse_count(bad, 0, 5, &n))
            fail_msg("\"%s\" was taken as a count", bad);
}

} // namespace

int run_settings_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_the_documented_ones),
        cmocka_unit_test(identity_changes_with_every_field),
        cmocka_unit_test(seconds_and_counts_parse_strictly),
    };
    return cmocka_run_group_tests_name("settings", tests, nullptr, nullptr);
}
