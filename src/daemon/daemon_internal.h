// The session daemon's insides, shared by the files that implement it:
// control_server.cpp (connections, dispatch, event streams), daemon_ops.cpp
// (the protocol's operations), launches.cpp (queue and starts),
// readiness.cpp (ready line, port probe), session_end.cpp (stops and
// exits), timers.cpp (deadlines and limits), persistence.cpp (journal,
// shared table, map file, adoption) and session_daemon.cpp (the loop,
// restarts and shutdown). Nothing outside src/daemon/ includes it.
#pragma once
#include "session_daemon.h"

#include "../core/ids.h"
#include "../core/json.h"
#include "../core/launch_plan.h"
#include "../core/launch_queue.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/netstat.h"
#include "../core/port_pool.h"
#include "../core/protocol.h"
#include "../core/session_table.h"
#include "notifier.h"
#include "state_file.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <set>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pvl {
namespace daemon {

using Clock = std::chrono::steady_clock;

constexpr size_t log_tail_lines = 10;
// Ended asynchronous launches kept for GET at most (PVLaunchKeepFinished
// bounds their age, this their number).
constexpr size_t max_kept_launches = 1000;
// How long Apache's next generation has, after a restart began, to claim
// the running daemon; reading a config takes well under a second.
constexpr int restart_claim_seconds = 10;
constexpr size_t log_tail_bytes = 4096;

Unresolved unresolved_policy(const Launch &l);
// {"error": message}
std::string error_body(const std::string &message);
// The last lines of a session log, for error answers.
std::string log_tail(const std::string &path);
bool port_bindable(const std::string &host, int port);

struct Conn {
    // streaming: a watcher of one launch's events (GET <id>/events); lines
    // are sent as they happen and the connection stays open until the
    // launch ends or the watcher goes away.
    enum class Phase { reading, waiting, writing, streaming };
    int fd = -1;
    Phase phase = Phase::reading;
    std::string in;
    std::string out;
    size_t out_off = 0;
    bool closing = false; // streaming: close once `out` is sent
};

// The process side of a session, next to its row in the table.
struct Proc {
    int log_fd = -1; // read side of the log while waiting for the ready line
    int wd = -1;
    std::string log_path;
    std::vector<std::string> ready_lines;
    size_t longest_ready = 0;
    std::string carry;
    Clock::time_point started;
    Clock::time_point ready_deadline;
    Clock::time_point kill_deadline;
    bool killed = false;
    int creator = -1; // connection waiting for the launch
    std::vector<int> delete_waiters;
    unsigned long long start_time = 0; // with the pid, names the process for good
    // How its launch ends if it is stopped: canceled (DELETE, a client that
    // went away) or failed (not ready in time).
    LaunchState end_as = LaunchState::canceled;
    std::string end_why = "stopped on request";
    // What the queue listing shows of a session whose launch record was
    // dropped once it started (a ParaViewWeb launch: nobody asks for more).
    long request_number = 0;
    SysTime request_time;
    SysTime start_time_wall;
    // Last time a client connection to its port was seen (PVLaunchIdleTimeout).
    Clock::time_point last_active;
    // Without a ready line, ready means that its port accepts a connection:
    // a non-blocking connect in flight (probe_fd), or the next try's time.
    bool probing = false;
    int probe_fd = -1;
    Clock::time_point next_probe;
    int probe_delay_ms = 0;
    std::vector<sockaddr_storage> probe_addrs; // the host's addresses, tried in turn
    size_t probe_next_addr = 0;
};

// A launch waiting in its launcher's queue.
struct Waiting {
    JsonPtr payload;
    int creator = -1; // the held ParaViewWeb client, or -1 (asynchronous)
    Clock::time_point deadline;
};

class SessionDaemon {
  public:
    explicit SessionDaemon(const DaemonOptions &opts) : opts_(opts) {
        if (!opts.settings.state_path.empty())
            journal_ = std::make_unique<StateJournal>(opts.settings.state_path);
        size_t ports = 0;
        for (const auto *cfg : opts.launchers) {
            pools_.emplace_back(cfg->resources);
            port_base_.push_back(ports);
            ports += pools_.back().size();
        }
        queues_.resize(opts.launchers.size());
        bases_.resize(opts.launchers.size());
    }
    int run();

  private:
    void accept_clients();
    void handle_conn_io(int fd, short revents);
    void close_conn(int fd);
    void respond(int fd, int status, const std::string &body);
    void flush_conn(Conn &c);
    void dispatch(int fd, const std::string &line);
    void op_create(int fd, int launcher, const ControlRequest &req);
    void op_get(int fd, int launcher, const std::string &id);
    void op_delete(int fd, int launcher, const std::string &id);
    void op_map(int fd, const std::string &id);
    void op_list(int fd, int launcher);
    void op_stats(int fd);
    void op_logtail(int fd, int launcher, const std::string &id);
    void op_watch(int fd, int launcher, const std::string &id);
    // Events for the watchers of a launch (op "watch").
    void stream(int fd, const char *event, JsonPtr data);
    void emit(const std::string &id, const char *event, JsonPtr data);
    void emit_positions(int launcher);
    void end_watchers(const std::string &id, const char *state);
    void op_reorder(int fd, int launcher, const ControlRequest &req);

