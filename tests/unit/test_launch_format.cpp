// Formatting and parsing helpers of the launch queue's REST interface:
// src/core/launch_format.h.
#include "core/json.h"
#include "core/launch_format.h"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

const std::string kProlog = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const std::string kFFFD = "\xEF\xBF\xBD";

// ---- A small, independent XML 1.0 well-formedness checker ----
//
// Enough of the grammar for what json_to_xml may produce (the prolog, then
// one element with attributes, character data, entity and character
// references), and strict about it: every character must be an XML Char
// in valid UTF-8, names ASCII, '<' and '&' only as markup, no "]]>" in
// character data, tags balanced, attributes unique and double-quoted.
class XmlChecker {
  public:
    explicit XmlChecker(const std::string &doc) : s_(doc) {}

    // "" if well-formed, otherwise what is wrong and where.
    std::string check() {
        if (!valid_chars())
            return error_;
        if (s_.compare(0, kProlog.size(), kProlog) != 0)
            return "missing prolog";
        i_ = kProlog.size();
        if (!element(0))
            return error_;
        if (i_ != s_.size())
            return at("content after the root element");
        return "";
    }

  private:
    const std::string &s_;
    size_t i_ = 0;
    std::string error_;

    bool fail_at(const char *what) {
        error_ = at(what);
        return false;
    }
    std::string at(const char *what) { return std::string(what) + " at " + std::to_string(i_); }

    static bool is_xml_char(uint32_t c) {
        return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
               (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
    }

    bool valid_chars() {
        for (size_t k = 0; k < s_.size();) {
            const unsigned char c = s_[k];
            uint32_t cp;
            size_t len;
            if (c < 0x80) {
                cp = c, len = 1;
            } else if ((c & 0xE0) == 0xC0) {
                cp = c & 0x1F, len = 2;
            } else if ((c & 0xF0) == 0xE0) {
                cp = c & 0x0F, len = 3;
            } else if ((c & 0xF8) == 0xF0) {
                cp = c & 0x07, len = 4;
            } else {
                error_ = "invalid UTF-8 lead byte at " + std::to_string(k);
                return false;
            }
            if (k + len > s_.size()) {
                error_ = "truncated UTF-8 at " + std::to_string(k);
                return false;
            }
            for (size_t j = 1; j < len; ++j) {
                const unsigned char d = s_[k + j];
                if ((d & 0xC0) != 0x80) {
                    error_ = "invalid UTF-8 continuation at " + std::to_string(k + j);
                    return false;
                }
                cp = (cp << 6) | (d & 0x3F);
            }
            static const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
            if (cp < min_for_len[len] || (cp >= 0xD800 && cp <= 0xDFFF)) {
                error_ = "overlong or surrogate UTF-8 at " + std::to_string(k);
                return false;
            }
            if (!is_xml_char(cp)) {
                error_ = "character not allowed in XML at " + std::to_string(k);
                return false;
            }
            k += len;
        }
        return true;
    }

    static bool name_start(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':';
    }
    static bool name_char(char c) {
        return name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
    }
    bool name(std::string *out) {
        if (i_ >= s_.size() || !name_start(s_[i_]))
            return fail_at("expected a name");
        size_t start = i_;
        while (i_ < s_.size() && name_char(s_[i_]))
            ++i_;
        *out = s_.substr(start, i_ - start);
        return true;
    }
    void spaces() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
            ++i_;
    }
    bool reference() { // at '&'
        size_t semi = s_.find(';', i_);
        if (semi == std::string::npos)
            return fail_at("unterminated reference");
        std::string ref = s_.substr(i_ + 1, semi - i_ - 1);
        if (ref == "lt" || ref == "gt" || ref == "amp" || ref == "quot" || ref == "apos") {
            i_ = semi + 1;
            return true;
        }
        if (ref.size() >= 2 && ref[0] == '#') {
            bool hex = ref[1] == 'x';
            std::string digits = ref.substr(hex ? 2 : 1);
            if (digits.empty() || digits.size() > 8)
                return fail_at("bad character reference");
            uint32_t cp = 0;
            for (char c : digits) {
                int v = (c >= '0' && c <= '9')          ? c - '0'
                        : hex && (c >= 'a' && c <= 'f') ? c - 'a' + 10
                        : hex && (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                                        : -1;
                if (v < 0)
                    return fail_at("bad character reference");
                cp = cp * (hex ? 16 : 10) + uint32_t(v);
            }
            if (!is_xml_char(cp))
                return fail_at("character reference to a forbidden character");
            i_ = semi + 1;
            return true;
        }
        return fail_at("unknown entity");
    }
    bool element(int depth) {
        if (depth > 5000)
            return fail_at("too deep");
        if (i_ >= s_.size() || s_[i_] != '<')
            return fail_at("expected '<'");
        ++i_;
        std::string tag;
        if (!name(&tag))
            return false;
        std::vector<std::string> attributes;
        for (;;) {
            size_t before = i_;
            spaces();
            if (i_ >= s_.size())
                return fail_at("unterminated start tag");
            if (s_.compare(i_, 2, "/>") == 0) {
                i_ += 2;
                return true;
            }
            if (s_[i_] == '>') {
                ++i_;
                break;
            }
            if (i_ == before)
                return fail_at("attribute without preceding space");
            std::string attr;
            if (!name(&attr))
                return false;
            for (const auto &a : attributes)
                if (a == attr)
                    return fail_at("duplicate attribute");
            attributes.push_back(attr);
            spaces();
            if (i_ >= s_.size() || s_[i_] != '=')
                return fail_at("expected '='");
            ++i_;
            spaces();
            if (i_ >= s_.size() || s_[i_] != '"')
                return fail_at("expected '\"'");
            ++i_;
            for (;;) {
                if (i_ >= s_.size())
                    return fail_at("unterminated attribute value");
                char c = s_[i_];
                if (c == '"') {
                    ++i_;
                    break;
                }
                if (c == '<')
                    return fail_at("'<' in attribute value");
                if (c == '&') {
                    if (!reference())
                        return false;
                } else {
                    ++i_;
                }
            }
        }
        // Content up to the matching end tag.
        for (;;) {
            if (i_ >= s_.size())
                return fail_at("unterminated element");
            char c = s_[i_];
            if (c == '<') {
                if (s_.compare(i_, 2, "</") == 0) {
                    i_ += 2;
                    std::string end;
                    if (!name(&end))
                        return false;
                    if (end != tag)
                        return fail_at("mismatched end tag");
                    spaces();
                    if (i_ >= s_.size() || s_[i_] != '>')
                        return fail_at("expected '>'");
                    ++i_;
                    return true;
                }
                if (!element(depth + 1))
                    return false;
            } else if (c == '&') {
                if (!reference())
                    return false;
            } else {
                if (s_.compare(i_, 3, "]]>") == 0)
                    return fail_at("\"]]>\" in character data");
                ++i_;
            }
        }
    }
};

std::string xml_problem(const std::string &doc) {
    return XmlChecker(doc).check();
}

#define assert_well_formed(doc)                                                                    \
    do {                                                                                           \
        const std::string doc_ = (doc);                                                            \
        const std::string problem_ = xml_problem(doc_);                                            \
        if (!problem_.empty())                                                                     \
            fail_msg("not well-formed (%s): %s", problem_.c_str(), doc_.c_str());                  \
    } while (0)

JsonPtr parse(const char *text) {
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j)
        fail_msg("bad test JSON: %s: %s", text, err.text);
    return JsonPtr(j);
}

