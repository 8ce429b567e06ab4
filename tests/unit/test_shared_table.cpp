// The children's view of the session table: src/core/shared_table.h.
#include "core/shared_table.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

struct Mapping {
    std::vector<char> mem;
    SharedTable table;
    explicit Mapping(uint32_t ports, uint32_t body = 64)
        : mem(SharedTable::bytes_needed(ports, body)) {
        assert_true(table.format(mem.data(), mem.size(), ports, body));
    }
};

std::string route_of(const SharedTable &t, const std::string &id) {
    std::string r;
    return t.route(id.data(), id.size(), &r) == SharedTable::Lookup::found ? r : "absent";
}

void put_route_body_erase(void **) {
    Mapping m(4);
    assert_true(m.table.put("abc", 0, "127.0.0.1:9000", 2, "{\"id\":\"abc\"}"));
    assert_str_eq(route_of(m.table, "abc"), "127.0.0.1:9000");
    std::string body;
    assert_int_equal(static_cast<int>(m.table.body("abc", 3, 0, &body)),
                     static_cast<int>(SharedTable::Lookup::found));
    assert_str_eq(body, "{\"id\":\"abc\"}");
    // another launcher's (virtual host's) session is not visible by GET
    assert_int_equal(static_cast<int>(m.table.body("abc", 3, 1, &body)),
                     static_cast<int>(SharedTable::Lookup::absent));
    // a prefix or an extension of the id is another id
    assert_str_eq(route_of(m.table, "ab"), "absent");
    assert_str_eq(route_of(m.table, "abcd"), "absent");
    assert_false(m.table.put("abc", 0, "127.0.0.1:9001", 3, "{}")); // duplicate
    assert_true(m.table.erase("abc"));
    assert_false(m.table.erase("abc"));
    assert_str_eq(route_of(m.table, "abc"), "absent");
    assert_int_equal(m.table.size(), 0);
}

// The owner goes with the route and the body, so that a child can refuse
// another user without asking the daemon.
void owner_is_read_with_route_and_body(void **) {
    Mapping m(4);
    assert_true(m.table.put("own", 0, "h:1", 0, "{}", true, "alice"));
    assert_true(m.table.put("anon", 0, "h:2", 1, "{}"));
    std::string route, owner = "stale", body;
    assert_int_equal(static_cast<int>(m.table.route("own", 3, &route, &owner)),
                     static_cast<int>(SharedTable::Lookup::found));
    assert_str_eq(owner, "alice");
    assert_int_equal(static_cast<int>(m.table.body("anon", 4, 0, &body, &owner)),
                     static_cast<int>(SharedTable::Lookup::found));
    assert_str_eq(owner, "");
    const std::string longest(SharedTable::max_owner, 'u');
    assert_true(m.table.put("long", 0, "h:3", 2, "{}", true, longest));
    assert_int_equal(static_cast<int>(m.table.route("long", 4, &route, &owner)),
                     static_cast<int>(SharedTable::Lookup::found));
    assert_str_eq(owner, longest);
    // Longer names, or names with a NUL, cannot be stored whole: refused.
    assert_false(m.table.put("too", 0, "h:4", 3, "{}", true, longest + "u"));
    assert_false(m.table.put("nul", 0, "h:4", 3, "{}", true, std::string("a\0b", 3)));
}

void oversize_body_is_left_to_the_daemon(void **) {
    Mapping m(2, 16);
    assert_true(m.table.put("big", 0, "h:1", 0, std::string(17, 'x')));
    std::string body;
    assert_int_equal(static_cast<int>(m.table.body("big", 3, 0, &body)),
                     static_cast<int>(SharedTable::Lookup::body_elsewhere));
    assert_str_eq(route_of(m.table, "big"), "h:1"); // routing still works
}

void rejects_bad_input(void **) {
    Mapping m(2);
    assert_false(m.table.put("", 0, "h:1", 0, "{}"));
    assert_false(m.table.put(std::string(65, 'a'), 0, "h:1", 0, "{}"));
    assert_false(m.table.put("x", 0, std::string(200, 'h'), 0, "{}"));
    assert_false(m.table.put("x", 0, "h:1", 2, "{}")); // no such port block
    SharedTable other;
    std::vector<char> junk(4096, 'j');
    assert_false(other.attach(junk.data(), junk.size()));
    assert_str_eq(route_of(other, "x"), "absent");
}

void attach_sees_what_the_writer_wrote(void **) {
    Mapping m(8);
    assert_true(m.table.put("id1", 0, "h:5", 5, "{}"));
    SharedTable reader;
    assert_true(reader.attach(m.mem.data(), m.mem.size()));
    assert_str_eq(route_of(reader, "id1"), "h:5");
    assert_true(m.table.put("id2", 0, "h:6", 6, "{}"));
    std::vector<std::string> ids = m.table.ids();
    std::sort(ids.begin(), ids.end());
    assert_int_equal(ids.size(), 2);
    assert_str_eq(ids[0], "id1");
    assert_str_eq(ids[1], "id2");
}

// Many inserts and deletions (with collisions in a small table) agree with
// a std::map at every step: backward-shift deletion keeps chains whole.
void random_operations_match_a_map(void **) {
    const uint32_t ports = 64;
    Mapping m(ports);
    std::map<std::string, uint32_t> model;
    std::vector<bool> port_used(ports, false);
    srand(7);
    for (int step = 0; step < 20000; ++step) {
        std::string id = "s" + std::to_string(rand() % 150);
        auto it = model.find(id);
        if (it != model.end()) {
            assert_true(m.table.erase(id));
            port_used[it->second] = false;
            model.erase(it);
        } else {
            uint32_t port = 0;
            while (port < ports && port_used[port])
                ++port;
            if (port == ports)
                continue;
            assert_true(m.table.put(id, 0, "h:" + std::to_string(port), port, id));
            port_used[port] = true;
            model[id] = port;
        }
        if (step % 97 == 0) {
            for (int k = 0; k < 150; ++k) {
                std::string q = "s" + std::to_string(k);
                auto mi = model.find(q);
                std::string want = mi == model.end() ? "absent" : "h:" + std::to_string(mi->second);
                assert_str_eq(route_of(m.table, q), want);
            }
        }
    }
    assert_int_equal(m.table.size(), model.size());
}

} // namespace

int run_shared_table_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_route_body_erase),
        cmocka_unit_test(owner_is_read_with_route_and_body),
        cmocka_unit_test(oversize_body_is_left_to_the_daemon),
        cmocka_unit_test(rejects_bad_input),
        cmocka_unit_test(attach_sees_what_the_writer_wrote),
        cmocka_unit_test(random_operations_match_a_map),
    };
    return cmocka_run_group_tests_name("shared_table", tests, nullptr, nullptr);
}
