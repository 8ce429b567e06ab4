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

std::string random_token(size_t bytes) {
    std::vector<unsigned char> buf(bytes);
    for (;;) {
        size_t got = 0;
        while (got < bytes) {
            ssize_t r = getrandom(buf.data() + got, bytes - got, 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                return std::string();
            }
            got += static_cast<size_t>(r);
        }
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

} // namespace pvl
