#include "protocol.h"

#include "ids.h"

namespace pvl {
namespace {

struct OpName {
    Op op;
    const char *name;
};
constexpr OpName op_names[] = {
    {Op::create, "create"},   {Op::get, "get"},         {Op::del, "delete"},  {Op::list, "list"},
    {Op::reorder, "reorder"}, {Op::logtail, "logtail"}, {Op::watch, "watch"}, {Op::map, "map"},
    {Op::stats, "stats"},     {Op::claim, "claim"},
};

bool takes_launcher(Op op) {
    return op != Op::map && op != Op::stats && op != Op::claim;
}

bool takes_id(Op op) {
    return op == Op::get || op == Op::del || op == Op::logtail || op == Op::watch || op == Op::map;
}

bool fail(std::string *error, const std::string &what) {
    *error = what;
    return false;
}

// An optional string field; false if present with another type.
bool get_string(json_t *obj, const char *key, std::string *out) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        return true;
    if (!json_is_string(v))
        return false;
    out->assign(json_string_value(v), json_string_length(v));
    return true;
}

} // namespace

const char *op_name(Op op) {
    for (const auto &o : op_names)
        if (o.op == op)
            return o.name;
    return "?";
}

std::string encode_request(const ControlRequest &req) {
    JsonPtr j(json_object());
    json_object_set_new(j.get(), "op", json_string(op_name(req.op)));
    if (takes_launcher(req.op))
        json_object_set_new(j.get(), "l", json_integer(req.launcher));
    if (takes_id(req.op))
        json_object_set_new(j.get(), "id", json_stringn(req.id.data(), req.id.size()));
    if (req.op == Op::create) {
        if (req.payload)
            json_object_set(j.get(), "payload", req.payload.get());
        else
            json_object_set_new(j.get(), "payload", json_object());
        json_object_set_new(j.get(), "base", json_stringn(req.base.data(), req.base.size()));
        if (req.async)
            json_object_set_new(j.get(), "async", json_true());
        if (req.form)
            json_object_set_new(j.get(), "form", json_true());
        if (!req.notify.empty())
            json_object_set_new(j.get(), "notify",
                                json_stringn(req.notify.data(), req.notify.size()));
    }
    if (!req.user.empty())
        json_object_set_new(j.get(), "user", json_stringn(req.user.data(), req.user.size()));
    if (req.admin)
        json_object_set_new(j.get(), "admin", json_true());
    if (!req.client.empty())
        json_object_set_new(j.get(), "client", json_stringn(req.client.data(), req.client.size()));
    if (req.op == Op::stats && req.detail)
        json_object_set_new(j.get(), "detail", json_true());
    if (req.op == Op::reorder) {
        json_t *ids = json_array();
        for (const auto &id : req.ids)
            json_array_append_new(ids, json_stringn(id.data(), id.size()));
        json_object_set_new(j.get(), "ids", ids);
        json_object_set_new(j.get(), "direction",
                            json_stringn(req.direction.data(), req.direction.size()));
    }
    return json_to_string(j.get());
}

bool decode_request(const std::string &line, ControlRequest *out, std::string *error) {
    json_error_t jerr;
    JsonPtr j(json_loadb(line.data(), line.size(), 0, &jerr));
    if (!j || !json_is_object(j.get()))
        return fail(error, "malformed control request");
    const char *name = json_string_value(json_object_get(j.get(), "op"));
    if (!name)
        return fail(error, "malformed control request: no op");
    bool known = false;
    for (const auto &o : op_names)
        if (std::string(o.name) == name) {
            out->op = o.op;
            known = true;
        }
    if (!known)
        return fail(error, "unknown control operation");
    if (takes_launcher(out->op)) {
        json_t *l = json_object_get(j.get(), "l");
        if (!json_is_integer(l) || json_integer_value(l) < 0 || json_integer_value(l) > 1000000)
            return fail(error, "malformed control request: no launcher");
        out->launcher = static_cast<int>(json_integer_value(l));
    }
    if (!get_string(j.get(), "id", &out->id))
        return fail(error, "malformed control request: id");
    out->id = canonical_session_id(out->id);
    if (out->op == Op::create) {
        json_t *payload = json_object_get(j.get(), "payload");
        if (!json_is_object(payload))
            return fail(error, "request body must be a JSON object");
        out->payload = json_ref(payload);
        out->async = json_is_true(json_object_get(j.get(), "async"));
        out->form = json_is_true(json_object_get(j.get(), "form"));
        if (!get_string(j.get(), "base", &out->base) ||
            !get_string(j.get(), "notify", &out->notify))
            return fail(error, "malformed control request: base or notify");
    }
    if (!get_string(j.get(), "user", &out->user) || !get_string(j.get(), "client", &out->client))
        return fail(error, "malformed control request: user or client");
    json_t *admin = json_object_get(j.get(), "admin");
    if (admin && !json_is_boolean(admin))
        return fail(error, "malformed control request: admin");
    out->admin = json_is_true(admin);
    out->detail = out->op == Op::stats && json_is_true(json_object_get(j.get(), "detail"));
    if (out->op == Op::reorder) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j.get(), "ids"), i, v) {
            if (!json_is_string(v))
                return fail(error, "malformed control request: ids");
            out->ids.push_back(canonical_session_id(json_string_value(v), json_string_length(v)));
        }
        if (!get_string(j.get(), "direction", &out->direction))
            return fail(error, "malformed control request: direction");
    }
    return true;
}

} // namespace pvl
