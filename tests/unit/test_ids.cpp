// Session ids and secrets: src/core/ids.h.
#include "core/ids.h"

#include <set>
#include <string>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

bool all_in_alphabet(const std::string &s) {
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    return true;
}

std::string b64(const std::string &bytes) {
    return base64url(reinterpret_cast<const unsigned char *>(bytes.data()), bytes.size());
}

void random_token_is_22_url_safe_chars(void **) {
    for (int i = 0; i < 50; ++i) {
        std::string t = random_token(16);
        assert_int_equal(t.size(), 22);
        if (!all_in_alphabet(t))
            fail_msg("token \"%s\" has a character outside [A-Za-z0-9_-]", t.c_str());
        assert_true(valid_session_id(t));
    }
}

void random_token_lengths_follow_byte_count(void **) {
    assert_int_equal(random_token(0).size(), 0);
    assert_int_equal(random_token(1).size(), 2);
    assert_int_equal(random_token(2).size(), 3);
    assert_int_equal(random_token(3).size(), 4);
    assert_int_equal(random_token(32).size(), 43);
}

void random_tokens_are_distinct(void **) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i)
        seen.insert(random_token(16));
    assert_int_equal(seen.size(), 1000);
}

void random_tokens_use_the_whole_alphabet(void **) {
    // 2000 x 22 characters: every one of the 64 symbols must show up, in
    // particular '-' and '_' (a plain base64 encoder would give '+' and '/').
    std::set<char> chars;
    for (int i = 0; i < 2000; ++i)
        for (char c : random_token(16))
            chars.insert(c);
    assert_int_equal(chars.size(), 64);
    assert_true(chars.count('-') == 1);
    assert_true(chars.count('_') == 1);
}

void random_tokens_never_start_with_dash(void **) {
    // Secrets go on command lines ("--authKey $secret"): a leading '-' would
    // read as an option. Without the redraw about 78 of 5000 would.
    for (int i = 0; i < 5000; ++i) {
        std::string t = random_token(16);
        assert_int_equal(t.size(), 22);
        if (t[0] == '-')
            fail_msg("token \"%s\" starts with '-'", t.c_str());
    }
    for (int i = 0; i < 500; ++i) {
        std::string t = random_token(1);
        assert_int_equal(t.size(), 2);
        assert_true(t[0] != '-');
    }
}

void base64url_known_vectors(void **) {
    assert_str_eq(b64(""), "");
    assert_str_eq(b64("f"), "Zg");
    assert_str_eq(b64("fo"), "Zm8");
    assert_str_eq(b64("foo"), "Zm9v");
    assert_str_eq(b64("foob"), "Zm9vYg");
    assert_str_eq(b64("fooba"), "Zm9vYmE");
    assert_str_eq(b64("foobar"), "Zm9vYmFy");
    const unsigned char fb_ff[] = {0xfb, 0xff};
    assert_str_eq(base64url(fb_ff, 2), "-_8");
    const unsigned char ff3[] = {0xff, 0xff, 0xff};
    assert_str_eq(base64url(ff3, 3), "____");
    const unsigned char zero3[] = {0x00, 0x00, 0x00};
    assert_str_eq(base64url(zero3, 3), "AAAA");
    const unsigned char f8[] = {0xf8};
    assert_str_eq(base64url(f8, 1), "-A");
}

void valid_session_id_accepts_alphabet(void **) {
    assert_true(valid_session_id("a"));
    assert_true(valid_session_id("Z"));
    assert_true(valid_session_id("0"));
    assert_true(valid_session_id("-"));
    assert_true(valid_session_id("_"));
    assert_true(valid_session_id("abcXYZ019_-"));
    assert_true(valid_session_id(std::string(64, 'a')));
    assert_true(valid_session_id(random_token(16)));
    // The pointer/length form does not look past len.
    assert_true(valid_session_id("abc/def", 3));
}

void valid_session_id_rejects_bad_ids(void **) {
    assert_false(valid_session_id(""));
    assert_false(valid_session_id(std::string(65, 'a')));
    assert_false(valid_session_id("../x"));
    assert_false(valid_session_id("a/b"));
    assert_false(valid_session_id("a.b"));
    assert_false(valid_session_id("a b"));
    assert_false(valid_session_id("%2e"));
    assert_false(valid_session_id("a+b"));
    assert_false(valid_session_id("a\nb"));
    assert_false(valid_session_id(std::string("a\0b", 3)));
    assert_false(valid_session_id("caf\xc3\xa9"));
}

void random_ids_are_32_lowercase_hex_digits(void **) {
    // 2000 ids: 128 bits each, every hex digit used, never an upper-case
    // letter (trame's client lower-cases the sessionURL), all distinct.
    std::set<std::string> seen;
    std::set<char> chars;
    for (int i = 0; i < 2000; ++i) {
        std::string id = random_id();
        assert_int_equal(id.size(), 32);
        for (char c : id) {
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                fail_msg("id \"%s\" has a character outside [0-9a-f]", id.c_str());
            chars.insert(c);
        }
        assert_true(valid_session_id(id));
        assert_str_eq(canonical_session_id(id), id);
        seen.insert(id);
    }
    assert_int_equal(seen.size(), 2000);
    assert_int_equal(chars.size(), 16);
}

void canonical_session_id_lowercases_ascii_only(void **) {
    assert_str_eq(canonical_session_id("AbC-_09xYZ"), "abc-_09xyz");
    assert_str_eq(canonical_session_id(""), "");
    assert_str_eq(canonical_session_id("abc/DEF", 3), "abc");
    // Bytes outside ASCII are left alone (such an id is invalid anyway).
    assert_str_eq(canonical_session_id("\xc3\x89"
                                       "A"),
                  "\xc3\x89"
                  "a");
    std::string t = random_token(16);
    assert_true(valid_session_id(canonical_session_id(t)));
}

} // namespace

int run_ids_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_token_is_22_url_safe_chars),
        cmocka_unit_test(random_token_lengths_follow_byte_count),
        cmocka_unit_test(random_tokens_are_distinct),
        cmocka_unit_test(random_tokens_use_the_whole_alphabet),
        cmocka_unit_test(random_tokens_never_start_with_dash),
        cmocka_unit_test(base64url_known_vectors),
        cmocka_unit_test(valid_session_id_accepts_alphabet),
        cmocka_unit_test(valid_session_id_rejects_bad_ids),
        cmocka_unit_test(random_ids_are_32_lowercase_hex_digits),
        cmocka_unit_test(canonical_session_id_lowercases_ascii_only),
    };
    return cmocka_run_group_tests_name("ids", tests, nullptr, nullptr);
}
