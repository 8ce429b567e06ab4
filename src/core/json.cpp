#include "json.h"

#include <cstdio>
#include <cstdlib>

namespace pvl {

std::string json_to_string(const json_t *j) {
    if (!j)
        return std::string();
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return std::string();
    std::string out(s);
    std::free(s);
    return out;
}

bool json_scalar_text(const json_t *j, std::string *out) {
    char buf[64];
    switch (json_typeof(j)) {
    case JSON_STRING:
        out->assign(json_string_value(j), json_string_length(j));
        return true;
    case JSON_INTEGER:
        std::snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        *out = buf;
        return true;
    case JSON_REAL:
        // The shortest form that reads back as the same number: 0.1, not
        // 0.10000000000000001.
        for (int precision = 15; precision <= 17; ++precision) {
            std::snprintf(buf, sizeof buf, "%.*g", precision, json_real_value(j));
            if (std::strtod(buf, nullptr) == json_real_value(j))
                break;
        }
        *out = buf;
        return true;
    case JSON_TRUE:
        *out = "true";
        return true;
    case JSON_FALSE:
        *out = "false";
        return true;
    default:
        return false;
    }
}

std::string without_secret(const std::string &body) {
    JsonPtr j(json_loadb(body.data(), body.size(), 0, nullptr));
    if (!json_is_object(j.get()))
        return body;
    const bool had = json_object_del(j.get(), "secret") == 0;
    const bool had_inner = json_object_del(json_object_get(j.get(), "launch"), "secret") == 0;
    return had || had_inner ? json_to_string(j.get()) : body;
}

} // namespace pvl
