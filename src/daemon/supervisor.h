// Process supervision for the session daemon: spawning an app (through APR)
// in its own session and process group, as an unprivileged user with all
// of that user's groups, with a clean environment and only
// stdin/stdout/stderr; signalling its group.
#pragma once
#include <apr_pools.h>

#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace pvl {

struct AppIdentity {
    bool switch_user = false; // only when the daemon runs as root
    std::string user;
    std::string group;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string home = "/";
};

struct SpawnSpec {
    std::vector<std::string> argv;
    std::string dir;
    // On top of PATH and HOME; a later entry replaces an earlier one of the
    // same name (PVLaunchPassEnv first, then the app's own env).
    std::vector<std::pair<std::string, std::string>> env;
    int output_fd = -1; // stdout and stderr of the app
};

// Returns the pid (also the process group id) or -1 with *error set.
pid_t spawn_app(apr_pool_t *parent, const SpawnSpec &spec, const AppIdentity &who,
                std::string *error);

// Sends `sig` to the process group `pgid`; false if no such group.
bool signal_group(pid_t pgid, int sig);

// "exit status 3" / "killed by signal 11 (Segmentation fault)".
std::string describe_wait_status(int status);

} // namespace pvl
