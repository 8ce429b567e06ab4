// The persisted table's journal format: src/core/state_journal.h.
#include "core/state_journal.h"

#include <string>
#include <vector>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

PersistedSession session(const std::string &id, const std::string &state = "ready",
                         int port = 9000) {
    PersistedSession s;
    s.id = id;
    s.launcher_file = "/etc/pvlaunch/launcher.json";
    s.application = "visualizer";
    s.host = "127.0.0.1";
    s.port = port;
    s.pid = 4242;
    s.start_time = 1234567890123ULL;
    s.state = state;
    s.response = "{\"id\":\"" + id + "\",\"secret\":\"s3\\ncr\\\"et\"}";
    return s;
}

void assert_same(const PersistedSession &a, const PersistedSession &b) {
    assert_str_eq(a.id, b.id);
    assert_str_eq(a.launcher_file, b.launcher_file);
    assert_str_eq(a.application, b.application);
    assert_str_eq(a.owner, b.owner);
    assert_str_eq(a.host, b.host);
    assert_int_equal(a.port, b.port);
    assert_int_equal(a.pid, b.pid);
    assert_true(a.start_time == b.start_time);
    assert_str_eq(a.state, b.state);
    assert_str_eq(a.response, b.response);
}

void lines_are_single_lines(void **) {
    PersistedSession s = session("abc");
    s.response = "line one\nline two\n";
    std::string put = journal_put_line(s);
    assert_int_equal(put.find('\n'), put.size() - 1);
    std::string del = journal_del_line("abc");
    assert_int_equal(del.find('\n'), del.size() - 1);
}

void put_round_trips_every_field(void **) {
    PersistedSession s = session("abc");
    std::vector<PersistedSession> got = replay_journal(journal_put_line(s));
    assert_int_equal(got.size(), 1);
    assert_same(got[0], s);
    // The owner survives a restart; a record without one (no authentication,
    // or written before owners) has none.
    s.owner = "Alice \"A.\" Smith";
    got = replay_journal(journal_put_line(s));
    assert_int_equal(got.size(), 1);
    assert_same(got[0], s);
    assert_int_equal(journal_put_line(session("x")).find("owner"), std::string::npos);
    std::string bad = journal_put_line(s);
    bad.replace(bad.find("\"owner\":\""), 9, "\"owner\":7,\"x\":\"");
    assert_int_equal(replay_journal(bad).size(), 0);
}

void later_put_replaces_and_keeps_order(void **) {
    std::string text = journal_put_line(session("a", "starting", 1)) +
                       journal_put_line(session("b", "starting", 2)) +
                       journal_put_line(session("a", "ready", 1));
    std::vector<PersistedSession> got = replay_journal(text);
    assert_int_equal(got.size(), 2);
    assert_str_eq(got[0].id, "a");
    assert_str_eq(got[0].state, "ready");
    assert_str_eq(got[1].id, "b");
    assert_str_eq(got[1].state, "starting");
}

void del_removes_and_id_can_come_back(void **) {
    std::string text = journal_put_line(session("a")) + journal_put_line(session("b")) +
                       journal_del_line("a") + journal_del_line("never-there");
    std::vector<PersistedSession> got = replay_journal(text);
    assert_int_equal(got.size(), 1);
    assert_str_eq(got[0].id, "b");
    got = replay_journal(text + journal_put_line(session("a", "ready", 7)));
    assert_int_equal(got.size(), 2);
    assert_str_eq(got[1].id, "a");
    assert_int_equal(got[1].port, 7);
}

void a_line_cut_short_is_ignored(void **) {
    std::string whole = journal_put_line(session("a"));
    std::string second = journal_put_line(session("b"));
    // Every prefix of the second record: "a" survives, "b" never half-appears.
    for (size_t n = 0; n < second.size(); ++n) {
        std::vector<PersistedSession> got = replay_journal(whole + second.substr(0, n));
        assert_int_equal(got.size(), 1);
        assert_str_eq(got[0].id, "a");
    }
    // A cut del leaves the session in place.
    std::string del = journal_del_line("a");
    assert_int_equal(replay_journal(whole + del.substr(0, del.size() - 1)).size(), 1);
}

void garbage_and_incomplete_records_are_skipped(void **) {
    PersistedSession no_id = session("");
    std::string text = "not json\n" + journal_put_line(session("a")) + "{\"put\": 5}\n" +
                       "{\"put\": {\"id\": \"x\"}}\n" + "{\"del\": 5}\n" + "[]\n" + "\n" +
                       journal_put_line(no_id) +
                       "{\"put\": {\"id\":\"n\",\"launcher\":\"l\",\"application\":\"a\","
                       "\"host\":\"h\",\"port\":1,\"pid\":2,\"start\":-1,\"state\":\"ready\","
                       "\"response\":\"{}\"}}\n" +
                       journal_put_line(session("b"));
    std::vector<PersistedSession> got = replay_journal(text);
    assert_int_equal(got.size(), 2);
    assert_str_eq(got[0].id, "a");
    assert_str_eq(got[1].id, "b");
}

void empty_text_is_an_empty_table(void **) {
    assert_int_equal(replay_journal("").size(), 0);
    assert_int_equal(replay_journal("\n\n").size(), 0);
}

void array_format_of_earlier_versions_is_read(void **) {
    std::string text =
        "[{\"id\":\"old1\",\"launcher\":\"/l.json\",\"application\":\"app\",\"host\":\"h\","
        "\"port\":9001,\"pid\":77,\"start\":99,\"state\":\"ready\",\"response\":\"{}\"},"
        "{\"id\":\"bad\"},"
        "{\"id\":\"old2\",\"launcher\":\"/l.json\",\"application\":\"app\",\"host\":\"h\","
        "\"port\":9002,\"pid\":78,\"start\":100,\"state\":\"starting\",\"response\":\"{}\"}]";
    std::vector<PersistedSession> got = replay_journal(text);
    assert_int_equal(got.size(), 2);
    assert_str_eq(got[0].id, "old1");
    assert_int_equal(got[0].port, 9001);
    assert_true(got[0].start_time == 99);
    assert_str_eq(got[1].id, "old2");
    assert_str_eq(got[1].state, "starting");
}

} // namespace

int run_state_journal_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_are_single_lines),
        cmocka_unit_test(put_round_trips_every_field),
        cmocka_unit_test(later_put_replaces_and_keeps_order),
        cmocka_unit_test(del_removes_and_id_can_come_back),
        cmocka_unit_test(a_line_cut_short_is_ignored),
        cmocka_unit_test(garbage_and_incomplete_records_are_skipped),
        cmocka_unit_test(empty_text_is_an_empty_table),
        cmocka_unit_test(array_format_of_earlier_versions_is_read),
    };
    return cmocka_run_group_tests_name("state_journal", tests, nullptr, nullptr);
}
