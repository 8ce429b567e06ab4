#include "ids.h"

#include <cerrno>
#include <sys/random.h>
#include <vector>

namespace pvl {

std::string base64url(const unsigned char *data, size_t len) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((len * 4 + 2) / 3);
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned v = data[i] << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        unsigned v = (data[i] << 16) | (data[i + 1] << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
    }
    return out;
}

namespace {

bool random_bytes(unsigned char *buf, size_t bytes) {
    size_t got = 0;
    while (got < bytes) {
        ssize_t r = getrandom(buf + got, bytes - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        got += static_cast<size_t>(r);
    }
    return true;
}

} // namespace

std::string random_id() {
    unsigned char buf[16];
    if (!random_bytes(buf, sizeof buf))
        return std::string();
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * sizeof buf);
    for (unsigned char b : buf) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::string random_token(size_t bytes) {
    std::vector<unsigned char> buf(bytes);
    for (;;) {
        if (!random_bytes(buf.data(), bytes))
            return std::string();
        std::string token = base64url(buf.data(), bytes);
        // Tokens end up on command lines ("--authKey $secret"): one that
        // starts with '-' would be read as an option. Drawing again costs
        // under 0.1 bit of the 128.
        if (token.empty() || token[0] != '-')
            return token;
    }
}

bool valid_session_id(const char *s, size_t len) {
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; ++i) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

void canonical_session_id(const char *s, size_t len, char *out) {
    for (size_t i = 0; i < len; ++i)
        out[i] = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
}

std::string canonical_session_id(const char *s, size_t len) {
    std::string out(len, '\0');
    canonical_session_id(s, len, &out[0]);
    return out;
}

} // namespace pvl
