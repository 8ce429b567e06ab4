// Every tunable of the module once, with its default: what the directives
// set, what the session daemon is started with, and what decides whether a
// running daemon can be kept across a restart (all of it, compared whole).
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace pvl {

// PVLaunchQueue: when a launcher is at capacity, launches wait, in order,
// up to max_length of them and max_wait seconds each. max_length 0: none.
struct QueueOptions {
    size_t max_length = 0;
    double max_wait = 0;
};

struct Settings {
    std::string socket_path;      // PVLaunchSocket, else pvlaunch.sock in the runtime dir
    std::string state_path;       // the daemon's journal, in the runtime dir
    std::string app_user;         // PVLaunchUser, else pvlaunch (root) or Apache's User
    std::string app_group;        // PVLaunchUser's group, else the user's
    double stop_grace = 5.0;      // PVLaunchStopTimeout: SIGTERM to SIGKILL
    double keep_finished = 600.0; // PVLaunchKeepFinished
    double idle_timeout = 0;      // PVLaunchIdleTimeout; 0: none
    double max_lifetime = 0;      // PVLaunchMaxLifetime; 0: none
    double claim_window = 300.0;  // PVLaunchClaimWindow; 0: stop at once
    // PVLaunchMaxStreams: event streams (GET <id>/events) held at once, in
    // all, per launch and per client address. Each holds one of Apache's
    // workers; 0 in all: a quarter of MaxRequestWorkers, set at start.
    size_t streams_total = 0;
    size_t streams_per_launch = 4;
    size_t streams_per_client = 8;
    // PVLaunchMaxStarting: launches in progress (started, not yet ready) at
    // once, over every launcher; 0: no cap. Past it, 429 with Retry-After.
    size_t max_starting = 0;
    std::vector<QueueOptions> queues; // per launcher, from PVLaunchQueue
    // PVLaunchPassEnv: names and Apache's values, read with the config.
    std::vector<std::pair<std::string, std::string>> pass_env;

    // Every field as text: equal texts mean equal settings.
    std::string identity() const;
};

// A directive's number of seconds: a decimal number in [0, max], or in
// (0, max] when `positive`. False on anything else.
bool parse_seconds(const char *text, double max, bool positive, double *out);

// A whole number in [min, max]. False on anything else.
bool parse_count(const char *text, long long min, long long max, long long *out);

} // namespace pvl
