// The host:port pool: src/core/port_pool.h.
#include "core/port_pool.h"

#include <string>
#include <utility>
#include <vector>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

Resource res(const std::string &host, int lo, int hi) {
    Resource r;
    r.host = host;
    r.port_lo = lo;
    r.port_hi = hi;
    return r;
}

std::string take_one(PortPool &pool) {
    std::string host;
    int port = 0;
    if (!pool.take(&host, &port))
        return "none";
    return host + ":" + std::to_string(port);
}

void sizes(void **) {
    PortPool pool({res("a", 9000, 9002), res("b", 7000, 7000)});
    assert_int_equal(pool.size(), 4);
    assert_int_equal(pool.free_count(), 4);
    PortPool empty({});
    assert_int_equal(empty.size(), 0);
    assert_int_equal(empty.free_count(), 0);
    assert_str_eq(take_one(empty), "none");
}

void takes_every_pair_once_then_fails(void **) {
    PortPool pool({res("a", 9000, 9001), res("b", 7000, 7001)});
    assert_str_eq(take_one(pool), "a:9000");
    assert_str_eq(take_one(pool), "a:9001");
    assert_str_eq(take_one(pool), "b:7000");
    assert_str_eq(take_one(pool), "b:7001");
    assert_int_equal(pool.free_count(), 0);
    std::string host = "unchanged";
    int port = 42;
    assert_false(pool.take(&host, &port));
    assert_str_eq(host, "unchanged");
    assert_int_equal(port, 42);
    assert_true(pool.is_taken("a", 9000));
    assert_true(pool.is_taken("b", 7001));
}

void round_robin_continues_after_release(void **) {
    PortPool pool({res("a", 1, 2), res("b", 10, 10), res("c", 20, 21)});
    assert_str_eq(take_one(pool), "a:1");
    assert_str_eq(take_one(pool), "a:2");
    assert_true(pool.release("a", 1));
    assert_true(pool.release("a", 2));
    // The cursor moves on through the other resources first.
    assert_str_eq(take_one(pool), "b:10");
    assert_str_eq(take_one(pool), "c:20");
    assert_str_eq(take_one(pool), "c:21");
    // ...and wraps around.
    assert_str_eq(take_one(pool), "a:1");
    assert_str_eq(take_one(pool), "a:2");
    assert_str_eq(take_one(pool), "none");
}

void released_port_is_reused_last(void **) {
    PortPool pool({res("h", 9000, 9003)});
    assert_str_eq(take_one(pool), "h:9000");
    assert_true(pool.release("h", 9000));
    assert_false(pool.is_taken("h", 9000));
    assert_int_equal(pool.free_count(), 4);
    // 9000 is free again but every other port comes first.
    assert_str_eq(take_one(pool), "h:9001");
    assert_str_eq(take_one(pool), "h:9002");
    assert_str_eq(take_one(pool), "h:9003");
    assert_str_eq(take_one(pool), "h:9000");
    assert_str_eq(take_one(pool), "none");

    // A port released while the pool is full is the one handed out next.
    assert_true(pool.release("h", 9002));
    assert_int_equal(pool.free_count(), 1);
    assert_str_eq(take_one(pool), "h:9002");
}

void freed_ports_are_reused_oldest_first(void **) {
    PortPool pool({res("h", 1, 3)});
    take_one(pool);
    take_one(pool);
    take_one(pool);
    pool.release("h", 3);
    pool.release("h", 1);
    // 1 was freed most recently: 3 comes back first
    assert_str_eq(take_one(pool), "h:3");
    assert_str_eq(take_one(pool), "h:1");
    assert_str_eq(take_one(pool), "none");
}

void release_of_unknown_or_free_pair_fails(void **) {
    PortPool pool({res("a", 9000, 9001), res("b", 9000, 9000)});
    assert_false(pool.release("a", 9000)); // not taken yet
    assert_str_eq(take_one(pool), "a:9000");
    assert_false(pool.release("a", 8999)); // outside the range
    assert_false(pool.release("a", 9002));
    assert_false(pool.release("c", 9000)); // unknown host
    assert_false(pool.release("b", 9000)); // same port, other host, free
    assert_false(pool.release("A", 9000)); // host names compare exactly
    assert_int_equal(pool.free_count(), 2);
    assert_true(pool.release("a", 9000));
    assert_false(pool.release("a", 9000)); // twice
    assert_int_equal(pool.free_count(), 3);
}

