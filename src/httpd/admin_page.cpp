// The HTML admin page (SetHandler pvlaunch-admin), in the spirit of
// mod_proxy_balancer's balancer-manager:
//   GET  <location>           running sessions and the launch queue
//   GET  <location>?log=<id>  the last lines of a running session's log
//   POST <location>           action=stop&id=..           stop a session
//                             action=move&id=..&direction=top|up|down|bottom
// It needs a user that Apache authenticated (the operator's Require lines
// decide who is an administrator), like the REST queue administration.
//
// Everything shown comes from the session daemon's control protocol and is
// HTML-escaped (ids, application names and log text come from clients and
// configuration). The page has no script; its answers forbid framing.
//
// CSRF protection, without any secret shared between Apache's children: a
// GET sets a random pvl_csrf cookie (HttpOnly, SameSite=Strict, Path=the
// location) and puts the same value in every form (double submit). A POST
// is carried out only when its form token equals one of its pvl_csrf
// cookies and its Origin (or, without Origin, its Referer) names this host;
// anything else gets 403. Each action answers 303 back to the page, which
// then shows what happened.
#include "../core/ids.h"
#include "../core/json.h"
#include "../core/launch_format.h"
#include "../core/launch_queue.h"
#include "../core/protocol.h"
#include "../core/text.h"
#include "daemon_client.h"
#include "glue.h"
#include "request.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

APLOG_USE_MODULE(pvlaunch);

