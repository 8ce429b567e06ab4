// Launch records and the launch queue: src/core/launch_queue.h.
#include "core/launch_queue.h"

#include <string>
#include <vector>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

std::string order(const LaunchQueue &q) {
    std::string out;
    for (const auto &id : q.ids())
        out += id;
    return out;
}

LaunchQueue queue_of(const std::string &ids) {
    LaunchQueue q;
    for (char c : ids)
        q.push(std::string(1, c));
    return q;
}

struct ReorderCase {
    const char *before;
    std::vector<std::string> ids;
    LaunchQueue::Direction direction;
    const char *after;
};

void reorder_moves_as_seed_004_says(void **) {
    using D = LaunchQueue::Direction;
    const ReorderCase cases[] = {
        {"ABCD", {"C"}, D::top, "CABD"},
        {"ABCD", {"D", "B"}, D::top, "BDAC"}, // queue order kept among the moved
        {"ABCD", {"A"}, D::top, "ABCD"},
        {"ABCD", {"B"}, D::bottom, "ACDB"},
        {"ABCD", {"A", "C"}, D::bottom, "BDAC"},
        {"ABCD", {"C"}, D::up, "ACBD"},
        {"ABCD", {"A"}, D::up, "ABCD"},      // already first
        {"ABCD", {"B", "C"}, D::up, "BCAD"}, // a block moves up together
        {"ABCD", {"A", "B"}, D::up, "ABCD"}, // never past one another
        {"ABCD", {"B", "D"}, D::up, "BADC"},
        {"ABCD", {"B"}, D::down, "ACBD"},
        {"ABCD", {"D"}, D::down, "ABCD"}, // already last
        {"ABCD", {"B", "C"}, D::down, "ADBC"},
        {"ABCD", {"A", "C"}, D::down, "BADC"},
        {"ABCD", {"C", "C"}, D::top, "CABD"}, // a repeated id counts once
    };
    for (const auto &c : cases) {
        LaunchQueue q = queue_of(c.before);
        std::string unknown;
        assert_true(q.reorder(c.ids, c.direction, &unknown));
        if (order(q) != c.after)
            fail_msg("%s moved %d: got %s, expected %s", c.before, static_cast<int>(c.direction),
                     order(q).c_str(), c.after);
    }
}

void reorder_with_an_unknown_id_changes_nothing(void **) {
    LaunchQueue q = queue_of("ABC");
    std::string unknown;
    assert_false(q.reorder({"C", "X"}, LaunchQueue::Direction::top, &unknown));
    assert_str_eq(unknown, "X");
    assert_str_eq(order(q), "ABC");
}

void directions_parse(void **) {
    LaunchQueue::Direction d;
    assert_true(LaunchQueue::parse_direction("top", &d));
    assert_int_equal(static_cast<int>(d), static_cast<int>(LaunchQueue::Direction::top));
    assert_true(LaunchQueue::parse_direction("up", &d));
    assert_true(LaunchQueue::parse_direction("down", &d));
    assert_true(LaunchQueue::parse_direction("bottom", &d));
    assert_int_equal(static_cast<int>(d), static_cast<int>(LaunchQueue::Direction::bottom));
    assert_false(LaunchQueue::parse_direction("Top", &d));
    assert_false(LaunchQueue::parse_direction("", &d));
    assert_false(LaunchQueue::parse_direction("sideways", &d));
}

void positions_and_removal(void **) {
    LaunchQueue q = queue_of("ABC");
    assert_int_equal(q.position("A"), 1);
    assert_int_equal(q.position("C"), 3);
    assert_int_equal(q.position("Z"), 0);
    assert_true(q.remove("B"));
    assert_false(q.remove("B"));
    assert_int_equal(q.position("C"), 2);
    assert_str_eq(q.front(), "A");
    q.pop_front();
    assert_str_eq(order(q), "C");
}

SysTime at(double seconds) {
    return SysTime(std::chrono::milliseconds(static_cast<long long>(seconds * 1000)));
}

void arguments_leave_out_application_and_secret(void **) {
    JsonPtr p(json_loads("{\"application\":\"vis\",\"secret\":\"s\",\"user\":\"ann\",\"n\":3,"
                         "\"ok\":true,\"o\":{\"a\":1},\"z\":null}",
                         0, nullptr));
    auto args = launch_arguments(p.get());
    assert_int_equal(args.size(), 5);
    std::string joined;
    for (const auto &kv : args)
        joined += kv.first + "=" + kv.second + ";";
    assert_str_eq(joined, "user=ann;n=3;ok=true;o={\"a\":1};z=;");
}