void contains_and_is_taken(void **) {
    PortPool pool({res("a", 9000, 9001), res("b", 7000, 7000)});
    assert_true(pool.contains("a", 9000));
    assert_true(pool.contains("a", 9001));
    assert_true(pool.contains("b", 7000));
    assert_false(pool.contains("a", 7000));
    assert_false(pool.contains("b", 9000));
    assert_false(pool.contains("x", 9000));
    assert_false(pool.is_taken("x", 9000));
    assert_false(pool.is_taken("a", 9000));
}

void take_specific_marks_pair(void **) {
    PortPool pool({res("a", 9000, 9002)});
    assert_true(pool.take_specific("a", 9001));
    assert_true(pool.is_taken("a", 9001));
    assert_int_equal(pool.free_count(), 2);
    assert_false(pool.take_specific("a", 9001)); // already taken
    assert_false(pool.take_specific("a", 9003)); // not in the pool
    assert_false(pool.take_specific("b", 9000));
    assert_int_equal(pool.free_count(), 2);
    // take() skips the adopted pair.
    assert_str_eq(take_one(pool), "a:9000");
    assert_str_eq(take_one(pool), "a:9002");
    assert_str_eq(take_one(pool), "none");
    assert_true(pool.release("a", 9001));
    assert_str_eq(take_one(pool), "a:9001");
}

void usable_predicate_skips_pairs(void **) {
    PortPool pool({res("a", 9000, 9003)});
    std::vector<std::pair<std::string, int>> asked;
    auto not_9000_9001 = [&asked](const std::string &h, int p) {
        asked.emplace_back(h, p);
        return p != 9000 && p != 9001;
    };
    std::string host;
    int port = 0;
    assert_true(pool.take(&host, &port, not_9000_9001));
    assert_str_eq(host, "a");
    assert_int_equal(port, 9002);
    assert_int_equal(asked.size(), 3);
    assert_int_equal(asked[0].second, 9000);
    assert_int_equal(asked[1].second, 9001);
    assert_int_equal(asked[2].second, 9002);
    // Skipped pairs stay free.
    assert_false(pool.is_taken("a", 9000));
    assert_false(pool.is_taken("a", 9001));
    assert_int_equal(pool.free_count(), 3);
    assert_true(pool.take(&host, &port, not_9000_9001));
    assert_int_equal(port, 9003);
    // Nothing usable left: false, and nothing taken.
    assert_false(pool.take(&host, &port, not_9000_9001));
    assert_int_equal(pool.free_count(), 2);
    auto never = [](const std::string &, int) { return false; };
    assert_false(pool.take(&host, &port, never));
    assert_int_equal(pool.free_count(), 2);
    // Without the predicate the skipped ones are handed out.
    assert_str_eq(take_one(pool), "a:9000");
    assert_str_eq(take_one(pool), "a:9001");
}

void usable_predicate_sees_host(void **) {
    PortPool pool({res("busy", 9000, 9001), res("idle", 9000, 9001)});
    auto only_idle = [](const std::string &h, int) { return h == "idle"; };
    std::string host;
    int port = 0;
    assert_true(pool.take(&host, &port, only_idle));
    assert_str_eq(host, "idle");
    assert_int_equal(port, 9000);
    assert_true(pool.take(&host, &port, only_idle));
    assert_str_eq(host, "idle");
    assert_int_equal(port, 9001);
    assert_false(pool.take(&host, &port, only_idle));
}

} // namespace

int run_port_pool_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes),
        cmocka_unit_test(takes_every_pair_once_then_fails),
        cmocka_unit_test(round_robin_continues_after_release),
        cmocka_unit_test(released_port_is_reused_last),
        cmocka_unit_test(release_of_unknown_or_free_pair_fails),
        cmocka_unit_test(contains_and_is_taken),
        cmocka_unit_test(take_specific_marks_pair),
        cmocka_unit_test(usable_predicate_skips_pairs),
        cmocka_unit_test(usable_predicate_sees_host),
        cmocka_unit_test(freed_ports_are_reused_oldest_first),
    };
    return cmocka_run_group_tests_name("port_pool", tests, nullptr, nullptr);
}
