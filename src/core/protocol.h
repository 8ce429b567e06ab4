// The control protocol between Apache's children and the session daemon, over
// a Unix stream socket, one exchange per connection:
//   request:  one JSON object on one line, e.g. {"op":"get","l":0,"id":"..."}
//             ops: create (with "payload"), get, delete, map
//   response: "<status> <length>\n" followed by <length> bytes of body
#pragma once
#include <cstddef>
#include <string>

namespace pvl {

constexpr size_t max_request_line = 1024 * 1024;

inline std::string frame_response(int status, const std::string &body) {
    return std::to_string(status) + " " + std::to_string(body.size()) + "\n" + body;
}

// Parses "<3-digit status> <decimal length>\n" at the start of `line`
// (the body may follow); false for anything else.
inline bool parse_response_header(const char *line, int *status, size_t *length) {
    int st = 0;
    for (int i = 0; i < 3; ++i) {
        if (line[i] < '0' || line[i] > '9')
            return false;
        st = st * 10 + (line[i] - '0');
    }
    if (line[3] != ' ' || st < 100 || st > 599)
        return false;
    const char *p = line + 4;
    size_t len = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; ++p) {
        len = len * 10 + static_cast<size_t>(*p - '0');
        if (len > 64UL * 1024 * 1024)
            return false;
    }
    if (*p != '\n')
        return false;
    *status = st;
    *length = len;
    return true;
}

} // namespace pvl
