// Counters the session daemon keeps for operators, and their renderings:
// Prometheus text (SetHandler pvlaunch-metrics) and mod_status's section
// (HTML, and the machine-readable ?auto lines). Pure.
#pragma once
#include "json.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pvl {

// A cumulative histogram with fixed upper bounds, as Prometheus reads it.
class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);
    // {"bounds": [...], "counts": [...cumulative, one per bound...],
    //  "count": n, "sum": s}
    JsonPtr to_json() const;
    uint64_t count() const { return count_; }

  private:
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_; // per bucket, not cumulative
    uint64_t count_ = 0;
    double sum_ = 0;
};

// Bucket bounds, in seconds.
std::vector<double> launch_duration_bounds(); // request to ready
std::vector<double> queue_wait_bounds();      // request to start

// The daemon's "stats" answer is one JSON object:
//   sessions: {starting, ready, stopping}, waiting, ports_free, ports_total,
//   started (launches that got a process), outcomes: {completed, failed,
//   canceled, rejected}, launch_duration_seconds and queue_wait_seconds
//   (Histogram::to_json), uptime_seconds.
// The renderings below accept exactly that; a missing field counts as 0.
std::string render_prometheus(const json_t *stats);
std::string render_status_auto(const json_t *stats);
std::string render_status_html(const json_t *stats);

} // namespace pvl