namespace pvl {
namespace {

constexpr const char *csrf_cookie = "pvl_csrf";
constexpr size_t csrf_bytes = 32;           // 43 base64url characters
constexpr size_t max_form_bytes = 8 * 1024; // the page's forms are tiny

// ---- text helpers ----------------------------------------------------------

// A path for use in a URL: bytes outside the path characters are
// percent-encoded (then the result is HTML-escaped where it is shown).
std::string escape_path(request_rec *r, const std::string &path) {
    return ap_os_escape_path(r->pool, path.c_str(), 1);
}

std::string url_param(std::string_view value) {
    return url_encode_path_segment(value);
}

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string lower(std::string s) {
    for (char &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool same_token(const std::string &a, const std::string &b) {
    if (a.size() != b.size() || a.empty())
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

// One of the queue's directions (top, up, down, bottom).
bool is_direction(const std::string &d) {
    LaunchQueue::Direction unused;
    return LaunchQueue::parse_direction(d, &unused);
}

const char *json_text(const json_t *obj, const char *key) {
    return json_string_value(json_object_get(obj, key));
}

// ---- the request's context ---------------------------------------------------

// The <Location> the page lives at (forms post there, the cookie's Path),
// or the request's own path when the section is the root or a pattern.
std::string page_path(request_rec *r) {
    const std::string base = handler_base(r);
    return base.empty() ? std::string(r->uri) : base;
}

// The values of every pvl_csrf cookie the request carries.
std::vector<std::string> csrf_cookies(request_rec *r) {
    std::vector<std::string> found;
    apr_table_do(
        [](void *rec, const char *, const char *value) -> int {
            auto *out = static_cast<std::vector<std::string> *>(rec);
            std::string_view v(value);
            while (!v.empty()) {
                size_t end = v.find(';');
                std::string_view piece = v.substr(0, end);
                v = end == std::string_view::npos ? std::string_view() : v.substr(end + 1);
                while (!piece.empty() && (piece.front() == ' ' || piece.front() == '\t'))
                    piece.remove_prefix(1);
                while (!piece.empty() && (piece.back() == ' ' || piece.back() == '\t'))
                    piece.remove_suffix(1);
                const size_t eq = piece.find('=');
                if (eq != std::string_view::npos && piece.substr(0, eq) == csrf_cookie)
                    out->emplace_back(piece.substr(eq + 1));
            }
            return 1;
        },
        &found, r->headers_in, "Cookie", nullptr);
    return found;
}

bool looks_like_csrf_token(const std::string &t) {
    return t.size() == 43 && valid_session_id(t);
}

// host[:port] without the scheme's default port, lower-cased.
std::string normal_authority(std::string authority, const std::string &scheme) {
    authority = lower(authority);
    const std::string dflt = scheme == "https" ? ":443" : scheme == "http" ? ":80" : "";
    if (!dflt.empty() && authority.size() > dflt.size() &&
        authority.compare(authority.size() - dflt.size(), dflt.size(), dflt) == 0)
        authority.erase(authority.size() - dflt.size());
    return authority;
}

// Whether an Origin value or a Referer URL names the host this request was
// sent to (its Host header). Why not, in *why.
bool names_this_host(request_rec *r, const char *url, std::string *why) {
    std::string_view u(url);
    const size_t sep = u.find("://");
    if (sep == std::string_view::npos || sep == 0) {
        *why = "it is not a URL";
        return false;
    }
    const std::string scheme = lower(std::string(u.substr(0, sep)));
    std::string_view rest = u.substr(sep + 3);
    const std::string authority(rest.substr(0, rest.find_first_of("/?#")));
    if (authority.empty() || authority.find('@') != std::string::npos) {
        *why = "it has no plain host";
        return false;
    }
    const char *host = apr_table_get(r->headers_in, "Host");
    std::string own =
        host ? host
             : std::string(ap_get_server_name(r)) + ":" + std::to_string(ap_get_server_port(r));
    // An origin is scheme, host and port: http://h:443 and https://h are two.
    if (scheme != lower(ap_http_scheme(r))) {
        *why = "it names another scheme";
        return false;
    }
    if (normal_authority(authority, scheme) != normal_authority(own, ap_http_scheme(r))) {
        *why = "it names another host";
        return false;
    }
    return true;
}

// ---- answers -----------------------------------------------------------------

const char *page_style =
    "body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f4f6f9}"
    "header{background:#24344d;color:#fff;padding:.8rem 1.5rem}"
    "header h1{margin:0;font-size:1.35em;font-weight:600}"
    "header dl{margin:.4em 0 0;display:flex;flex-wrap:wrap;gap:.2em 1.6em;font-size:.88em}"
    "header dt{opacity:.75}header dt::after{content:':'}header dd{margin:0 0 0 -1.2em}"
    "main{padding:.5rem 1.5rem 1.5rem}h2{font-size:1.1em;margin:1.2em 0 .4em}"
    "table{border-collapse:collapse;background:#fff;min-width:60%;"
    "box-shadow:0 1px 2px rgba(0,0,0,.12)}"
    "th,td{border:1px solid #d5dbe3;padding:.35em .7em;text-align:left;vertical-align:middle}"
    "th{background:#e8edf3;font-weight:600}td.empty{color:#667;font-style:italic}"
    "code{font:13px ui-monospace,monospace}td form{display:inline;margin:0}"
    "button{font:inherit;font-size:.9em;padding:.15em .7em;margin:0 .15em 0 0;cursor:pointer;"
    "border:1px solid #9aa7b8;border-radius:3px;background:#f7f9fb}"
    "button.stop{border-color:#b23b3b;color:#8c1d1d}button:disabled{opacity:.4;cursor:default}"
    ".state{display:inline-block;padding:0 .5em;border-radius:.7em;font-size:.85em;"
    "background:#dfe7f1}.state-running{background:#d3f0d8;color:#135c22}"
    ".state-waiting{background:#fdf0c8;color:#6b4e00}"
    ".message{padding:.5em .9em;border-radius:3px;margin:.8em 0 0}"
    ".message.ok{background:#ddf3e2;border:1px solid #8fcf9d}"
    ".message.error{background:#fbe3e3;border:1px solid #e09c9c}"
    "pre{background:#111821;color:#e6edf3;padding:.8em 1em;overflow:auto;"
    "font:13px/1.45 ui-monospace,monospace;white-space:pre-wrap}"
    "footer{padding:0 1.5rem 1.5rem;font-size:.82em;color:#667}";

void set_safety_headers(request_rec *r) {
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->headers_out, "X-Frame-Options", "DENY");
    // Referer stays on this site: without Origin it is what POST checks.
    apr_table_setn(r->headers_out, "Referrer-Policy", "same-origin");
    apr_table_setn(r->headers_out, "Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
}

// A whole document around `body` (already HTML).
int send_page(request_rec *r, int status, const std::string &title, const std::string &body) {
    std::string html;
    html.reserve(body.size() + 4096);
    html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<link rel=\"icon\" href=\"data:,\">\n"
            "<title>";
    html += html_escape(title);
    html += "</title>\n<style>";
    html += page_style;
    html += "</style>\n</head>\n<body>\n";
    html += body;
    html += "</body>\n</html>\n";
    r->status = status;
    set_safety_headers(r);
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, static_cast<apr_off_t>(html.size()));
    if (!r->header_only)
        ap_rwrite(html.data(), static_cast<int>(html.size()), r);
    return OK;
}

// An error page: a heading, an explanation (plain text) and a link back.
int send_error_page(request_rec *r, int status, const std::string &heading, const std::string &text,
                    bool link_back = true) {
    std::string body = "<header><h1>" + html_escape(heading) + "</h1></header>\n<main>\n<p>" +
                       html_escape(text) + "</p>\n";
    if (link_back)
        body += "<p><a href=\"" + html_escape(escape_path(r, page_path(r))) +
                "\">Back to the admin page</a></p>\n";
    body += "</main>\n";
    return send_page(r, status, heading, body);
}

int see_other(request_rec *r, const std::string &query) {
    const std::string target = escape_path(r, page_path(r)) + "?" + query;
    apr_table_set(r->headers_out, "Location", target.c_str());
    return send_page(r, HTTP_SEE_OTHER, "See other",
                     "<main><p>Done: <a href=\"" + html_escape(target) +
                         "\">back to the admin page</a>.</p></main>\n");
}

// One daemon round trip; nullptr (and an answered error page in *rc) when
// the daemon is not reachable or answered something that is not JSON.
JsonPtr call_daemon(request_rec *r, const std::string &request, int timeout_ms, int *status) {
    std::string answer;
    if (daemon_call(r, request, timeout_ms, false, status, &answer) != CallResult::ok)
        return JsonPtr();
    return JsonPtr(json_loadb(answer.data(), answer.size(), 0, nullptr));
}

int daemon_unavailable(request_rec *r) {
    return send_error_page(r, HTTP_SERVICE_UNAVAILABLE, "Session daemon unavailable",
                           "The session daemon did not answer; try again later (the error log "
                           "says more).");
}

// A request of the page: an administrator's (the handler let only them in).
std::string admin_request(request_rec *r, Op op, int launcher,
                          const std::string &id = std::string()) {
    ControlRequest req;
    req.op = op;
    req.launcher = launcher;
    req.id = id;
    ask_as(r, &req, false);
    req.admin = true;
    return encode_request(req);
}

std::string list_request(request_rec *r, int launcher) {
    return admin_request(r, Op::list, launcher);
}

// ---- the page ------------------------------------------------------------------

std::string status_message(request_rec *r) {
    Fields q;
    if (!r->args || !parse_urlencoded(r->args, &q, nullptr))
        return std::string();
    std::string done, id, direction;
    for (const auto &kv : q) {
        if (kv.first == "done")
            done = kv.second;
        else if (kv.first == "id")
            id = kv.second;
        else if (kv.first == "direction")
            direction = kv.second;
    }
    if (!id.empty() && !valid_session_id(id))
        return std::string();
    const std::string sid = "<code>" + html_escape(id) + "</code>";
    std::string text;
    bool ok = true;
    if (done == "stopped" && !id.empty()) {
        text = "Session " + sid + " was stopped.";
    } else if (done == "moved" && !id.empty() && is_direction(direction)) {
        text = "Launch " + sid + " was moved " +
               (direction == "top" || direction == "bottom" ? "to the " + direction
                                                            : std::string(direction)) +
               ".";
    } else if (done == "gone" && !id.empty()) {
        ok = false;
        text = "Session " + sid + " is not running any more; nothing was stopped.";
    } else if (done == "not-waiting" && !id.empty()) {
        ok = false;
        text = "Launch " + sid + " is not waiting any more; the queue was not changed.";
    } else if (done == "unavailable") {
        ok = false;
        text = "The session daemon did not answer; nothing was changed. Try again later.";
    } else if (done == "failed") {
        ok = false;
        text = "The session daemon refused the action; the error log says more.";
    } else {
        return std::string();
    }
    return std::string("<p id=\"message\" class=\"message ") + (ok ? "ok" : "error") +
           "\" role=\"status\">" + text + "</p>\n";
}

// The hidden fields every form carries.
std::string form_start(const std::string &action_url, const std::string &token, const char *action,
                       const std::string &id) {
    return "<form method=\"post\" action=\"" + action_url +
           "\"><input type=\"hidden\" name=\"csrf\" value=\"" + html_escape(token) +
           "\"><input type=\"hidden\" name=\"action\" value=\"" + action +
           "\"><input type=\"hidden\" name=\"id\" value=\"" + html_escape(id) + "\">";
}

std::string time_cell(const char *iso, double now, const char *label) {
    double t;
    if (!parse_iso8601(iso, &t))
        return "<td>&#8212;</td>";
    return "<td><time datetime=\"" + html_escape(iso) + "\" title=\"" + label + " " +
           html_escape(iso) + "\">" + format_age(now - t) + "</time></td>";
}

// Whose session: the user Apache authenticated for its launch.
std::string owner_cell(json_t *launch) {
    const char *owner = json_text(launch, "owner");
    return owner && *owner ? "<td class=\"owner\">" + html_escape(owner) + "</td>"
                           : std::string("<td class=\"owner\">&#8212;</td>");
}

int show_page(request_rec *r, int launcher) {
    int status = 0;
    JsonPtr list = call_daemon(r, list_request(r, launcher), 30000, &status);
    json_t *launches = json_object_get(list.get(), "launches");
    if (!json_is_array(launches) || status != HTTP_OK)
        return daemon_unavailable(r);
    int stats_status = 0;
    JsonPtr stats = call_daemon(r, encode_request(Op::stats, 0), 5000, &stats_status);
    if (stats_status != HTTP_OK)
        stats.reset();

    // The form token: the browser's own when it has a good one, so that
    // other open tabs keep working; otherwise a new one.
    std::string token;
    for (const std::string &c : csrf_cookies(r))
        if (looks_like_csrf_token(c))
            token = c;
    if (token.empty()) {
        token = random_token(csrf_bytes);
        if (!looks_like_csrf_token(token))
            return send_error_page(r, HTTP_INTERNAL_SERVER_ERROR, "No random token",
                                   "The kernel did not provide random bytes for the form "
                                   "token; try again.",
                                   false);
        const bool https = std::strcmp(ap_http_scheme(r), "https") == 0;
        apr_table_add(r->headers_out, "Set-Cookie",
                      apr_pstrcat(r->pool, csrf_cookie, "=", token.c_str(),
                                  "; Path=", escape_path(r, page_path(r)).c_str(),
                                  "; HttpOnly; SameSite=Strict", https ? "; Secure" : "", nullptr));
    }

    const std::string self = html_escape(escape_path(r, page_path(r)));
    const double now = now_seconds();
    const char *server_name = ap_get_server_name(r);
    std::string body;
    body += "<header>\n<h1>mod_pvlaunch sessions on " + html_escape(server_name) + "</h1>\n<dl>";
    body += "<dt>Server</dt><dd>" + html_escape(ap_get_server_banner()) + "</dd>";
    body += "<dt>Signed in as</dt><dd id=\"user\">" + html_escape(r->user) + "</dd>";
    if (stats) {
        json_t *up = json_object_get(stats.get(), "uptime_seconds");
        if (json_is_number(up))
            body += "<dt>Session daemon up</dt><dd>" + format_age(json_number_value(up)) + "</dd>";
        json_t *free_ports = json_object_get(stats.get(), "ports_free");
        json_t *total = json_object_get(stats.get(), "ports_total");
        if (json_is_integer(free_ports) && json_is_integer(total))
            body += "<dt>Free ports (all launchers)</dt><dd>" +
                    std::to_string(json_integer_value(free_ports)) + " of " +
                    std::to_string(json_integer_value(total)) + "</dd>";
        json_t *started = json_object_get(stats.get(), "started");
        if (json_is_integer(started))
            body += "<dt>Launches started</dt><dd>" + std::to_string(json_integer_value(started)) +
                    "</dd>";
    }
    body += "</dl>\n</header>\n<main>\n";
    body += status_message(r);

    std::vector<json_t *> running, waiting;
    size_t i;
    json_t *l;
    json_array_foreach(launches, i, l) {
        const char *state = json_text(l, "state");
        const char *id = json_text(l, "id");
        if (!state || !id)
            continue;
        (std::strcmp(state, "waiting") == 0 ? waiting : running).push_back(l);
    }

    body += "<h2 id=\"sessions-heading\">Sessions (" + std::to_string(running.size()) +
            ")</h2>\n<table id=\"sessions\" aria-labelledby=\"sessions-heading\">\n"
            "<thead><tr><th>Id</th><th>State</th><th>Application</th><th>Owner</th>"
            "<th>Age</th><th>Host:port</th><th>Log</th><th>Action</th></tr></thead>\n<tbody>\n";
    if (running.empty())
        body += "<tr><td class=\"empty\" colspan=\"8\">No running sessions.</td></tr>\n";
    for (json_t *s : running) {
        const std::string id = html_escape(json_text(s, "id"));
        const std::string state = html_escape(json_text(s, "state"));
        const char *service = json_text(s, "service");
        const char *host_port = json_text(s, "hostPort");
        const char *since = json_text(s, "startTime");
        body += "<tr data-id=\"" + id + "\" data-state=\"" + state + "\"><td><code>" + id +
                "</code></td><td><span class=\"state state-" + state + "\">" + state +
                "</span></td><td class=\"app\">" + html_escape(service ? service : "") + "</td>" +
                owner_cell(s) +
                time_cell(since ? since : json_text(s, "requestTime"), now,
                          since ? "started" : "requested") +
                "<td class=\"host-port\">" +
                (host_port && *host_port ? "<code>" + html_escape(host_port) + "</code>"
                                         : std::string("&#8212;")) +
                "</td><td><a class=\"log\" href=\"" + self +
                "?log=" + html_escape(url_param(json_text(s, "id"))) + "\">log tail</a></td><td>" +
                form_start(self, token, "stop", json_text(s, "id")) +
                "<button type=\"submit\" class=\"stop\" title=\"Stop this session (its "
                "processes get SIGTERM, then SIGKILL)\">Stop</button></form></td></tr>\n";
    }
    body += "</tbody>\n</table>\n";

    body += "<h2 id=\"queue-heading\">Launch queue (" + std::to_string(waiting.size()) +
            ")</h2>\n<table id=\"queue\" aria-labelledby=\"queue-heading\">\n"
            "<thead><tr><th>Position</th><th>Id</th><th>Application</th><th>Owner</th>"
            "<th>Waiting</th><th>Move</th></tr></thead>\n<tbody>\n";
    if (waiting.empty())
        body += "<tr><td class=\"empty\" colspan=\"6\">No launch is waiting.</td></tr>\n";
    for (size_t k = 0; k < waiting.size(); ++k) {
        json_t *w = waiting[k];
        const std::string id = html_escape(json_text(w, "id"));
        const char *service = json_text(w, "service");
        json_t *pos = json_object_get(w, "queuePosition");
        const std::string position =
            json_is_integer(pos) ? std::to_string(json_integer_value(pos)) : std::to_string(k + 1);
        const char *first = k == 0 ? " disabled" : "";
        const char *last = k + 1 == waiting.size() ? " disabled" : "";
        body += "<tr data-id=\"" + id + "\" data-state=\"waiting\"><td>" + position +
                "</td><td><code>" + id + "</code></td><td class=\"app\">" +
                html_escape(service ? service : "") + "</td>" + owner_cell(w) +
                time_cell(json_text(w, "requestTime"), now, "requested") + "<td>" +
                form_start(self, token, "move", json_text(w, "id")) +
                "<button type=\"submit\" name=\"direction\" value=\"top\" title=\"Move to the "
                "top of the queue\"" +
                first +
                ">Top</button><button type=\"submit\" name=\"direction\" value=\"up\" "
                "title=\"Move one place up\"" +
                first +
                ">Up</button><button type=\"submit\" name=\"direction\" value=\"down\" "
                "title=\"Move one place down\"" +
                last +
                ">Down</button><button type=\"submit\" name=\"direction\" value=\"bottom\" "
                "title=\"Move to the bottom of the queue\"" +
                last + ">Bottom</button></form></td></tr>\n";
    }
    body += "</tbody>\n</table>\n";
    body += "<p><a href=\"" + self + "\">Reload</a></p>\n</main>\n";
    body += "<footer>Stopping a session ends its processes; the first waiting launch then "
            "starts. Ages count from the start of a session, or from the request of a "
            "waiting launch.</footer>\n";
    return send_page(r, HTTP_OK, std::string("mod_pvlaunch sessions on ") + server_name, body);
}

int show_log(request_rec *r, int launcher, const std::string &id) {
    if (!valid_session_id(id))
        return send_error_page(r, HTTP_NOT_FOUND, "No such session",
                               "There is no running session with that id.");
    int status = 0;
    JsonPtr answer = call_daemon(r, admin_request(r, Op::logtail, launcher, id), 30000, &status);
    if (!answer)
        return daemon_unavailable(r);
    if (status == HTTP_NOT_FOUND)
        return send_error_page(r, HTTP_NOT_FOUND, "No such session",
                               "There is no running session " + id + " (it may have ended).");
    const char *log = json_text(answer.get(), "log");
    if (status != HTTP_OK || !log)
        return daemon_unavailable(r);
    const std::string self = html_escape(escape_path(r, page_path(r)));
    const std::string hid = html_escape(id);
    std::string body =
        "<header><h1>Log of session <code>" + hid + "</code></h1></header>\n<main>\n";
    body += "<p>The last lines of the session's log file:</p>\n<pre id=\"log\">" +
            html_escape(log) + "</pre>\n<p><a href=\"" + self +
            "?log=" + html_escape(url_param(id)) + "\">Reload</a> &#183; <a id=\"back\" href=\"" +
            self + "\">Back to the admin page</a></p>\n</main>\n";
    return send_page(r, HTTP_OK, "Log of session " + id, body);
}

// ---- actions -------------------------------------------------------------------

int refuse(request_rec *r, const std::string &why) {
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "PVL00402: admin page: refused a POST by %s: %s",
                  r->user, why.c_str());
    return send_error_page(r, HTTP_FORBIDDEN, "Request refused",
                           "This request did not come from the admin page (" + why +
                               "), so nothing was changed. Reload the admin page and use its "
                               "buttons.");
}

int do_action(request_rec *r, int launcher) {
    // Same host first: a cross-site form never gets its body read.
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *referer = apr_table_get(r->headers_in, "Referer");
    std::string why;
    if (origin) {
        if (!names_this_host(r, origin, &why))
            return refuse(r, "its Origin " + why);
    } else if (referer) {
        if (!names_this_host(r, referer, &why))
            return refuse(r, "its Referer " + why);
    } else {
        return refuse(r, "it has neither Origin nor Referer");
    }
    const char *ctype = apr_table_get(r->headers_in, "Content-Type");
    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0)
        return send_error_page(r, HTTP_UNSUPPORTED_MEDIA_TYPE, "Unsupported form",
                               "The admin page's actions are application/x-www-form-urlencoded "
                               "forms.");
    std::string text;
    int filter_status = OK;
    switch (read_body(r, &text, &filter_status, max_form_bytes)) {
    case BodyRead::too_large:
        r->connection->keepalive = AP_CONN_CLOSE;
        return send_error_page(r, HTTP_REQUEST_ENTITY_TOO_LARGE, "Form too large",
                               "The admin page's forms are smaller than this.");
    case BodyRead::filter_error:
        return filter_status;
    case BodyRead::ok:
        break;
    }
    Fields form;
    if (!parse_urlencoded(text, &form, nullptr))
        return send_error_page(r, HTTP_BAD_REQUEST, "Bad form", "The form could not be read.");
    std::string token, action, id, direction;
    for (const auto &kv : form) {
        if (kv.first == "csrf")
            token = kv.second;
        else if (kv.first == "action")
            action = kv.second;
        else if (kv.first == "id")
            id = kv.second;
        else if (kv.first == "direction")
            direction = kv.second;
    }
    bool token_ok = false;
    for (const std::string &c : csrf_cookies(r))
        token_ok |= looks_like_csrf_token(c) && same_token(c, token);
    if (!token_ok)
        return refuse(r, token.empty() ? "it carries no form token"
                                       : "its form token does not match its cookie");
    if (!valid_session_id(id))
        return send_error_page(r, HTTP_BAD_REQUEST, "Bad form",
                               "The form does not name a session.");

    int status = 0;
    const std::string qid = "&id=" + url_param(id);
    if (action == "stop") {
        const int timeout = 30000 + static_cast<int>(globals().settings.stop_grace * 1000);
        std::string answer;
        if (daemon_call(r, admin_request(r, Op::del, launcher, id), timeout, false, &status,
                        &answer) != CallResult::ok)
            return see_other(r, "done=unavailable");
        if (status == HTTP_NOT_FOUND)
            return see_other(r, "done=gone" + qid);
        if (status != HTTP_OK)
            return see_other(r, "done=failed");
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "PVL00403: admin page: %s stopped session %s",
                      r->user, id.c_str());
        return see_other(r, "done=stopped" + qid);
    }
    if (action == "move") {
        if (!is_direction(direction))
            return send_error_page(r, HTTP_BAD_REQUEST, "Bad form",
                                   "The direction must be top, up, down or bottom.");
        ControlRequest req;
        req.op = Op::reorder;
        req.launcher = launcher;
        req.ids = {id};
        req.direction = direction;
        ask_as(r, &req, false);
        req.admin = true;
        std::string answer;
        if (daemon_call(r, encode_request(req), 30000, false, &status, &answer) != CallResult::ok)
            return see_other(r, "done=unavailable");
        if (status == HTTP_BAD_REQUEST)
            return see_other(r, "done=not-waiting" + qid);
        if (status != HTTP_OK)
            return see_other(r, "done=failed");
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "PVL00404: admin page: %s moved launch %s %s",
                      r->user, id.c_str(), direction.c_str());
        return see_other(r, "done=moved" + qid + "&direction=" + direction);
    }
    return send_error_page(r, HTTP_BAD_REQUEST, "Bad form", "The action must be stop or move.");
}

} // namespace

