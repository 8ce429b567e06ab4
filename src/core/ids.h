// Session ids and secrets: random bytes from the kernel's CSPRNG. Secrets
// are base64url without padding; session ids are lowercase hex, because
// trame's web client lower-cases the whole sessionURL before it connects.
#pragma once
#include <string>

namespace pvl {

// `bytes` random bytes as base64url, never starting with '-' (tokens are
// passed on command lines); empty string if the kernel refuses.
std::string random_token(size_t bytes);

std::string base64url(const unsigned char *data, size_t len);

// A new session id: 128 bits from the CSPRNG as 32 lowercase hex digits;
// empty string if the kernel refuses.
std::string random_id();

// What an id in a URL or map lookup may look like before it touches
// anything: 1 to 64 of [A-Za-z0-9_-].
bool valid_session_id(const char *s, size_t len);
inline bool valid_session_id(const std::string &s) {
    return valid_session_id(s.data(), s.size());
}

// The form ids are stored and looked up in: ASCII lower case, so that an id
// is found whatever case a client turned it into. A valid id stays valid.
std::string canonical_session_id(const char *s, size_t len);
// The same into `out` (len bytes), for callers on a hot path.
void canonical_session_id(const char *s, size_t len, char *out);
inline std::string canonical_session_id(const std::string &s) {
    return canonical_session_id(s.data(), s.size());
}

} // namespace pvl
