// The daemon's session table: src/core/session_table.h.
#include "core/session_table.h"

#include <string>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

Session make(const std::string &id, int launcher, const std::string &host, int port, int pid,
             SessionState state = SessionState::ready) {
    Session s;
    s.id = id;
    s.launcher = launcher;
    s.application = "app";
    s.host = host;
    s.port = port;
    s.pid = pid;
    s.state = state;
    s.response = "{\"id\":\"" + id + "\"}";
    return s;
}

void add_find_remove(void **) {
    SessionTable t;
    assert_int_equal(t.size(), 0);
    assert_null(t.find("s1"));
    assert_true(t.add(make("s1", 0, "localhost", 9000, 101)));
    assert_true(t.add(make("s2", 0, "localhost", 9001, 102)));
    assert_int_equal(t.size(), 2);
    Session *s = t.find("s1");
    assert_non_null(s);
    assert_str_eq(s->id, "s1");
    assert_str_eq(s->host, "localhost");
    assert_int_equal(s->port, 9000);
    assert_int_equal(s->pid, 101);
    assert_str_eq(s->response, "{\"id\":\"s1\"}");
    assert_str_eq(s->host_port(), "localhost:9000");
    assert_null(t.find("s3"));
    assert_null(t.find("S1"));
    assert_null(t.find(""));

    assert_true(t.remove("s1"));
    assert_null(t.find("s1"));
    assert_false(t.remove("s1"));
    assert_false(t.remove("never"));
    assert_int_equal(t.size(), 1);
    assert_non_null(t.find("s2"));
}

void find_returns_a_mutable_row(void **) {
    SessionTable t;
    assert_true(t.add(make("s1", 0, "h", 9000, 5, SessionState::starting)));
    assert_str_eq(t.route("s1"), "");
    t.find("s1")->state = SessionState::ready;
    assert_str_eq(t.route("s1"), "h:9000");
}

void duplicate_id_rejected(void **) {
    SessionTable t;
    assert_true(t.add(make("dup", 0, "a", 9000, 11)));
    assert_false(t.add(make("dup", 1, "b", 9999, 22)));
    assert_int_equal(t.size(), 1);
    Session *s = t.find("dup");
    assert_non_null(s);
    assert_str_eq(s->host, "a");
    assert_int_equal(s->port, 9000);
    assert_int_equal(s->launcher, 0);
    // The rejected row's pid does not point anywhere.
    assert_null(t.find_by_pid(22));
    assert_ptr_equal(t.find_by_pid(11), s);
}

void find_by_pid(void **) {
    SessionTable t;
    assert_true(t.add(make("s1", 0, "h", 9000, 100)));
    assert_true(t.add(make("s2", 0, "h", 9001, 200)));
    assert_true(t.add(make("nopid", 0, "h", 9002, 0)));
    Session *s = t.find_by_pid(200);
    assert_non_null(s);
    assert_str_eq(s->id, "s2");
    assert_str_eq(t.find_by_pid(100)->id, "s1");
    assert_null(t.find_by_pid(300));
    assert_null(t.find_by_pid(0)); // "no process" is not a pid
    assert_true(t.remove("s2"));
    assert_null(t.find_by_pid(200));
    assert_non_null(t.find_by_pid(100));
}

void route_only_for_ready_sessions(void **) {
    SessionTable t;
    assert_true(t.add(make("starting", 0, "h", 9000, 1, SessionState::starting)));
    assert_true(t.add(make("ready", 0, "node1.example", 9001, 2, SessionState::ready)));
    assert_true(t.add(make("stopping", 0, "h", 9002, 3, SessionState::stopping)));
    assert_str_eq(t.route("ready"), "node1.example:9001");
    assert_str_eq(t.route("starting"), "");
    assert_str_eq(t.route("stopping"), "");
    assert_str_eq(t.route("unknown"), "");
    assert_str_eq(t.route(""), "");
}

void count_per_launcher(void **) {
    SessionTable t;
    assert_int_equal(t.count(0), 0);
    assert_true(t.add(make("a", 0, "h", 9000, 1, SessionState::starting)));
    assert_true(t.add(make("b", 0, "h", 9001, 2, SessionState::ready)));
    assert_true(t.add(make("c", 0, "h", 9002, 3, SessionState::stopping)));
    assert_true(t.add(make("d", 1, "h", 9003, 4, SessionState::ready)));
    assert_int_equal(t.count(0), 3); // every state holds a process
    assert_int_equal(t.count(1), 1);
    assert_int_equal(t.count(2), 0);
    assert_true(t.remove("c"));
    assert_int_equal(t.count(0), 2);
    assert_int_equal(t.size(), 3);
}

void map_file_text_lists_ready_sessions_in_id_order(void **) {
    SessionTable t;
    assert_str_eq(t.map_file_text(0), "");
    assert_true(t.add(make("zeta", 0, "h2", 9002, 1, SessionState::ready)));
    assert_true(t.add(make("alpha", 0, "h1", 9000, 2, SessionState::ready)));
    assert_true(t.add(make("mid", 0, "h1", 9001, 3, SessionState::starting)));
    assert_true(t.add(make("Beta", 0, "h3", 9003, 4, SessionState::ready)));
    assert_true(t.add(make("gone", 0, "h1", 9004, 5, SessionState::stopping)));
    assert_true(t.add(make("other", 1, "h9", 7000, 6, SessionState::ready)));
    assert_str_eq(t.map_file_text(0), "Beta h3:9003\n"
                                      "alpha h1:9000\n"
                                      "zeta h2:9002\n");
    assert_str_eq(t.map_file_text(1), "other h9:7000\n");
    assert_str_eq(t.map_file_text(2), "");
    t.find("mid")->state = SessionState::ready;
    assert_str_eq(t.map_file_text(0), "Beta h3:9003\n"
                                      "alpha h1:9000\n"
                                      "mid h1:9001\n"
                                      "zeta h2:9002\n");
    assert_true(t.remove("alpha"));
    assert_str_eq(t.map_file_text(0), "Beta h3:9003\n"
                                      "mid h1:9001\n"
                                      "zeta h2:9002\n");
}

void ids_in_order(void **) {
    SessionTable t;
    assert_true(t.ids().empty());
    assert_true(t.add(make("b", 0, "h", 1, 0)));
    assert_true(t.add(make("a", 1, "h", 2, 0, SessionState::starting)));
    auto ids = t.ids();
    assert_int_equal(ids.size(), 2);
    assert_str_eq(ids[0], "a");
    assert_str_eq(ids[1], "b");
}

} // namespace

int run_session_table_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_find_remove),
        cmocka_unit_test(find_returns_a_mutable_row),
        cmocka_unit_test(duplicate_id_rejected),
        cmocka_unit_test(find_by_pid),
        cmocka_unit_test(route_only_for_ready_sessions),
        cmocka_unit_test(count_per_launcher),
        cmocka_unit_test(map_file_text_lists_ready_sessions_in_id_order),
        cmocka_unit_test(ids_in_order),
    };
    return cmocka_run_group_tests_name("session_table", tests, nullptr, nullptr);
}
