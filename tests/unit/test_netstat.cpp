// Established-connection ports from /proc/net/tcp: src/core/netstat.h.
#include "core/netstat.h"

#include <set>
#include <string>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

void established_ports_only(void **) {
    const std::string tcp =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:4E20 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33  "
        "      0 1 1 0000000000000000 100 0 0 10 0\n" // 20000 listening
        "   1: 0100007F:4E20 0100007F:D431 01 00000000:00000000 00:00000000 00000000    33  "
        "      0 2 1 0000000000000000 20 4 30 10 -1\n" // 20000 established
        "   2: 0100007F:D431 0100007F:4E20 01 00000000:00000000 00:00000000 00000000    33  "
        "      0 3 1 0000000000000000 20 4 30 10 -1\n" // the client side
        "   3: 0100007F:4E21 0100007F:D432 06 00000000:00000000 03:00000000 00000000     0  "
        "      0 0 3 0000000000000000\n" // 20001 TIME_WAIT
        "garbage line\n"
        "   4: 0100007F:ZZZZ 0100007F:D432 01\n";
    const std::string tcp6 =
        "  sl  local_address                         remote_address                        st\n"
        "   0: 00000000000000000000000001000000:4E22 00000000000000000000000001000000:9C40 01 "
        "00000000:00000000\n";
    std::set<int> ports;
    established_local_ports(tcp, &ports);
    established_local_ports(tcp6, &ports);
    std::set<int> want = {20000, 54321, 20002};
    if (ports != want) {
        std::string got;
        for (int p : ports)
            got += std::to_string(p) + " ";
        fail_msg("got %s", got.c_str());
    }
}

void empty_text(void **) {
    std::set<int> ports;
    established_local_ports("", &ports);
    established_local_ports("header only\n", &ports);
    assert_int_equal(ports.size(), 0);
}

} // namespace

int run_netstat_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(established_ports_only),
        cmocka_unit_test(empty_text),
    };
    return cmocka_run_group_tests_name("netstat", tests, nullptr, nullptr);
}
