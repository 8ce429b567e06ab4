#include "text.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace pvl {

Utf8Step utf8_step(std::string_view s, size_t i) {
    const size_t n = s.size();
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80)
        return {true, 1, c};
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; // range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c == 0xE0) {
        len = 3;
        lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
        len = 3;
    } else if (c == 0xED) {
        len = 3;
        hi = 0x9F;
    } else if (c == 0xF0) {
        len = 4;
        lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
        len = 4;
    } else if (c == 0xF4) {
        len = 4;
        hi = 0x8F;
    } else {
        return {false, 1, 0};
    }
    uint32_t cp = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    size_t j = 1;
    while (j < len && i + j < n) {
        const unsigned char d = static_cast<unsigned char>(s[i + j]);
        if (d < (j == 1 ? lo : 0x80) || d > (j == 1 ? hi : 0xBF))
            break;
        cp = (cp << 6) | (d & 0x3F);
        ++j;
    }
    if (j < len)
        return {false, j, 0};
    return {true, len, cp};
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    const auto *p = reinterpret_cast<const unsigned char *>(s.data());
    const size_t n = s.size();
    for (size_t i = 0; i < n;) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            switch (c) {
            case '&':
                out.append("&amp;");
                break;
            case '<':
                out.append("&lt;");
                break;
            case '>':
                out.append("&gt;");
                break;
            case '"':
                out.append("&quot;");
                break;
            case '\'':
                out.append("&#39;");
                break;
            case '\r':
                out.append("&#13;");
                break;
            case '\t':
            case '\n':
            case '\f':
                out.push_back(static_cast<char>(c));
                break;
            default:
                if (c < 0x20 || c == 0x7F)
                    out.append(replacement_character);
                else
                    out.push_back(static_cast<char>(c));
            }
            ++i;
            continue;
        }
        const Utf8Step step = utf8_step(s, i);
        if (!step.valid || (step.code_point >= 0x80 && step.code_point <= 0x9F))
            out.append(replacement_character); // ill-formed, or a C1 control
        else
            out.append(s.substr(i, step.length));
        i += step.length;
    }
    return out;
}

bool parse_iso8601(const char *text, double *out) {
    if (!text)
        return false;
    int y, mo, d, h, mi, s, used = 0;
    if (std::sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) != 6 ||
        used != 19)
        return false;
    double frac = 0;
    const char *p = text + used;
    if (*p == '.') {
        double scale = 0.1;
        for (++p; std::isdigit(static_cast<unsigned char>(*p)); ++p, scale /= 10)
            frac += (*p - '0') * scale;
    }
    if (*p != 'Z' || p[1] != '\0')
        return false;
    struct tm tm;
    std::memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    *out = static_cast<double>(timegm(&tm)) + frac;
    return true;
}

std::string format_age(double seconds) {
    if (!(seconds > 0))
        seconds = 0;
    if (seconds > 1e12)
        seconds = 1e12;
    const long long t = static_cast<long long>(std::floor(seconds));
    const long long d = t / 86400, h = t / 3600 % 24, m = t / 60 % 60, s = t % 60;
    char buf[64];
    if (d > 0)
        std::snprintf(buf, sizeof buf, "%lldd %lldh %lldm", d, h, m);
    else if (h > 0)
        std::snprintf(buf, sizeof buf, "%lldh %lldm %llds", h, m, s);
    else if (m > 0)
        std::snprintf(buf, sizeof buf, "%lldm %llds", m, s);
    else
        std::snprintf(buf, sizeof buf, "%llds", s);
    return buf;
}

} // namespace pvl
