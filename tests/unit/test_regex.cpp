// The linear-time regexp matcher behind sanitize rules: src/core/regex.h.
#include "core/regex.h"

#include <string>
#include <vector>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

Regex compiled(const std::string &pattern) {
    Regex re;
    std::string error;
    if (!re.compile(pattern, &error))
        fail_msg("pattern \"%s\" did not compile: %s", pattern.c_str(), error.c_str());
    return re;
}

void check(const std::string &pattern, const std::string &input, bool expected) {
    Regex re = compiled(pattern);
    if (re.full_match(input) != expected)
        fail_msg("\"%s\" on \"%s\": expected %s", pattern.c_str(), input.c_str(),
                 expected ? "a match" : "no match");
}

// The error for a pattern that must not compile.
std::string rejected(const std::string &pattern) {
    Regex re;
    std::string error;
    if (re.compile(pattern, &error))
        fail_msg("pattern \"%s\" compiled", pattern.c_str());
    if (error.empty())
        fail_msg("pattern \"%s\" failed without a message", pattern.c_str());
    return error;
}

void whole_string_only(void **) {
    check("abc", "abc", true);
    check("abc", "abcd", false);
    check("abc", "xabc", false);
    check("abc", "ab", false);
    check("abc", "", false);
    check("a.c", "abc", true);
    check("b", "abc", false);
}

void empty_pattern_matches_only_empty(void **) {
    check("", "", true);
    check("", "a", false);
    check("()", "", true);
    check("(?:)", "x", false);
    check("|", "", true);
}

void unusable_regex_matches_nothing(void **) {
    Regex re;
    assert_false(re.full_match(""));
    assert_false(re.full_match("a"));
    std::string error;
    assert_true(re.compile("a+", &error));
    assert_true(re.full_match("aa"));
    // A failed compile leaves nothing behind from the previous pattern.
    assert_false(re.compile("a(", &error));
    assert_false(re.full_match("aa"));
    assert_false(re.full_match(""));
}

void dot_is_any_byte_but_newline(void **) {
    check(".", "a", true);
    check(".", "\r", true);
    check(".", std::string(1, '\0'), true);
    check(".", "\xff", true);
    check(".", "\n", false);
    check(".", "", false);
    check(".*", "a\nb", false);
    check("[^x]", "\n", true); // classes do not exclude it
}

void escapes(void **) {
    for (char c = '0'; c <= '9'; ++c) {
        check("\\d", std::string(1, c), true);
        check("\\D", std::string(1, c), false);
        check("\\w", std::string(1, c), true);
    }
    check("\\d", "a", false);
    check("\\D", "a", true);
    check("\\w", "_", true);
    check("\\w", "Z", true);
    check("\\w", "-", false);
    check("\\w", "\xc3", false); // ASCII only, like Python on bytes
    check("\\W", "-", true);
    check("\\W", "a", false);
    for (const char *sp : {" ", "\t", "\n", "\r", "\f", "\v"}) {
        check("\\s", sp, true);
        check("\\S", sp, false);
    }
    check("\\s", "x", false);
    check("\\S", "x", true);
    check("\\n\\t\\r\\f\\v", "\n\t\r\f\v", true);
    check("\\x41\\x7a\\xFF", "Az\xff", true);
    check("\\x00", std::string(1, '\0'), true);
    const std::string punct = ".-/\\[](){}*+?|^$ ,:;!\"#%&'<=>@_`~";
    for (char c : punct) {
        check(std::string("\\") + c, std::string(1, c), true);
        check(std::string("\\") + c, "a", false);
    }
}

