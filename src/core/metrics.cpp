#include "metrics.h"

#include "text.h"

#include <cmath>
#include <cstdio>

namespace pvl {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
    if (!(value >= 0))
        value = 0;
    size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i])
        ++i;
    ++counts_[i];
    ++count_;
    sum_ += value;
}

JsonPtr Histogram::to_json() const {
    JsonPtr j(json_object());
    json_t *b = json_array();
    json_t *c = json_array();
    uint64_t running = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
        running += counts_[i];
        json_array_append_new(b, json_real(bounds_[i]));
        json_array_append_new(c, json_integer(static_cast<json_int_t>(running)));
    }
    json_object_set_new(j.get(), "bounds", b);
    json_object_set_new(j.get(), "counts", c);
    json_object_set_new(j.get(), "count", json_integer(static_cast<json_int_t>(count_)));
    json_object_set_new(j.get(), "sum", json_real(sum_));
    return j;
}

std::vector<double> launch_duration_bounds() {
    return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}

std::vector<double> queue_wait_bounds() {
    return {0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
}

namespace {

json_int_t int_at(const json_t *o, const char *a, const char *b = nullptr) {
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

// Prometheus' number format: integers as such, others with enough digits.
std::string num(double v) {
    char buf[64];
    if (std::isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    if (v == std::floor(v) && std::fabs(v) < 1e15)
        std::snprintf(buf, sizeof buf, "%.0f", v);
    else
        std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

void histogram_text(std::string &out, const char *name, const char *help, const json_t *h) {
    out += std::string("# HELP ") + name + " " + help + "\n";
    out += std::string("# TYPE ") + name + " histogram\n";
    const json_t *bounds = json_object_get(h, "bounds");
    const json_t *counts = json_object_get(h, "counts");
    const json_int_t count = int_at(h, "count");
    for (size_t i = 0; i < json_array_size(bounds); ++i) {
        const json_t *c = json_array_get(counts, i);
        out += std::string(name) + "_bucket{le=\"" +
               num(json_number_value(json_array_get(bounds, i))) + "\"} " +
               num(static_cast<double>(json_is_integer(c) ? json_integer_value(c) : 0)) + "\n";
    }
    out += std::string(name) + "_bucket{le=\"+Inf\"} " + num(static_cast<double>(count)) + "\n";
    out += std::string(name) + "_sum " + num(json_number_value(json_object_get(h, "sum"))) + "\n";
    out += std::string(name) + "_count " + num(static_cast<double>(count)) + "\n";
}

void gauge(std::string &out, const char *name, const char *type, const char *help) {
    out += std::string("# HELP ") + name + " " + help + "\n";
    out += std::string("# TYPE ") + name + " " + type + "\n";
}

} // namespace

std::string render_prometheus(const json_t *s) {
    std::string out;
    gauge(out, "pvlaunch_sessions", "gauge", "Sessions by state (waiting: in the launch queue).");
    for (const char *state : {"starting", "ready", "stopping"})
        out += std::string("pvlaunch_sessions{state=\"") + state + "\"} " +
               std::to_string(int_at(s, "sessions", state)) + "\n";
    out += "pvlaunch_sessions{state=\"waiting\"} " + std::to_string(int_at(s, "waiting")) + "\n";
    gauge(out, "pvlaunch_ports_free", "gauge", "Free host:port pairs in the launchers' pools.");
    out += "pvlaunch_ports_free " + std::to_string(int_at(s, "ports_free")) + "\n";
    gauge(out, "pvlaunch_ports", "gauge", "All host:port pairs in the launchers' pools.");
    out += "pvlaunch_ports " + std::to_string(int_at(s, "ports_total")) + "\n";
    gauge(out, "pvlaunch_launches_started_total", "counter",
          "Launches that got a process since the session daemon started.");
    out += "pvlaunch_launches_started_total " + std::to_string(int_at(s, "started")) + "\n";
    gauge(out, "pvlaunch_launches_total", "counter",
          "Ended launches by outcome since the session daemon started.");
    for (const char *o : {"completed", "failed", "canceled", "rejected"})
        out += std::string("pvlaunch_launches_total{outcome=\"") + o + "\"} " +
               std::to_string(int_at(s, "outcomes", o)) + "\n";
    histogram_text(out, "pvlaunch_launch_duration_seconds",
                   "Seconds from a launch's start to its ready line.",
                   json_object_get(s, "launch_duration_seconds"));
    histogram_text(out, "pvlaunch_queue_wait_seconds",
                   "Seconds launches waited in the queue before they started.",
                   json_object_get(s, "queue_wait_seconds"));
    gauge(out, "pvlaunch_uptime_seconds", "gauge", "Seconds since the session daemon started.");
    out += "pvlaunch_uptime_seconds " +
           num(json_number_value(json_object_get(s, "uptime_seconds"))) + "\n";
    return out;
}

namespace {

// mod_status's lines: the ?auto name, the HTML label, the value.
struct StatusLine {
    const char *name;
    const char *label;
    json_int_t value;
};

std::vector<StatusLine> status_lines(const json_t *s) {
    return {
        {"Running", "Running sessions",
         int_at(s, "sessions", "ready") + int_at(s, "sessions", "starting")},
        {"Starting", "of which starting", int_at(s, "sessions", "starting")},
        {"Stopping", "Stopping", int_at(s, "sessions", "stopping")},
        {"Waiting", "Waiting in the queue", int_at(s, "waiting")},
        {"PortsFree", "Free ports", int_at(s, "ports_free")},
        {"PortsTotal", "Ports in the pools", int_at(s, "ports_total")},
        {"Launches", "Launches since start", int_at(s, "started")},
        {"Failures", "Failed launches since start", int_at(s, "outcomes", "failed")},
        {"Rejected", "Refused launches (no capacity) since start",
         int_at(s, "outcomes", "rejected")},
    };
}

} // namespace

std::string render_status_auto(const json_t *s) {
    std::string out;
    for (const StatusLine &l : status_lines(s))
        out += std::string("PVLaunch") + l.name + ": " + std::to_string(l.value) + "\n";
    return out;
}

std::string render_status_html(const json_t *s) {
    std::string out = "<hr />\n<h2>mod_pvlaunch</h2>\n<table>\n";
    for (const StatusLine &l : status_lines(s))
        out += std::string("<tr><th align=\"left\">") + l.label + "</th><td>" +
               std::to_string(l.value) + "</td></tr>\n";
    out += "</table>\n";
    // With the session list (op stats, detail): who holds what. The id is
    // shortened: enough to find a session in the logs, not to reach it.
    json_t *sessions = json_object_get(s, "list");
    if (json_is_array(sessions) && json_array_size(sessions) > 0) {
        out += "<table>\n<tr><th align=\"left\">Session</th><th align=\"left\">Owner</th>"
               "<th align=\"left\">Application</th><th align=\"left\">State</th></tr>\n";
        size_t i;
        json_t *row;
        json_array_foreach(sessions, i, row) {
            auto text = [row](const char *key) {
                const char *v = json_string_value(json_object_get(row, key));
                return html_escape(v && *v ? v : "-");
            };
            out += "<tr><td><code>" + text("id") + "</code></td><td>" + text("owner") +
                   "</td><td>" + text("application") + "</td><td>" + text("state") + "</td></tr>\n";
        }
        out += "</table>\n";
    }
    return out;
}

} // namespace pvl
