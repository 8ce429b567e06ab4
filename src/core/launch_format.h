// Pure formatting and parsing helpers for the launch queue's REST admin
// interface (seed 004): ISO 8601 times and durations, Accept negotiation
// between JSON and XML, JSON-to-XML conversion, and parsing of the form
// encodings the POST interface accepts. No httpd headers and no I/O, so
// everything here is unit-tested directly.
#pragma once
#include <jansson.h>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pvl {

// ---- ISO 8601 ----------------------------------------------------------

// `t` in UTC with milliseconds, e.g. "2026-11-24T08:40:00.123Z". Times
// before 1970 round down (towards the past), so the fields stay in range.
// "" only for a time gmtime_r cannot represent.
// Used for the timestamps of launches and log entries in REST answers.
std::string iso8601_time(std::chrono::system_clock::time_point t);

// A duration as ISO 8601 "PT..." text: "PT0S", "PT0.25S", "PT1M5.5S",
// "PT1H0M3S", "PT26H1M0S". Rounded to the millisecond; at most three
// decimals with trailing zeros (and a trailing '.') removed; hours are not
// folded into days (a day is not always 24 hours). Negative, NaN or
// infinite input gives "PT0S"; input above 1e15 s is clamped to 1e15 s.
// Used for queue wait times and session run times.
std::string iso8601_duration(double seconds);

// ---- Accept negotiation ------------------------------------------------

// The representations a resource of the admin interface is available in;
// none means the client accepts neither (the caller answers 406).
enum class MediaType { json, xml, none };

// Picks JSON or XML for an Accept header value. nullptr, "" or a value of
// only blanks and commas mean "anything" and give json. Each comma-separated
// entry is a media range with optional parameters; only q is interpreted
// (0 to 1, e.g. "0.5", "1", "1.000"); an entry whose q is not such a
// number is ignored, as is an entry that is not "type/subtype" (a lone
// "*", sent by some old clients, counts as "*/*"). Types compare
// case-insensitively and blanks around tokens are ignored.
//   json is matched by application/json, application/* and */*;
//   xml by application/xml, text/xml, application/* and */* (not by
//   text/*: the answer is labelled application/xml).
// For each candidate the most specific matching ranges decide its q (an
// exact type beats type/* which beats */*; among equally specific ranges
// the highest q counts), so "application/*;q=0, application/xml" gives
// xml. The candidate with the higher q wins, json on a tie; q=0 excludes.
MediaType negotiate_media_type(const char *accept);

// "application/json" or "application/xml" (for Content-Type); "" for none.
const char *media_type_name(MediaType type);

// ---- JSON to XML -------------------------------------------------------

// The same content as an XML document, for clients that negotiated XML:
//   <?xml version="1.0" encoding="UTF-8"?>\n<root>...</root>
// (no trailing newline, like json_to_string). Rules:
//  - an object's members become child elements named by their keys, in
//    the object's order;
//  - an array becomes the element's children, each named by the singular
//    of the element's key: arguments→argument, status→property,
//    logEntries→logEntry, launches→launch, files→file, anything else→item
//    (a top-level array uses the singular of `root`);
//  - strings are text; numbers are printed as json_to_string prints them;
//    true/false as such; null, "", {} and [] give an empty element <k/>;
//  - a key (or root) that is not an XML name we allow, i.e. does not match
//    [A-Za-z_][A-Za-z0-9_.-]* or starts with "xml" in any case, becomes
//    <entry name="key">...</entry>, so client-chosen keys never make
//    markup;
//  - & < > " ' are escaped in text and attribute values; CR (and in
//    attributes also TAB and LF) are written as character references so
//    they survive parsing; characters XML 1.0 forbids (C0 controls other
//    than TAB LF CR, U+FFFE, U+FFFF) and invalid UTF-8 (each maximal
//    invalid subsequence) become U+FFFD. The output is always well-formed.
// Nesting deeper than 2048 levels (more than jansson's parser allows, and
// a guard against reference cycles) is cut off as an empty element.
// `value` nullptr gives an empty root element.
std::string json_to_xml(const json_t *value, const std::string &root);

// ---- Form and query parsing --------------------------------------------

// Name/value pairs in the order they were sent; names may repeat. Both may
// hold any bytes, including NUL: callers validate what they use.
using Fields = std::vector<std::pair<std::string, std::string>>;

// Parses application/x-www-form-urlencoded text, i.e. a request body or a
// query string (without the '?'): pairs separated by '&' only, the name
// ending at the first '=' (a piece without '=' has an empty value), '+'
// decoding to a space and %XX (either case of hex digit) to the byte.
// Empty pieces ("a=1&&b=2", a trailing '&') are skipped. On success
// appends the pairs to *out and returns true; on a '%' not followed by two
// hex digits returns false, leaves *out alone and sets *error (if not
// nullptr) to an English message.
bool parse_urlencoded(std::string_view text, Fields *out, std::string *error);

// Parses a multipart/form-data body (RFC 7578). `content_type` is the
// request's Content-Type; its media type must be multipart/form-data and
// its boundary parameter (name case-insensitive, value a token or a quoted
// string, 1 to 70 characters) gives the delimiter. Parts are separated by
// "--boundary" lines ending in CRLF or a bare LF (blanks before the line
// end allowed); a preamble before the first and an epilogue after the
// closing "--boundary--" are ignored. Each part's headers end at a blank
// line; its Content-Disposition must be form-data with a name parameter
// (token or quoted string with backslash escapes); a filename parameter is
// allowed and the value is then the file's content. Other headers are
// ignored. Values are binary-safe (may contain NUL). On success appends
// (name, content) per part to *out and returns true; on failure (not
// multipart/form-data, no or bad boundary, no delimiter, missing closing
// delimiter, a part without a blank line or a name, more than 1000 parts)
// returns false, leaves *out alone and sets *error (if not nullptr) to an
// English message.
bool parse_multipart(std::string_view body, std::string_view content_type, Fields *out,
                     std::string *error);

// Most parts a multipart body may have before parse_multipart refuses it.
constexpr size_t kMaxMultipartParts = 1000;

// Percent-encodes (upper-case hex) every byte except the unreserved
// characters A-Z a-z 0-9 - . _ ~, so the result is safe as one path
// segment of a URL, e.g. in a Content-Location header.
std::string url_encode_path_segment(std::string_view s);

} // namespace pvl
