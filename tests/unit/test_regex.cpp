// The RE2-backed matcher behind sanitize rules: src/core/regex.h.
#include "core/regex.h"

#include <string>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

void check(const std::string &pattern, const std::string &input, bool expected) {
    Regex re;
    std::string error;
    if (!re.compile(pattern, &error))
        fail_msg("pattern \"%s\" did not compile: %s", pattern.c_str(), error.c_str());
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

Regex::PythonDifferences differences(const std::string &pattern) {
    Regex re;
    std::string error;
    if (!re.compile(pattern, &error))
        fail_msg("pattern \"%s\" did not compile: %s", pattern.c_str(), error.c_str());
    return re.python_differences();
}

void python_syntax_is_accepted(void **) {
    check("(?i)^[a-z]+\\Z", "AbC", true);
    check("(?i)^[a-z]+\\Z", "AbC1", false);
    check("(?i:a)b", "Ab", true);
    check("(?i:a)b", "AB", false);
    check("\\bfoo\\b", "foo", true);
    check("a\\Bb", "ab", true);
    check("(?P<name>\\w+)", "alice_1", true);
    check("(?P<name>\\w+)-(?P<n>\\d+)", "run-42", true);
    check("(?P<name>\\w+)", "a b", false);
    check("\\A\\d+\\Z", "2024", true);
    check("\\A\\d+\\Z", "20x", false);
    check("\\d{4}-\\d{2}", "2024-06", true);
    check("(?s)a.b", "a\nb", true);
    check("a.b", "a\nb", false);
    check("(?m)^a$\\n^b$", "a\nb", true);
    check("(?a)\\w+", "abc", true);
    check("(?u)\\w+", "abc", true);
    check("(?ai)[a-z]+", "ABC", true);
    check("(?a:x)y", "xy", true);
    check("(?#a comment)x", "x", true);
    check("a(?#c)b", "ab", true);
    check("(?:light|dark)-mode", "dark-mode", true);
    check("a*?b+?c??", "aabb", true);
}

void python_spellings_are_translated(void **) {
    // \Z is RE2's \z; RE2's own \z is accepted too.
    check("ab\\Z", "ab", true);
    check("ab\\z", "ab", true);
    // Python's \s includes \v, RE2's does not: both mean Python's here.
    check("\\s+", " \t\n\r\f\v", true);
    check("[\\s,]+", "\v,", true);
    check("\\S", "\v", false);
    check("[^\\S]", "\v", true);
    check("[\\S]", "x", true);
    // Escapes RE2 spells otherwise.
    check("\\u00e9t\\u00C9", "\xc3\xa9t\xc3\x89", true);
    check("[\\u00e0-\\u00ff]+", "\xc3\xa0\xc3\xa9", true);
    check("\\U0001F600", "\xf0\x9f\x98\x80", true);
    check("\\101\\0", std::string("A\0", 2), true);
    check("\\0101", std::string("\x08") + "1", true); // \010 then '1'
    check("[\\101-\\103]+", "ABC", true);
    check("[\\1]", "\x01", true);
    check("[\\b]", "\b", true);
    check("\\x41\\n\\t", "A\n\t", true);
    // Counted repeats with Python's empty bounds, and literal braces.
    check("a{,3}", "aaa", true);
    check("a{,3}", "aaaa", false);
    check("a{,}", "aaaaa", true);
    check("a{2,}", "aa", true);
    check("a{", "a{", true);
    check("a{}", "a{}", true);
    check("a{1,2,3}", "a{1,2,3}", true);
    check("a{x}", "a{x}", true);
    check("[]a]+", "]a", true);
    // Python has no POSIX classes: this is a set of characters, then ']'.
    check("[[:alpha:]]", "a]", true);
    check("[[:alpha:]]", "a", false);
    check("[[]", "[", true);
    check("[^]a]", "b", true);
}

void whole_value_only(void **) {
    check("abc", "abc", true);
    check("abc", "abcd", false);
    check("abc", "xabc", false);
    check("[a-z]+", "alice1", false);
    check("ab|cd", "abcd", false);
    check("ab|cd", "cd", true);
    check("^abc$", "abc\n", false); // Python's $ would also match before the newline
    check("", "", true);
    check("", "a", false);
}

void text_is_utf8(void **) {
    const std::string e_acute = "\xc3\xa9";
    check(".", e_acute, true); // one character, two bytes
    check("[" + e_acute + "]", e_acute, true);
    check("caf.", "caf" + e_acute, true);
    check("\\w", e_acute, false); // ASCII only: see PythonDifferences
    check("(?i)" + e_acute, "\xc3\x89", true);
    check(".", "\xff", false); // not UTF-8: never matches
}

void unusable_regex_matches_nothing(void **) {
    Regex re;
    assert_false(re.full_match(""));
    std::string error;
    assert_true(re.compile("a+", &error));
    assert_true(re.full_match("aa"));
    // A failed compile leaves nothing behind from the previous pattern.
    assert_false(re.compile("a(", &error));
    assert_false(re.full_match("aa"));
    assert_false(re.full_match(""));
}

void backtracking_constructs_are_refused(void **) {
    struct Case {
        const char *pattern;
        const char *message;
    };
    const Case cases[] = {
        {"(a)\\1", "backreference \\1 at offset 3 needs a backtracking engine"},
        {"(a)\\12", "backreference \\12 at offset 3"},
        {"(?P<x>a)(?P=x)", "backreference (?P=name) at offset 8"},
        {"(?=a)a", "lookahead (?= at offset 0"},
        {"a(?!b)", "lookahead (?! at offset 1"},
        {"(?<=a)b", "lookbehind (?<= at offset 0"},
        {"(?<!a)b", "lookbehind (?<!"},
        {"(a)?(?(1)b|c)", "conditional group (?( at offset 4"},
    };
    for (const Case &c : cases) {
        std::string e = rejected(c.pattern);
        assert_contains(e, c.message);
        assert_contains(e, "linear time");
    }
    assert_contains(rejected("(?>a+)b"), "atomic group (?> at offset 0 is not supported by RE2");
    assert_contains(rejected("a*+"), "possessive quantifier *+ at offset 1");
    assert_contains(rejected("a++"), "possessive quantifier ++");
    assert_contains(rejected("a?+"), "possessive quantifier ?+");
    assert_contains(rejected("a{2,3}+"), "possessive quantifier {...}+ at offset 1");
    assert_contains(rejected("(?x)a b"), "verbose flag (?x)");
    assert_contains(rejected("(?L)a"), "locale flag (?L)");
}

void invalid_patterns_are_refused(void **) {
    assert_contains(rejected("[a-z"), "missing ]");
    assert_contains(rejected("(ab"), "missing )");
    assert_contains(rejected("ab)"), "unexpected )");
    assert_contains(rejected("*a"), "no argument for repetition operator");
    assert_contains(rejected("a**"), "bad repetition operator");
    assert_contains(rejected("a{1001}"), "invalid repetition size");
    assert_contains(rejected("((a{100}){100}){100}"), "invalid repetition size");
    assert_contains(rejected("a\\"), "trailing \\");
    assert_contains(rejected("\\q"), "invalid escape sequence: \\q");
    assert_contains(rejected("\\N{DASH}"), "invalid escape sequence");
    assert_contains(rejected("[z-a]"), "invalid character class range");
    assert_contains(rejected("\\u12"), "\\u needs 4 hex digits at offset 0");
    assert_contains(rejected("x\\U0001F6"), "\\U needs 8 hex digits at offset 1");
    assert_contains(rejected("\\400"), "octal escape \\400 is above \\377 at offset 0");
    assert_contains(rejected("(?#unclosed"), "comment (?# without its ')' at offset 0");
    assert_contains(rejected("(?<name>a)"), "invalid perl operator");
    assert_contains(rejected("\xff"), "UTF-8");
}

void size_limits(void **) {
    std::string error;
    Regex re;
    assert_true(re.compile(std::string(Regex::max_pattern, 'a'), &error));
    assert_true(re.full_match(std::string(Regex::max_pattern, 'a')));
    assert_contains(rejected(std::string(Regex::max_pattern + 1, 'a')),
                    "pattern is 1001 bytes, more than 1000");
    assert_true(re.compile("[a-z]{1000}", &error));
    assert_contains(rejected("(\\pL{0,1000}){1}"), "over RE2's memory budget");
}

void pathological_patterns_finish(void **) {
    // Catastrophic for a backtracking engine; RE2 is linear in the value.
    const std::string as(100000, 'a');
    const std::string xs(100000, 'x');
    check("(a+)+$", as, true);
    check("(a+)+$", as + "b", false);
    check("(a|aa)*b", as, false);
    check("(a|aa)*b", as + "b", true);
    check("(a|a)*b", as, false);
    check("(x+x+)+y", xs, false);
    check("(x+x+)+y", xs + "y", true);
    check("(.*){20}z", xs, false);
    check("(a*)*b", as, false);
    check("(?:[ab]*a[ab]{20}){1,40}", as, true);
}

void python_differences(void **) {
    // Anchored at the end: $, \Z or \z last, outside any group and any '|'.
    for (const char *p :
         {"^[a-z]+$", "[a-z]+\\Z", "[a-z]+\\z", "(?:a|b)$", "(a|b)\\Z", "a$", "a$(?#comment)"})
        if (differences(p).prefix_match)
            fail_msg("\"%s\" counted as a prefix match", p);
    for (const char *p :
         {"[a-z]+", "", "^a$|b", "a|b$", "(a$)", "a\\$", "[$]", "(?m)^a$", "a$*", "a\\Z?", ".*"})
        if (!differences(p).prefix_match)
            fail_msg("\"%s\" not counted as a prefix match", p);

    assert_str_eq(differences("^\\w+$").unicode_escapes, "\\w");
    assert_str_eq(differences("[\\d\\s]+\\d\\b\\B\\D\\W\\S").unicode_escapes,
                  "\\d \\s \\b \\B \\D \\W \\S");
    assert_str_eq(differences("[a-z]+").unicode_escapes, "");
    assert_str_eq(differences("[\\b]\\\\w").unicode_escapes, ""); // backspace, a '\' and 'w'
    assert_str_eq(differences("(?a)^\\w+$").unicode_escapes, "");
    assert_str_eq(differences("(?a:\\w)\\d").unicode_escapes, "\\w \\d"); // (?a) only in a group
}

} // namespace

int run_regex_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(python_syntax_is_accepted),
        cmocka_unit_test(python_spellings_are_translated),
        cmocka_unit_test(whole_value_only),
        cmocka_unit_test(text_is_utf8),
        cmocka_unit_test(unusable_regex_matches_nothing),
        cmocka_unit_test(backtracking_constructs_are_refused),
        cmocka_unit_test(invalid_patterns_are_refused),
        cmocka_unit_test(size_limits),
        cmocka_unit_test(pathological_patterns_finish),
        cmocka_unit_test(python_differences),
    };
    return cmocka_run_group_tests_name("regex", tests, nullptr, nullptr);
}
