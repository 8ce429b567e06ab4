// Shared by the handlers: see request.h.
#include "request.h"
#include "../core/json.h"
#include "glue.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "../core/launch_format.h"

#include <cstring>

APLOG_USE_MODULE(pvlaunch);

namespace pvl {

int send_json(request_rec *r, int status, const std::string &body) {
    r->status = status;
    ap_set_content_type(r, "application/json");
    // Session objects carry secrets.
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, static_cast<apr_off_t>(body.size()));
    if (!r->header_only)
        ap_rwrite(body.data(), static_cast<int>(body.size()), r);
    return OK;
}

int send_error(request_rec *r, int status, const std::string &message) {
    JsonPtr j(json_object());
    json_object_set_new(j.get(), "error", json_stringn(message.data(), message.size()));
    return send_json(r, status, json_to_string(j.get()));
}

int method_not_allowed(request_rec *r, const char *allow) {
    apr_table_setn(r->headers_out, "Allow", allow);
    return send_error(r, HTTP_METHOD_NOT_ALLOWED,
                      std::string("method ") + r->method +
                          " is not allowed here (allowed: " + allow + ")");
}

int relay(request_rec *r, CallResult res, int status, const std::string &body) {
    if (res == CallResult::client_gone) {
        r->connection->keepalive = AP_CONN_CLOSE;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "PVL00103: client went away during the launch; launch abandoned");
        return send_error(r, HTTP_SERVICE_UNAVAILABLE, "client went away");
    }
    if (res != CallResult::ok)
        return send_error(r, HTTP_SERVICE_UNAVAILABLE,
                          "the session daemon is not available; try again later");
    return send_json(r, status, body);
}

namespace {

// The daemon wraps seed 004 resources as {"launch": {...}} or {"launches":
// [...]}; they are answered as JSON or XML as the client's Accept asks.
// Anything else (ParaViewWeb session objects, errors) is JSON as before.
int send_resource(request_rec *r, int status, const std::string &body) {
    JsonPtr j(json_loadb(body.data(), body.size(), 0, nullptr));
    const char *root = nullptr;
    json_t *inner = nullptr;
    if (json_is_object(j.get()) && json_object_size(j.get()) == 1) {
        if ((inner = json_object_get(j.get(), "launch")))
            root = "launch";
        else if ((inner = json_object_get(j.get(), "launches")))
            root = "launches";
    }
    if (!root)
        return send_json(r, status, body);
    apr_table_mergen(r->headers_out, "Vary", "Accept");
    MediaType type = negotiate_media_type(apr_table_get(r->headers_in, "Accept"));
    if (type == MediaType::none)
        return send_error(r, HTTP_NOT_ACCEPTABLE,
                          "this resource is available as application/json or application/xml");
    if (type == MediaType::json)
        return send_json(r, status, json_to_string(inner));
    std::string xml = json_to_xml(inner, root);
    r->status = status;
    ap_set_content_type(r, "application/xml");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, static_cast<apr_off_t>(xml.size()));
    if (!r->header_only)
        ap_rwrite(xml.data(), static_cast<int>(xml.size()), r);
    return OK;
}

} // namespace

int relay_resource(request_rec *r, CallResult res, int status, const std::string &body) {
    if (res != CallResult::ok)
        return relay(r, res, status, body);
    return send_resource(r, status, body);
}

apr_off_t body_limit(request_rec *r) {
    apr_off_t limit = server_conf(r->server)->max_body;
    return limit < 0 ? default_max_body : limit;
}

BodyRead read_body(request_rec *r, std::string *out, int *filter_status, apr_off_t limit) {
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    if (cl && apr_atoi64(cl) > limit)
        return BodyRead::too_large;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    bool seen_eos = false;
    while (!seen_eos) {
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ,
                                         HUGE_STRING_LEN);
        if (rv != APR_SUCCESS) {
            *filter_status = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            return BodyRead::filter_error;
        }
        for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = true;
                break;
            }
            const char *data;
            apr_size_t len;
            rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                *filter_status = HTTP_BAD_REQUEST;
                return BodyRead::filter_error;
            }
            out->append(data, len);
            if (static_cast<apr_off_t>(out->size()) > limit)
                return BodyRead::too_large;
        }
        apr_brigade_cleanup(bb);
    }
    return BodyRead::ok;
}

std::string handler_base(request_rec *r) {
    // The longest of our handlers' <Location>s that holds the URI. The
    // section core recorded for the request is not enough: it is the last
    // one merged (a later <Location /> for authentication, say) or "*If"
    // when an <If> inside applied.
    const std::string path = r->uri;
    std::string base;
    bool found = false;
    for (const std::string &b : globals().api_bases)
        if ((path == b || path.compare(0, b.size() + 1, b + "/") == 0 || b.empty()) &&
            (!found || b.size() > base.size())) {
            base = b;
            found = true;
        }
    if (!found) {
        // A <Location> we could not read back (a pattern): core's record.
        const auto *cd =
            static_cast<const core_dir_config *>(ap_get_core_module_config(r->per_dir_config));
        base = cd && cd->d && !cd->d_is_fnmatch && !cd->r && cd->d[0] == '/' ? cd->d : "";
    }
    while (!base.empty() && base.back() == '/')
        base.pop_back();
    return base;
}

} // namespace pvl
