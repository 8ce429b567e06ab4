// The session daemon's insides, shared by the files that implement it. The
// decisions are core/session_machine's; these files carry them out:
// control_server.cpp (connections, dispatch, event streams), daemon_ops.cpp
// (the protocol's operations), effects.cpp (the machine's effects, exits),
// launches.cpp (launch records, starting apps), readiness.cpp (ready line,
// port probe), timers.cpp (clock and deadlines), persistence.cpp (journal,
// shared table, map file, adoption) and session_daemon.cpp (the loop,
// restarts and shutdown). Nothing outside src/daemon/ includes it.
#pragma once
#include "session_daemon.h"

#include "../core/ids.h"
#include "../core/json.h"
#include "../core/launch_format.h"
#include "../core/launch_plan.h"
#include "../core/launch_queue.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/netstat.h"
#include "../core/port_pool.h"
#include "../core/protocol.h"
#include "../core/session_machine.h"
#include "../core/session_table.h"
#include "../core/slurm.h"
#include "notifier.h"
#include "state_file.h"
#include "tools.h"

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
// How often a starting Slurm session's job output is read.
constexpr auto slurm_output_interval = std::chrono::milliseconds(20);

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
    ReplyTo handle = nobody; // how the session machine names it
    uid_t uid = 0;           // the peer's, from SO_PEERCRED
    std::string client;      // streaming: the address of the stream's client
    bool creates = false;    // a create request: its answer names a new session
    Phase phase = Phase::reading;
    std::string in;
    std::string out;
    size_t out_off = 0;
    bool closing = false; // streaming: close once `out` is sent
};

// The I/O side of a session (the machine keeps its state): its log, how
// readiness is watched, and what names its process.
struct Proc {
    int log_fd = -1; // read side of the log while waiting for the ready line
    int wd = -1;
    std::vector<std::string> ready_lines;
    size_t longest_ready = 0;
    std::string carry;
    // What the queue listing shows of a session whose launch record was
    // dropped once it started (a ParaViewWeb launch: nobody asks for more).
    long request_number = 0;
    SysTime request_time;
    SysTime start_time_wall;
    // Without a ready line, ready means that its port accepts a connection:
    // a non-blocking connect in flight (probe_fd), or the next try's time.
    bool probing = false;
    int probe_fd = -1;
    Clock::time_point next_probe;
    int probe_delay_ms = 0;
    std::vector<sockaddr_storage> probe_addrs; // the host's addresses, tried in turn
    size_t probe_next_addr = 0;
    // A Slurm session: its job's output file is read on the clock (it may
    // be on a shared filesystem: no inotify). First the route line, then
    // the ready line; it is ready once squeue confirms the node too.
    bool slurm = false;
    bool routed = false; // the route line was read
    bool placed = false; // squeue confirmed it: host and port are the session's
    bool ready_seen = false;
    std::string route_host;
    int route_port = 0;
    std::string ready_line;
    Clock::time_point next_read;
};

// What the daemon keeps of a Slurm session's job, beside its Session.
struct SlurmWatch {
    int launcher = 0;
    size_t slot = 0; // its block in the shared table, after the ports'
    std::string job; // "" while sbatch runs
    bool submitting = false;
    bool cancel_wanted = false; // stopped before sbatch answered
    // When its id became known: a squeue that started earlier may not
    // list it yet.
    Clock::time_point known_since;
    bool listed = false; // squeue's last word on it
    SlurmJob seen;
};

MachineSettings machine_settings(const DaemonOptions &opts);

class SessionDaemon {
  public:
    explicit SessionDaemon(const DaemonOptions &opts)
        : opts_(opts), machine_(machine_settings(opts)) {
        if (!opts.settings.state_path.empty())
            journal_ = std::make_unique<StateJournal>(opts.settings.state_path);
        size_t ports = 0;
        for (const auto *cfg : opts.launchers) {
            pools_.emplace_back(cfg->resources);
            port_base_.push_back(ports);
            ports += pools_.back().size();
            // Slurm sessions have no port of ours: a slot each, after the ports.
            slurm_slots_.emplace_back(cfg->slurm_slots());
            ports += slurm_slots_.back().size();
        }
        bases_.resize(opts.launchers.size());
    }
    int run();