void classes(void **) {
    check("[abc]+", "cab", true);
    check("[abc]+", "abd", false);
    check("[a-f0-9]+", "deadbeef09", true);
    check("[a-f0-9]+", "g", false);
    check("[^a-f]", "g", true);
    check("[^a-f]", "c", false);
    check("[^a-f]", "", false);
    check("[\\d_]+", "1_2", true);
    check("[\\w.]+", "a.b_c", true);
    check("[\\s]", "\t", true);
    check("[^\\s]", " ", false);
    check("[\\D]", "a", true);
    check("[\\D]", "5", false);
    check("[\\W\\d]+", "-5", true);
    check("[\\]]", "]", true);
    check("[\\[]", "[", true);
    check("[\\\\]", "\\", true);
    check("[\\^]", "^", true);
    check("[a^]+", "^a", true);
    check("[-x]+", "-x-", true);
    check("[x-]+", "x-", true);
    check("[^-]", "-", false);
    check("[a\\-z]+", "a-z", true);
    check("[a\\-z]", "b", false);
    check("[+--]+", "+,-", true); // '+' to '-'
    check("[a-c-e]+", "ac-e", true);
    check("[.]", "a", false);
    check("[*+?{}()|$]+", "*+?{}()|$", true);
    check("[\\x41-\\x43]+", "ABC", true);
    check("[\\n]", "\n", true);
    check("[a-a]", "a", true);
}

void counted_repetition(void **) {
    check("a{0}", "", true);
    check("a{0}", "a", false);
    check("ba{0}c", "bc", true);
    check("a{0,0}", "", true);
    check("a{0,1}", "", true);
    check("a{0,1}", "a", true);
    check("a{0,1}", "aa", false);
    check("a{2,}", "a", false);
    check("a{2,}", "aa", true);
    check("a{2,}", std::string(500, 'a'), true);
    check("a{0,}", "", true);
    check("a{3,5}", "aa", false);
    check("a{3,5}", "aaa", true);
    check("a{3,5}", "aaaa", true);
    check("a{3,5}", "aaaaa", true);
    check("a{3,5}", "aaaaaa", false);
    check("a{3}", "aaa", true);
    check("a{3}", "aaaa", false);
    check("a{03}", "aaa", true);
    check("(ab){2,3}", "ababab", true);
    check("(ab){2,3}", "aba", false);
    check("(a|bc){2}", "bca", true);
    check("(a{2}){3}", std::string(6, 'a'), true);
    check("(a{2}){3}", std::string(5, 'a'), false);
    check("a{1000}", std::string(1000, 'a'), true);
    check("a{1000}", std::string(999, 'a'), false);
    check("a{1000}", std::string(1001, 'a'), false);
    check("a{2,4}b{0,2}", "aaab", true);
    check("()*", "", true);
    check("(){3,}", "", true);
}

void lazy_suffix_is_accepted(void **) {
    check("a*?", "aaa", true);
    check("a+?", "", false);
    check("a??b", "ab", true);
    check("a{2,3}?", "aaa", true);
    check("a{2,}?b", "aaab", true);
    check("(a|b)*?c", "abc", true);
}

void alternation(void **) {
    check("ab|cd", "ab", true);
    check("ab|cd", "cd", true);
    check("ab|cd", "abcd", false);
    check("ab|cd", "ad", false);
    check("a|b|c", "c", true);
    check("a(b|c)*d", "abcbd", true);
    check("a|", "", true);
    check("|a", "a", true);
    check("x(|y)z", "xz", true);
    check("(a|ab)(c|bcd)", "abcd", true);
    check("(?:light|dark)-mode", "dark-mode", true);
    check("(?:light|dark)-mode", "lightdark-mode", false);
}

void anchors(void **) {
    check("^abc$", "abc", true);
    check("^abc$", "abc\n", false); // unlike Python's '$'
    check("^abc", "abc", true);
    check("abc$", "abc", true);
    check("a^b", "ab", false);
    check("a$b", "ab", false);
    check("^", "", true);
    check("$", "", true);
    check("^$", "", true);
    check("^$", "x", false);
    check("(^a|b)+", "abb", true);
    check("(^a|b)+", "bab", false);
    check("(b|a$)+", "bba", true);
    check("(b|a$)+", "bab", false);
    check("(^)*a", "a", true);
    check("x*^y", "y", true);
    check("x*^y", "xy", false);
    check("(a|^)(b|$)", "a", true);
}

void non_ascii_bytes(void **) {
    const std::string e_acute = "\xc3\xa9";
    check(e_acute, e_acute, true);
    check("caf" + e_acute, "caf" + e_acute, true);
    check(".", e_acute, false); // two bytes
    check("..", e_acute, true);
    check("[" + e_acute + "]", "\xc3", true); // a class of two bytes
    check("[" + e_acute + "]+", e_acute, true);
    check("[^a]+", e_acute, true);
    check("[\\x80-\\xff]+", "\xe2\x82\xac" + e_acute, true);
    check("[\\x80-\\xff]+",
          "\xe2\x82\xac"
          "a",
          false);
    check("\\xc3\\xa9", e_acute, true);
    check(std::string("a\0b", 3), std::string("a\0b", 3), true);
    check(std::string("a\0b", 3), "a", false);
}

