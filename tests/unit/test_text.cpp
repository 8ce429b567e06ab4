// Text for people: src/core/text.h.
#include "core/json.h"
#include "core/launch_format.h"
#include "core/log.h"
#include "core/text.h"

#include <chrono>
#include <cmath>
#include <string>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

const std::string fffd = "\xEF\xBF\xBD";

void utf8_steps_follow_the_unicode_table(void **) {
    struct Case {
        std::string text;
        bool valid;
        size_t length;
        uint32_t cp;
    };
    const Case cases[] = {
        {"A", true, 1, 0x41},
        {"\xC3\xA9", true, 2, 0xE9},
        {"\xE2\x82\xAC", true, 3, 0x20AC},
        {"\xF0\x9F\x98\x80", true, 4, 0x1F600},
        {"\xF4\x8F\xBF\xBF", true, 4, 0x10FFFF},
        {"\xC0\xAF", false, 1, 0},         // overlong lead byte
        {"\xE0\x80\xAF", false, 1, 0},     // overlong: second byte out of range
        {"\xED\xA0\x80", false, 1, 0},     // surrogate
        {"\xF4\x90\x80\x80", false, 1, 0}, // above U+10FFFF
        {"\xE2\x82", false, 2, 0},         // cut short: the maximal subsequence
        {"\xE2\x82"
         "A",
         false, 2, 0},
        {"\x80", false, 1, 0},
        {"\xFF", false, 1, 0},
    };
    for (const Case &c : cases) {
        Utf8Step s = utf8_step(c.text, 0);
        if (s.valid != c.valid || s.length != c.length || (c.valid && s.code_point != c.cp))
            fail_msg("%zu bytes starting 0x%02x: valid %d length %zu cp %x", c.text.size(),
                     static_cast<unsigned char>(c.text[0]), s.valid, s.length, s.code_point);
    }
}

void html_escape_makes_safe_text(void **) {
    assert_str_eq(html_escape("<a href=\"x\">&'</a>"),
                  "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    assert_str_eq(html_escape("tab\tlf\nff\fcr\r"), "tab\tlf\nff\fcr&#13;");
    assert_str_eq(html_escape(std::string("nul\0bel\x07"
                                          "del\x7f",
                                          12)),
                  "nul" + fffd + "bel" + fffd + "del" + fffd);
    assert_str_eq(html_escape("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC");
    assert_str_eq(html_escape("\xC2\x85"), fffd); // C1 control NEL
    // One U+FFFD per maximal invalid subsequence, as the XML writer does.
    assert_str_eq(html_escape("a\xE2\x82"
                              "b\xFF"),
                  "a" + fffd + "b" + fffd);
    const std::string bad = "a\xE2\x82"
                            "b\xFF";
    JsonPtr v(json_stringn_nocheck(bad.data(), bad.size()));
    assert_str_eq(json_to_xml(v.get(), "v"),
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<v>a" + fffd + "b" + fffd + "</v>");
}

void iso8601_round_trips(void **) {
    double t = 0;
    assert_true(parse_iso8601("2026-11-24T09:12:00.120Z", &t));
    assert_true(std::fabs(t - 1795511520.12) < 1e-6);
    assert_true(parse_iso8601("1970-01-01T00:00:00Z", &t) && t == 0);
    const auto now = std::chrono::system_clock::now();
    assert_true(parse_iso8601(iso8601_time(now).c_str(), &t));
    const double want = std::chrono::duration<double>(now.time_since_epoch()).count();
    assert_true(std::fabs(t - want) < 0.001);
    for (const char *bad : {"", "2026-11-24", "2026-11-24T09:12:00", "2026-11-24T09:12:00+01:00",
                            "2026-11-24T09:12:00Zx", "2026-11-24 09:12:00Z"})
        if (parse_iso8601(bad, &t))
            fail_msg("\"%s\" was taken as a time", bad);
    assert_false(parse_iso8601(nullptr, &t));
}

// The audit trail's lines: always the same fields, a user name quoted
// whatever it holds, "-" for what is not known.
void audit_lines_have_fixed_fields(void **) {
    assert_str_eq(audit_line("launched", "abc", "vis", "alice", "192.0.2.1"),
                  "launched: id=abc app=vis user=\"alice\" client=192.0.2.1");
    assert_str_eq(audit_line("ended", "", "", "", ""), "ended: id=- app=- user=- client=-");
    assert_str_eq(audit_line("x", "i", "a", "eve\" client=10.0.0.1 user=\"bob", "::1"),
                  "x: id=i app=a user=\"eve\\\" client=10.0.0.1 user=\\\"bob\" client=::1");
    assert_str_eq(audit_line("x", "i", "a", "line\nbreak", "h"),
                  "x: id=i app=a user=\"line\\nbreak\" client=h");
}

// What an administrator (or a GET with PVLaunchSecretOnGet Off) gets.
void secrets_are_taken_out(void **) {
    assert_str_eq(without_secret("{\"id\":\"a\",\"secret\":\"s\",\"port\":1}"),
                  "{\"id\":\"a\",\"port\":1}");
    assert_str_eq(without_secret("{\"launch\":{\"id\":\"a\",\"secret\":\"s\"}}"),
                  "{\"launch\":{\"id\":\"a\"}}");
    assert_str_eq(without_secret("{\"id\":\"a\"}"), "{\"id\":\"a\"}");
    assert_str_eq(without_secret("not json"), "not json");
}

void ages_read_like_people_write_them(void **) {
    assert_str_eq(format_age(0), "0s");
    assert_str_eq(format_age(-5), "0s");
    assert_str_eq(format_age(45.9), "45s");
    assert_str_eq(format_age(125), "2m 5s");
    assert_str_eq(format_age(3603), "1h 0m 3s");
    assert_str_eq(format_age(3 * 86400 + 4 * 3600 + 10 * 60 + 59), "3d 4h 10m");
    assert_str_eq(format_age(1e300), "11574074d 1h 46m");
}

} // namespace

int run_text_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_steps_follow_the_unicode_table),
        cmocka_unit_test(html_escape_makes_safe_text),
        cmocka_unit_test(iso8601_round_trips),
        cmocka_unit_test(ages_read_like_people_write_them),
        cmocka_unit_test(audit_lines_have_fixed_fields),
        cmocka_unit_test(secrets_are_taken_out),
    };
    return cmocka_run_group_tests_name("text", tests, nullptr, nullptr);
}