// The XML document for a JSON text, without the prolog (checked to be
// there and the whole document well-formed).
std::string xml_of(const char *json_text, const std::string &root) {
    JsonPtr j = parse(json_text);
    std::string doc = json_to_xml(j.get(), root);
    assert_well_formed(doc);
    assert_true(doc.compare(0, kProlog.size(), kProlog) == 0);
    return doc.substr(kProlog.size());
}

// XML of an object with one string member whose key and value may hold any
// bytes (json_t allows NUL and, through the nocheck setters, invalid UTF-8).
std::string xml_of_raw(const std::string &key, const std::string &value) {
    JsonPtr o(json_object());
    json_object_setn_new_nocheck(o.get(), key.data(), key.size(),
                                 json_stringn_nocheck(value.data(), value.size()));
    std::string doc = json_to_xml(o.get(), "r");
    assert_well_formed(doc);
    return doc.substr(kProlog.size());
}

std::string fields_text(const Fields &fields) {
    std::string out;
    for (const auto &f : fields)
        out += "[" + f.first + "]=[" + f.second + "]";
    return out;
}

// ---- ISO 8601 ----

std::chrono::system_clock::time_point at_ms(int64_t ms) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

void iso8601_time_is_utc_with_milliseconds(void **) {
    assert_str_eq(iso8601_time(at_ms(0)), "1970-01-01T00:00:00.000Z");
    assert_str_eq(iso8601_time(at_ms(1795509600123)), "2026-11-24T08:40:00.123Z");
    assert_str_eq(iso8601_time(at_ms(1709251199999)), "2024-02-29T23:59:59.999Z");
    assert_str_eq(iso8601_time(at_ms(946684800007)), "2000-01-01T00:00:00.007Z");
    assert_str_eq(iso8601_time(at_ms(946684800050)), "2000-01-01T00:00:00.050Z");
}

void iso8601_time_truncates_below_a_millisecond(void **) {
    using namespace std::chrono;
    auto t = system_clock::time_point(
        duration_cast<system_clock::duration>(seconds(1795509600) + microseconds(123999)));
    assert_str_eq(iso8601_time(t), "2026-11-24T08:40:00.123Z");
}

void iso8601_time_before_1970_rounds_down(void **) {
    assert_str_eq(iso8601_time(at_ms(-1)), "1969-12-31T23:59:59.999Z");
    assert_str_eq(iso8601_time(at_ms(-1000)), "1969-12-31T23:59:59.000Z");
    assert_str_eq(iso8601_time(at_ms(-1500)), "1969-12-31T23:59:58.500Z");
}

void iso8601_duration_table(void **) {
    static const struct {
        double seconds;
        const char *expected;
    } cases[] = {
        {0, "PT0S"},
        {0.25, "PT0.25S"},
        {0.5, "PT0.5S"},
        {0.001, "PT0.001S"},
        {0.0004, "PT0S"},     // rounds to 0 ms
        {0.0005, "PT0.001S"}, // rounds half away from zero
        {1, "PT1S"},
        {1.1, "PT1.1S"},
        {1.23456, "PT1.235S"},
        {59.999, "PT59.999S"},
        {59.9996, "PT1M0S"}, // rounding carries into the minutes
        {60, "PT1M0S"},
        {65.5, "PT1M5.5S"},
        {3599.999, "PT59M59.999S"},
        {3600, "PT1H0M0S"},
        {3603, "PT1H0M3S"},
        {3660.01, "PT1H1M0.01S"},
        {93660, "PT26H1M0S"}, // hours are not folded into days
        {-1, "PT0S"},
        {-0.5, "PT0S"},
        {1e15, "PT277777777777H46M40S"},
        {1e300, "PT277777777777H46M40S"}, // clamped
    };
    for (const auto &c : cases) {
        std::string got = iso8601_duration(c.seconds);
        if (got != c.expected)
            fail_msg("iso8601_duration(%.17g) = \"%s\", expected \"%s\"", c.seconds, got.c_str(),
                     c.expected);
    }
}

void iso8601_duration_non_finite_is_zero(void **) {
    assert_str_eq(iso8601_duration(std::nan("")), "PT0S");
    assert_str_eq(iso8601_duration(HUGE_VAL), "PT0S");
    assert_str_eq(iso8601_duration(-HUGE_VAL), "PT0S");
}

// ---- Accept ----

const char *type_text(MediaType t) {
    return t == MediaType::json ? "json" : t == MediaType::xml ? "xml" : "none";
}