void table_agrees_with_python(void **) {
    // Expected values checked with Python's re.fullmatch on bytes (with
    // '$' written as \Z there, since Python's '$' also matches before a
    // final newline).
    struct Case {
        const char *pattern;
        const char *input;
        bool match;
    };
    const Case cases[] = {
        {"[A-Za-z0-9_./-]+", "data/can.ex2", true},
        {"[A-Za-z0-9_./-]+", "a b", false},
        {"[A-Za-z0-9_./-]+", "", false},
        {"[a-z]{1,16}", "alice", true},
        {"[a-z]{1,16}", "abcdefghijklmnopq", false},
        {"[a-z]{1,16}", "Alice", false},
        {"^[-\\w./]+$", "-rf", true},
        {"^[-\\w./]+$", "../etc/passwd", true},
        {"^[-\\w./]+$", "a;b", false},
        {"[A-Za-z0-9_-]{8,64}", "abcd-efg", true},
        {"[A-Za-z0-9_-]{8,64}", "abcdefg", false},
        {"(light|dark)", "light", true},
        {"(light|dark)", "lightdark", false},
        {"(light|dark)+", "lightdark", true},
        {".*\\.vtk", "a.b.vtk", true},
        {".*\\.vtk", "a.vtk\n", false},
        {".*\\.vtk", "avtk", false},
        {"ab|cd", "ab", true},
        {"ab|cd", "cd", true},
        {"ab|cd", "abd", false},
        {"a(b|c)d", "acd", true},
        {"a(b|c)d", "ad", false},
        {"a|bc*", "bccc", true},
        {"a|bc*", "ac", false},
        {"(a|)b", "b", true},
        {"a||b", "", true},
        {"(?:ab)+", "ababab", true},
        {"(?:ab)+", "aba", false},
        {"(a*)*", "aaaa", true},
        {"(a*)+b", "b", true},
        {"(a?){3}", "aa", true},
        {"(a|b)*abb", "babaabb", true},
        {"(a|b)*abb", "abab", false},
        {"x{0}", "", true},
        {"x{0}", "x", false},
        {"x{0,1}", "x", true},
        {"x{0,1}", "xx", false},
        {"x{2,}", "x", false},
        {"x{2,}", "xx", true},
        {"x{2,}", "xxxxxxx", true},
        {"x{3,5}", "xx", false},
        {"x{3,5}", "xxx", true},
        {"x{3,5}", "xxxxx", true},
        {"x{3,5}", "xxxxxx", false},
        {"x{3,5}?", "xxxx", true},
        {"(ab){2}c", "ababc", true},
        {"[0-9]{1,5}", "65535", true},
        {"[0-9]{1,5}", "123456", false},
        {"\\d+\\.\\d*", "3.", true},
        {"\\D\\W\\S", "a b", true},
        {"\\D\\W\\S", "a.b", true},
        {"\\s*", " \t\r\n\f\v", true},
        {"[^\\s\\d]+", "ab-c", true},
        {"[^\\s\\d]+", "ab c", false},
        {"[\\]\\-\\\\]+", "]-\\", true},
        {"[a-c-e]+", "a-e", true},
        {"[a-c-e]+", "d", false},
        {"[-a]+", "-a", true},
        {"[a-]+", "a-", true},
        {"[^-]", "-", false},
        {"(^a|b)+", "ab", true},
        {"(^a|b)+", "ba", false},
        {"(a$|b)+", "ba", true},
        {"(a$|b)+", "ab", false},
        {"a^b", "ab", false},
        {"a$b", "ab", false},
        {"^$", "", true},
        {"$^", "", true},
        {"\\^\\$", "^$", true},
        {"a]}", "a]}", true},
        {"\\x41\\x2d", "A-", true},
        {"\\t\\n\\r", "\t\n\r", true},
        {"\xc3\xa9+", "\xc3\xa9\xa9", true},
        {".", "\xc3\xa9", false},
        {"..", "\xc3\xa9", true},
        {"[\xc3\xa9]+", "\xa9\xc3", true},
        {"[\\x80-\\xff]+", "\xe2\x82\xac", true},
        {"caf\\xc3\\xa9", "caf\xc3\xa9", true},
    };
    for (const Case &c : cases)
        check(c.pattern, c.input, c.match);
}

