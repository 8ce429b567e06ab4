// The control protocol between Apache's children and the session daemon, over
// a Unix stream socket, one exchange per connection:
//   request:  one JSON object on one line, e.g. {"op":"get","l":0,"id":"..."}
//             ops: create (with "payload"), get, delete, map
//   response: "<status> <length>\n" followed by <length> bytes of body
#pragma once
#include <cstdio>
#include <string>

namespace pvl {

constexpr size_t max_request_line = 1024 * 1024;

inline std::string frame_response(int status, const std::string &body) {
    return std::to_string(status) + " " + std::to_string(body.size()) + "\n" + body;
}

// Parses "<status> <length>\n"; false if malformed.
inline bool parse_response_header(const char *line, int *status, size_t *length) {
    unsigned long len;
    int st;
    char nl;
    if (std::sscanf(line, "%3d %lu%c", &st, &len, &nl) != 3 || nl != '\n' || st < 100 ||
        st > 599 || len > 64UL * 1024 * 1024)
        return false;
    *status = st;
    *length = len;
    return true;
}

} // namespace pvl
