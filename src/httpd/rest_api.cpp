// The ParaViewWeb launcher REST API:
//   POST   <location>       create a session (JSON body, any Content-Type)
//   GET    <location>/<id>  the session object
//   DELETE <location>/<id>  stop the session, answer its object
// Every answer is JSON, errors are {"error": "..."}. The progress stream of
// a launch is event_stream.cpp, the RewriteMap rewrite_map.cpp.
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
#include "../core/log.h"
#include "../core/protocol.h"
#include "../core/template.h"
#include "../core/url.h"
#include "daemon_client.h"
#include "glue.h"
#include "request.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include <chrono>
#include <cstring>
#include <linux/sockios.h>
#include <poll.h>
#include <set>
#include <sys/ioctl.h>

APLOG_USE_MODULE(pvlaunch);

namespace pvl {

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
    for (const char *server : {"host", "port", "id", "secret", "application", "sessionURL", "user"})
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

// The client closed its connection while its launch was answered: it
// will never learn the session's id, so nobody could use or stop the
// session. The daemon's answer and the client's going away can cross (the
// daemon_call watch sees one or the other first); this is the other half.
// Only before the answer is sent: a client may close once it has read it.
// The client's socket shows one of `seen` now (without waiting).
bool client_shows(request_rec *r, short seen) {
    const int cfd = client_socket(r);
    struct pollfd p = {cfd, static_cast<short>(POLLIN | POLLRDHUP), 0};
    return cfd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & seen);
}

bool client_hung_up(request_rec *r) {
    return client_shows(r, POLLRDHUP | POLLHUP | POLLERR);
}

// Whether the answer just sent reached the client. Its kernel either
// acknowledges every byte (the answer was in the client's socket before it
// closed) or resets the connection (it had closed: nobody will read the
// answer). A reset comes a round trip after the answer left, so a look
// right after sending can miss it: look until the send queue is empty, at
// most a second. A client that read the answer and closed shows a plain end
// of stream, never a reset. A client's next request carries the
// acknowledgement: it wakes the wait at once. (No server can tell a
// client that closes long after the answer arrived, unread, from one
// that read it: a reset is looked for until 10 ms after the ack.)
bool answer_delivered(request_rec *r) {
    const int cfd = client_socket(r);
    if (cfd < 0)
        return true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    short wake_on = POLLIN;
    for (;;) {
        int unacked = 0;
        const bool empty = ioctl(cfd, SIOCOUTQ, &unacked) != 0 || unacked == 0;
        if (client_shows(r, POLLERR | POLLHUP))
            return false;
        if (std::chrono::steady_clock::now() >= deadline)
            return true;
        if (empty) {
            if (!wake_on)
                return true; // it said more (its next request): it is there
            // A client that closes with the answer unread just after it
            // arrived resets the connection now: give that a moment, unless
            // it says more first (a next request; an end of stream after
            // the acknowledgement means it read everything).
            struct pollfd p = {cfd, POLLIN | POLLRDHUP, 0};
            poll(&p, 1, 10);
            return !client_shows(r, POLLERR | POLLHUP);
        }
        // Acknowledgements wake no poll: look again each millisecond.
        struct pollfd p = {cfd, wake_on, 0};
        if (poll(&p, 1, 1) > 0 && (p.revents & POLLIN))
            wake_on = 0; // unread input stays readable: from now on, a reset wakes
    }
}

