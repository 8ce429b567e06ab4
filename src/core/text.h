// Text for people: UTF-8 checked one sequence at a time (shared by the XML
// writer and the admin page's HTML), HTML escaping, and ages and times as
// the admin page shows them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pvl {

// U+FFFD, what ill-formed text and forbidden characters become.
constexpr const char *replacement_character = "\xEF\xBF\xBD";

// One step through UTF-8 at s[i] (i < s.size()): a well-formed sequence by
// the Unicode standard's table (no overlong forms, surrogates or code
// points above U+10FFFF) gives valid, its length and code point; an
// ill-formed one gives !valid and the length of its maximal invalid
// subsequence (at least 1), which callers replace with one U+FFFD.
struct Utf8Step {
    bool valid;
    size_t length;
    uint32_t code_point;
};
Utf8Step utf8_step(std::string_view s, size_t i);

// Text for HTML element content and attribute values (always quoted with
// "). & < > " ' become character references; ill-formed UTF-8 and the code
// points HTML forbids in a document (controls other than TAB, LF, FF and
// CR; C1 controls) become U+FFFD. CR is written as a reference so that it
// survives the parser's newline normalisation.
std::string html_escape(std::string_view s);

// "2026-11-24T09:12:00.120Z" (as iso8601_time writes it) as seconds since
// the epoch; false when the text is not such a time.
bool parse_iso8601(const char *text, double *out);

// An age for people: "0s", "45s", "2m 5s", "1h 0m 3s", "3d 4h 10m".
std::string format_age(double seconds);

} // namespace pvl
