// The session daemon: one long-lived process that owns every app. Apache's
// children talk to it over a Unix socket (see core/protocol.h).
#pragma once
#include "../core/config.h"
#include "../core/settings.h"
#include "../core/shared_table.h"
#include "backend.h"

#include <string>
#include <sys/types.h>
#include <vector>

namespace pvl {

struct DaemonOptions {
    int listen_fd = -1;
    std::vector<const LauncherConfig *> launchers;
    AppIdentity apps_as;
    uid_t client_uid = 0; // besides root, the only uid allowed to connect
    gid_t client_gid = 0; // Apache's Group: may read the map files
    // What the children read; ports are numbered across launchers in order.
    SharedTable *table = nullptr;
    // From Apache's parent: a descriptor sent here (SCM_RIGHTS) becomes the
    // daemon's stderr, i.e. the error log of the new generation; end of file
    // means Apache's parent is gone. -1: none.
    int parent_fd = -1;
    // Limits, queues, the journal's path ("": none), PVLaunchPassEnv.
    Settings settings;
};

// Runs the event loop. On start it re-adopts the live apps of the persisted
// table. SIGTERM stops every app and forgets them (Apache stops); SIGUSR1
// leaves the ready ones running for the next daemon (a restart that changed
// the launcher configuration).
// Returns the process exit code.
int run_session_daemon(const DaemonOptions &opts);

} // namespace pvl
