// Session ids and secrets: random bytes from the kernel's CSPRNG, encoded
// URL-safe (base64url without padding).
#pragma once
#include <string>

namespace pvl {

// `bytes` random bytes as base64url, never starting with '-' (tokens are
// passed on command lines); empty string if the kernel refuses.
std::string random_token(size_t bytes);

std::string base64url(const unsigned char *data, size_t len);

// What an id in a URL or map lookup may look like before it touches
// anything: 1 to 64 of [A-Za-z0-9_-].
bool valid_session_id(const char *s, size_t len);
inline bool valid_session_id(const std::string &s) { return valid_session_id(s.data(), s.size()); }

} // namespace pvl
