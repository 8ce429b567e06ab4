// The operators' views of the daemon: Prometheus metrics
// (SetHandler pvlaunch-metrics) and mod_status's section.
#include "../core/json.h"
#include "../core/metrics.h"
#include "../core/protocol.h"
#include "glue.h"
#include "request.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include <cstring>

APLOG_USE_MODULE(pvlaunch);

namespace pvl {

// The daemon's counters, for the metrics handler and mod_status.
JsonPtr daemon_stats(request_rec *r, bool detail = false) {
    int status = 0;
    std::string answer;
    ControlRequest req;
    req.op = Op::stats;
    req.detail = detail;
    if (globals().launchers.empty() ||
        daemon_call(r, encode_request(req), 5000, false, &status, &answer) != CallResult::ok ||
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
    const bool short_form = flags & 0x1; // AP_STATUS_SHORT: ?auto
    JsonPtr stats = daemon_stats(r, !short_form);
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

} // namespace pvl