void launch_json_has_seed_004_fields(void **) {
    Launch l;
    l.id = "abc";
    l.uri = "/paraview/abc";
    l.service = "vis";
    l.request_number = 7;
    l.request_time = at(1000);
    l.arguments = {{"user", "ann"}};
    l.add_log("progress", "queued", at(1000.5));
    l.set_status("queuePosition", "2");
    JsonPtr j = launch_json(l, nullptr, at(1002.25));
    assert_str_eq(json_string_value(json_object_get(j.get(), "state")), "waiting");
    assert_str_eq(json_string_value(json_object_get(j.get(), "uri")), "/paraview/abc");
    assert_str_eq(json_string_value(json_object_get(j.get(), "service")), "vis");
    assert_int_equal(json_integer_value(json_object_get(j.get(), "requestNumber")), 7);
    assert_str_eq(json_string_value(json_object_get(j.get(), "requestTime")),
                  "1970-01-01T00:16:40.000Z");
    assert_null(json_object_get(j.get(), "startTime"));
    assert_null(json_object_get(j.get(), "endTime"));
    assert_str_eq(json_string_value(json_object_get(j.get(), "duration")), "PT2.25S");
    assert_str_eq(json_to_string(json_object_get(j.get(), "arguments")),
                  "[{\"name\":\"user\",\"value\":\"ann\"}]");
    assert_str_eq(json_to_string(json_object_get(j.get(), "status")),
                  "[{\"name\":\"queuePosition\",\"value\":\"2\"}]");
    json_t *e = json_array_get(json_object_get(j.get(), "logEntries"), 0);
    assert_str_eq(json_string_value(json_object_get(e, "kind")), "progress");
    assert_str_eq(json_string_value(json_object_get(e, "duration")), "PT0.5S");
}

void ended_launch_keeps_its_duration(void **) {
    Launch l;
    l.id = "abc";
    l.request_time = at(10);
    l.state = LaunchState::running;
    l.started = true;
    l.start_time = at(11);
    l.set_status("queuePosition", "1");
    assert_true(l.end(LaunchState::completed, at(70)));
    assert_false(l.end(LaunchState::failed, at(80))); // ends once
    assert_int_equal(static_cast<int>(l.state), static_cast<int>(LaunchState::completed));
    assert_int_equal(l.status.size(), 0);
    JsonPtr j = launch_json(l, nullptr, at(500));
    assert_str_eq(json_string_value(json_object_get(j.get(), "duration")), "PT1M0S");
    assert_str_eq(json_string_value(json_object_get(j.get(), "startTime")),
                  "1970-01-01T00:00:11.000Z");
    assert_str_eq(json_string_value(json_object_get(j.get(), "endTime")),
                  "1970-01-01T00:01:10.000Z");
}

void session_keys_stay_and_launch_fields_win(void **) {
    Launch l;
    l.id = "abc";
    l.service = "vis";
    l.state = LaunchState::running;
    JsonPtr session(json_loads("{\"id\":\"abc\",\"sessionURL\":\"ws://h/p\",\"secret\":\"s\","
                               "\"state\":\"client-sent\"}",
                               0, nullptr));
    JsonPtr j = launch_json(l, session.get(), at(0));
    assert_str_eq(json_string_value(json_object_get(j.get(), "sessionURL")), "ws://h/p");
    assert_str_eq(json_string_value(json_object_get(j.get(), "secret")), "s");
    assert_str_eq(json_string_value(json_object_get(j.get(), "state")), "running");
    // the session object itself is not changed
    assert_str_eq(json_string_value(json_object_get(session.get(), "state")), "client-sent");
}

void summary_has_only_the_listing_fields(void **) {
    Launch l;
    l.id = "abc";
    l.service = "vis";
    l.arguments = {{"user", "ann"}};
    JsonPtr j = launch_summary_json(l, 3);
    assert_int_equal(json_integer_value(json_object_get(j.get(), "queuePosition")), 3);
    assert_null(json_object_get(j.get(), "arguments"));
    assert_null(json_object_get(j.get(), "logEntries"));
    assert_null(json_object_get(launch_summary_json(l, 0).get(), "queuePosition"));
}

void state_names(void **) {
    assert_str_eq(launch_state_name(LaunchState::waiting), "waiting");
    assert_str_eq(launch_state_name(LaunchState::running), "running");
    assert_str_eq(launch_state_name(LaunchState::completed), "completed");
    assert_str_eq(launch_state_name(LaunchState::failed), "failed");
    assert_str_eq(launch_state_name(LaunchState::canceled), "canceled");
    assert_false(launch_ended(LaunchState::waiting));
    assert_false(launch_ended(LaunchState::running));
    assert_true(launch_ended(LaunchState::canceled));
}

} // namespace

int run_launch_queue_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reorder_moves_as_seed_004_says),
        cmocka_unit_test(reorder_with_an_unknown_id_changes_nothing),
        cmocka_unit_test(directions_parse),
        cmocka_unit_test(positions_and_removal),
        cmocka_unit_test(arguments_leave_out_application_and_secret),
        cmocka_unit_test(launch_json_has_seed_004_fields),
        cmocka_unit_test(ended_launch_keeps_its_duration),
        cmocka_unit_test(session_keys_stay_and_launch_fields_win),
        cmocka_unit_test(summary_has_only_the_listing_fields),
        cmocka_unit_test(state_names),
    };
    return cmocka_run_group_tests_name("launch_queue", tests, nullptr, nullptr);
}