void rejected_constructs(void **) {
    struct Case {
        const char *pattern;
        const char *message;
    };
    const Case cases[] = {
        {"(a)\\1", "backreference \\1 is not supported at offset 3"},
        {"\\9", "backreference"},
        {"(?=a)", "lookahead (?= is not supported at offset 0"},
        {"a(?!b)", "lookahead (?! is not supported at offset 1"},
        {"(?<=a)b", "(?< are not supported"},
        {"(?<name>a)", "(?< are not supported"},
        {"(?P<name>a)", "named groups (?P are not supported"},
        {"(?i)abc", "only (?: is supported"},
        {"(?", "only (?: is supported"},
        {"\\b", "escape \\b is not supported at offset 0"},
        {"a\\B", "escape \\B is not supported at offset 1"},
        {"\\p{L}", "escape \\p is not supported"},
        {"\\u0041", "escape \\u is not supported"},
        {"\\0", "escape \\0 is not supported"},
        {"\\A", "escape \\A is not supported"},
        {"\\Z", "escape \\Z is not supported"},
        {"[\\b]", "escape \\b is not supported at offset 1"},
        {"\\\xc3\xa9", "escape of the byte 0xc3 is not supported at offset 0"},
        {"a\\", "trailing backslash at offset 1"},
        {"\\x4", "\\x needs two hex digits at offset 0"},
        {"\\xg1", "\\x needs two hex digits"},
        {"*a", "nothing to repeat at offset 0"},
        {"+", "nothing to repeat"},
        {"?", "nothing to repeat"},
        {"{2}", "nothing to repeat at offset 0"},
        {"a**", "nothing to repeat at offset 2"},
        {"a*+", "nothing to repeat at offset 2"}, // possessive
        {"a{2}{3}", "nothing to repeat at offset 4"},
        {"a|*", "nothing to repeat at offset 2"},
        {"(*)", "nothing to repeat at offset 1"},
        {"^*", "nothing to repeat at offset 1"},
        {"a$+", "nothing to repeat at offset 2"},
        {"^{2}", "nothing to repeat at offset 1"},
        {"a{", "'{' does not start {n}, {n,} or {n,m} (write \\{ for a literal brace) at offset 1"},
        {"a{1", "'{' does not start"},
        {"a{,2}", "'{' does not start"},
        {"a{1,2,3}", "'{' does not start"},
        {"a{ 1}", "'{' does not start"},
        {"a{x}", "'{' does not start"},
        {"{", "'{' does not start"},
        {"a{2,1}", "{n,m} with n greater than m at offset 1"},
        {"a{1001}", "repeat count above 1000 at offset 1"},
        {"a{1,1001}", "repeat count above 1000"},
        {"a{99999999999999999999}", "repeat count above 1000"},
        {"[]", "empty class (write \\] for a literal ']') at offset 0"},
        {"[^]", "empty class"},
        {"[]a]", "empty class"},
        {"x[a", "missing ']' for the '[' at offset 1"},
        {"[a-", "missing ']'"},
        {"[\\", "trailing backslash at offset 1"},
        {"[z-a]", "range out of order at offset 2"},
        {"[\\w-.]", "a class escape cannot start a range"},
        {"[.-\\d]", "a class escape cannot end a range"},
        {"[[:alpha:]]", "'[' inside a class (write \\[ for a literal '[') at offset 1"},
        {"[a[]", "'[' inside a class"},
        {"(ab", "missing ')' for the '(' at offset 0"},
        {"a(b(c)", "missing ')' for the '(' at offset 1"},
        {"ab)", "unmatched ')' at offset 2"},
        {")", "unmatched ')' at offset 0"},
        {"(a))b", "unmatched ')' at offset 3"},
    };
    for (const Case &c : cases)
        assert_contains(rejected(c.pattern), c.message);
}