int abandoned(request_rec *r, int launcher, const std::string &answer) {
    JsonPtr j(json_loadb(answer.data(), answer.size(), 0, nullptr));
    const char *id = json_string_value(json_object_get(j.get(), "id"));
    const char *app = json_string_value(json_object_get(j.get(), "application"));
    r->connection->keepalive = AP_CONN_CLOSE;
    if (!id)
        return DONE;
    ControlRequest req;
    req.op = Op::del;
    req.launcher = launcher;
    req.id = id;
    ask_as(r, &req, false);
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "PVL00507: %s",
                  audit_line("launch abandoned: the client went away before its answer; "
                             "stopping the session",
                             id, app ? app : "", req.user, req.client)
                      .c_str());
    int status = 0;
    std::string gone;
    daemon_call(r, encode_request(req),
                30000 + static_cast<int>(globals().settings.stop_grace * 1000), false, &status,
                &gone);
    r->connection->aborted = 1;
    return DONE;
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
    NotifyUrl notify_url;
    std::string notify_error;
    if (notify && !parse_notify_url(notify, &notify_url, &notify_error))
        return send_error(r, HTTP_BAD_REQUEST, notify_error);
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
    ask_as(r, &req, false);
    if (req.user.size() > SharedTable::max_owner)
        return send_error(r, HTTP_BAD_REQUEST,
                          "the authenticated user name is longer than " +
                              std::to_string(SharedTable::max_owner) +
                              " bytes: it cannot own a session");
    req.async = async;
    req.form = form_app != nullptr;
    req.notify = notify ? notify_url.normalized : "";
    const LauncherConfig &cfg = *globals().launchers[static_cast<size_t>(launcher)];
    const QueueOptions q = static_cast<size_t>(launcher) < globals().settings.queues.size()
                               ? globals().settings.queues[static_cast<size_t>(launcher)]
                               : QueueOptions();
    int timeout_ms = static_cast<int>(
        (cfg.timeout + q.max_wait + globals().settings.stop_grace + 30.0) * 1000.0);
    int status = 0;
    std::string answer;
    CallResult res = daemon_call(r, encode_request(req), timeout_ms, !async, &status, &answer);
    if (res == CallResult::ok && !async && status == HTTP_OK) {
        if (client_hung_up(r))
            return abandoned(r, launcher, answer);
        // Sent now, so that a client that had gone meanwhile shows: its
        // kernel resets the connection when the answer reaches it.
        const int rc = relay_resource(r, res, status, answer);
        ap_rflush(r);
        if (r->connection->aborted || !answer_delivered(r))
            abandoned(r, launcher, answer);
        return rc;
    }
    if (res == CallResult::ok && status == HTTP_TOO_MANY_REQUESTS) {
        // PVLaunchMaxStarting: the daemon says when to come back.
        JsonPtr j(json_loads(answer.c_str(), 0, nullptr));
        json_t *after = json_object_get(j.get(), "retryAfter");
        if (json_is_integer(after))
            apr_table_set(r->headers_out, "Retry-After",
                          std::to_string(json_integer_value(after)).c_str());
    }
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

// PVLaunchSecretOnGet Off: a session read back (GET) comes without its
// secret, whether it is the session object or a launch resource wrapping it.
bool secret_on_get(request_rec *r) {
    return server_conf(r->server)->secret_on_get != 0;
}

int session_op(request_rec *r, int launcher, Op op, const std::string &id) {
    ControlRequest req;
    req.op = op;
    req.launcher = launcher;
    req.id = id;
    ask_as(r, &req);
    int status = 0;
    std::string answer;
    CallResult res = daemon_call(r, encode_request(req),
                                 30000 + static_cast<int>(globals().settings.stop_grace * 1000),
                                 false, &status, &answer);
    if (op == Op::get && !secret_on_get(r))
        answer = without_secret(answer);
    return relay_resource(r, res, status, answer);
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
    // With PVLaunchAdmin, it decides; without, the location's Require does.
    const bool admin = is_admin(r);
    if (admin_configured(r) && !admin)
        return send_error(r, HTTP_FORBIDDEN,
                          std::string("the launch queue administration (") + r->method +
                              ") is for administrators (PVLaunchAdmin)");
    int status = 0;
    std::string answer;
    CallResult res;
    if (r->method_number == M_GET) {
        if (negotiate_media_type(apr_table_get(r->headers_in, "Accept")) == MediaType::none)
            return send_error(r, HTTP_NOT_ACCEPTABLE,
                              "the queue is available as application/json or application/xml");
        ControlRequest list;
        list.op = Op::list;
        list.launcher = launcher;
        ask_as(r, &list, false);
        list.admin = admin;
        res = daemon_call(r, encode_request(list), 30000, false, &status, &answer);
        return relay_resource(r, res, status, answer);
    }
    Fields query;
    std::string error;
    if (r->args && !parse_urlencoded(r->args, &query, &error))
        return send_error(r, HTTP_BAD_REQUEST, "bad query string: " + error);
    ControlRequest req;
    req.op = Op::reorder;
    req.launcher = launcher;
    ask_as(r, &req, false);
    req.admin = admin;
    bool has_direction = false;
    for (const auto &kv : query) {
        if (kv.first == "id") {
            if (!valid_session_id(kv.second))
                return send_error(r, HTTP_BAD_REQUEST, "no waiting launch with such an id");
            req.ids.push_back(kv.second); // the daemon reads ids in canonical form
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
        std::string body, owner;
        switch (globals().table.body(id.data(), id.size(), launcher, &body, &owner)) {
        case SharedTable::Lookup::found:
            if (owns(r, owner))
                return send_json(r, HTTP_OK, secret_on_get(r) ? body : without_secret(body));
            if (is_admin(r))
                return send_json(r, HTTP_OK, without_secret(body));
            audit_refusal(r, "GET", id, owner);
            return send_error(r, HTTP_NOT_FOUND,
                              "no session with id " + id + " (it has ended, or the id is wrong)");
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

} // namespace pvl