int admin_page_handler(request_rec *r) {
    if (!r->handler || std::strcmp(r->handler, "pvlaunch-admin") != 0)
        return DECLINED;
    const int launcher = server_conf(r->server)->launcher;
    if (launcher < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "PVL00401: SetHandler pvlaunch-admin is used but this server has no "
                      "PVLaunchConfig");
        return send_error_page(r, HTTP_INTERNAL_SERVER_ERROR, "Launcher not configured",
                               "The launcher is not configured for this server "
                               "(PVLaunchConfig is missing).",
                               false);
    }
    if (!r->user)
        return send_error_page(r, HTTP_FORBIDDEN, "Authentication required",
                               "The admin page needs an administrator authenticated by Apache: "
                               "configure authentication for this location (AuthType, and "
                               "Require lines naming the administrators).",
                               false);
    if (admin_configured(r) && !is_admin(r))
        return send_error_page(r, HTTP_FORBIDDEN, "Administrators only",
                               "The admin page is for the launcher's administrators "
                               "(PVLaunchAdmin); you are signed in as " +
                                   std::string(r->user) + ".",
                               false);
    if (r->method_number == M_GET) {
        Fields q;
        if (r->args && parse_urlencoded(r->args, &q, nullptr))
            for (const auto &kv : q)
                if (kv.first == "log")
                    return show_log(r, launcher, kv.second);
        return show_page(r, launcher);
    }
    if (r->method_number == M_POST)
        return do_action(r, launcher);
    apr_table_setn(r->headers_out, "Allow", "GET, HEAD, POST");
    return send_error_page(r, HTTP_METHOD_NOT_ALLOWED, "Method not allowed",
                           std::string("The admin page answers GET and POST, not ") + r->method +
                               ".");
}

} // namespace pvl