void size_limits(void **) {
    std::string error;
    Regex re;
    assert_true(re.compile(std::string(1000, 'a'), &error));
    assert_true(re.full_match(std::string(1000, 'a')));
    assert_contains(rejected(std::string(1001, 'a')), "pattern is 1001 bytes, more than 1000");

    // Counted repeats multiply; the repeat that goes over is named.
    assert_contains(rejected("(a{1000}){1000}"),
                    "pattern expands to more than 20000 instructions (repeat counts multiply) "
                    "at offset 9");
    assert_contains(rejected("((a{100}){100}){100}"), "at offset 15");
    assert_contains(rejected("x(a{1000}){21}"), "at offset 10");
    assert_true(re.compile("(a{100}){200}", &error)); // exactly at the limit
    assert_int_equal(re.program_size(), Regex::max_program + 1);
    assert_true(re.full_match(std::string(20000, 'a')));
    assert_false(re.full_match(std::string(19999, 'a')));
    assert_contains(rejected("(a{100}){201}"), "more than 20000 instructions");
    std::string many;
    for (int k = 0; k < 20; ++k)
        many += "[a-z]{1000}";
    assert_true(re.compile(many, &error));
    assert_contains(rejected(many + "x"),
                    "more than 20000 instructions (repeat counts multiply) at offset 0");
    // Unbounded repeats cost one copy more than their minimum.
    assert_true(re.compile("(a{100}){199,}", &error));
    assert_true(re.full_match(std::string(20000, 'a')));

    std::string deep, deeper;
    for (int k = 0; k < Regex::max_depth; ++k)
        deep = "(" + deep + "a)";
    assert_true(re.compile(deep, &error));
    assert_true(re.full_match(std::string(Regex::max_depth, 'a')));
    deeper = "(" + deep + ")";
    assert_contains(rejected(deeper), "groups nested more than 100 deep at offset 100");
    assert_contains(rejected(std::string(500, '(') + std::string(500, ')')),
                    "nested more than 100");
}

void pathological_patterns_stay_linear(void **) {
    const std::string as(100000, 'a');
    const std::string xs(100000, 'x');
    check("(a|a)*b", as + "b", true);
    check("(a|a)*b", as, false);
    check("(a*)*$", as, true);
    check("(a*)*$", as + "b", false);
    check("(a*)*b", as, false);
    check("(x+x+)+y", xs, false);
    check("(x+x+)+y", xs + "y", true);
    check("(a?){50}a{50}", std::string(50, 'a'), true);
    check("(.*){20}z", xs, false);
    check("((a|aa)+)+c", as, false);
    check("(|a)+(a*)*", as, true);
    check("[a-z]{1,16}", as, false);
}

void regexp_from_the_fuzzer_terminates(void **) {
    // The std::regex hang that started this: a run of quantifiers is now a
    // compile error, and nested empty loops still terminate.
    assert_contains(rejected("?++++++++++++++++++++++++++++++++}"), "nothing to repeat");
    assert_contains(rejected("a?+++++++++++"), "nothing to repeat at offset 2");
    check("((()*)*)*", "", true);
    check("((()*)*)*a", std::string(1000, 'a'), false);
    check("(a*|b*)*c", std::string(50000, 'a') + std::string(50000, 'b') + "c", true);
}

} // namespace

int run_regex_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_string_only),
        cmocka_unit_test(empty_pattern_matches_only_empty),
        cmocka_unit_test(unusable_regex_matches_nothing),
        cmocka_unit_test(dot_is_any_byte_but_newline),
        cmocka_unit_test(escapes),
        cmocka_unit_test(classes),
        cmocka_unit_test(counted_repetition),
        cmocka_unit_test(lazy_suffix_is_accepted),
        cmocka_unit_test(alternation),
        cmocka_unit_test(anchors),
        cmocka_unit_test(non_ascii_bytes),
        cmocka_unit_test(table_agrees_with_python),
        cmocka_unit_test(rejected_constructs),
        cmocka_unit_test(size_limits),
        cmocka_unit_test(pathological_patterns_stay_linear),
        cmocka_unit_test(regexp_from_the_fuzzer_terminates),
    };
    return cmocka_run_group_tests_name("regex", tests, nullptr, nullptr);
}