  private:
    // control_server.cpp: connections and dispatch.
    void accept_clients();
    bool allowed_peer(const struct ucred &cred, std::string *why) const;
    void handle_conn_io(int fd, short revents);
    void close_conn(int fd);
    void respond(ReplyTo to, int status, const std::string &body);
    void flush_conn(Conn &c);
    void dispatch(Conn &c, const std::string &line);
    // Events for the watchers of a launch (op "watch").
    void stream(ReplyTo to, const char *event, JsonPtr data);
    void emit(const std::string &id, const char *event, JsonPtr data);
    void emit_positions(int launcher);
    void end_watchers(const std::string &id, const char *state);

    // daemon_ops.cpp: the protocol's operations.
    void op_create(ReplyTo to, int launcher, const ControlRequest &req);
    std::string over_limit(int launcher, const std::string &app, const std::string &user,
                           bool *retry_after) const;
    void op_get(ReplyTo to, int launcher, const ControlRequest &req);
    void op_delete(ReplyTo to, int launcher, const ControlRequest &req);
    void op_map(ReplyTo to, const std::string &id);
    void op_list(ReplyTo to, int launcher);
    void op_stats(ReplyTo to, bool detail);
    void op_logtail(ReplyTo to, int launcher, const ControlRequest &req);
    void not_found(ReplyTo to, const std::string &id, const char *what);
    // Ownership: see daemon_ops.cpp.
    bool may_see(ReplyTo to, const ControlRequest &req, const std::string &owner,
                 const std::string &app, const char *what);
    void op_watch(Conn &c, int launcher, const ControlRequest &req);
    void op_reorder(ReplyTo to, int launcher, const ControlRequest &req);

    // effects.cpp: what the session machine decided, carried out.
    void apply(std::vector<Effect> &effects);
    void apply_one(Effect &e, std::vector<Effect> *more);
    void reply(const Effect &e);
    bool creator_gone(ReplyTo to) const;
    // Sessions whose app ended, from the backend (after SIGCHLD, or from
    // its descriptors' poll results).
    void collect_exits(const pollfd *fds, size_t n);
    static AppRef app_of(const Session &s) { return AppRef{s.pid, s.start_time}; }

    // launches.cpp: launch records (seed 004) and starting apps.
    void spawn(const std::string &id, int launcher, std::vector<Effect> *more);
    void warn_unresolved(const Launch &l, const LaunchPlan &plan);
    int open_session_log(const std::string &path, const Launch &l, const std::string &id,
                         std::string *why);
    void audit_launched(const Launch &l, const std::string &how);
    void mark_started(Launch &l, Proc &p, const std::string &what);
    static Session session_of(const Launch &l);
    // Ends a launch: its log entry, the Status-Location callback, and then
    // it is forgotten, or kept for GET a while (tracked launches).
    void finish_launch(const std::string &id, LaunchState state, const char *kind,
                       const std::string &why);
    // The launch resource, and the same wrapped for Apache's children
    // ({"launch": ...}: they render it as JSON or XML).
    JsonPtr launch_object(Launch &l);
    std::string launch_body(Launch &l);
    std::string new_id() const;
    // Tells Apache's children whether GET must ask about ids absent from
    // the shared table (queued and ended launches have no slot).
    void sync_elsewhere();
    QueueOptions queue_options(int launcher) const;

    // readiness.cpp: the ready line, or the port accepting connections.
    // Each adds what the machine decides when the session is ready to `out`.
    void check_ready(const Session &s, Proc &p, std::vector<Effect> *out);
    void start_probe(const Session &s, Proc &p, std::vector<Effect> *out);
    void probe(const Session &s, Proc &p, std::vector<Effect> *out);
    void on_probe_done(const Session &s, Proc &p, std::vector<Effect> *out);
    void stop_watching(Proc &p);
    void handle_inotify();

    // slurm_jobs.cpp: sessions as Slurm jobs (sbatch, squeue, scancel).
    void spawn_slurm(const std::string &id, int launcher, std::vector<Effect> *more);
    void slurm_signal(const Session &s, std::vector<Effect> *more);
    void slurm_kill_now(const Session &s);
    void slurm_forget(const Session &s);
    long slurm_table_index(const Session &s) const;
    bool slurm_slot_free(int launcher) const;
    void slurm_adopted(const Session &s);
    void cancel_job(const std::string &job, const std::string &id, bool wait);
    void scancel_failed(const std::string &what, const std::string &why);
    void handle_tool_results();
    void on_sbatch(const std::string &id, ToolResult &r);
    void on_squeue(ToolResult &r);
    void slurm_tick(Clock::time_point now);
    bool slurm_jobs_known() const; // a job id to ask squeue about
    void read_job_output(const Session &s, Proc &p, std::vector<Effect> *out);
    void slurm_advance(const Session &s, Proc &p, std::vector<Effect> *out);
    void confirm_placement(const Session &s, Proc &p, const SlurmWatch &w,
                           std::vector<Effect> *out);
    size_t slurm_position(const std::string &id) const;
    Clock::time_point slurm_next_deadline(Clock::time_point next) const;
    void slurm_launch_status(Launch &l, const Session &s);
    AppIdentity tool_user() const;
    void finish_tools_at_exit();

