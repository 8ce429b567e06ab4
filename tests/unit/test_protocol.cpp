// The control protocol: typed requests and framed responses,
// src/core/protocol.h.
#include "core/protocol.h"

#include <cstring>
#include <string>
#include <vector>

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

ControlRequest decoded(const std::string &line) {
    ControlRequest req;
    std::string error;
    if (!decode_request(line, &req, &error))
        fail_msg("%s: %s", line.c_str(), error.c_str());
    return req;
}

std::string refused(const std::string &line) {
    ControlRequest req;
    std::string error;
    if (decode_request(line, &req, &error))
        fail_msg("%s was accepted", line.c_str());
    assert_false(error.empty());
    return error;
}

void every_op_round_trips(void **) {
    const Op ops[] = {Op::create,  Op::get,   Op::del, Op::list,  Op::reorder,
                      Op::logtail, Op::watch, Op::map, Op::stats, Op::claim};
    for (Op op : ops) {
        ControlRequest req;
        req.op = op;
        req.launcher = 3;
        req.id = "abc123";
        req.payload.reset(json_pack("{s:s, s:i}", "application", "vis", "n", 1));
        req.base = "/paraview";
        req.async = true;
        req.form = true;
        req.notify = "https://x/cb";
        req.ids = {"a1", "b2"};
        req.direction = "top";
        req.client = "192.0.2.7";
        req.user = "alice smith";
        req.admin = true;
        req.detail = true;
        const std::string line = encode_request(req);
        assert_null(std::strchr(line.c_str(), '\n'));
        ControlRequest back = decoded(line);
        assert_true(back.op == op);
        assert_string_equal(op_name(back.op), op_name(op));
        const bool has_launcher = op != Op::map && op != Op::stats && op != Op::claim;
        assert_int_equal(back.launcher, has_launcher ? 3 : 0);
        const bool has_id =
            op == Op::get || op == Op::del || op == Op::logtail || op == Op::watch || op == Op::map;
        assert_str_eq(back.id, has_id ? "abc123" : "");
        if (op == Op::create) {
            assert_str_eq(json_to_string(back.payload.get()), "{\"application\":\"vis\",\"n\":1}");
            assert_str_eq(back.base, "/paraview");
            assert_true(back.async && back.form);
            assert_str_eq(back.notify, "https://x/cb");
        } else {
            assert_null(back.payload.get());
            assert_false(back.async || back.form);
        }
        // Who asks travels with every op.
        assert_str_eq(back.client, "192.0.2.7");
        assert_str_eq(back.user, "alice smith");
        assert_true(back.admin);
        assert_true(back.detail == (op == Op::stats));
        if (op == Op::reorder) {
            assert_int_equal(back.ids.size(), 2);
            assert_str_eq(back.ids[1], "b2");
            assert_str_eq(back.direction, "top");
        } else {
            assert_true(back.ids.empty());
        }
    }
    assert_string_equal(op_name(Op::del), "delete");
}

void ids_are_canonical_on_the_wire(void **) {
    ControlRequest req = decoded("{\"op\":\"get\",\"l\":0,\"id\":\"AbC\"}");
    assert_str_eq(req.id, "abc");
    req = decoded("{\"op\":\"reorder\",\"l\":1,\"ids\":[\"X1\",\"y2\"],\"direction\":\"up\"}");
    assert_str_eq(req.ids[0], "x1");
    assert_int_equal(req.launcher, 1);
    // A create without a payload object is a client error, not a crash.
    assert_contains(refused("{\"op\":\"create\",\"l\":0}"), "JSON object");
    assert_contains(refused("{\"op\":\"create\",\"l\":0,\"payload\":[1]}"), "JSON object");
    // Nobody and no administrator unless said.
    req = decoded("{\"op\":\"get\",\"l\":0,\"id\":\"a\"}");
    assert_str_eq(req.user, "");
    assert_false(req.admin);
    assert_contains(refused("{\"op\":\"get\",\"l\":0,\"id\":\"a\",\"user\":1}"), "user");
    assert_contains(refused("{\"op\":\"get\",\"l\":0,\"id\":\"a\",\"admin\":\"yes\"}"), "admin");
}

void bad_requests_are_refused(void **) {
    assert_contains(refused(""), "malformed");
    assert_contains(refused("not json"), "malformed");
    assert_contains(refused("[1]"), "malformed");
    assert_contains(refused("{}"), "no op");
    assert_contains(refused("{\"op\":5}"), "no op");
    assert_contains(refused("{\"op\":\"explode\"}"), "unknown");
    assert_contains(refused("{\"op\":\"get\",\"id\":\"a\"}"), "launcher");
    assert_contains(refused("{\"op\":\"get\",\"l\":-1,\"id\":\"a\"}"), "launcher");
    assert_contains(refused("{\"op\":\"get\",\"l\":\"0\",\"id\":\"a\"}"), "launcher");
    assert_contains(refused("{\"op\":\"get\",\"l\":0,\"id\":7}"), "id");
    assert_contains(refused("{\"op\":\"reorder\",\"l\":0,\"ids\":[1]}"), "ids");
    assert_contains(refused("{\"op\":\"reorder\",\"l\":0,\"direction\":1}"), "direction");
    assert_contains(refused("{\"op\":\"watch\",\"l\":0,\"id\":\"a\",\"client\":4}"), "client");
    // map, stats and claim need no launcher.
    assert_true(decoded("{\"op\":\"stats\"}").op == Op::stats);
    assert_true(decoded("{\"op\":\"claim\"}").op == Op::claim);
    assert_str_eq(decoded("{\"op\":\"map\",\"id\":\"q\"}").id, "q");
    // The short form builds the same line.
    ControlRequest full;
    full.op = Op::watch;
    full.launcher = 2;
    full.id = "w";
    assert_str_eq(encode_request(Op::watch, 2, "w"), encode_request(full));
}

} // namespace

int run_protocol_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_has_documented_format),
        cmocka_unit_test(frame_round_trip),
        cmocka_unit_test(header_values_are_parsed),
        cmocka_unit_test(malformed_headers_are_rejected),
        cmocka_unit_test(every_op_round_trips),
        cmocka_unit_test(ids_are_canonical_on_the_wire),
        cmocka_unit_test(bad_requests_are_refused),
    };
    return cmocka_run_group_tests_name("protocol", tests, nullptr, nullptr);
}
