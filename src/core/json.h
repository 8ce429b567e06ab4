// Small RAII helpers around jansson.
#pragma once
#include <jansson.h>

#include <memory>
#include <string>

namespace pvl {

struct JsonDecref {
    void operator()(json_t *j) const { json_decref(j); }
};
using JsonPtr = std::unique_ptr<json_t, JsonDecref>;

// Takes a new reference.
inline JsonPtr json_ref(json_t *j) {
    return JsonPtr(json_incref(j));
}

// Serialises compactly; returns "" for NULL.
std::string json_to_string(const json_t *j);

// Text form of a scalar as it is substituted into templates; false for
// objects, arrays and null.
bool json_scalar_text(const json_t *j, std::string *out);

// A session object, or a launch resource wrapping one ({"launch": {...}}),
// without its "secret": what a reader who is not its owner gets. Anything
// else is returned as is.
std::string without_secret(const std::string &body);

} // namespace pvl