void negotiate_table(void **) {
    static const struct {
        const char *accept;
        MediaType expected;
    } cases[] = {
        // The brief's examples.
        {"application/xml", MediaType::xml},
        {"application/json, application/xml;q=0.9", MediaType::json},
        {"application/xml, application/json;q=0.5", MediaType::xml},
        {"text/html", MediaType::none},
        {"text/html, */*;q=0.1", MediaType::json},
        {"*/*", MediaType::json},
        {"application/*;q=0, application/xml", MediaType::xml},
        // Absent or blank: anything goes.
        {"", MediaType::json},
        {"  ", MediaType::json},
        {" , ,", MediaType::json},
        // Plain types and aliases.
        {"application/json", MediaType::json},
        {"text/xml", MediaType::xml},
        {"application/*", MediaType::json},
        {"*", MediaType::json},
        {"text/*", MediaType::none},
        {"image/png, text/plain", MediaType::none},
        // Case and whitespace.
        {"APPLICATION/XML", MediaType::xml},
        {"Text/XML", MediaType::xml},
        {"  application/xml  ;  q=0.9 ,application/json ; q = 0.8 ", MediaType::xml},
        {"application/xml;Q=0.9, application/json;q=0.8", MediaType::xml},
        {"\tapplication/xml\t", MediaType::xml},
        // Weights.
        {"application/xml;q=1, application/json;q=1", MediaType::json}, // tie: json
        {"application/xml, application/json", MediaType::json},
        {"application/json;q=0.5, application/xml;q=0.5", MediaType::json},
        {"application/json;q=0.001, application/xml;q=0", MediaType::json},
        {"application/json;q=0.1, application/xml;q=0.2", MediaType::xml},
        {"text/xml;q=0.3, application/json;q=0.2", MediaType::xml},
        {"application/json;q=1.000", MediaType::json},
        {"application/json;q=0", MediaType::none},
        {"application/json;q=0.000", MediaType::none},
        {"*/*;q=0", MediaType::none},
        {"application/xml;q=0, application/json;q=0", MediaType::none},
        // Specificity: exact beats type/* beats */*, both ways.
        {"application/json;q=0, */*", MediaType::xml},
        {"application/xml;q=0, */*", MediaType::json},
        {"application/xml, */*;q=0", MediaType::xml},
        {"application/*, application/json;q=0.4", MediaType::xml},
        {"*/*;q=0.9, application/*;q=0.2, application/json", MediaType::json},
        {"*/*, application/*;q=0.2", MediaType::json}, // 0.2 each: tie
        {"*/*;q=0.5, application/*;q=0.2, text/xml;q=0.3", MediaType::xml},
        // Among equally specific ranges the highest q counts.
        {"application/xml;q=0.5, application/xml;q=0.9, application/json;q=0.8", MediaType::xml},
        {"text/xml;q=0.1, application/xml;q=0.9, application/json;q=0.8", MediaType::xml},
        // Other parameters are ignored; q still applies.
        {"application/json;charset=utf-8", MediaType::json},
        {"application/json;charset=utf-8;q=0.1, application/xml;q=0.2", MediaType::xml},
        {"application/xml;q=0.9;level=1, application/json;q=0.8", MediaType::xml},
        {"application/json;novalue, application/xml;q=0.5", MediaType::json},
        // Unparsable q: the entry is ignored.
        {"application/xml;q=abc", MediaType::none},
        {"application/xml;q=abc, application/json;q=0.1", MediaType::json},
        {"application/xml;q=, application/json;q=0.1", MediaType::json},
        {"application/xml;q, application/json;q=0.1", MediaType::json},
        {"application/xml;q=1.5, application/json;q=0.1", MediaType::json},
        {"application/xml;q=-0.5, application/json;q=0.1", MediaType::json},
        {"application/xml;q=0.5x, application/json;q=0.1", MediaType::json},
        {"application/xml;q=\"0.5\", application/json;q=0.1", MediaType::json},
        {"application/xml;q=.5, application/json;q=0.1", MediaType::json},
        // Malformed ranges are ignored.
        {"application", MediaType::none},
        {"/json", MediaType::none},
        {"application/", MediaType::none},
        {"application/json/x", MediaType::none},
        {";q=1", MediaType::none},
        {"application, application/xml;q=0.3", MediaType::xml},
        // Near misses are not matches.
        {"application/jsonx", MediaType::none},
        {"application/xml-dtd", MediaType::none},
        {"applications/*", MediaType::none},
        {"text/json", MediaType::none},
    };
    for (const auto &c : cases) {
        MediaType got = negotiate_media_type(c.accept);
        if (got != c.expected)
            fail_msg("negotiate_media_type(\"%s\") = %s, expected %s", c.accept, type_text(got),
                     type_text(c.expected));
    }
}

void negotiate_null_is_json(void **) {
    assert_true(negotiate_media_type(nullptr) == MediaType::json);
}

void media_type_names(void **) {
    assert_string_equal(media_type_name(MediaType::json), "application/json");
    assert_string_equal(media_type_name(MediaType::xml), "application/xml");
    assert_string_equal(media_type_name(MediaType::none), "");
}

// ---- JSON to XML ----

