// The session daemon: one long-lived process that owns every app. Apache's
// children talk to it over a Unix socket (see core/protocol.h).
#pragma once
#include "../core/config.h"
#include "../core/shared_table.h"
#include "backend.h"

#include <string>
#include <sys/types.h>
#include <vector>

namespace pvl {

// PVLaunchQueue: when a launcher is at capacity, launches wait, in order,
// up to max_length of them and max_wait seconds each. max_length 0: none.
struct QueueOptions {
    size_t max_length = 0;
    double max_wait = 0;
};

struct DaemonOptions {
    int listen_fd = -1;
    std::vector<const LauncherConfig *> launchers;
    AppIdentity apps_as;
    uid_t client_uid = 0;    // besides root, the only uid allowed to connect
    double stop_grace = 5.0; // seconds between SIGTERM and SIGKILL
    // What the children read; ports are numbered across launchers in order.
    SharedTable *table = nullptr;
    // Where the table is persisted for the next daemon ("" : nowhere).
    std::string state_path;
    // From Apache's parent: a descriptor sent here (SCM_RIGHTS) becomes the
    // daemon's stderr, i.e. the error log of the new generation; end of file
    // means Apache's parent is gone. -1: none.
    int parent_fd = -1;
    // Per launcher (missing: no queue).
    std::vector<QueueOptions> queues;
    // How long an ended seed 004 launch stays visible to GET.
    double keep_finished = 600;
    // Seconds without any established client connection to a session's
    // port before it is stopped, and the most a session may live; 0: none.
    double idle_timeout = 0;
    double max_lifetime = 0;
    // PVLaunchPassEnv: given to every app before its own env.
    std::vector<std::pair<std::string, std::string>> pass_env;
};

// Runs the event loop. On start it re-adopts the live apps of the persisted
// table. SIGTERM stops every app and forgets them (Apache stops); SIGUSR1
// leaves the ready ones running for the next daemon (a restart that changed
// the launcher configuration).
// Returns the process exit code.
int run_session_daemon(const DaemonOptions &opts);

} // namespace pvl
