// The session daemon: one long-lived process that owns every app. Apache's
// children talk to it over a Unix socket (see core/protocol.h).
#pragma once
#include "../core/config.h"
#include "../core/shared_table.h"
#include "supervisor.h"

#include <sys/types.h>
#include <vector>

namespace pvl {

struct DaemonOptions {
    int listen_fd = -1;
    std::vector<const LauncherConfig *> launchers;
    AppIdentity apps_as;
    uid_t client_uid = 0; // besides root, the only uid allowed to connect
    double stop_grace = 5.0;  // seconds between SIGTERM and SIGKILL
    // What the children read; ports are numbered across launchers in order.
    SharedTable *table = nullptr;
};

// Runs the event loop until SIGTERM, then stops every app and returns the
// process exit code.
int run_session_daemon(const DaemonOptions &opts);

} // namespace pvl
