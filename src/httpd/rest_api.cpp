// The ParaViewWeb launcher REST API:
//   POST   <location>       create a session (JSON body, any Content-Type)
//   GET    <location>/<id>  the session object
//   DELETE <location>/<id>  stop the session, answer its object
// and the int:pvsession RewriteMap function. Every answer is JSON, errors
// are {"error": "..."}.
//
// Seed 004's launch interface on the same URLs, for clients that ask for it:
//   POST <location> with "Prefer: respond-async" (JSON body), or
//   POST <location>?id=<application> with form fields (multipart or
//        urlencoded) or parameters as headers: answered at once (202 or 200)
//        with Content-Location <location>/<id>; GET and DELETE there give
//        the launch resource (JSON, or XML with Accept: application/xml);
//   "Status-Location: <url>": the daemon POSTs the launch there when it ends;
//   GET <location> (list) and PUT <location>?id=..&direction=.. (reorder
//        the queue): for an administrator authenticated by Apache.
#include "../core/ids.h"
#include "../core/json.h"
#include "../core/launch_format.h"
#include "../core/launch_plan.h"
#include "../core/metrics.h"
#include "../core/protocol.h"
#include "../core/template.h"
#include "daemon_client.h"
#include "glue.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <set>
#include <sys/socket.h>
#include <unistd.h>

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

int relay_resource(request_rec *r, CallResult res, int status, const std::string &body) {
    if (res != CallResult::ok)
        return relay(r, res, status, body);
    return send_resource(r, status, body);
}

apr_off_t body_limit(request_rec *r) {
    apr_off_t limit = server_conf(r->server)->max_body;
    return limit < 0 ? default_max_body : limit;
}

} // namespace

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
    // The section core recorded for the request, unless an <If> inside it
    // applied last (then core recorded "*If"): then the longest of our
    // handlers' <Location>s that holds the URI.
    const auto *cd =
        static_cast<const core_dir_config *>(ap_get_core_module_config(r->per_dir_config));
    std::string base = cd && cd->d && !cd->d_is_fnmatch && !cd->r && cd->d[0] == '/' ? cd->d : "";
    if (cd && cd->d && cd->d[0] == '*') {
        const std::string path = r->uri;
        for (const std::string &b : globals().api_bases)
            if ((path == b || path.compare(0, b.size() + 1, b + "/") == 0) &&
                b.size() > base.size())
                base = b;
    }
    while (!base.empty() && base.back() == '/')
        base.pop_back();
    return base;
}

