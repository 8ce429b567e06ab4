// The ParaViewWeb launcher REST API:
//   POST   <location>       create a session (JSON body, any Content-Type)
//   GET    <location>/<id>  the session object
//   DELETE <location>/<id>  stop the session, answer its object
// and the int:pvsession RewriteMap function. Every answer is JSON, errors
// are {"error": "..."}.
#include "../core/ids.h"
#include "../core/json.h"
#include "../core/launch_plan.h"
#include "daemon_client.h"
#include "glue.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include <cstring>

APLOG_USE_MODULE(pvlaunch);

namespace pvl {
namespace {

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
                      std::string("method ") + r->method + " is not allowed here (allowed: " +
                          allow + ")");
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

apr_off_t body_limit(request_rec *r) {
    apr_off_t limit = server_conf(r->server)->max_body;
    return limit < 0 ? default_max_body : limit;
}

enum class BodyRead { ok, too_large, filter_error };

// Reads the whole body, bounded. On a filter error (LimitRequestBody, a
// broken chunked body...) *filter_status is what the handler must return.
BodyRead read_body(request_rec *r, std::string *out, int *filter_status) {
    const apr_off_t limit = body_limit(r);
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    if (cl && apr_atoi64(cl) > limit)
        return BodyRead::too_large;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    bool seen_eos = false;
    while (!seen_eos) {
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                                         APR_BLOCK_READ, HUGE_STRING_LEN);
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

int create_session(request_rec *r, int launcher) {
    std::string body;
    int filter_status = OK;
    switch (read_body(r, &body, &filter_status)) {
    case BodyRead::too_large:
        r->connection->keepalive = AP_CONN_CLOSE;
        return send_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE,
                          "request body is larger than " + std::to_string(body_limit(r)) +
                              " bytes");
    case BodyRead::filter_error:
        return filter_status; // the input filters decided (e.g. LimitRequestBody)
    case BodyRead::ok:
        break;
    }
    LaunchError err;
    JsonPtr payload = parse_payload(body.data(), body.size(), &err);
    if (!payload)
        return send_error(r, err.status, err.message);
    // Checked here too so that a bad request never costs the daemon a trip.
    std::string app;
    if (!check_payload(*globals().launchers[static_cast<size_t>(launcher)], payload.get(), &app,
                       &err))
        return send_error(r, err.status, err.message);
    JsonPtr req(json_object());
    json_object_set_new(req.get(), "op", json_string("create"));
    json_object_set_new(req.get(), "l", json_integer(launcher));
    json_object_set(req.get(), "payload", payload.get());
    const LauncherConfig &cfg = *globals().launchers[static_cast<size_t>(launcher)];
    int timeout_ms = static_cast<int>((cfg.timeout + globals().stop_grace + 30.0) * 1000.0);
    int status = 0;
    std::string answer;
    CallResult res = daemon_call(r, json_to_string(req.get()), timeout_ms, true, &status, &answer);
    return relay(r, res, status, answer);
}

int session_op(request_rec *r, int launcher, const char *op, const std::string &id) {
    std::string req = std::string("{\"op\":\"") + op + "\",\"l\":" + std::to_string(launcher) +
                      ",\"id\":\"" + id + "\"}";
    int status = 0;
    std::string answer;
    CallResult res = daemon_call(r, req, 30000 + static_cast<int>(globals().stop_grace * 1000),
                                 false, &status, &answer);
    return relay(r, res, status, answer);
}

} // namespace

int rest_handler(request_rec *r) {
    if (!r->handler || std::strcmp(r->handler, "pvlaunch") != 0)
        return DECLINED;
    const int launcher = server_conf(r->server)->launcher;
    if (launcher < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "PVL00104: SetHandler pvlaunch is used but this server has no "
                      "PVLaunchConfig");
        return send_error(r, HTTP_INTERNAL_SERVER_ERROR,
                          "the launcher is not configured (PVLaunchConfig is missing)");
    }
    // The <Location> that set the handler: core records each section's path,
    // and SetHandler being a core directive, that section is the innermost.
    const auto *cd = static_cast<const core_dir_config *>(ap_get_core_module_config(r->per_dir_config));
    std::string base = cd && cd->d && !cd->d_is_fnmatch ? cd->d : "";
    while (!base.empty() && base.back() == '/')
        base.pop_back();
    const std::string uri = r->uri;
    if (uri.compare(0, base.size(), base) != 0)
        return send_error(r, HTTP_NOT_FOUND, "not a launcher URL");
    std::string rest = uri.substr(base.size());
    while (!rest.empty() && rest.back() == '/')
        rest.pop_back();

    if (rest.empty()) {
        if (r->method_number == M_POST)
            return create_session(r, launcher);
        return method_not_allowed(r, "POST");
    }
    if (rest[0] != '/')
        return send_error(r, HTTP_NOT_FOUND, "not a launcher URL");
    std::string id = rest.substr(1);
    if (!valid_session_id(id))
        return send_error(r, HTTP_NOT_FOUND, "no session with such an id");
    if (r->method_number == M_GET) {
        std::string body;
        switch (globals().table.body(id.data(), id.size(), launcher, &body)) {
        case SharedTable::Lookup::found:
            return send_json(r, HTTP_OK, body);
        case SharedTable::Lookup::absent:
            return send_error(r, HTTP_NOT_FOUND, "no session with id " + id);
        case SharedTable::Lookup::body_elsewhere:
            return session_op(r, launcher, "get", id);
        }
    }
    if (r->method_number == M_DELETE)
        return session_op(r, launcher, "delete", id);
    return method_not_allowed(r, "GET, HEAD, DELETE");
}

char *rewrite_map_lookup(request_rec *r, char *key) {
    const size_t len = key ? std::strlen(key) : 0;
    if (!key || !valid_session_id(key, len))
        return nullptr;
    std::string route;
    switch (globals().table.route(key, len, &route)) {
    case SharedTable::Lookup::found:
        return apr_pstrmemdup(r->pool, route.data(), route.size());
    case SharedTable::Lookup::absent:
        return nullptr;
    case SharedTable::Lookup::body_elsewhere:
        break; // the daemon was busy writing: ask it
    }
    std::string req = std::string("{\"op\":\"map\",\"id\":\"") + key + "\"}";
    int status = 0;
    std::string answer;
    if (daemon_call(r, req, 5000, false, &status, &answer) != CallResult::ok || status != 200)
        return nullptr;
    return apr_pstrmemdup(r->pool, answer.data(), answer.size());
}

} // namespace pvl
