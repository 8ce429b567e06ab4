#include "launch_format.h"

#include "json.h"
#include "text.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <initializer_list>

namespace pvl {

namespace {

char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char &c : out)
        c = ascii_lower(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    return true;
}

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (is_blank(s.front()) || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (is_blank(s.back()) || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void set_error(std::string *error, std::string message) {
    if (error)
        *error = std::move(message);
}

// ---- Accept ----

// A q value as RFC 9110 has it, a little more lenient: digits, optionally
// '.' and more digits, at most 1. False for anything else.
bool parse_qvalue(std::string_view s, double *q) {
    size_t i = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
        ++i;
    if (i == 0)
        return false;
    if (i < s.size()) {
        if (s[i] != '.')
            return false;
        for (++i; i < s.size(); ++i)
            if (s[i] < '0' || s[i] > '9')
                return false;
    }
    double value = std::strtod(std::string(s).c_str(), nullptr);
    if (!(value >= 0 && value <= 1))
        return false;
    *q = value;
    return true;
}

// How specifically `range` (lower case) names one of the `exact` types or
// `wildcard` ("<main type>/*"): 2 for an exact type, 1 for the wildcard, 0
// for "*/*", -1 for no match.
int match_specificity(const std::string &range, std::initializer_list<const char *> exact,
                      const char *wildcard) {
    for (const char *type : exact)
        if (range == type)
            return 2;
    if (range == wildcard)
        return 1;
    return range == "*/*" ? 0 : -1;
}

struct Candidate {
    int specificity = -1;
    double q = 0;

    void consider(int spec, double entry_q) {
        if (spec < 0 || spec < specificity)
            return;
        if (spec > specificity)
            q = entry_q;
        else if (entry_q > q)
            q = entry_q;
        specificity = spec;
    }
};

// ---- XML ----

bool valid_xml_name(std::string_view name) {
    if (name.empty())
        return false;
    char c0 = name[0];
    if (!((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z') || c0 == '_'))
        return false;
    for (char c : name)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    return !(name.size() >= 3 && iequals(name.substr(0, 3), "xml"));
}

const char *singular(std::string_view key) {
    static const struct {
        const char *plural, *single;
    } table[] = {{"arguments", "argument"},
                 {"status", "property"},
                 {"logEntries", "logEntry"},
                 {"launches", "launch"},
                 {"files", "file"}};
    for (const auto &entry : table)
        if (key == entry.plural)
            return entry.single;
    return "item";
}

// Appends `s` as XML character data (or, with `attribute`, as the content of
// a double-quoted attribute value): escaped, and with every character XML
// 1.0 cannot carry replaced by U+FFFD.
void append_xml_text(std::string *out, std::string_view s, bool attribute) {
    size_t i = 0;
    const size_t n = s.size();
    while (i < n) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '&':
                *out += "&amp;";
                break;
            case '<':
                *out += "&lt;";
                break;
            case '>':
                *out += "&gt;";
                break;
            case '"':
                *out += "&quot;";
                break;
            case '\'':
                *out += "&apos;";
                break;
            case '\r': // parsers turn a literal CR into LF
                *out += "&#13;";
                break;
            case '\t': // attribute value normalisation turns these into spaces
            case '\n':
                if (attribute)
                    *out += c == '\t' ? "&#9;" : "&#10;";
                else
                    *out += char(c);
                break;
            default:
                if (c < 0x20)
                    *out += replacement_character;
                else
                    *out += char(c);
            }
            ++i;
            continue;
        }
        const Utf8Step step = utf8_step(s, i);
        // U+FFFE and U+FFFF are the only valid sequences XML 1.0 forbids.
        if (!step.valid || step.code_point == 0xFFFE || step.code_point == 0xFFFF)
            *out += replacement_character; // one per maximal invalid subsequence
        else
            out->append(s.data() + i, step.length);
        i += step.length;
    }
}

constexpr int kMaxXmlDepth = 2048;

bool is_empty_value(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return json_object_size(v) == 0;
    case JSON_ARRAY:
        return json_array_size(v) == 0;
    case JSON_STRING:
        return json_string_length(v) == 0;
    case JSON_NULL:
        return true;
    default:
        return false;
    }
}

void append_element(std::string *out, std::string_view key, const json_t *v, int depth) {
    const bool named = valid_xml_name(key);
    *out += '<';
    if (named) {
        out->append(key.data(), key.size());
    } else {
        *out += "entry name=\"";
        append_xml_text(out, key, true);
        *out += '"';
    }
    if (!v || depth >= kMaxXmlDepth || is_empty_value(v)) {
        *out += "/>";
        return;
    }
    *out += '>';
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        // jansson's iteration API is not const-correct; nothing is modified.
        json_t *object = const_cast<json_t *>(v);
        for (void *it = json_object_iter(object); it; it = json_object_iter_next(object, it)) {
            std::string_view child_key(json_object_iter_key(it), json_object_iter_key_len(it));
            append_element(out, child_key, json_object_iter_value(it), depth + 1);
        }
        break;
    }
    case JSON_ARRAY: {
        const char *item = singular(key);
        for (size_t k = 0; k < json_array_size(v); ++k)
            append_element(out, item, json_array_get(v, k), depth + 1);
        break;
    }
    case JSON_STRING:
        append_xml_text(out, std::string_view(json_string_value(v), json_string_length(v)), false);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        *out += json_to_string(v);
        break;
    case JSON_TRUE:
        *out += "true";
        break;
    case JSON_FALSE:
        *out += "false";
        break;
    case JSON_NULL:
        break;
    }
    *out += "</";
    *out += named ? key : std::string_view("entry");
    *out += '>';
}

