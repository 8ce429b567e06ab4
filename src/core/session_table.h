// The table of sessions owned by the session daemon, and the views derived
// from it (RewriteMap lookup, map file text). Pure: the daemon keeps the
// process side (fds, timers) next to it.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace pvl {

// starting: spawned, waiting for its ready line; the id is known to nobody
//           but the launching request.
// ready:    routed; GET/DELETE find it.
// stopping: DELETE'd, failed or abandoned; signalled, its port is held
//           until the process group has exited.
enum class SessionState { starting, ready, stopping };

// "starting", "ready", "stopping": the journal's, the API's and mod_status'
// word for it.
inline const char *session_state_name(SessionState s) {
    return s == SessionState::ready      ? "ready"
           : s == SessionState::starting ? "starting"
                                         : "stopping";
}

struct Session {
    std::string id;
    int launcher = 0;
    std::string application;
    std::string owner;  // whom Apache authenticated for its launch; "" for nobody
    std::string client; // the address its launch came from (audit trail)
    std::string host;
    int port = 0;
    int pid = 0;
    unsigned long long start_time = 0; // with the pid, names the process for good
    // A Slurm session (the app's config has "slurm"): its job id, "" while
    // sbatch runs; host and port are empty until the job is placed.
    bool slurm = false;
    std::string job;
    SessionState state = SessionState::starting;
    std::string response; // serialised JSON object
    std::string host_port() const { return host + ":" + std::to_string(port); }
};

class SessionTable {
  public:
    // False if the id is taken.
    bool add(Session s);
    Session *find(const std::string &id);
    const Session *find(const std::string &id) const;
    Session *find_by_pid(int pid);
    const Session *find_by_pid(int pid) const;
    bool remove(const std::string &id);

    // host:port of a ready session, or "" (what int:pvsession answers).
    std::string route(const std::string &id) const;
    // Sessions holding a process (any state) for a launcher.
    size_t count(int launcher) const;
    size_t size() const { return sessions_.size(); }
    // "<id> <host>:<port>\n" per ready session of a launcher, in id order:
    // the format a RewriteMap txt: reads.
    std::string map_file_text(int launcher) const;
    std::vector<std::string> ids() const;

  private:
    std::map<std::string, Session> sessions_;
    std::map<int, std::string> by_pid_;
};

} // namespace pvl
