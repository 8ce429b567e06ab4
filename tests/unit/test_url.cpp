// The Status-Location URL check: src/core/url.h.
#include "core/url.h"

#include <string>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

std::string refused(const std::string &url) {
    NotifyUrl u;
    std::string error;
    if (parse_notify_url(url, &u, &error))
        fail_msg("%s was accepted", url.c_str());
    assert_contains(error, "Status-Location must be");
    return error;
}

void accepts_http_and_https(void **) {
    NotifyUrl u;
    std::string error;
    assert_true(parse_notify_url("http://example.org/cb?token=abc#x", &u, &error));
    assert_str_eq(u.for_log, "http://example.org:80/cb");
    assert_contains(u.normalized, "token=abc");
    assert_true(parse_notify_url("https://user:pw@[::1]:8443/a/b", &u, &error));
    assert_str_eq(u.for_log, "https://[::1]:8443/a/b");
    assert_not_contains(u.for_log, "pw");
}

void refuses_what_libcurl_would_not_send_to(void **) {
    assert_contains(refused("file:///etc/passwd"), "scheme");
    assert_contains(refused("ftp://example.org/x"), "scheme is ftp");
    refused("http://");
    refused("example.org/cb");
    refused("https://[::1/cb");
    refused("http://host:99999/cb");
    refused("http://exa mple/cb");
    assert_contains(refused(std::string("http://a/\0b", 11)), "control characters");
    assert_contains(refused("http://a/\nb"), "control characters");
    assert_contains(refused("http://a/" + std::string(2048, 'x')), "longer");
}

} // namespace

int run_url_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_http_and_https),
        cmocka_unit_test(refuses_what_libcurl_would_not_send_to),
    };
    return cmocka_run_group_tests_name("url", tests, nullptr, nullptr);
}
