#include "regex.h"

#include <re2/re2.h>

namespace pvl {
namespace {

// RE2's budget for one rule: its compiled program and its DFA cache. When
// the cache fills, RE2 falls back to its NFA, which is slower but still
// linear in the value.
constexpr int64_t max_mem = 1 << 20;

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

unsigned long hex_value(char c) {
    if (c >= '0' && c <= '9')
        return static_cast<unsigned long>(c - '0');
    return static_cast<unsigned long>((c | 0x20) - 'a' + 10);
}

bool is_octal(char c) {
    return c >= '0' && c <= '7';
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::string code_point(unsigned long cp) {
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    do {
        hex.insert(hex.begin(), digits[cp % 16]);
        cp /= 16;
    } while (cp);
    return "\\x{" + hex + "}";
}

// Rewrites a pattern in Python's syntax into RE2's with the same meaning,
// refusing what needs backtracking or what RE2 lacks. It works on the lexical
// level only (escapes, classes, groups, quantifiers); RE2 parses the result
// and reports any other syntax error.
//
// Python spellings rewritten:
//   \Z -> \z (end of text); \uXXXX, \UXXXXXXXX and octal escapes -> \x{...};
//   \s, \S -> [[:space:]], [[:^space:]] (RE2's \s lacks \v, Python's has it);
//   [\b] (backspace in a class) -> \x{8}; {,n} and {,} -> {0,n} and {0,};
//   a '{' that Python reads as a literal -> \{; '[' in a class -> \[ (Python
//   has no POSIX classes); (?#comment) -> nothing;
//   the flags a and u are dropped (a means ASCII \d \w \s \b, as RE2 always
//   does; u is Python 3's default).
//
// Along the way it notes what wslink would treat differently (see
// Regex::PythonDifferences). This is a conservative heuristic; a false
// alarm only costs a notice:
//   - prefix match: the pattern's last top-level item is not an end anchor
//     ($, \Z or \z; $ only without the multi-line flag m anywhere), or it
//     has a '|' outside any group;
//   - Unicode escapes: \d \D \w \W \s \S \b \B anywhere (in a class too),
//     unless a global (?a) flag makes Python ASCII-only as well.
class Translator {
  public:
    Translator(const std::string &p, Regex::PythonDifferences *d) : p_(p), d_(d) {}

    bool run(std::string *out, std::string *error) {
        while (i_ < p_.size() && error_.empty()) {
            if (in_class_)
                class_item();
            else
                item();
        }
        if (!error_.empty()) {
            *error = error_;
            return false;
        }
        d_->prefix_match =
            top_alternation_ || end_ == End::none || (end_ == End::dollar && multiline_);
        if (ascii_flag_)
            d_->unicode_escapes.clear();
        *out = std::move(out_);
        return true;
    }

  private:
    enum class End { none, dollar, absolute };

    void fail(size_t at, const std::string &what) {
        if (error_.empty())
            error_ = what + " at offset " + std::to_string(at);
    }
    void needs_backtracking(size_t at, const std::string &what) {
        fail(at, what);
        error_ += " needs a backtracking engine; sanitize rules are matched in linear time "
                  "(RE2) and cannot use it";
    }
    void not_in_re2(size_t at, const std::string &what) {
        fail(at, what);
        error_ += " is not supported by RE2, the linear-time engine of sanitize rules";
    }

    // Something other than a quantifier was written at the current depth.
    void token(End end = End::none) {
        if (depth_ == 0)
            end_ = end;
        after_quantifier_ = false;
    }

    // A quantifier (or a lazy '?' after one, with `repeatable` false) was written.
    void quantifier(bool repeatable) {
        if (depth_ == 0)
            end_ = End::none;
        after_quantifier_ = repeatable;
    }

    void note_escape(char e) {
        std::string name = std::string("\\") + e;
        if (d_->unicode_escapes.find(name) == std::string::npos)
            d_->unicode_escapes += (d_->unicode_escapes.empty() ? "" : " ") + name;
    }

    void item() {
        char c = p_[i_];
        switch (c) {
        case '\\':
            escape();
            break;
        case '[':
            out_ += '[';
            ++i_;
            if (i_ < p_.size() && p_[i_] == '^') {
                out_ += '^';
                ++i_;
            }
            // A ']' right after '[' or '[^' is a literal in both syntaxes.
            if (i_ < p_.size() && p_[i_] == ']') {
                out_ += "\\]";
                ++i_;
            }
            in_class_ = true;
            token();
            break;
        case '(':
            group();
            break;
        case ')':
            if (depth_ > 0)
                --depth_;
            out_ += ')';
            ++i_;
            token();
            break;
        case '|':
            if (depth_ == 0)
                top_alternation_ = true;
            out_ += '|';
            ++i_;
            token();
            break;
        case '$':
            out_ += '$';
            ++i_;
            token(End::dollar);
            break;
        case '*':
        case '+':
        case '?':
            if (after_quantifier_ && c == '+')
                return not_in_re2(i_ - 1, std::string("possessive quantifier ") + p_[i_ - 1] + "+");
            out_ += c;
            ++i_;
            // A '?' after a quantifier makes it lazy, which does not change
            // a whole-value match.
            quantifier(!(after_quantifier_ && c == '?'));
            break;
        case '{':
            brace();
            break;
        default:
            out_ += c;
            ++i_;
            token();
            break;
        }
    }

    // Python's {m}, {m,}, {,n}, {m,n} and {,}; any other '{' is a literal.
    void brace() {
        size_t j = i_ + 1;
        std::string lo, hi;
        bool comma = false;
        while (j < p_.size() && is_digit(p_[j]))
            lo += p_[j++];
        if (j < p_.size() && p_[j] == ',') {
            comma = true;
            ++j;
            while (j < p_.size() && is_digit(p_[j]))
                hi += p_[j++];
        }
        if (j >= p_.size() || p_[j] != '}' || (lo.empty() && !comma)) {
            out_ += "\\{";
            ++i_;
            token();
            return;
        }
        size_t at = i_;
        out_ += "{" + (lo.empty() ? std::string("0") : lo) + (comma ? "," + hi : "") + "}";
        i_ = j + 1;
        quantifier(true);
        if (i_ < p_.size() && p_[i_] == '+')
            not_in_re2(at, "possessive quantifier {...}+");
    }

    void group() {
        size_t at = i_;
        std::string_view rest = std::string_view(p_).substr(i_);
        auto starts = [&](std::string_view s) { return rest.substr(0, s.size()) == s; };
        if (starts("(?#")) {
            size_t close = p_.find(')', i_ + 3);
            if (close == std::string::npos)
                return fail(at, "comment (?# without its ')'");
            i_ = close + 1;
            return;
        }
        token();
        if (starts("(?=") || starts("(?!"))
            return needs_backtracking(at, "lookahead " + std::string(rest.substr(0, 3)));
        if (starts("(?<=") || starts("(?<!"))
            return needs_backtracking(at, "lookbehind " + std::string(rest.substr(0, 4)));
        if (starts("(?P="))
            return needs_backtracking(at, "backreference (?P=name)");
        if (starts("(?("))
            return needs_backtracking(at, "conditional group (?(");
        if (starts("(?>"))
            return not_in_re2(at, "atomic group (?>");
        ++depth_;
        if (starts("(?P<")) {
            out_ += "(?P<";
            i_ += 4;
            return;
        }
        if (!starts("(?")) {
            out_ += '(';
            ++i_;
            return;
        }
        // Flags: (?aiLmsux), (?aiLmsux-imsx:...) and (?:...).
        size_t j = i_ + 2;
        std::string on, off;
        while (j < p_.size() && std::string_view("aiLmsux").find(p_[j]) != std::string_view::npos)
            on += p_[j++];
        if (j < p_.size() && p_[j] == '-') {
            ++j;
            while (j < p_.size() && std::string_view("imsx").find(p_[j]) != std::string_view::npos)
                off += p_[j++];
        }
        if (j >= p_.size() || (p_[j] != ')' && p_[j] != ':')) {
            out_ += "(?"; // not Python's either: RE2 names the problem
            i_ += 2;
            return;
        }
        bool scoped = p_[j] == ':';
        std::string keep_on, keep_off;
        for (char f : on) {
            if (f == 'x')
                return fail(at, "verbose flag (?x) is not supported (write the pattern without "
                                "its spaces and comments)");
            if (f == 'L')
                return fail(at, "locale flag (?L) is for bytes patterns only (Python rejects it "
                                "here too)");
            if (f == 'a' && !scoped)
                ascii_flag_ = true;
            if (f == 'm')
                multiline_ = true;
            if (f != 'a' && f != 'u')
                keep_on += f;
        }
        for (char f : off)
            if (f != 'x')
                keep_off += f;
        std::string flags = keep_on + (keep_off.empty() ? "" : "-" + keep_off);
        i_ = j + 1;
        if (scoped) {
            out_ += "(?" + flags + ":";
        } else {
            --depth_;
            if (!flags.empty())
                out_ += "(?" + flags + ")";
        }
    }

    // \uXXXX or \UXXXXXXXX at i_; returns false after an error.
    bool unicode_escape() {
        size_t len = p_[i_ + 1] == 'u' ? 4 : 8;
        unsigned long cp = 0;
        for (size_t k = 0; k < len; ++k) {
            size_t at = i_ + 2 + k;
            if (at >= p_.size() || !is_hex(p_[at])) {
                fail(i_, std::string("\\") + p_[i_ + 1] + " needs " + std::to_string(len) +
                             " hex digits");
                return false;
            }
            cp = cp * 16 + hex_value(p_[at]);
        }
        out_ += code_point(cp);
        i_ += 2 + len;
        return true;
    }

    // Up to `max_digits` octal digits starting at `from`.
    void octal(size_t from, size_t max_digits) {
        unsigned long v = 0;
        size_t j = from;
        while (j < p_.size() && j - from < max_digits && is_octal(p_[j]))
            v = v * 8 + static_cast<unsigned long>(p_[j++] - '0');
        if (v > 0377)
            return fail(i_, "octal escape " + p_.substr(i_, j - i_) + " is above \\377");
        out_ += code_point(v);
        i_ = j;
    }

    void escape() {
        if (i_ + 1 >= p_.size()) {
            out_ += '\\'; // RE2 reports the trailing backslash
            ++i_;
            return;
        }
        char e = p_[i_ + 1];
        switch (e) {
        case 'Z':
        case 'z':
            out_ += "\\z";
            i_ += 2;
            token(End::absolute);
            return;
        case 's':
        case 'S':
            note_escape(e);
            out_ += e == 's' ? "[[:space:]]" : "[[:^space:]]";
            i_ += 2;
            break;
        case 'd':
        case 'D':
        case 'w':
        case 'W':
        case 'b':
        case 'B':
            note_escape(e);
            out_ += p_.substr(i_, 2);
            i_ += 2;
            break;
        case 'u':
        case 'U':
            if (!unicode_escape())
                return;
            break;
        case '0':
            octal(i_ + 1, 3);
            break;
        default:
            if (is_digit(e)) {
                // Python: three octal digits are a character, else a group number.
                if (i_ + 3 < p_.size() && is_octal(e) && is_octal(p_[i_ + 2]) &&
                    is_octal(p_[i_ + 3])) {
                    octal(i_ + 1, 3);
                    break;
                }
                size_t len = i_ + 2 < p_.size() && is_digit(p_[i_ + 2]) ? 3 : 2;
                return needs_backtracking(i_, "backreference " + p_.substr(i_, len));
            }
            out_ += p_.substr(i_, 2);
            i_ += 2;
            break;
        }
        token();
    }

    void class_item() {
        char c = p_[i_];
        if (c == ']') {
            in_class_ = false;
            out_ += ']';
            ++i_;
            return;
        }
        if (c == '[') { // Python has no POSIX classes: [[:alpha:]] is a set of characters
            out_ += "\\[";
            ++i_;
            return;
        }
        if (c != '\\' || i_ + 1 >= p_.size()) {
            out_ += c;
            ++i_;
            return;
        }
        char e = p_[i_ + 1];
        switch (e) {
        case 'b': // backspace
            out_ += code_point(8);
            i_ += 2;
            return;
        case 's':
        case 'S':
            note_escape(e);
            out_ += e == 's' ? "[:space:]" : "[:^space:]";
            i_ += 2;
            return;
        case 'd':
        case 'D':
        case 'w':
        case 'W':
            note_escape(e);
            break;
        case 'u':
        case 'U':
            unicode_escape();
            return;
        default:
            if (is_octal(e))
                return octal(i_ + 1, 3);
            break;
        }
        out_ += p_.substr(i_, 2);
        i_ += 2;
    }

    const std::string &p_;
    Regex::PythonDifferences *d_;
    std::string out_;
    std::string error_;
    size_t i_ = 0;
    int depth_ = 0;
    bool in_class_ = false;
    bool after_quantifier_ = false;
    bool top_alternation_ = false;
    bool multiline_ = false;
    bool ascii_flag_ = false;
    End end_ = End::none;
};

} // namespace

Regex::Regex() = default;
Regex::~Regex() = default;

bool Regex::compile(const std::string &pattern, std::string *error) {
    re_.reset();
    differences_ = PythonDifferences();
    if (pattern.size() > max_pattern) {
        *error = "pattern is " + std::to_string(pattern.size()) + " bytes, more than " +
                 std::to_string(max_pattern);
        return false;
    }
    std::string translated;
    PythonDifferences differences;
    if (!Translator(pattern, &differences).run(&translated, error))
        return false;
    RE2::Options options;
    options.set_encoding(RE2::Options::EncodingUTF8);
    options.set_log_errors(false);
    options.set_max_mem(max_mem);
    options.set_never_capture(true); // nothing reads the groups
    auto re = std::make_unique<RE2>(translated, options);
    if (!re->ok()) {
        *error = re->error();
        if (re->error_code() == RE2::ErrorPatternTooLarge)
            *error += " (over RE2's memory budget; use smaller repeat counts)";
        return false;
    }
    re_ = std::move(re);
    differences_ = differences;
    return true;
}

bool Regex::full_match(std::string_view s) const {
    return re_ && RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *re_);
}

} // namespace pvl