namespace {

// The names an application takes as parameters: the variables its command,
// directory and environment use, and the keys of sanitize rules. Seed 004's
// header parameters are looked up under these names only.
std::set<std::string> app_parameters(const LauncherConfig &cfg, const App &app) {
    std::set<std::string> names;
    VarLookup note = [&names](const std::string &name, std::string *) {
        names.insert(name);
        return false;
    };
    for (const auto &arg : app.cmd)
        substitute(arg, note);
    substitute(app.dir, note);
    for (const auto &kv : app.env)
        substitute(kv.second, note);
    for (const auto &kv : cfg.sanitize)
        names.insert(kv.first);
    for (const char *server : {"host", "port", "id", "secret", "application", "sessionURL"})
        names.erase(server);
    return names;
}

bool has_token(const char *header, const char *token) {
    if (!header)
        return false;
    for (const char *p = header; (p = ap_strcasestr(p, token)); p += std::strlen(token)) {
        const bool starts = p == header || p[-1] == ',' || p[-1] == ' ' || p[-1] == '\t';
        const char end = p[std::strlen(token)];
        if (starts && (end == '\0' || end == ',' || end == ';' || end == ' ' || end == '\t'))
            return true;
    }
    return false;
}

// The seed 004 form interface: ?id=<application> names the service, the
// fields come from a multipart or urlencoded body, or else from headers
// named after the application's parameters. Fills *payload, or answers.
int form_payload(request_rec *r, int launcher, const std::string &app, const std::string &body,
                 JsonPtr *payload) {
    const LauncherConfig &cfg = *globals().launchers[static_cast<size_t>(launcher)];
    Fields fields;
    std::string error;
    const char *ctype = apr_table_get(r->headers_in, "Content-Type");
    const std::string type = ctype ? ctype : "";
    auto is = [&type](const char *media) {
        return strncasecmp(type.c_str(), media, std::strlen(media)) == 0;
    };
    if (is("multipart/form-data")) {
        if (!parse_multipart(body, type, &fields, &error))
            return send_error(r, HTTP_BAD_REQUEST, "bad multipart/form-data body: " + error);
    } else if (is("application/x-www-form-urlencoded")) {
        if (!parse_urlencoded(body, &fields, &error))
            return send_error(r, HTTP_BAD_REQUEST, "bad form body: " + error);
    } else if (!body.empty()) {
        return send_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE,
                          "with ?id=, send the parameters as multipart/form-data, as "
                          "application/x-www-form-urlencoded, or as request headers");
    } else {
        auto it = cfg.apps.find(app);
        if (it != cfg.apps.end())
            for (const std::string &name : app_parameters(cfg, it->second))
                if (const char *v = apr_table_get(r->headers_in, name.c_str()))
                    fields.emplace_back(name, v);
    }
    payload->reset(json_object());
    json_object_set_new(payload->get(), "application", json_stringn(app.data(), app.size()));
    for (const auto &kv : fields) {
        if (kv.first == "application")
            continue;
        json_t *text = std::memchr(kv.second.data(), 0, kv.second.size()) ||
                               std::memchr(kv.first.data(), 0, kv.first.size())
                           ? nullptr
                           : json_stringn(kv.second.data(), kv.second.size());
        if (!text)
            return send_error(r, HTTP_BAD_REQUEST,
                              "form field " + std::string(kv.first.c_str()) +
                                  " is not text (UTF-8 without NUL)");
        json_object_setn_new(payload->get(), kv.first.data(), kv.first.size(), text);
    }
    return OK;
}