// ---- Header parameters ----

struct HeaderValue {
    std::string type; // lower case, e.g. "multipart/form-data"
    Fields params;    // names lower case, quoted strings unquoted
};

// Parses `type; name=value; name="quoted \" value"`. Parameters without
// '=' are skipped. False only for an unterminated quoted string.
bool parse_header_value(std::string_view s, HeaderValue *out) {
    size_t i = s.find(';');
    out->type = lower(trim(s.substr(0, i)));
    out->params.clear();
    while (i < s.size()) {
        ++i; // the ';'
        while (i < s.size() && is_blank(s[i]))
            ++i;
        size_t name_start = i;
        while (i < s.size() && s[i] != '=' && s[i] != ';')
            ++i;
        std::string name = lower(trim(s.substr(name_start, i - name_start)));
        if (i >= s.size() || s[i] == ';')
            continue;
        ++i; // the '='
        while (i < s.size() && is_blank(s[i]))
            ++i;
        std::string value;
        if (i < s.size() && s[i] == '"') {
            bool closed = false;
            for (++i; i < s.size(); ++i) {
                if (s[i] == '\\' && i + 1 < s.size()) {
                    value += s[++i];
                } else if (s[i] == '"') {
                    closed = true;
                    ++i;
                    break;
                } else {
                    value += s[i];
                }
            }
            if (!closed)
                return false;
            while (i < s.size() && s[i] != ';') // ignore anything up to the next ';'
                ++i;
        } else {
            size_t value_start = i;
            while (i < s.size() && s[i] != ';')
                ++i;
            value = std::string(trim(s.substr(value_start, i - value_start)));
        }
        if (!name.empty())
            out->params.emplace_back(std::move(name), std::move(value));
    }
    return true;
}

const std::string *find_param(const HeaderValue &h, std::string_view name) {
    for (const auto &p : h.params)
        if (p.first == name)
            return &p.second;
    return nullptr;
}

// RFC 2046: 1 to 70 of DIGIT ALPHA ' ( ) + _ , - . / : = ? and space, not
// ending in a space.
bool valid_boundary(std::string_view b) {
    if (b.empty() || b.size() > 70 || b.back() == ' ')
        return false;
    for (char c : b)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos))
            return false;
    return true;
}

// Where the next delimiter line ("--boundary" at the start of a line,
// followed by "--" or by blanks and a line end) at or after `from` starts;
// npos if none. *closing tells "--boundary--"; *next is where the line
// after a non-closing delimiter starts.
size_t find_delimiter(std::string_view body, std::string_view dash_boundary, size_t from,
                      bool *closing, size_t *next) {
    for (size_t p = from;; ++p) {
        p = body.find(dash_boundary, p);
        if (p == std::string_view::npos)
            return p;
        if (p > 0 && body[p - 1] != '\n')
            continue;
        size_t q = p + dash_boundary.size();
        if (body.compare(q, 2, "--") == 0) {
            *closing = true;
            *next = body.size();
            return p;
        }
        while (q < body.size() && is_blank(body[q]))
            ++q;
        if (q < body.size() && body[q] == '\r')
            ++q;
        if (q < body.size() && body[q] == '\n') {
            *closing = false;
            *next = q + 1;
            return p;
        }
    }
}

