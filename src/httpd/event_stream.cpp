// GET <location>/<id>/events: see events_stream below.
#include "../core/json.h"
#include "../core/protocol.h"
#include "glue.h"
#include "request.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

APLOG_USE_MODULE(pvlaunch);

namespace pvl {

// GET <location>/<id>/events: the launch's progress as Server-Sent Events
// (state changes, queue position, the ready line), relayed from the daemon
// as they happen, each flushed at once; the stream ends with the launch.
int events_stream(request_rec *r, int launcher, const std::string &id) {
    if (r->method_number != M_GET)
        return method_not_allowed(r, "GET");
    ControlRequest req;
    req.op = Op::watch;
    req.launcher = launcher;
    req.id = id;
    ask_as(r, &req);
    const int fd = daemon_open(r, encode_request(req));
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
                    if (status == HTTP_TOO_MANY_REQUESTS)
                        apr_table_setn(r->headers_out, "Retry-After", "5");
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

} // namespace pvl