    // timers.cpp
    void handle_timers();
    int poll_timeout_ms() const;

    // persistence.cpp: the map file, the shared table, the journal.
    void write_map_file(int launcher);
    // A ready session becomes visible to the children and the map file, and
    // stops being so.
    void publish(const Session &s);
    void unpublish(const Session &s);
    // The persisted table: one record per change, a full rewrite at
    // hand-overs and when the journal has grown well past the table.
    PersistedSession persisted(const Session &s);
    void save_session(const Session &s);
    void forget_session(const std::string &id);
    void save_state();
    void adopt();
    void adopted(const Session &s);

    // session_daemon.cpp: the loop, restarts and shutdown.
    void handle_parent();
    // Apache's parent is gone: keep the sessions for PVLaunchClaimWindow,
    // for the next Apache to claim (op "claim"), or stop them.
    void orphaned();
    void op_claim(ReplyTo to, uid_t uid);
    void flush_notifications();
    void begin_shutdown();
    void detach();

    DaemonOptions opts_;
    SessionMachine machine_;
    std::unique_ptr<StateJournal> journal_;
    std::map<std::string, Launch> launches_;
    // The request of a launch not yet started, for its plan.
    std::map<std::string, JsonPtr> payloads_;
    uint32_t published_elsewhere_ = UINT32_MAX;          // last count given to the table
    std::vector<std::string> bases_;                     // per launcher: the API's URL path
    std::map<std::string, Clock::time_point> forget_at_; // ended tracked launches
    std::deque<std::string> kept_order_;                 // the same, oldest first
    // Apache announced a restart: the next generation must claim this
    // daemon (by sending its error log) before this, or it was restarted
    // without mod_pvlaunch and the sessions are stopped.
    bool restart_pending_ = false;
    Clock::time_point claim_deadline_;
    // Apache's parent died: sessions wait for a new Apache until this.
    bool orphaned_ = false;
    Clock::time_point orphan_deadline_;
    long next_request_number_ = 1;
    Notifier notifier_;
    Clock::time_point born_ = Clock::now(); // for operators (op "stats")
    std::vector<PortPool> pools_;
    std::vector<size_t> port_base_; // first shared-table port index per launcher
    std::map<std::string, Proc> procs_;
    std::map<int, Conn> conns_;
    std::map<ReplyTo, int> handles_; // live requests: handle -> connection
    std::set<ReplyTo> no_secret_;    // answers for an administrator: without secrets
    ReplyTo next_handle_ = 1;
    std::map<std::string, std::vector<ReplyTo>> watchers_; // launch id -> event streams
    std::map<int, std::string> watches_;                   // inotify wd -> session id
    std::unique_ptr<Backend> backend_;                     // where the apps run
    // Slurm: the commands in flight, each job, the table slots per
    // launcher (a session id, or "" when free), the squeue poll.
    enum class ToolUse { sbatch, squeue, scancel };
    Tools tools_;
    std::map<uint64_t, std::pair<ToolUse, std::string>> tool_runs_; // handle -> use, session/job
    std::map<std::string, SlurmWatch> slurm_jobs_;                  // session id -> its job
    std::vector<std::vector<std::string>> slurm_slots_;
    uint64_t squeue_run_ = 0;
    bool squeue_again_ = false; // something changed while squeue ran
    Clock::time_point squeue_started_;
    Clock::time_point next_squeue_;
    bool slurm_unreachable_ = false;
    bool exiting_ = false;
    // Jobs whose id never came back (an earlier daemon died while their
    // sbatch ran): canceled by name now and then for a while, since that
    // sbatch may still be submitting them.
    std::map<std::string, Clock::time_point> orphan_names_; // session id -> until
    Clock::time_point next_orphan_sweep_;
    int sfd_ = -1;
    int ifd_ = -1;
    bool detached_ = false;
    pid_t apache_pid_ = getppid(); // the Apache parent that forked this daemon
    Clock::time_point stop_deadline_;
};

} // namespace daemon
} // namespace pvl
