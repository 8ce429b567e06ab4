// Framing of daemon responses: src/core/protocol.h.
#include "core/protocol.h"

#include <string>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

// Splits a framed response at the first newline and parses the header.
bool unframe(const std::string &frame, int *status, std::string *body) {
    size_t nl = frame.find('\n');
    if (nl == std::string::npos)
        return false;
    std::string header = frame.substr(0, nl + 1);
    size_t length = 0;
    if (!parse_response_header(header.c_str(), status, &length))
        return false;
    if (frame.size() - (nl + 1) != length)
        return false;
    *body = frame.substr(nl + 1);
    return true;
}

void frame_has_documented_format(void **) {
    assert_str_eq(frame_response(200, "{\"a\":1}"), "200 7\n{\"a\":1}");
    assert_str_eq(frame_response(404, ""), "404 0\n");
}

void frame_round_trip(void **) {
    const struct {
        int status;
        std::string body;
    } cases[] = {
        {200, "{\"id\":\"abc\",\"sessionURL\":\"ws://h/p?sessionId=abc\"}"},
        {204, ""},
        {400, "{\"error\":\"bad\\nrequest\"}"},
        {502, std::string("line one\nline two\n\0binary", 25)},
        {503, std::string(100000, 'x')},
        {100, "x"},
        {599, "y"},
    };
    for (const auto &c : cases) {
        std::string frame = frame_response(c.status, c.body);
        int status = 0;
        std::string body;
        assert_true(unframe(frame, &status, &body));
        assert_int_equal(status, c.status);
        assert_int_equal(body.size(), c.body.size());
        assert_true(body == c.body);
    }
}

void header_values_are_parsed(void **) {
    int status = 0;
    size_t length = 1;
    assert_true(parse_response_header("200 0\n", &status, &length));
    assert_int_equal(status, 200);
    assert_int_equal(length, 0);
    assert_true(parse_response_header("502 1234\nbody follows", &status, &length));
    assert_int_equal(status, 502);
    assert_int_equal(length, 1234);
    assert_true(parse_response_header("200 67108864\n", &status, &length));
    assert_int_equal(length, 64UL * 1024 * 1024);
}

void malformed_headers_are_rejected(void **) {
    const char *bad[] = {
        "",                              // nothing
        "\n",                            // empty line
        "200\n",                         // no length
        "200 5",                         // no newline
        "200 5 \n",                      // trailing space
        "200 5x\n",                      // junk after the length
        "abc 5\n",                       // status not a number
        "200 x\n",                       // length not a number
        "99 5\n",                        // status below 100
        "600 5\n",                       // status above 599
        "000 5\n",                       // status 0
        "-200 5\n",                      // negative status
        "200 -1\n",                      // negative length
        "200 67108865\n",                // length above 64 MiB
        "200 99999999999999999999999\n", // length overflows
    };
    for (const char *line : bad) {
        int status = -7;
        size_t length = 77;
        if (parse_response_header(line, &status, &length))
            fail_msg("malformed header \"%s\" was accepted", line);
        // Outputs are left alone on failure.
        assert_int_equal(status, -7);
        assert_int_equal(length, 77);
    }
}

} // namespace

int run_protocol_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_has_documented_format),
        cmocka_unit_test(frame_round_trip),
        cmocka_unit_test(header_values_are_parsed),
        cmocka_unit_test(malformed_headers_are_rejected),
    };
    return cmocka_run_group_tests_name("protocol", tests, nullptr, nullptr);
}