int create_session(request_rec *r, int launcher, const std::string &base) {
    const ServerConf *sc = server_conf(r->server);
    if (sc->maintenance == 1)
        return send_error(r, HTTP_SERVICE_UNAVAILABLE,
                          "the launcher is in maintenance; no new sessions are started (running "
                          "sessions are not affected); try again later");
    // The seed 004 form interface is chosen by ?id=<application>.
    // A query that does not parse is no form request (ParaViewWeb clients'
    // queries were always ignored).
    Fields query;
    std::string error;
    if (r->args && !parse_urlencoded(r->args, &query, &error))
        query.clear();
    const std::string *form_app = nullptr;
    for (const auto &kv : query)
        if (kv.first == "id")
            form_app = &kv.second;
    std::string body;
    int filter_status = OK;
    switch (read_body(r, &body, &filter_status, body_limit(r))) {
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
    JsonPtr payload;
    if (form_app) {
        int rc = form_payload(r, launcher, *form_app, body, &payload);
        if (rc != OK || !payload)
            return rc;
    } else {
        payload = parse_payload(body.data(), body.size(), &err);
        if (!payload)
            return send_error(r, err.status, err.message);
    }
    const bool async =
        form_app || has_token(apr_table_get(r->headers_in, "Prefer"), "respond-async");
    const char *notify = apr_table_get(r->headers_in, "Status-Location");
    if (notify && (std::strlen(notify) > 2048 || (strncasecmp(notify, "http://", 7) != 0 &&
                                                  strncasecmp(notify, "https://", 8) != 0)))
        return send_error(r, HTTP_BAD_REQUEST,
                          "Status-Location must be an http:// or https:// URL of at most 2048 "
                          "characters");
    // Checked here too so that a bad request never costs the daemon a trip.
    std::string app;
    if (!check_payload(*globals().launchers[static_cast<size_t>(launcher)], payload.get(), &app,
                       &err))
        return send_error(r, err.status, err.message);
    if (async && negotiate_media_type(apr_table_get(r->headers_in, "Accept")) == MediaType::none)
        return send_error(r, HTTP_NOT_ACCEPTABLE,
                          "the launch is available as application/json or application/xml");
    ControlRequest req;
    req.op = Op::create;
    req.launcher = launcher;
    req.payload = std::move(payload);
    req.base = base;
    req.async = async;
    req.form = form_app != nullptr;
    req.notify = notify ? notify : "";
    const LauncherConfig &cfg = *globals().launchers[static_cast<size_t>(launcher)];
    const QueueOptions q = static_cast<size_t>(launcher) < globals().settings.queues.size()
                               ? globals().settings.queues[static_cast<size_t>(launcher)]
                               : QueueOptions();
    int timeout_ms = static_cast<int>(
        (cfg.timeout + q.max_wait + globals().settings.stop_grace + 30.0) * 1000.0);
    int status = 0;
    std::string answer;
    CallResult res = daemon_call(r, encode_request(req), timeout_ms, !async, &status, &answer);
    if (res == CallResult::ok && async && status == HTTP_ACCEPTED) {
        JsonPtr j(json_loads(answer.c_str(), 0, nullptr));
        const char *id =
            json_string_value(json_object_get(json_object_get(j.get(), "launch"), "id"));
        if (id) {
            apr_table_setn(r->headers_out, "Content-Location",
                           apr_pstrcat(r->pool, base.c_str(), "/",
                                       url_encode_path_segment(id).c_str(), nullptr));
        }
        if (form_app) {
            status = HTTP_OK; // seed 004: 200 with Content-Location
        } else {
            apr_table_setn(r->headers_out, "Preference-Applied", "respond-async");
        }
    }
    return relay_resource(r, res, status, answer);
}

int session_op(request_rec *r, int launcher, Op op, const std::string &id) {
    const std::string req = encode_request(op, launcher, id);
    int status = 0;
    std::string answer;
    CallResult res =
        daemon_call(r, req, 30000 + static_cast<int>(globals().settings.stop_grace * 1000), false,
                    &status, &answer);
    return relay_resource(r, res, status, answer);
}

// GET <location>/<id>/events: the launch's progress as Server-Sent Events
// (state changes, queue position, the ready line), relayed from the daemon
// as they happen, each flushed at once; the stream ends with the launch.
int events_stream(request_rec *r, int launcher, const std::string &id) {
    if (r->method_number != M_GET)
        return method_not_allowed(r, "GET");
    const int fd = daemon_open(r, encode_request(Op::watch, launcher, id));
    if (fd < 0)
        return send_error(r, HTTP_SERVICE_UNAVAILABLE,
                          "the session daemon is not available; try again later");
    const int cfd = client_socket(r);
    std::string in;
    bool started = false;
    int rc = OK;
    for (;;) {
        struct pollfd fds[2] = {{fd, POLLIN, 0}, {cfd, POLLRDHUP, 0}};
        int n = poll(fds, cfd >= 0 ? 2 : 1, 15000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (cfd >= 0 && (fds[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
            break; // the browser went away; closing our end tells the daemon
        if (n == 0) {
            // Keeps proxies from timing the stream out, and finds dead peers.
            if (started && (ap_rputs(": keep-alive\n\n", r) < 0 || ap_rflush(r) != APR_SUCCESS))
                break;
            continue;
        }
        char buf[8192];
        ssize_t got = recv(fd, buf, sizeof buf, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        in.append(buf, static_cast<size_t>(got));
        size_t nl;
        while ((nl = in.find('\n')) != std::string::npos) {
            std::string line = in.substr(0, nl);
            in.erase(0, nl + 1);
            if (!started) {
                // The daemon's answer header: 200 starts the stream; an
                // error comes with a body to relay.
                int status = 0;
                size_t length = 0;
                if (!parse_response_header((line + "\n").c_str(), &status, &length)) {
                    close(fd);
                    return send_error(r, HTTP_BAD_GATEWAY, "bad answer from the session daemon");
                }
                if (status != HTTP_OK) {
                    while (in.size() < length) {
                        got = recv(fd, buf, sizeof buf, 0);
                        if (got <= 0)
                            break;
                        in.append(buf, static_cast<size_t>(got));
                    }
                    close(fd);
                    return send_json(r, status, in.substr(0, length));
                }
                started = true;
                r->status = HTTP_OK;
                ap_set_content_type(r, "text/event-stream");
                apr_table_setn(r->headers_out, "Cache-Control", "no-store");
                apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
                apr_table_setn(r->subprocess_env, "no-gzip", "1");
                if (r->header_only)
                    break;
                ap_rputs(": mod_pvlaunch launch events\n\n", r);
                ap_rflush(r);
                continue;
            }
            JsonPtr ev(json_loadb(line.data(), line.size(), 0, nullptr));
            const char *name = json_string_value(json_object_get(ev.get(), "event"));
            json_t *data = json_object_get(ev.get(), "data");
            if (!name || !data)
                continue;
            std::string text =
                std::string("event: ") + name + "\ndata: " + json_to_string(data) + "\n\n";
            if (ap_rwrite(text.data(), static_cast<int>(text.size()), r) < 0 ||
                ap_rflush(r) != APR_SUCCESS) {
                close(fd);
                return OK;
            }
        }
        if (r->header_only && started)
            break;
    }
    close(fd);
    if (!started)
        rc = send_error(r, HTTP_SERVICE_UNAVAILABLE,
                        "the session daemon did not answer; try again later");
    return rc;
}

// The queue administration needs a user that Apache authenticated (and
// authorized: the operator's Require lines decide who is an administrator).
// Without authentication configured, the collection answers as it always
// did: only POST is allowed there.
int admin_op(request_rec *r, int launcher) {
    if (!r->user) {
        apr_table_setn(r->headers_out, "Allow", "POST");
        return send_error(r, HTTP_METHOD_NOT_ALLOWED,
                          std::string("method ") + r->method +
                              " is not allowed here (allowed: POST); the launch queue "
                              "administration (GET, PUT) needs an administrator authenticated "
                              "by Apache: configure authentication for this location");
    }
    int status = 0;
    std::string answer;
    CallResult res;
    if (r->method_number == M_GET) {
        if (negotiate_media_type(apr_table_get(r->headers_in, "Accept")) == MediaType::none)
            return send_error(r, HTTP_NOT_ACCEPTABLE,
                              "the queue is available as application/json or application/xml");
        res = daemon_call(r, encode_request(Op::list, launcher), 30000, false, &status, &answer);
        return relay_resource(r, res, status, answer);
    }
    Fields query;
    std::string error;
    if (r->args && !parse_urlencoded(r->args, &query, &error))
        return send_error(r, HTTP_BAD_REQUEST, "bad query string: " + error);
    ControlRequest req;
    req.op = Op::reorder;
    req.launcher = launcher;
    bool has_direction = false;
    for (const auto &kv : query) {
        if (kv.first == "id") {
            if (!valid_session_id(kv.second))
                return send_error(r, HTTP_BAD_REQUEST, "no waiting launch with such an id");
            req.ids.push_back(canonical_session_id(kv.second));
        } else if (kv.first == "direction" && !has_direction) {
            has_direction = true;
            req.direction = kv.second;
        }
    }
    if (!has_direction)
        return send_error(r, HTTP_BAD_REQUEST,
                          "the direction parameter is missing (top, up, down or bottom)");
    res = daemon_call(r, encode_request(req), 30000, false, &status, &answer);
    return relay_resource(r, res, status, answer);
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
    const std::string base = handler_base(r);
    const std::string uri = r->uri;
    if (uri.compare(0, base.size(), base) != 0)
        return send_error(r, HTTP_NOT_FOUND, "not a launcher URL");
    std::string rest = uri.substr(base.size());
    while (!rest.empty() && rest.back() == '/')
        rest.pop_back();

    if (rest.empty()) {
        if (r->method_number == M_POST)
            return create_session(r, launcher, base);
        if (r->method_number == M_GET || r->method_number == M_PUT)
            return admin_op(r, launcher);
        return method_not_allowed(r, r->user ? "GET, HEAD, POST, PUT" : "POST");
    }
    if (rest[0] != '/')
        return send_error(r, HTTP_NOT_FOUND, "not a launcher URL");
    std::string id = canonical_session_id(rest.substr(1));
    static const std::string events = "/events";
    if (id.size() > events.size() &&
        id.compare(id.size() - events.size(), events.size(), events) == 0) {
        id.resize(id.size() - events.size());
        if (!valid_session_id(id))
            return send_error(r, HTTP_NOT_FOUND, "no launch with such an id");
        return events_stream(r, launcher, id);
    }
    if (!valid_session_id(id))
        return send_error(r, HTTP_NOT_FOUND, "no session with such an id");
    if (r->method_number == M_GET) {
        std::string body;
        switch (globals().table.body(id.data(), id.size(), launcher, &body)) {
        case SharedTable::Lookup::found:
            return send_json(r, HTTP_OK, body);
        case SharedTable::Lookup::absent:
            // A queued or ended launch lives in the daemon only.
            if (!globals().table.has_elsewhere())
                return send_error(r, HTTP_NOT_FOUND,
                                  "no session with id " + id +
                                      " (it has ended, or the id is wrong)");
            return session_op(r, launcher, Op::get, id);
        case SharedTable::Lookup::body_elsewhere:
            return session_op(r, launcher, Op::get, id);
        }
    }
    if (r->method_number == M_DELETE)
        return session_op(r, launcher, Op::del, id);
    return method_not_allowed(r, "GET, HEAD, DELETE");
}

// The daemon's counters, for the metrics handler and mod_status.
JsonPtr daemon_stats(request_rec *r) {
    int status = 0;
    std::string answer;
    if (globals().launchers.empty() ||
        daemon_call(r, encode_request(Op::stats, 0), 5000, false, &status, &answer) !=
            CallResult::ok ||
        status != 200)
        return JsonPtr();
    return JsonPtr(json_loads(answer.c_str(), 0, nullptr));
}

int metrics_handler(request_rec *r) {
    if (!r->handler || std::strcmp(r->handler, "pvlaunch-metrics") != 0)
        return DECLINED;
    if (r->method_number != M_GET)
        return method_not_allowed(r, "GET, HEAD");
    JsonPtr stats = daemon_stats(r);
    if (!stats)
        return send_error(r, HTTP_SERVICE_UNAVAILABLE,
                          globals().launchers.empty()
                              ? "no PVLaunchConfig is configured, so there are no metrics"
                              : "the session daemon is not available; try again later");
    std::string text = render_prometheus(stats.get());
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, static_cast<apr_off_t>(text.size()));
    if (!r->header_only)
        ap_rwrite(text.data(), static_cast<int>(text.size()), r);
    return OK;
}

int status_section(request_rec *r, int flags) {
    JsonPtr stats = daemon_stats(r);
    const bool short_form = flags & 0x1; // AP_STATUS_SHORT: ?auto
    if (!stats) {
        if (!globals().launchers.empty())
            ap_rputs(short_form ? "PVLaunchDaemon: unavailable\n"
                                : "<hr />\n<h2>mod_pvlaunch</h2>\n<p>The session daemon is not "
                                  "available.</p>\n",
                     r);
        return OK;
    }
    ap_rputs(
        (short_form ? render_status_auto(stats.get()) : render_status_html(stats.get())).c_str(),
        r);
    return OK;
}

char *rewrite_map_lookup(request_rec *r, char *key) {
    const size_t len = key ? std::strlen(key) : 0;
    if (!key || !valid_session_id(key, len))
        return nullptr;
    const std::string id = canonical_session_id(key, len);
    std::string route;
    switch (globals().table.route(id.data(), id.size(), &route)) {
    case SharedTable::Lookup::found:
        return apr_pstrmemdup(r->pool, route.data(), route.size());
    case SharedTable::Lookup::absent:
        return nullptr;
    case SharedTable::Lookup::body_elsewhere:
        break; // the daemon was busy writing: ask it
    }
    const std::string req = encode_request(Op::map, 0, id);
    int status = 0;
    std::string answer;
    if (daemon_call(r, req, 5000, false, &status, &answer) != CallResult::ok || status != 200)
        return nullptr;
    return apr_pstrmemdup(r->pool, answer.data(), answer.size());
}

} // namespace pvl