    // Launches (seed 004): every create is one; it waits in the queue when
    // the launcher is at capacity, runs as a session, then ends.
    enum class Start { started, failed, no_capacity };
    QueueOptions queue_options(int launcher) const;
    Start start_launch(Launch &l, json_t *payload, int creator, LaunchError *err);
    void drain_queue(int launcher);
    // Ends a launch: its log entry, the Status-Location callback, and then
    // it is forgotten, or kept for GET a while (tracked launches).
    void finish_launch(const std::string &id, LaunchState state, const char *kind,
                       const std::string &why);
    void cancel_waiting(const std::string &id, int status, const std::string &why,
                        LaunchState state);
    // The launch resource, and the same wrapped for Apache's children
    // ({"launch": ...}: they render it as JSON or XML).
    JsonPtr launch_object(Launch &l);
    std::string launch_body(Launch &l);
    std::string new_id() const;
    // Tells Apache's children whether GET must ask about ids absent from
    // the shared table (queued and ended launches have no slot).
    void sync_elsewhere();

    void check_ready(Session &s, Proc &p);
    // Readiness without a ready line: connect to the app's port.
    void start_probe(Session &s, Proc &p);
    void probe(Session &s, Proc &p);
    void on_probe_done(Session &s, Proc &p);
    // `line`: the ready line seen (a copy: p's ready lines are freed here).
    void mark_ready(Session &s, Proc &p, std::string line = std::string());
    void stop_session(Session &s, Proc &p);
    void stop_watching(Proc &p);
    // Sessions whose app ended, from the backend (after SIGCHLD, or from
    // its descriptors' poll results).
    void collect_exits(const pollfd *fds, size_t n);
    AppRef app_of(const Session &s) const {
        auto it = procs_.find(s.id);
        return AppRef{s.pid, it == procs_.end() ? 0 : it->second.start_time};
    }
    void on_exit(Session &s, int status);
    void handle_inotify();
    void handle_parent();
    void flush_notifications();
    void handle_timers();
    // PVLaunchIdleTimeout and PVLaunchMaxLifetime.
    void check_limits(Clock::time_point now);
    double idle_scan_interval() const;
    void write_map_file(int launcher);
    // A ready session becomes visible to the children and the map file, and
    // stops being so.
    void publish(const Session &s);
    void unpublish(const Session &s);
    int poll_timeout_ms() const;
    void begin_shutdown();
    void detach();
    // The persisted table: one record per change, a full rewrite at
    // hand-overs and when the journal has grown well past the table.
    PersistedSession persisted(const Session &s);
    void save_session(const Session &s);
    void forget_session(const std::string &id);
    void save_state();
    void adopt();

    DaemonOptions opts_;
    std::unique_ptr<StateJournal> journal_;
    std::map<std::string, Launch> launches_;
    uint32_t published_elsewhere_ = UINT32_MAX; // last count given to the table
    std::vector<LaunchQueue> queues_;
    std::vector<std::string> bases_; // per launcher: the API's URL path
    std::map<std::string, Waiting> waiting_;
    std::map<std::string, Clock::time_point> forget_at_; // ended tracked launches
    std::deque<std::string> kept_order_;                 // the same, oldest first
    Clock::time_point next_drain_;
    Clock::time_point next_idle_scan_;
    // Apache announced a restart: the next generation must claim this
    // daemon (by sending its error log) before this, or it was restarted
    // without mod_pvlaunch and the sessions are stopped.
    bool restart_pending_ = false;
    Clock::time_point claim_deadline_;
    long next_request_number_ = 1;
    Notifier notifier_;
    // For operators (op "stats"): since this daemon started.
    Clock::time_point born_ = Clock::now();
    Histogram launch_duration_{launch_duration_bounds()};
    Histogram queue_wait_{queue_wait_bounds()};
    uint64_t started_ = 0;
    std::map<std::string, uint64_t> outcomes_;
    std::vector<PortPool> pools_;
    std::vector<size_t> port_base_; // first shared-table port index per launcher
    SessionTable table_;
    std::map<std::string, Proc> procs_;
    std::map<int, Conn> conns_;
    std::map<std::string, std::vector<int>> watchers_; // launch id -> streaming conns
    std::map<int, std::string> watches_;               // inotify wd -> session id
    std::unique_ptr<Backend> backend_;                 // where the apps run
    int sfd_ = -1;
    int ifd_ = -1;
    bool stopping_ = false;
    bool detached_ = false;
    Clock::time_point stop_deadline_;
};

} // namespace daemon
} // namespace pvl