// Splits one part into its form-data name and its content.
bool parse_part(std::string_view part, size_t number, std::string *name, std::string *content,
                std::string *error) {
    const std::string which = "multipart body: part " + std::to_string(number);
    bool have_disposition = false;
    size_t pos = 0;
    std::string_view rest;
    for (;;) {
        size_t nl = part.find('\n', pos);
        if (nl == std::string_view::npos) {
            // Headers, blank line and no CRLF before the next delimiter: the
            // blank line's line end served as the delimiter's.
            if (pos > 0 && pos == part.size()) {
                rest = std::string_view();
                break;
            }
            set_error(error, which + " has no blank line after its headers");
            return false;
        }
        std::string_view line = part.substr(pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.empty()) {
            rest = part.substr(pos);
            break;
        }
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || have_disposition ||
            !iequals(trim(line.substr(0, colon)), "content-disposition"))
            continue;
        have_disposition = true;
        HeaderValue h;
        if (!parse_header_value(line.substr(colon + 1), &h)) {
            set_error(error, which + " has an unterminated quoted string in its "
                                     "Content-Disposition header");
            return false;
        }
        if (h.type != "form-data") {
            set_error(error, which + " is not form-data in its Content-Disposition header");
            return false;
        }
        const std::string *n = find_param(h, "name");
        if (!n) {
            set_error(error, which + " has no name in its Content-Disposition header");
            return false;
        }
        *name = *n;
    }
    if (!have_disposition) {
        set_error(error, which + " has no Content-Disposition header with a name");
        return false;
    }
    content->assign(rest.data(), rest.size());
    return true;
}

} // namespace

// ---- ISO 8601 ----

std::string iso8601_time(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const int64_t ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    int64_t secs = ms / 1000;
    int64_t frac = ms % 1000;
    if (frac < 0) { // round towards the past, not towards 1970
        frac += 1000;
        --secs;
    }
    const time_t tt = static_cast<time_t>(secs);
    struct tm tm {};
    if (!gmtime_r(&tt, &tm))
        return std::string();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(frac));
    return buf;
}

std::string iso8601_duration(double seconds) {
    if (!std::isfinite(seconds) || !(seconds > 0))
        seconds = 0;
    if (seconds > 1e15)
        seconds = 1e15;
    const long long total_ms = std::llround(seconds * 1000);
    const long long hours = total_ms / 3600000;
    const long long minutes = total_ms / 60000 % 60;
    const long long ms = total_ms % 60000;
    std::string out = "PT";
    if (hours > 0)
        out += std::to_string(hours) + "H";
    if (hours > 0 || minutes > 0)
        out += std::to_string(minutes) + "M";
    out += std::to_string(ms / 1000);
    if (ms % 1000) {
        char frac[8];
        std::snprintf(frac, sizeof frac, ".%03d", int(ms % 1000));
        std::string f(frac);
        while (f.back() == '0')
            f.pop_back();
        out += f;
    }
    out += "S";
    return out;
}

// ---- Accept ----

MediaType negotiate_media_type(const char *accept) {
    if (!accept)
        return MediaType::json;
    std::string_view header(accept);
    Candidate json, xml;
    bool any_entry = false;
    size_t start = 0;
    while (start <= header.size()) {
        size_t comma = header.find(',', start);
        if (comma == std::string_view::npos)
            comma = header.size();
        std::string_view entry = header.substr(start, comma - start);
        start = comma + 1;

        size_t semi = entry.find(';');
        std::string range = lower(trim(entry.substr(0, semi)));
        if (range.empty() && trim(entry).empty())
            continue;
        any_entry = true;
        if (range == "*")
            range = "*/*";
        size_t slash = range.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == range.size() ||
            range.find('/', slash + 1) != std::string::npos)
            continue;

        double q = 1;
        bool q_ok = true;
        while (semi != std::string_view::npos) {
            size_t next = entry.find(';', semi + 1);
            std::string_view param =
                entry.substr(semi + 1, next == std::string_view::npos ? std::string_view::npos
                                                                      : next - semi - 1);
            semi = next;
            size_t eq = param.find('=');
            std::string_view name = trim(param.substr(0, eq));
            if (!iequals(name, "q"))
                continue;
            if (eq == std::string_view::npos || !parse_qvalue(trim(param.substr(eq + 1)), &q))
                q_ok = false;
            break; // parameters after q are accept-ext: ignored
        }
        if (!q_ok)
            continue;
        json.consider(match_specificity(range, {"application/json"}, "application/*"), q);
        // text/xml counts as XML, but the answer is labelled application/xml,
        // which "text/*" does not cover.
        xml.consider(match_specificity(range, {"application/xml", "text/xml"}, "application/*"), q);
    }
    if (!any_entry)
        return MediaType::json;
    if (json.q <= 0 && xml.q <= 0)
        return MediaType::none;
    return json.q >= xml.q ? MediaType::json : MediaType::xml;
}