void xml_has_prolog_and_root(void **) {
    JsonPtr o(json_object());
    assert_str_eq(json_to_xml(o.get(), "launch"),
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<launch/>");
    assert_str_eq(json_to_xml(nullptr, "launch"),
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<launch/>");
}

void xml_object_members_become_elements_in_order(void **) {
    assert_str_eq(xml_of("{\"id\":\"abc\",\"port\":9000,\"nested\":{\"z\":1,\"a\":2}}", "launch"),
                  "<launch><id>abc</id><port>9000</port><nested><z>1</z><a>2</a></nested>"
                  "</launch>");
}

void xml_scalars(void **) {
    assert_str_eq(xml_of("{\"t\":true,\"f\":false,\"n\":null}", "r"),
                  "<r><t>true</t><f>false</f><n/></r>");
    assert_str_eq(xml_of("{\"i\":-7,\"big\":9007199254740993,\"zero\":0}", "r"),
                  "<r><i>-7</i><big>9007199254740993</big><zero>0</zero></r>");
    // Reals exactly as json_to_string (and so the JSON answer) prints them.
    assert_str_eq(xml_of("{\"a\":0.5,\"b\":1.0,\"c\":-2.25}", "r"),
                  "<r><a>0.5</a><b>1.0</b><c>-2.25</c></r>");
    JsonPtr tenth(json_real(0.1));
    assert_str_eq(xml_of("{\"x\":0.1}", "r"), "<r><x>" + json_to_string(tenth.get()) + "</x></r>");
    // A scalar at the top.
    assert_str_eq(xml_of("\"hello\"", "message"), "<message>hello</message>");
    assert_str_eq(xml_of("3", "count"), "<count>3</count>");
    assert_str_eq(xml_of("null", "nothing"), "<nothing/>");
}

void xml_empty_values_are_empty_elements(void **) {
    assert_str_eq(xml_of("{\"s\":\"\",\"o\":{},\"a\":[],\"n\":null}", "r"),
                  "<r><s/><o/><a/><n/></r>");
    assert_str_eq(xml_of("[]", "launches"), "<launches/>");
}

void xml_array_items_are_named_by_singular(void **) {
    static const struct {
        const char *key, *item;
    } cases[] = {
        {"arguments", "argument"}, {"status", "property"}, {"logEntries", "logEntry"},
        {"launches", "launch"},    {"files", "file"},      {"other", "item"},
        {"argument", "item"},      {"Files", "item"},      {"logentries", "item"},
    };
    for (const auto &c : cases) {
        std::string json = std::string("{\"") + c.key + "\":[\"x\",2]}";
        std::string k(c.key), i(c.item);
        assert_str_eq(xml_of(json.c_str(), "r"), "<r><" + k + "><" + i + ">x</" + i + "><" + i +
                                                     ">2</" + i + "></" + k + "></r>");
    }
}

void xml_array_of_objects_and_nested_arrays(void **) {
    assert_str_eq(
        xml_of("{\"launches\":[{\"id\":\"a\",\"files\":[\"f1\"]},{\"id\":\"b\"}]}", "queue"),
        "<queue><launches><launch><id>a</id><files><file>f1</file></files></launch>"
        "<launch><id>b</id></launch></launches></queue>");
    assert_str_eq(xml_of("{\"m\":[[1,2],[],[null]]}", "r"),
                  "<r><m><item><item>1</item><item>2</item></item><item/>"
                  "<item><item/></item></m></r>");
    assert_str_eq(xml_of("{\"status\":[{\"name\":\"cpu\",\"value\":3}]}", "launch"),
                  "<launch><status><property><name>cpu</name><value>3</value></property>"
                  "</status></launch>");
}

void xml_top_level_array_uses_singular_of_root(void **) {
    assert_str_eq(xml_of("[{\"id\":\"a\"},{\"id\":\"b\"}]", "launches"),
                  "<launches><launch><id>a</id></launch><launch><id>b</id></launch></launches>");
    assert_str_eq(xml_of("[1,\"two\",true]", "values"),
                  "<values><item>1</item><item>two</item><item>true</item></values>");
    assert_str_eq(xml_of("[\"-v\"]", "arguments"),
                  "<arguments><argument>-v</argument></arguments>");
}

void xml_valid_names_are_kept(void **) {
    assert_str_eq(xml_of("{\"a\":1,\"_b\":2,\"C.d-e_9\":3,\"xm\":4,\"x\":5,\"Xylophone\":6}", "r"),
                  "<r><a>1</a><_b>2</_b><C.d-e_9>3</C.d-e_9><xm>4</xm><x>5</x>"
                  "<Xylophone>6</Xylophone></r>");
}

void xml_invalid_keys_become_entry_elements(void **) {
    static const struct {
        const char *key_json, *attribute;
    } cases[] = {
        {"", ""},
        {"1abc", "1abc"},
        {"-a", "-a"},
        {".a", ".a"},
        {"xml", "xml"},
        {"XMLfoo", "XMLfoo"},
        {"xMl-data", "xMl-data"},
        {"a b", "a b"},
        {"ns:tag", "ns:tag"},
        {"caf\\u00e9", "caf\xC3\xA9"},
        {"<script>", "&lt;script&gt;"},
        {"a\\\"b", "a&quot;b"},
        {"it's", "it&apos;s"},
        {"x&y", "x&amp;y"},
        {"a>b", "a&gt;b"},
        {"]]>", "]]&gt;"},
        {"a/><evil/><b", "a/&gt;&lt;evil/&gt;&lt;b"},
        {"\\\" injected=\\\"1", "&quot; injected=&quot;1"},
        {"tab\\there", "tab&#9;here"},
        {"line\\nbreak", "line&#10;break"},
        {"cr\\rhere", "cr&#13;here"},
        {"bell\\u0007", "bell\xEF\xBF\xBD"},
    };
    for (const auto &c : cases) {
        std::string json = std::string("{\"") + c.key_json + "\":\"v\"}";
        assert_str_eq(xml_of(json.c_str(), "r"),
                      std::string("<r><entry name=\"") + c.attribute + "\">v</entry></r>");
    }
    // A NUL in a key (jansson's parser refuses it, its setters do not).
    assert_str_eq(xml_of_raw(std::string("nul\0in", 6), "v"),
                  "<r><entry name=\"nul" + kFFFD + "in\">v</entry></r>");
    // Values under such keys follow the usual rules; their array items are
    // "item" whatever the key says.
    assert_str_eq(xml_of("{\"my key\":{\"1\":null,\"ok\":[true]}}", "r"),
                  "<r><entry name=\"my key\"><entry name=\"1\"/><ok><item>true</item></ok>"
                  "</entry></r>");
    assert_str_eq(xml_of("{\"files \":[1]}", "r"),
                  "<r><entry name=\"files \"><item>1</item></entry></r>");
}

void xml_invalid_root_becomes_entry(void **) {
    assert_str_eq(xml_of("{\"a\":1}", "xml"), "<entry name=\"xml\"><a>1</a></entry>");
    assert_str_eq(xml_of("[1]", "two words"), "<entry name=\"two words\"><item>1</item></entry>");
    assert_str_eq(xml_of("null", ""), "<entry name=\"\"/>");
}

void xml_text_is_escaped(void **) {
    assert_str_eq(xml_of("{\"v\":\"a&b <c> \\\"d\\\" 'e'\"}", "r"),
                  "<r><v>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;</v></r>");
    assert_str_eq(xml_of("{\"v\":\"]]>\"}", "r"), "<r><v>]]&gt;</v></r>");
    assert_str_eq(xml_of("{\"v\":\"<![CDATA[x]]>\"}", "r"), "<r><v>&lt;![CDATA[x]]&gt;</v></r>");
    assert_str_eq(xml_of("{\"v\":\"&amp;\"}", "r"), "<r><v>&amp;amp;</v></r>");
    assert_str_eq(xml_of("{\"v\":\"</v><x>\"}", "r"), "<r><v>&lt;/v&gt;&lt;x&gt;</v></r>");
}

void xml_whitespace_and_control_characters(void **) {
    // TAB and LF stay literal in text; CR becomes a reference (parsers turn
    // a literal CR into LF); other C0 controls and NUL become U+FFFD.
    assert_str_eq(xml_of("{\"v\":\"a\\tb\\nc\\rd\"}", "r"), "<r><v>a\tb\nc&#13;d</v></r>");
    assert_str_eq(xml_of("{\"v\":\"\\u0001\\u0008\\u000b\\u000c\\u001f\"}", "r"),
                  "<r><v>" + kFFFD + kFFFD + kFFFD + kFFFD + kFFFD + "</v></r>");
    assert_str_eq(xml_of("{\"v\":\"a\\u0000b\"}", "r"), "<r><v>a" + kFFFD + "b</v></r>");
    // DEL and C1 controls are XML 1.0 characters and stay.
    assert_str_eq(xml_of("{\"v\":\"\\u007f\\u0085\"}", "r"), "<r><v>\x7F\xC2\x85</v></r>");
    // Non-characters XML forbids.
    assert_str_eq(xml_of("{\"v\":\"\\ufffe\\uffff\\ufffd\"}", "r"),
                  "<r><v>" + kFFFD + kFFFD + kFFFD + "</v></r>");
}

void xml_valid_utf8_is_kept(void **) {
    assert_str_eq(xml_of_raw("k", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF "
                                  "\xED\x9F\xBF \xEE\x80\x80"),
                  "<r><k>caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF "
                  "\xED\x9F\xBF \xEE\x80\x80</k></r>");
}

void xml_invalid_utf8_becomes_replacement(void **) {
    const std::string R = kFFFD;
    static const struct {
        std::string in, out;
    } cases[] = {
        {"\xFF", R},
        {"a\xFE"
         "b",
         "a" + R + "b"},
        {"\x80", R},         // lone continuation byte
        {"\xBF\x80", R + R}, // two of them
        {"\xC3", R},         // truncated at the end
        {"\xC3"
         "A",
         R + "A"},       // truncated before ASCII
        {"\xE2\x82", R}, // truncated three-byte: one U+FFFD
        {"\xE2\x82"
         "A",
         R + "A"},
        {"\xF0\x9F\x98", R}, // truncated four-byte
        {"\xF0\x9F\x98\xF0\x9F\x98\x80", R + "\xF0\x9F\x98\x80"},
        {"\xC0\xAF", R + R}, // overlong '/'
        {"\xC1\xBF", R + R},
        {"\xE0\x80\xAF", R + R + R},         // overlong three-byte
        {"\xF0\x80\x80\xAF", R + R + R + R}, // overlong four-byte
        {"\xED\xA0\x80", R + R + R},         // UTF-16 surrogate
        {"\xF4\x90\x80\x80", R + R + R + R}, // above U+10FFFF
        {"\xF5\x80\x80\x80", R + R + R + R},
        {"\xC3\xA9\xA9", "\xC3\xA9" + R},
        {"<\xFF>", "&lt;" + R + "&gt;"},
    };
    for (const auto &c : cases) {
        assert_str_eq(xml_of_raw("k", c.in), "<r><k>" + c.out + "</k></r>");
        assert_str_eq(xml_of_raw(c.in, "v"), "<r><entry name=\"" + c.out + "\">v</entry></r>");
    }
}

void xml_deep_nesting_is_cut_off_well_formed(void **) {
    JsonPtr top(json_array());
    json_t *inner = top.get();
    for (int i = 0; i < 3000; ++i) {
        json_t *next = json_array();
        json_array_append_new(inner, next);
        inner = next;
    }
    json_array_append_new(inner, json_string("bottom"));
    std::string doc = json_to_xml(top.get(), "r");
    assert_well_formed(doc);
    assert_not_contains(doc, "bottom");
    size_t items = 0;
    for (size_t p = doc.find("<item>"); p != std::string::npos; p = doc.find("<item>", p + 1))
        ++items;
    assert_int_equal(items, 2047); // levels 1..2047 open; level 2048 is <item/>
    assert_contains(doc, "<item/>");
}

// Deterministic pseudo-random keys and values made of the bytes that cause
// trouble must always give well-formed documents.
void xml_random_bytes_are_always_well_formed(void **) {
    static const char alphabet[] = "<>&\"';:=/ ]x_-.1aX\t\n\r\x01\x1f\x7f\x80\xbf\xc0\xc3\xa9\xe2"
                                   "\x82\xac\xed\xa0\xef\xbf\xbe\xf0\x9f\xf4\x90\xff";
    const size_t alphabet_size = sizeof alphabet - 1;
    uint32_t state = 12345;
    auto next = [&state]() {
        state = state * 1103515245u + 12345u;
        return (state >> 16) & 0x7FFF;
    };
    for (int round = 0; round < 400; ++round) {
        JsonPtr o(json_object());
        for (int m = 0; m < 4; ++m) {
            std::string key, value;
            size_t klen = next() % 8, vlen = next() % 24;
            for (size_t i = 0; i < klen; ++i)
                key += alphabet[next() % alphabet_size];
            for (size_t i = 0; i < vlen; ++i)
                value += next() % 5 == 0 ? char(next() % 256) : alphabet[next() % alphabet_size];
            json_t *arr = json_array();
            json_array_append_new(arr, json_stringn_nocheck(value.data(), value.size()));
            json_object_setn_new_nocheck(o.get(), key.data(), key.size(),
                                         m % 2 ? arr
                                               : json_stringn_nocheck(value.data(), value.size()));
            if (m % 2 == 0)
                json_decref(arr);
        }
        assert_well_formed(json_to_xml(o.get(), "launches"));
    }
}

// The checker above must itself reject broken documents, or the
// well-formedness assertions would prove nothing.
void xml_checker_rejects_broken_documents(void **) {
    static const char *const broken[] = {
        "<r>a&b</r>",
        "<r>a<b</r>",
        "<r>]]></r>",
        "<r></s>",
        "<r>",
        "<r/><r/>",
        "<r>\x01</r>",
        "<r>\xFF</r>",
        "<r>\xC0\xAF</r>",
        "<r>\xED\xA0\x80</r>",
        "<r>\xEF\xBF\xBE</r>",
        "<r a=\"<\"/>",
        "<r a=\"1\" a=\"2\"/>",
        "<r a='1'/>",
        "<r>&#1;</r>",
        "<r>&nbsp;</r>",
        "<1r/>",
        "<r a=\"1\"b=\"2\"/>",
    };
    for (const char *b : broken)
        if (xml_problem(kProlog + b).empty())
            fail_msg("checker accepted %s", b);
    assert_str_eq(xml_problem("<r/>"), "missing prolog");
    assert_str_eq(xml_problem(kProlog + "<r a=\"&#9;&lt;\">x&#13;<s/>&amp;</r>"), "");
}

// ---- urlencoded ----

void urlencoded_table(void **) {
    static const struct {
        std::string in, expected;
    } cases[] = {
        {"", ""},
        {"a=1", "[a]=[1]"},
        {"a=1&b=2", "[a]=[1][b]=[2]"},
        {"a+b=c+d", "[a b]=[c d]"},
        {"%41%62=%7e%7E", "[Ab]=[~~]"},
        {"x=%2B%20+", "[x]=[+  ]"},
        {"x=%3D%26%25", "[x]=[=&%]"},
        {"flag", "[flag]=[]"},
        {"a=", "[a]=[]"},
        {"=v", "[]=[v]"},
        {"=", "[]=[]"},
        {"a=1=2", "[a]=[1=2]"},
        {"a%3Db=c", "[a=b]=[c]"},
        {"&&a=1&&", "[a]=[1]"},
        {"&", ""},
        {"a=1;b=2", "[a]=[1;b=2]"},
        {"k=1&k=2&k=1", "[k]=[1][k]=[2][k]=[1]"},
        {"caf%C3%A9=%e2%82%ac", "[caf\xC3\xA9]=[\xE2\x82\xAC]"},
        {"raw=\xC3\xA9", "[raw]=[\xC3\xA9]"},
        {"v=%FF", "[v]=[\xFF]"},
        {"v=a%0D%0Ab", "[v]=[a\r\nb]"},
    };
    for (const auto &c : cases) {
        Fields f;
        std::string error;
        if (!parse_urlencoded(c.in, &f, &error))
            fail_msg("parse_urlencoded(\"%s\") failed: %s", c.in.c_str(), error.c_str());
        std::string got = fields_text(f);
        if (got != c.expected)
            fail_msg("parse_urlencoded(\"%s\") = %s, expected %s", c.in.c_str(), got.c_str(),
                     c.expected.c_str());
    }
}

void urlencoded_decodes_nul(void **) {
    Fields f;
    assert_true(parse_urlencoded("a%00b=%00", &f, nullptr));
    assert_int_equal(f.size(), 1);
    assert_true(f[0].first == std::string("a\0b", 3));
    assert_true(f[0].second == std::string("\0", 1));
}

void urlencoded_appends(void **) {
    Fields f = {{"from", "query"}};
    assert_true(parse_urlencoded("b=2", &f, nullptr));
    assert_str_eq(fields_text(f), "[from]=[query][b]=[2]");
}

void urlencoded_rejects_malformed_escapes(void **) {
    static const struct {
        const char *in;
        size_t offset;
    } cases[] = {
        {"%", 0},     {"%4", 0},        {"%G1", 0},  {"%1G", 0},   {"a=%zz", 2}, {"a=1&b=%", 6},
        {"a=%-1", 2}, {"x=ok&y=%4", 7}, {"%%41", 0}, {"a=%+1", 2}, {"a=% 1", 2}, {"ab%2", 2},
    };
    for (const auto &c : cases) {
        Fields f = {{"keep", "me"}};
        std::string error;
        if (parse_urlencoded(c.in, &f, &error))
            fail_msg("parse_urlencoded(\"%s\") accepted a malformed escape", c.in);
        assert_str_eq(fields_text(f), "[keep]=[me]");
        assert_str_eq(error, "malformed percent-escape at offset " + std::to_string(c.offset) +
                                 ": '%' must be followed by two hexadecimal digits");
    }
    // A nullptr error is allowed.
    Fields f;
    assert_false(parse_urlencoded("a=%", &f, nullptr));
    assert_int_equal(f.size(), 0);
}

// ---- multipart ----

const char *const kCT = "multipart/form-data; boundary=XyZ";

// Parses `body` with content type `ct`; returns the fields as text, or
// "ERROR: message".
std::string multipart(const std::string &body, const char *ct = kCT) {
    Fields f;
    std::string error;
    if (!parse_multipart(body, ct, &f, &error))
        return "ERROR: " + error;
    return fields_text(f);
}

void multipart_basic_crlf(void **) {
    assert_str_eq(multipart("--XyZ\r\n"
                            "Content-Disposition: form-data; name=\"application\"\r\n"
                            "\r\n"
                            "visualizer\r\n"
                            "--XyZ\r\n"
                            "Content-Disposition: form-data; name=\"memory\"\r\n"
                            "\r\n"
                            "2048\r\n"
                            "--XyZ--\r\n"),
                  "[application]=[visualizer][memory]=[2048]");
}

void multipart_bare_lf(void **) {
    assert_str_eq(multipart("--XyZ\n"
                            "Content-Disposition: form-data; name=\"a\"\n"
                            "\n"
                            "one\n"
                            "--XyZ\n"
                            "Content-Disposition: form-data; name=\"b\"\n"
                            "\n"
                            "two\n"
                            "--XyZ--"),
                  "[a]=[one][b]=[two]");
    // Mixed line ends.
    assert_str_eq(multipart("--XyZ\r\n"
                            "Content-Disposition: form-data; name=\"a\"\n"
                            "\r\n"
                            "one\n"
                            "--XyZ--\n"),
                  "[a]=[one]");
}

void multipart_content_type_variants(void **) {
    const std::string body = "--a b'c\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n"
                             "--a b'c--\r\n";
    assert_str_eq(multipart(body, "multipart/form-data; boundary=\"a b'c\""), "[x]=[1]");
    assert_str_eq(multipart(body, "Multipart/Form-Data;BOUNDARY=\"a b'c\";charset=utf-8"),
                  "[x]=[1]");
    assert_str_eq(multipart(body, "multipart/form-data; charset=\"x;y\"; boundary=\"a b'c\""),
                  "[x]=[1]");
    assert_str_eq(multipart(body, "multipart/form-data; boundary=\"a b\\'c\""), "[x]=[1]");
    const std::string plain = "--abc\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n"
                              "--abc--";
    assert_str_eq(multipart(plain, "multipart/form-data;boundary=abc"), "[x]=[1]");
    assert_str_eq(multipart(plain, "multipart/form-data; boundary = abc ; foo=bar"), "[x]=[1]");
    // The boundary compares exactly: "ABC" is a different boundary.
    assert_contains(multipart(plain, "multipart/form-data; boundary=ABC"), "ERROR: ");
}

void multipart_preamble_and_epilogue_are_ignored(void **) {
    assert_str_eq(multipart("This is a preamble.\r\n--XyZ is not here\r\n"
                            "--XyZ\r\n"
                            "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
                            "1\r\n"
                            "--XyZ--\r\n"
                            "epilogue\r\n--XyZ\r\nContent-Disposition: form-data; name=b\r\n\r\n"
                            "2\r\n--XyZ--\r\n"),
                  "[a]=[1]");
}

void multipart_names_and_filenames(void **) {
    assert_str_eq(
        multipart("--XyZ\r\n"
                  "content-disposition: FORM-DATA; filename=\"n.txt\"; name=\"upload\"\r\n"
                  "Content-Type: text/plain\r\n"
                  "\r\n"
                  "file body\r\n"
                  "--XyZ\r\n"
                  "Content-Disposition: form-data; name=\"a\\\"b\\\\c\"\r\n\r\n"
                  "q\r\n"
                  "--XyZ\r\n"
                  "Content-Disposition: form-data; name=plain\r\n\r\n"
                  "t\r\n"
                  "--XyZ\r\n"
                  "Content-Disposition: form-data; name=\"semi;colon\"; filename=x\r\n"
                  "\r\n"
                  "s\r\n"
                  "--XyZ\r\n"
                  "Content-Disposition:form-data;name=\"\"\r\n\r\n"
                  "e\r\n"
                  "--XyZ--\r\n"),
        "[upload]=[file body][a\"b\\c]=[q][plain]=[t][semi;colon]=[s][]=[e]");
}

void multipart_values_are_binary_safe(void **) {
    const std::string value("a\0b\r\n\r\n--XyZX\r\n--XyZ-x\r\n\xFF\n-", 27);
    assert_int_equal(value.size(), 27);
    const std::string body = "--XyZ\r\nContent-Disposition: form-data; name=\"bin\"; "
                             "filename=\"b.dat\"\r\n\r\n" +
                             value + "\r\n--XyZ--\r\n";
    Fields f;
    std::string error;
    assert_true(parse_multipart(body, kCT, &f, &error));
    assert_int_equal(f.size(), 1);
    assert_str_eq(f[0].first, "bin");
    assert_true(f[0].second == value);
}

void multipart_empty_and_multiline_values(void **) {
    assert_str_eq(multipart("--XyZ\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n"
                            "--XyZ\r\nContent-Disposition: form-data; name=\"m\"\r\n\r\n"
                            "l1\r\nl2\r\n\r\n"
                            "--XyZ--"),
                  "[e]=[][m]=[l1\r\nl2\r\n]");
    // Blank line directly followed by the delimiter: an empty value too.
    assert_str_eq(multipart("--XyZ\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n"
                            "--XyZ--"),
                  "[e]=[]");
}

void multipart_transport_padding(void **) {
    assert_str_eq(multipart("--XyZ  \t\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                            "--XyZ \r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n"
                            "--XyZ--  \r\n"),
                  "[a]=[1][b]=[2]");
}

void multipart_zero_parts(void **) {
    assert_str_eq(multipart("--XyZ--\r\n"), "");
    assert_str_eq(multipart("preamble\r\n--XyZ--"), "");
}

void multipart_appends_only_on_success(void **) {
    Fields f = {{"q", "1"}};
    std::string error;
    assert_true(parse_multipart("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n"
                                "--XyZ--",
                                kCT, &f, &error));
    assert_str_eq(fields_text(f), "[q]=[1][a]=[x]");
    assert_false(parse_multipart("--XyZ\r\nContent-Disposition: form-data; name=b\r\n\r\ny\r\n"
                                 "--XyZ\r\nX: 1\r\n\r\nz\r\n--XyZ--",
                                 kCT, &f, &error));
    assert_str_eq(fields_text(f), "[q]=[1][a]=[x]");
    assert_false(parse_multipart("", "text/plain", &f, nullptr));
}

void multipart_errors(void **) {
    const std::string ok = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--";
    static const struct {
        std::string body;
        const char *ct;
        const char *error;
    } cases[] = {
        {ok, "application/x-www-form-urlencoded", "Content-Type is not multipart/form-data"},
        {ok, "multipart/mixed; boundary=XyZ", "Content-Type is not multipart/form-data"},
        {ok, "multipart/form-data", "multipart/form-data Content-Type has no boundary parameter"},
        {ok, "multipart/form-data; xboundary=XyZ",
         "multipart/form-data Content-Type has no boundary parameter"},
        {ok, "multipart/form-data; boundary=\"XyZ",
         "Content-Type has an unterminated quoted string"},
        {ok, "multipart/form-data; boundary=\"\"",
         "multipart/form-data boundary must be 1 to 70 characters of letters, digits and "
         "'()+_,-./:=? (not ending in a space)"},
        {ok, "multipart/form-data; boundary=\"ab \"",
         "multipart/form-data boundary must be 1 to 70 characters of letters, digits and "
         "'()+_,-./:=? (not ending in a space)"},
        {ok, "multipart/form-data; boundary=a\"b",
         "multipart/form-data boundary must be 1 to 70 characters of letters, digits and "
         "'()+_,-./:=? (not ending in a space)"},
        {"", kCT, "multipart body has no --boundary delimiter line"},
        {"a=1&b=2", kCT, "multipart body has no --boundary delimiter line"},
        {"--XyZ", kCT, "multipart body has no --boundary delimiter line"},
        {"x--XyZ\r\n", kCT, "multipart body has no --boundary delimiter line"},
        {"--XyZX\r\n", kCT, "multipart body has no --boundary delimiter line"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1", kCT,
         "multipart body ends without the closing --boundary-- delimiter"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ", kCT,
         "multipart body ends without the closing --boundary-- delimiter"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ-\r\n", kCT,
         "multipart body ends without the closing --boundary-- delimiter"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ\r\n", kCT,
         "multipart body ends without the closing --boundary-- delimiter"},
        {"--XyZ\r\nContent-Disposition: form-data; filename=\"f\"\r\n\r\n1\r\n--XyZ--", kCT,
         "multipart body: part 1 has no name in its Content-Disposition header"},
        {ok.substr(0, ok.size() - 2) + "\r\nContent-Disposition: form-data\r\n\r\n2\r\n--XyZ--",
         kCT, "multipart body: part 2 has no name in its Content-Disposition header"},
        {"--XyZ\r\nContent-Type: text/plain\r\n\r\n1\r\n--XyZ--", kCT,
         "multipart body: part 1 has no Content-Disposition header with a name"},
        {"--XyZ\r\n\r\n1\r\n--XyZ--", kCT,
         "multipart body: part 1 has no Content-Disposition header with a name"},
        {"--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\n1\r\n--XyZ--", kCT,
         "multipart body: part 1 is not form-data in its Content-Disposition header"},
        {"--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\n1\r\n--XyZ--", kCT,
         "multipart body: part 1 has an unterminated quoted string in its "
         "Content-Disposition header"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n--XyZ--", kCT,
         "multipart body: part 1 has no blank line after its headers"},
        {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n1\r\n--XyZ--", kCT,
         "multipart body: part 1 has no blank line after its headers"},
        {"--XyZ\r\n--XyZ--", kCT, "multipart body: part 1 has no blank line after its headers"},
    };
    for (const auto &c : cases) {
        Fields f;
        std::string error;
        if (parse_multipart(c.body, c.ct, &f, &error))
            fail_msg("parse_multipart accepted \"%s\" with \"%s\"", c.body.c_str(), c.ct);
        assert_int_equal(f.size(), 0);
        assert_str_eq(error, c.error);
    }
}

void multipart_boundary_length_limit(void **) {
    const std::string b70(70, 'b'), b71(71, 'b');
    const std::string body70 =
        "--" + b70 + "\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--" + b70 + "--";
    assert_str_eq(multipart(body70, ("multipart/form-data; boundary=" + b70).c_str()), "[a]=[1]");
    const std::string body71 =
        "--" + b71 + "\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--" + b71 + "--";
    assert_contains(multipart(body71, ("multipart/form-data; boundary=" + b71).c_str()),
                    "ERROR: multipart/form-data boundary must be 1 to 70 characters");
}

std::string many_parts(size_t n) {
    std::string body;
    for (size_t i = 0; i < n; ++i)
        body += "--XyZ\r\nContent-Disposition: form-data; name=\"p" + std::to_string(i) +
                "\"\r\n\r\n" + std::to_string(i) + "\r\n";
    return body + "--XyZ--\r\n";
}

void multipart_part_limit(void **) {
    assert_int_equal(kMaxMultipartParts, 1000);
    Fields f;
    std::string error;
    assert_true(parse_multipart(many_parts(1000), kCT, &f, &error));
    assert_int_equal(f.size(), 1000);
    assert_str_eq(f[999].first, "p999");
    assert_str_eq(f[999].second, "999");
    f.clear();
    assert_false(parse_multipart(many_parts(1001), kCT, &f, &error));
    assert_int_equal(f.size(), 0);
    assert_str_eq(error, "multipart body has more than 1000 parts");
}

// ---- URL encoding ----

void url_encode_path_segment_table(void **) {
    static const struct {
        std::string in, out;
    } cases[] = {
        {"", ""},
        {"abcXYZ019-._~", "abcXYZ019-._~"},
        {"a b", "a%20b"},
        {"a/b", "a%2Fb"},
        {"..", ".."},
        {"%", "%25"},
        {"?#[]@!$&'()*+,;=:", "%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A"},
        {"caf\xC3\xA9", "caf%C3%A9"},
        {std::string("\0\x7f\xff", 3), "%00%7F%FF"},
        {"\r\n", "%0D%0A"},
    };
    for (const auto &c : cases)
        assert_str_eq(url_encode_path_segment(c.in), c.out);
}

} // namespace

int run_launch_format_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iso8601_time_is_utc_with_milliseconds),
        cmocka_unit_test(iso8601_time_truncates_below_a_millisecond),
        cmocka_unit_test(iso8601_time_before_1970_rounds_down),
        cmocka_unit_test(iso8601_duration_table),
        cmocka_unit_test(iso8601_duration_non_finite_is_zero),
        cmocka_unit_test(negotiate_table),
        cmocka_unit_test(negotiate_null_is_json),
        cmocka_unit_test(media_type_names),
        cmocka_unit_test(xml_has_prolog_and_root),
        cmocka_unit_test(xml_object_members_become_elements_in_order),
        cmocka_unit_test(xml_scalars),
        cmocka_unit_test(xml_empty_values_are_empty_elements),
        cmocka_unit_test(xml_array_items_are_named_by_singular),
        cmocka_unit_test(xml_array_of_objects_and_nested_arrays),
        cmocka_unit_test(xml_top_level_array_uses_singular_of_root),
        cmocka_unit_test(xml_valid_names_are_kept),
        cmocka_unit_test(xml_invalid_keys_become_entry_elements),
        cmocka_unit_test(xml_invalid_root_becomes_entry),
        cmocka_unit_test(xml_text_is_escaped),
        cmocka_unit_test(xml_whitespace_and_control_characters),
        cmocka_unit_test(xml_valid_utf8_is_kept),
        cmocka_unit_test(xml_invalid_utf8_becomes_replacement),
        cmocka_unit_test(xml_deep_nesting_is_cut_off_well_formed),
        cmocka_unit_test(xml_random_bytes_are_always_well_formed),
        cmocka_unit_test(xml_checker_rejects_broken_documents),
        cmocka_unit_test(urlencoded_table),
        cmocka_unit_test(urlencoded_decodes_nul),
        cmocka_unit_test(urlencoded_appends),
        cmocka_unit_test(urlencoded_rejects_malformed_escapes),
        cmocka_unit_test(multipart_basic_crlf),
        cmocka_unit_test(multipart_bare_lf),
        cmocka_unit_test(multipart_content_type_variants),
        cmocka_unit_test(multipart_preamble_and_epilogue_are_ignored),
        cmocka_unit_test(multipart_names_and_filenames),
        cmocka_unit_test(multipart_values_are_binary_safe),
        cmocka_unit_test(multipart_empty_and_multiline_values),
        cmocka_unit_test(multipart_transport_padding),
        cmocka_unit_test(multipart_zero_parts),
        cmocka_unit_test(multipart_appends_only_on_success),
        cmocka_unit_test(multipart_errors),
        cmocka_unit_test(multipart_boundary_length_limit),
        cmocka_unit_test(multipart_part_limit),
        cmocka_unit_test(url_encode_path_segment_table),
    };
    return cmocka_run_group_tests_name("launch_format", tests, nullptr, nullptr);
}
