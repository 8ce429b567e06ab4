#include "settings.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pvl {
namespace {

// Length-prefixed, so that no two different field lists give one text.
void put(std::string *out, const std::string &field) {
    *out += std::to_string(field.size());
    *out += ':';
    *out += field;
}

std::string exact(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

} // namespace

std::string Settings::identity() const {
    std::string out;
    for (const std::string *s : {&socket_path, &state_path, &app_user, &app_group})
        put(&out, *s);
    for (double v : {stop_grace, keep_finished, idle_timeout, max_lifetime, claim_window})
        put(&out, exact(v));
    for (size_t v : {streams_total, streams_per_launch, streams_per_client, max_starting})
        put(&out, std::to_string(v));
    put(&out, std::to_string(queues.size()));
    for (const auto &q : queues) {
        put(&out, std::to_string(q.max_length));
        put(&out, exact(q.max_wait));
    }
    put(&out, std::to_string(pass_env.size()));
    for (const auto &kv : pass_env) {
        put(&out, kv.first);
        put(&out, kv.second);
    }
    return out;
}

bool parse_seconds(const char *text, double max, bool positive, double *out) {
    // strtod would also take spaces, a sign, hex and "inf": only decimals here.
    if (!text || !*text || std::strspn(text, "0123456789.") != std::strlen(text))
        return false;
    char *end = nullptr;
    errno = 0;
    const double v = std::strtod(text, &end);
    if (*end || errno || !std::isfinite(v) || v < 0 || v > max || (positive && v == 0))
        return false;
    *out = v;
    return true;
}

bool parse_count(const char *text, long long min, long long max, long long *out) {
    const char *digits = text && *text == '-' ? text + 1 : text;
    if (!digits || !*digits || std::strspn(digits, "0123456789") != std::strlen(digits))
        return false;
    char *end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text, &end, 10);
    if (*end || errno || v < min || v > max)
        return false;
    *out = v;
    return true;
}

} // namespace pvl