const char *media_type_name(MediaType type) {
    switch (type) {
    case MediaType::json:
        return "application/json";
    case MediaType::xml:
        return "application/xml";
    default:
        return "";
    }
}

// ---- JSON to XML ----

std::string json_to_xml(const json_t *value, const std::string &root) {
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    append_element(&out, root, value, 0);
    return out;
}

// ---- Forms ----

bool parse_urlencoded(std::string_view text, Fields *out, std::string *error) {
    Fields fields;
    size_t start = 0;
    while (start <= text.size()) {
        size_t amp = text.find('&', start);
        if (amp == std::string_view::npos)
            amp = text.size();
        const size_t piece_start = start;
        std::string_view piece = text.substr(start, amp - start);
        start = amp + 1;
        if (piece.empty())
            continue;
        std::string decoded[2];
        int which = 0;
        for (size_t i = 0; i < piece.size(); ++i) {
            char c = piece[i];
            if (c == '=' && which == 0) {
                which = 1;
            } else if (c == '+') {
                decoded[which] += ' ';
            } else if (c == '%') {
                int h1 = i + 1 < piece.size() ? hex_value(piece[i + 1]) : -1;
                int h2 = i + 2 < piece.size() ? hex_value(piece[i + 2]) : -1;
                if (h1 < 0 || h2 < 0) {
                    set_error(error, "malformed percent-escape at offset " +
                                         std::to_string(piece_start + i) +
                                         ": '%' must be followed by two hexadecimal digits");
                    return false;
                }
                decoded[which] += char(h1 * 16 + h2);
                i += 2;
            } else {
                decoded[which] += c;
            }
        }
        fields.emplace_back(std::move(decoded[0]), std::move(decoded[1]));
    }
    out->insert(out->end(), std::make_move_iterator(fields.begin()),
                std::make_move_iterator(fields.end()));
    return true;
}

bool parse_multipart(std::string_view body, std::string_view content_type, Fields *out,
                     std::string *error) {
    HeaderValue ct;
    if (!parse_header_value(content_type, &ct)) {
        set_error(error, "Content-Type has an unterminated quoted string");
        return false;
    }
    if (ct.type != "multipart/form-data") {
        set_error(error, "Content-Type is not multipart/form-data");
        return false;
    }
    const std::string *boundary = find_param(ct, "boundary");
    if (!boundary) {
        set_error(error, "multipart/form-data Content-Type has no boundary parameter");
        return false;
    }
    if (!valid_boundary(*boundary)) {
        set_error(error, "multipart/form-data boundary must be 1 to 70 characters of letters, "
                         "digits and '()+_,-./:=? (not ending in a space)");
        return false;
    }
    const std::string dash_boundary = "--" + *boundary;

    bool closing = false;
    size_t part_start = 0;
    if (find_delimiter(body, dash_boundary, 0, &closing, &part_start) == std::string_view::npos) {
        set_error(error, "multipart body has no --boundary delimiter line");
        return false;
    }
    Fields fields;
    size_t number = 0;
    while (!closing) {
        size_t next_start = 0;
        size_t p = find_delimiter(body, dash_boundary, part_start, &closing, &next_start);
        if (p == std::string_view::npos) {
            set_error(error, "multipart body ends without the closing --boundary-- delimiter");
            return false;
        }
        if (++number > kMaxMultipartParts) {
            set_error(error, "multipart body has more than " + std::to_string(kMaxMultipartParts) +
                                 " parts");
            return false;
        }
        // The line end before the delimiter belongs to the delimiter.
        size_t part_end = p;
        if (part_end > part_start && body[part_end - 1] == '\n')
            --part_end;
        if (part_end > part_start && body[part_end - 1] == '\r')
            --part_end;
        std::string name, content;
        if (!parse_part(body.substr(part_start, part_end - part_start), number, &name, &content,
                        error))
            return false;
        fields.emplace_back(std::move(name), std::move(content));
        part_start = next_start;
    }
    out->insert(out->end(), std::make_move_iterator(fields.begin()),
                std::make_move_iterator(fields.end()));
    return true;
}

std::string url_encode_path_segment(std::string_view s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        const unsigned char c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

} // namespace pvl
