// How the session daemon runs applications, behind one small interface:
// start one, signal everything it started, notice that it ended, take it
// over again after a restart. The session logic (session_daemon.cpp) knows
// nothing else of processes. backend_local.cpp runs them on this host; later
// backends (systemd units, jobs of a batch scheduler) implement the same
// calls.
#pragma once
#include "../core/config.h"

#include <memory>
#include <poll.h>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace pvl {

struct AppIdentity {
    bool switch_user = false; // only when the daemon runs as root
    std::string user;
    std::string group;
    std::string home = "/";
};

struct SpawnSpec {
    std::vector<std::string> argv;
    std::string dir;
    // On top of PATH and HOME; a later entry replaces an earlier one of the
    // same name (PVLaunchPassEnv first, then the app's own env).
    std::vector<std::pair<std::string, std::string>> env;
    int output_fd = -1; // stdout and stderr of the app
    std::string name;   // the application's name in the launcher config
    AppLimits limits;   // enforced where the backend can (systemd)
};

// One app for good: pids are reused, a pid with its start time is not.
struct AppRef {
    pid_t pid = 0;
    unsigned long long start_time = 0;
};

// An app that ended: its wait status, or -1 when it was not our child (an
// app taken over from an earlier daemon) and its status is unknown.
struct AppExit {
    pid_t pid = 0;
    int status = -1;
};

class Backend {
  public:
    virtual ~Backend() = default;
    // Starts an app; false with *error set if it could not be started.
    virtual bool start(const SpawnSpec &spec, AppRef *app, std::string *error) = 0;
    // Sends `sig` to everything the app started; false if nothing is left.
    virtual bool signal(const AppRef &app, int sig) = 0;
    // Takes over an app an earlier daemon started; false if it has ended or
    // its pid now names another process.
    virtual bool adopt(const AppRef &app) = 0;
    // Descriptors the daemon's poll loop watches for the backend.
    virtual void add_pollfds(std::vector<pollfd> *fds) const = 0;
    // Apps that ended, each reported once: after SIGCHLD (fds null), or
    // with the results of polling what add_pollfds gave. Other children
    // of the daemon it reaped are reported too.
    virtual void collect_exits(const pollfd *fds, size_t n, std::vector<AppExit> *out) = 0;
    // Kills what is left of an app and, if it is our child, waits for it
    // (the daemon is exiting, or gives the app up).
    virtual void kill_now(const AppRef &app) = 0;
};

// Processes on this host, in a session and process group of their own, as
// an unprivileged user with all of that user's groups, with a clean
// environment and only stdin/stdout/stderr.
std::unique_ptr<Backend> make_local_backend(const AppIdentity &who);

// The full path of program `name` (as is if it holds a '/'), looked up in
// `path`; "" if there is none.
std::string find_program(const std::string &name, const std::string &path);
// The uid of the app user and the gid it runs with (its group, or the one
// PVLaunchUser names), and every group of the user, as initgroups(3)
// would set them.
bool resolve_ids(const AppIdentity &who, uid_t *uid, gid_t *gid, std::string *error);
bool user_groups(const std::string &user, gid_t primary, std::vector<gid_t> *out,
                 std::string *error);

// In a child between fork and exec: every signal to its default action,
// none blocked (system calls only: safe after vfork).
void default_signals();

// The start time of a live process, 0 if there is none: with the pid it
// names one process for good.
unsigned long long process_start_time(int pid);

// The parent pid of a live process, 0 if there is none.
pid_t process_parent(int pid);

// "exit status 3" / "killed by signal 11 (Segmentation fault)".
std::string describe_wait_status(int status);

} // namespace pvl
