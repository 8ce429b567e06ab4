// The Status-Location callback URL (seed 004): parsed once, when the request
// comes in, with libcurl's URL parser, the one that will later send to it.
#pragma once
#include <string>

namespace pvl {

struct NotifyUrl {
    std::string normalized; // what libcurl will request
    std::string for_log;    // scheme://host:port/path: no user, query or fragment
};

// An absolute http:// or https:// URL with a host, at most 2048 bytes.
// False with *error set (a sentence for the client) for anything else.
bool parse_notify_url(const std::string &url, NotifyUrl *out, std::string *error);

} // namespace pvl
