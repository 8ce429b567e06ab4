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
namespace {

Unresolved unresolved_policy(const Launch &l) {
    return l.all_parameters ? Unresolved::reject : Unresolved::keep;
}

using Clock = std::chrono::steady_clock;

constexpr size_t log_tail_lines = 10;
// Ended asynchronous launches kept for GET at most (PVLaunchKeepFinished
// bounds their age, this their number).
constexpr size_t max_kept_launches = 1000;
// How long Apache's next generation has, after a restart began, to claim
// the running daemon; reading a config takes well under a second.
constexpr int restart_claim_seconds = 10;
constexpr size_t log_tail_bytes = 4096;

std::string error_body(const std::string &message) {
    JsonPtr j(json_object());
    json_object_set_new(j.get(), "error", json_stringn(message.data(), message.size()));
    return json_to_string(j.get());
}

// The last lines of a session log, for error answers.
std::string log_tail(const std::string &path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::string();
    struct stat st;
    std::string data;
    if (fstat(fd, &st) == 0) {
        off_t start = st.st_size > static_cast<off_t>(log_tail_bytes)
                          ? st.st_size - static_cast<off_t>(log_tail_bytes)
                          : 0;
        data.resize(static_cast<size_t>(st.st_size - start));
        ssize_t got = pread(fd, &data[0], data.size(), start);
        data.resize(got > 0 ? static_cast<size_t>(got) : 0);
    }
    close(fd);
    while (!data.empty() && data.back() == '\n')
        data.pop_back();
    size_t pos = data.size(), lines = 0;
    while (pos > 0 && lines < log_tail_lines) {
        size_t nl = data.rfind('\n', pos - 1);
        ++lines;
        if (nl == std::string::npos) {
            pos = 0;
            break;
        }
        pos = nl;
    }
    if (pos > 0)
        ++pos;
    return data.substr(pos);
}

// A local address can be checked for being free before it is handed out;
// another program may hold a port of the configured range.
bool port_bindable(const std::string &host, int port) {
    struct sockaddr_in addr;
    std::memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (host == "localhost")
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
        return true; // not ours to test
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return true;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = bind(fd, reinterpret_cast<struct sockaddr *>(&addr), sizeof addr) == 0 ||
              errno != EADDRINUSE;
    close(fd);
    return ok;
}

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

void SessionDaemon::respond(int fd, int status, const std::string &body) {
    auto it = conns_.find(fd);
    if (it == conns_.end())
        return;
    Conn &c = it->second;
    c.out = frame_response(status, body);
    c.out_off = 0;
    c.phase = Conn::Phase::writing;
    flush_conn(c);
}

// Sends what `out` holds; POLLOUT continues where the socket was full. A
// response closes the connection once sent; an event stream stays open
// until it is marked closing.
void SessionDaemon::flush_conn(Conn &c) {
    while (c.out_off < c.out.size()) {
        ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c.out_off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        break; // the peer is gone
    }
    if (c.out_off < c.out.size() || c.phase != Conn::Phase::streaming || c.closing)
        close_conn(c.fd);
}

void SessionDaemon::close_conn(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end())
        return;
    // A launch whose requester went away is abandoned: nobody would ever
    // learn its id.
    for (auto &kv : procs_) {
        Proc &p = kv.second;
        if (p.creator == fd) {
            p.creator = -1;
            Session *s = table_.find(kv.first);
            if (s && s->state == SessionState::starting) {
                log(LogLevel::info, "PVL00031",
                    "launch of session " + s->id + " abandoned: the client went away");
                p.end_as = LaunchState::canceled;
                p.end_why = "the client went away before the session was ready";
                stop_session(*s, p);
            }
        }
        auto &w = p.delete_waiters;
        w.erase(std::remove(w.begin(), w.end(), fd), w.end());
    }
    for (auto wit = watchers_.begin(); wit != watchers_.end();) {
        auto &v = wit->second;
        v.erase(std::remove(v.begin(), v.end(), fd), v.end());
        wit = v.empty() ? watchers_.erase(wit) : std::next(wit);
    }
    // A held client that goes away loses its place: nothing is started for
    // nobody.
    for (auto &kv : waiting_)
        if (kv.second.creator == fd) {
            kv.second.creator = -1;
            const std::string id = kv.first; // cancel_waiting erases the entry
            log(LogLevel::info, "PVL00026",
                "queued launch " + id + " abandoned: the client went away");
            cancel_waiting(id, 0, "the client went away", LaunchState::canceled);
            break;
        }
    close(fd);
    conns_.erase(it);
}

void SessionDaemon::accept_clients() {
    for (;;) {
        int fd = accept4(opts_.listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        struct ucred cred;
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
            (cred.uid != 0 && cred.uid != opts_.client_uid && cred.uid != geteuid())) {
            log(LogLevel::warning, "PVL00040",
                "refused a control connection from uid " + std::to_string(cred.uid));
            close(fd);
            continue;
        }
        Conn c;
        c.fd = fd;
        conns_.emplace(fd, std::move(c));
    }
}

void SessionDaemon::handle_conn_io(int fd, short revents) {
    auto it = conns_.find(fd);
    if (it == conns_.end())
        return;
    Conn &c = it->second;
    if (c.phase == Conn::Phase::writing) {
        if (revents & (POLLERR | POLLHUP))
            close_conn(fd);
        else
            flush_conn(c);
        return;
    }
    if (c.phase == Conn::Phase::streaming) {
        if (revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP))
            close_conn(fd); // the watcher went away
        else if (revents & POLLOUT)
            flush_conn(c);
        return;
    }
    if (c.phase == Conn::Phase::waiting) {
        // Nothing more is expected from a waiting client: readable means gone.
        if (revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP))
            close_conn(fd);
        return;
    }
    char buf[16384];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            c.in.append(buf, static_cast<size_t>(n));
            size_t nl = c.in.find('\n');
            if (nl != std::string::npos) {
                std::string line = c.in.substr(0, nl);
                c.in.clear();
                c.phase = Conn::Phase::waiting;
                dispatch(fd, line);
                return;
            }
            if (c.in.size() > max_request_line) {
                respond(fd, 413, error_body("control request too large"));
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        close_conn(fd);
        return;
    }
}

void SessionDaemon::dispatch(int fd, const std::string &line) {
    ControlRequest req;
    std::string error;
    if (!decode_request(line, &req, &error)) {
        respond(fd, 400, error_body(error));
        return;
    }
    const std::string &id = req.id;
    switch (req.op) {
    case Op::map:
        op_map(fd, id);
        return;
    case Op::stats:
        op_stats(fd);
        return;
    default:
        break;
    }
    if (static_cast<size_t>(req.launcher) >= opts_.launchers.size()) {
        respond(fd, 500, error_body("no launcher config for this server"));
        return;
    }
    const int launcher = req.launcher;
    switch (req.op) {
    case Op::create:
        op_create(fd, launcher, req);
        break;
    case Op::list:
        op_list(fd, launcher);
        break;
    case Op::reorder:
        op_reorder(fd, launcher, req);
        break;
    case Op::logtail:
        op_logtail(fd, launcher, id);
        break;
    case Op::watch:
        op_watch(fd, launcher, id);
        break;
    case Op::get:
        op_get(fd, launcher, id);
        break;
    case Op::del:
        op_delete(fd, launcher, id);
        break;
    case Op::map:
    case Op::stats:
        break;
    }
}

void SessionDaemon::op_map(int fd, const std::string &id) {
    std::string route = valid_session_id(id) ? table_.route(id) : std::string();
    respond(fd, route.empty() ? 404 : 200, route);
}

void SessionDaemon::op_get(int fd, int launcher, const std::string &id) {
    auto lit = valid_session_id(id) ? launches_.find(id) : launches_.end();
    if (lit != launches_.end() && lit->second.launcher == launcher && lit->second.tracked) {
        respond(fd, 200, launch_body(lit->second));
        return;
    }
    Session *s = valid_session_id(id) ? table_.find(id) : nullptr;
    if (!s || s->launcher != launcher || s->state != SessionState::ready) {
        respond(fd, 404,
                error_body("no session with id " + (valid_session_id(id) ? id : "?") +
                           " (it has ended, or the id is wrong)"));
        return;
    }
    respond(fd, 200, s->response);
}

void SessionDaemon::op_delete(int fd, int launcher, const std::string &id) {
    auto lit = valid_session_id(id) ? launches_.find(id) : launches_.end();
    Launch *l = lit != launches_.end() && lit->second.launcher == launcher ? &lit->second : nullptr;
    if (l && l->state == LaunchState::waiting) {
        log(LogLevel::info, "PVL00036", "queued launch " + id + " canceled on request");
        const bool tracked = l->tracked;
        cancel_waiting(id, 503, "the launch was canceled", LaunchState::canceled);
        auto again = launches_.find(id);
        if (tracked && again != launches_.end())
            respond(fd, 200, launch_body(again->second));
        else
            respond(fd, 200, "{\"id\":\"" + id + "\",\"state\":\"canceled\"}");
        return;
    }
    if (l && l->tracked && launch_ended(l->state)) {
        respond(fd, 200, launch_body(*l));
        return;
    }
    Session *s = valid_session_id(id) ? table_.find(id) : nullptr;
    // A tracked launch can be stopped while it starts; a ParaViewWeb
    // session only once it is ready (its id is unknown before).
    const bool stoppable =
        s && s->launcher == launcher &&
        (s->state == SessionState::ready || (s->state != SessionState::ready && l && l->tracked));
    if (!stoppable) {
        respond(fd, 404,
                error_body("no session with id " + (valid_session_id(id) ? id : "?") +
                           " (it has ended, or the id is wrong)"));
        return;
    }
    Proc &p = procs_[s->id];
    p.delete_waiters.push_back(fd);
    if (s->state == SessionState::stopping)
        return; // answered with the others once it is gone
    p.end_as = LaunchState::canceled;
    p.end_why = "stopped on request";
    if (p.creator >= 0) {
        int creator = p.creator;
        p.creator = -1;
        respond(creator, 503, error_body("the launch was canceled"));
    }
    log(LogLevel::info, "PVL00032", "session " + s->id + " stopped on request");
    stop_session(*s, p);
}

void SessionDaemon::op_list(int fd, int launcher) {
    JsonPtr arr(json_array());
    // Running launches (sessions not being stopped) in request order, then
    // the queue in start order.
    std::vector<std::pair<long, JsonPtr>> running;
    for (const std::string &id : table_.ids()) {
        const Session *s = table_.find(id);
        if (s->launcher != launcher || s->state == SessionState::stopping)
            continue;
        auto lit = launches_.find(id);
        if (lit != launches_.end()) {
            running.emplace_back(lit->second.request_number, launch_summary_json(lit->second, 0));
            json_object_set_new(running.back().second.get(), "hostPort",
                                json_string(s->host_port().c_str()));
            continue;
        }
        const Proc &p = procs_[id];
        Launch l;
        l.id = id;
        l.uri = bases_[static_cast<size_t>(launcher)] + "/" + id;
        l.service = s->application;
        l.state = LaunchState::running;
        l.request_number = p.request_number;
        l.request_time = p.request_time;
        l.started = true;
        l.start_time = p.start_time_wall;
        running.emplace_back(l.request_number, launch_summary_json(l, 0));
        json_object_set_new(running.back().second.get(), "hostPort",
                            json_string(s->host_port().c_str()));
    }
    std::sort(running.begin(), running.end(),
              [](const auto &a, const auto &b) { return a.first < b.first; });
    for (auto &r : running)
        json_array_append_new(arr.get(), r.second.release());
    const LaunchQueue &q = queues_[static_cast<size_t>(launcher)];
    size_t pos = 0;
    for (const std::string &id : q.ids()) {
        auto it = launches_.find(id);
        if (it != launches_.end())
            json_array_append_new(arr.get(), launch_summary_json(it->second, ++pos).release());
    }
    JsonPtr body(json_pack("{s:O}", "launches", arr.get()));
    respond(fd, 200, json_to_string(body.get()));
}

// The last lines of a live session's log, for the admin page.
void SessionDaemon::op_logtail(int fd, int launcher, const std::string &id) {
    Session *s = valid_session_id(id) ? table_.find(id) : nullptr;
    if (!s || s->launcher != launcher) {
        respond(fd, 404,
                error_body("no running session with id " +
                           (valid_session_id(id) ? id : std::string("?"))));
        return;
    }
    std::string tail = log_tail(procs_[id].log_path);
    json_t *text = json_stringn(tail.data(), tail.size());
    JsonPtr j(json_pack("{s:s, s:o}", "id", id.c_str(), "log",
                        text ? text : json_string("(the log is not UTF-8 text)")));
    respond(fd, 200, json_to_string(j.get()));
}

void SessionDaemon::op_watch(int fd, int launcher, const std::string &id) {
    auto lit = valid_session_id(id) ? launches_.find(id) : launches_.end();
    Launch *l = lit != launches_.end() && lit->second.launcher == launcher ? &lit->second : nullptr;
    Session *s = valid_session_id(id) ? table_.find(id) : nullptr;
    if (s && s->launcher != launcher)
        s = nullptr;
    // A ParaViewWeb session is watchable once its id is known (ready); a
    // seed 004 launch from its creation.
    if (!l && !(s && s->state == SessionState::ready)) {
        respond(fd, 404, error_body("no launch with id " + (valid_session_id(id) ? id : "?")));
        return;
    }
    auto it = conns_.find(fd);
    if (it == conns_.end())
        return;
    Conn &c = it->second;
    c.phase = Conn::Phase::streaming;
    c.out = frame_response(200, "");
    c.out_off = 0;
    JsonPtr now(json_object());
    const char *state = l ? launch_state_name(l->state) : "running";
    json_object_set_new(now.get(), "state", json_string(state));
    if (l && l->state == LaunchState::waiting)
        json_object_set_new(now.get(), "queuePosition",
                            json_integer(static_cast<json_int_t>(
                                queues_[static_cast<size_t>(launcher)].position(id))));
    if (s)
        json_object_set_new(now.get(), "sessionState",
                            json_string(s->state == SessionState::ready      ? "ready"
                                        : s->state == SessionState::starting ? "starting"
                                                                             : "stopping"));
    watchers_[id].push_back(fd);
    stream(fd, "state", std::move(now));
    if (l && launch_ended(l->state))
        end_watchers(id, nullptr);
}

void SessionDaemon::stream(int fd, const char *event, JsonPtr data) {
    auto it = conns_.find(fd);
    if (it == conns_.end() || it->second.phase != Conn::Phase::streaming)
        return;
    Conn &c = it->second;
    JsonPtr line(json_pack("{s:s, s:o}", "event", event, "data", data.release()));
    if (c.out_off == c.out.size()) {
        c.out.clear();
        c.out_off = 0;
    }
    c.out += json_to_string(line.get()) + "\n";
    flush_conn(c);
}

void SessionDaemon::emit(const std::string &id, const char *event, JsonPtr data) {
    auto it = watchers_.find(id);
    if (it == watchers_.end())
        return;
    const std::vector<int> fds = it->second; // streaming may close some
    for (int fd : fds)
        stream(fd, event, JsonPtr(json_deep_copy(data.get())));
}

void SessionDaemon::emit_positions(int launcher) {
    if (watchers_.empty())
        return;
    const LaunchQueue &q = queues_[static_cast<size_t>(launcher)];
    size_t pos = 0;
    for (const std::string &id : q.ids()) {
        ++pos;
        if (watchers_.count(id))
            emit(id, "position",
                 JsonPtr(json_pack("{s:s, s:I}", "state", "waiting", "queuePosition",
                                   static_cast<json_int_t>(pos))));
    }
}

// The launch ended (`state`, or what the stream already said): last event,
// then each watcher's connection closes once it is sent.
void SessionDaemon::end_watchers(const std::string &id, const char *state) {
    if (state)
        emit(id, "state", JsonPtr(json_pack("{s:s}", "state", state)));
    auto it = watchers_.find(id);
    if (it == watchers_.end())
        return;
    const std::vector<int> fds = it->second;
    watchers_.erase(it);
    for (int fd : fds) {
        auto c = conns_.find(fd);
        if (c == conns_.end())
            continue;
        c->second.closing = true;
        flush_conn(c->second);
    }
}

void SessionDaemon::op_stats(int fd) {
    json_int_t starting = 0, ready = 0, stopping = 0;
    for (const std::string &id : table_.ids()) {
        const Session *s = table_.find(id);
        ++(s->state == SessionState::starting ? starting
           : s->state == SessionState::ready  ? ready
                                              : stopping);
    }
    size_t free_ports = 0, ports = 0;
    for (const auto &p : pools_) {
        free_ports += p.free_count();
        ports += p.size();
    }
    JsonPtr outcomes(json_object());
    for (const auto &kv : outcomes_)
        json_object_set_new(outcomes.get(), kv.first.c_str(),
                            json_integer(static_cast<json_int_t>(kv.second)));
    JsonPtr j(json_pack(
        "{s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:O, s:o, s:o, s:f}", "sessions", "starting",
        starting, "ready", ready, "stopping", stopping, "waiting",
        static_cast<json_int_t>(waiting_.size()), "ports_free", static_cast<json_int_t>(free_ports),
        "ports_total", static_cast<json_int_t>(ports), "started", static_cast<json_int_t>(started_),
        "outcomes", outcomes.get(), "launch_duration_seconds", launch_duration_.to_json().release(),
        "queue_wait_seconds", queue_wait_.to_json().release(), "uptime_seconds",
        std::chrono::duration<double>(Clock::now() - born_).count()));
    respond(fd, 200, json_to_string(j.get()));
}

void SessionDaemon::op_reorder(int fd, int launcher, const ControlRequest &req) {
    LaunchQueue::Direction d;
    const std::string &dir = req.direction;
    if (!LaunchQueue::parse_direction(dir.c_str(), &d)) {
        respond(fd, 400, error_body("direction must be top, up, down or bottom"));
        return;
    }
    const std::vector<std::string> &ids = req.ids;
    if (ids.empty()) {
        respond(fd, 400, error_body("give the launches to move as id parameters"));
        return;
    }
    std::string unknown;
    if (!queues_[static_cast<size_t>(launcher)].reorder(ids, d, &unknown)) {
        respond(fd, 400,
                error_body("no waiting launch with id " +
                           (valid_session_id(unknown) ? unknown : std::string("?"))));
        return;
    }
    log(LogLevel::info, "PVL00037", std::to_string(ids.size()) + " queued launch(es) moved " + dir);
    emit_positions(launcher);
    op_list(fd, launcher);
}

void SessionDaemon::sync_elsewhere() {
    // Every launch record counts (not only tracked ones): an untracked one
    // lives only while queued or owing a callback, and counting it costs at
    // most a round trip for an unknown id meanwhile.
    const uint32_t n = static_cast<uint32_t>(launches_.size());
    if (!opts_.table || n == published_elsewhere_)
        return;
    opts_.table->set_elsewhere(n);
    published_elsewhere_ = n;
}

std::string SessionDaemon::new_id() const {
    for (int tries = 0; tries < 4; ++tries) {
        std::string id = random_id();
        if (!id.empty() && !table_.find(id) && !launches_.count(id))
            return id;
    }
    return std::string();
}

QueueOptions SessionDaemon::queue_options(int launcher) const {
    size_t l = static_cast<size_t>(launcher);
    return l < opts_.settings.queues.size() ? opts_.settings.queues[l] : QueueOptions();
}

void SessionDaemon::op_create(int fd, int launcher, const ControlRequest &req) {
    json_t *payload = req.payload.get();
    const bool async = req.async;
    const char *notify = req.notify.empty() ? nullptr : req.notify.c_str();
    const char *base = req.base.empty() ? nullptr : req.base.c_str();
    if (stopping_) {
        respond(fd, 503, error_body("the launcher is shutting down"));
        return;
    }
    const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(launcher)];
    if (!json_is_object(payload)) {
        respond(fd, 400, error_body("request body must be a JSON object"));
        return;
    }
    LaunchError err;
    std::string app;
    if (!check_payload(cfg, payload, &app, &err)) {
        respond(fd, err.status, error_body(err.message));
        return;
    }
    Launch l;
    l.id = new_id();
    if (l.id.empty()) {
        respond(fd, 500, error_body("cannot generate a session id"));
        return;
    }
    const SysTime now = std::chrono::system_clock::now();
    l.launcher = launcher;
    l.service = app;
    if (base)
        bases_[static_cast<size_t>(launcher)] = base;
    l.uri = bases_[static_cast<size_t>(launcher)] + "/" + l.id;
    l.request_number = next_request_number_++;
    l.request_time = now;
    l.arguments = launch_arguments(payload);
    l.tracked = async;
    l.all_parameters = req.form;
    l.status_location = notify ? notify : "";
    l.add_log("progress", "launch of " + app + " requested", now);
    const std::string id = l.id;
    Launch &stored = launches_[id] = std::move(l);
    sync_elsewhere(); // before anyone can learn the id
    LaunchQueue &q = queues_[static_cast<size_t>(launcher)];
    if (q.empty()) {
        switch (start_launch(stored, payload, async ? -1 : fd, &err)) {
        case Start::started:
            if (async)
                respond(fd, 202, launch_body(launches_[id]));
            return;
        case Start::failed:
            launches_.erase(id);
            ++outcomes_["failed"];
            respond(fd, err.status, error_body(err.message));
            return;
        case Start::no_capacity:
            break;
        }
    }
    const QueueOptions qo = queue_options(launcher);
    if (q.size() >= qo.max_length) {
        launches_.erase(id);
        ++outcomes_["rejected"];
        if (qo.max_length > 0)
            respond(fd, 503,
                    error_body("the launch queue is full (" + std::to_string(qo.max_length) +
                               " waiting); try again later"));
        else if (cfg.max_session > 0 &&
                 table_.count(launcher) >= static_cast<size_t>(cfg.max_session))
            respond(fd, 503,
                    error_body("the maximum number of sessions (" +
                               std::to_string(cfg.max_session) + ") is reached; try again later"));
        else
            respond(fd, 503, error_body("all resources are taken; try again later"));
        return;
    }
    // Bad input is refused now, not after the wait: plan with the values
    // the server would give it.
    ServerVars probe;
    probe.id = id;
    probe.host = cfg.resources.empty() ? "localhost" : cfg.resources.front().host;
    probe.port = cfg.resources.empty() ? 0 : cfg.resources.front().port_lo;
    probe.secret = random_token(24);
    probe.application = app;
    LaunchPlan plan;
    if (!plan_launch(cfg, payload, probe, &plan, &err, unresolved_policy(stored))) {
        launches_.erase(id);
        respond(fd, err.status, error_body(err.message));
        return;
    }
    q.push(id);
    Waiting &w = waiting_[id];
    w.payload = json_ref(payload);
    w.creator = async ? -1 : fd;
    w.deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>(qo.max_wait * 1000.0));
    stored.state = LaunchState::waiting;
    stored.add_log("progress", "queued at position " + std::to_string(q.size()), now);
    log(LogLevel::info, "PVL00038",
        "launch " + id + " (" + app + ") queued at position " + std::to_string(q.size()));
    if (async)
        respond(fd, 202, launch_body(stored));
}

SessionDaemon::Start SessionDaemon::start_launch(Launch &l, json_t *payload, int creator,
                                                 LaunchError *err) {
    const int launcher = l.launcher;
    const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(launcher)];
    if (cfg.max_session > 0 && table_.count(launcher) >= static_cast<size_t>(cfg.max_session))
        return Start::no_capacity;
    ServerVars vars;
    PortPool &pool = pools_[static_cast<size_t>(launcher)];
    if (!pool.take(&vars.host, &vars.port, port_bindable))
        return Start::no_capacity;
    vars.id = l.id;
    vars.secret = random_token(24);
    vars.application = l.service;
    LaunchPlan plan;
    if (vars.secret.empty()) {
        pool.release(vars.host, vars.port);
        *err = {500, "cannot generate a session secret"};
        return Start::failed;
    }
    if (!plan_launch(cfg, payload, vars, &plan, err, unresolved_policy(l))) {
        pool.release(vars.host, vars.port);
        return Start::failed;
    }
    for (const auto &name : plan.unresolved)
        log(LogLevel::warning, "PVL00066",
            "launch " + l.id + " (" + l.service + "): \"" + name +
                "\" is neither in the request nor a property of the launcher config; "
                "${" +
                name + "} is left as written");

    Proc p;
    p.log_path = cfg.log_dir + "/" + vars.id + ".log";
    int out_fd =
        open(p.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (out_fd < 0) {
        pool.release(vars.host, vars.port);
        std::string why = "cannot open the session log " + p.log_path + ": " + strerror(errno);
        log(LogLevel::error, "PVL00041", why);
        *err = {500, why};
        return Start::failed;
    }
    p.ready_lines = plan.ready_lines;
    for (const auto &r : p.ready_lines)
        p.longest_ready = std::max(p.longest_ready, r.size());
    if (!p.ready_lines.empty()) {
        p.log_fd = open(p.log_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        p.wd = inotify_add_watch(ifd_, p.log_path.c_str(), IN_MODIFY);
    }
    SpawnSpec spec;
    spec.argv = plan.argv;
    spec.dir = plan.dir;
    spec.env = opts_.settings.pass_env;
    spec.env.insert(spec.env.end(), plan.env.begin(), plan.env.end());
    spec.output_fd = out_fd;
    std::string spawn_error;
    AppRef app;
    const bool spawned = backend_->start(spec, &app, &spawn_error);
    close(out_fd);
    if (!spawned) {
        stop_watching(p);
        pool.release(vars.host, vars.port);
        log(LogLevel::error, "PVL00042", "application " + l.service + ": " + spawn_error);
        *err = {502, "application " + l.service + " could not be started: " + spawn_error};
        return Start::failed;
    }
    Session s;
    s.id = vars.id;
    s.launcher = launcher;
    s.application = l.service;
    s.host = vars.host;
    s.port = vars.port;
    s.pid = app.pid;
    s.state = SessionState::starting;
    s.response = json_to_string(plan.response.get());
    p.started = Clock::now();
    p.ready_deadline =
        p.started + std::chrono::milliseconds(static_cast<long>(cfg.timeout * 1000.0));
    p.creator = creator;
    if (p.wd >= 0)
        watches_[p.wd] = s.id;
    p.start_time = app.start_time;
    const SysTime now = std::chrono::system_clock::now();
    p.request_number = l.request_number;
    p.request_time = l.request_time;
    p.start_time_wall = now;
    ++started_;
    queue_wait_.observe(std::chrono::duration<double>(now - l.request_time).count());
    l.state = LaunchState::running;
    l.started = true;
    l.start_time = now;
    l.erase_status("queuePosition");
    l.add_log("progress", "application " + l.service + " started", now);
    emit(l.id, "state",
         JsonPtr(json_pack("{s:s, s:s}", "state", "running", "sessionState", "starting")));
    table_.add(s);
    Proc &stored = procs_[s.id] = std::move(p);
    save_session(s);
    // A ParaViewWeb launch needs its record no more: the session and its
    // Proc say what the listing shows (a site keeps thousands of them).
    if (!l.tracked && l.status_location.empty())
        launches_.erase(s.id);
    Session &row = *table_.find(s.id);
    if (stored.ready_lines.empty())
        start_probe(row, stored);
    else
        check_ready(row, stored);
    return Start::started;
}

void SessionDaemon::drain_queue(int launcher) {
    LaunchQueue &q = queues_[static_cast<size_t>(launcher)];
    while (!q.empty() && !stopping_) {
        const std::string id = q.front();
        auto wit = waiting_.find(id);
        auto lit = launches_.find(id);
        q.pop_front();
        if (wit == waiting_.end() || lit == launches_.end())
            continue;
        // Out of the queue before it starts: answering its client may close
        // the connection, and closing looks the client up among the waiting.
        Waiting w = std::move(wit->second);
        waiting_.erase(wit);
        LaunchError err;
        Start st = start_launch(lit->second, w.payload.get(), w.creator, &err);
        if (st == Start::no_capacity) {
            q.push_front(id);
            waiting_[id] = std::move(w);
            return;
        }
        if (st == Start::failed) {
            if (w.creator >= 0)
                respond(w.creator, err.status, error_body(err.message));
            ++outcomes_["failed"];
            finish_launch(id, LaunchState::failed, "error", err.message);
        }
        emit_positions(launcher); // everyone behind moved up
    }
}

void SessionDaemon::cancel_waiting(const std::string &id, int status, const std::string &why,
                                   LaunchState state) {
    auto wit = waiting_.find(id);
    if (wit == waiting_.end())
        return;
    const int creator = wit->second.creator;
    waiting_.erase(wit);
    auto lit = launches_.find(id);
    if (lit != launches_.end()) {
        queues_[static_cast<size_t>(lit->second.launcher)].remove(id);
        emit_positions(lit->second.launcher);
    }
    if (creator >= 0 && status > 0)
        respond(creator, status, error_body(why));
    ++outcomes_[launch_state_name(state)];
    finish_launch(id, state, state == LaunchState::failed ? "error" : "warning", why);
}

void SessionDaemon::finish_launch(const std::string &id, LaunchState state, const char *kind,
                                  const std::string &why) {
    auto it = launches_.find(id);
    if (it == launches_.end())
        return;
    Launch &l = it->second;
    const SysTime now = std::chrono::system_clock::now();
    if (!l.end(state, now))
        return;
    l.add_log(kind, why, now);
    end_watchers(id, launch_state_name(state));
    if (!l.status_location.empty()) {
        std::string error;
        if (!notifier_.post(l.status_location, json_to_string(launch_object(l).get()),
                            "application/json", &error))
            log(LogLevel::warning, "PVL00039",
                "launch " + id + ": no status notification: " + error);
    }
    if (l.tracked && opts_.settings.keep_finished > 0) {
        forget_at_[id] = Clock::now() + std::chrono::milliseconds(
                                            static_cast<long>(opts_.settings.keep_finished * 1000));
        kept_order_.push_back(id);
        // Bounded whatever the request rate: the oldest go first.
        while (kept_order_.size() > max_kept_launches) {
            const std::string old = kept_order_.front();
            kept_order_.pop_front();
            if (forget_at_.erase(old))
                launches_.erase(old);
        }
    } else {
        launches_.erase(it);
    }
}

JsonPtr SessionDaemon::launch_object(Launch &l) {
    LaunchQueue &q = queues_[static_cast<size_t>(l.launcher)];
    if (l.state == LaunchState::waiting)
        l.set_status("queuePosition", std::to_string(q.position(l.id)));
    const Session *s = table_.find(l.id);
    JsonPtr session;
    if (s && s->state == SessionState::ready)
        session.reset(json_loads(s->response.c_str(), 0, nullptr));
    l.set_status("sessionState", s ? (s->state == SessionState::ready      ? "ready"
                                      : s->state == SessionState::starting ? "starting"
                                                                           : "stopping")
                                   : (l.state == LaunchState::waiting ? "queued" : "ended"));
    return launch_json(l, session.get(), std::chrono::system_clock::now());
}

std::string SessionDaemon::launch_body(Launch &l) {
    JsonPtr body(json_pack("{s:o}", "launch", launch_object(l).release()));
    return json_to_string(body.get());
}

void SessionDaemon::stop_watching(Proc &p) {
    if (p.wd >= 0) {
        inotify_rm_watch(ifd_, p.wd);
        watches_.erase(p.wd);
        p.wd = -1;
    }
    if (p.log_fd >= 0) {
        close(p.log_fd);
        p.log_fd = -1;
    }
    p.carry.clear();
    if (p.probe_fd >= 0) {
        close(p.probe_fd);
        p.probe_fd = -1;
    }
    p.probing = false;
    decltype(p.probe_addrs)().swap(p.probe_addrs);
}

void SessionDaemon::start_probe(Session &s, Proc &p) {
    struct addrinfo hints;
    std::memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = nullptr;
    // Resource hosts are the operator's: numeric or in /etc/hosts as a rule.
    const int rc = getaddrinfo(s.host.c_str(), std::to_string(s.port).c_str(), &hints, &res);
    for (struct addrinfo *ai = rc == 0 ? res : nullptr; ai; ai = ai->ai_next) {
        sockaddr_storage a;
        std::memset(&a, 0, sizeof a);
        std::memcpy(&a, ai->ai_addr, std::min<size_t>(ai->ai_addrlen, sizeof a));
        p.probe_addrs.push_back(a);
    }
    if (res)
        freeaddrinfo(res);
    if (p.probe_addrs.empty())
        log(LogLevel::warning, "PVL00067",
            "session " + s.id + ": cannot resolve " + s.host + " (" + gai_strerror(rc) +
                ") to check that the application listens; it can only time out");
    p.probing = true;
    p.probe_delay_ms = 0;
    probe(s, p);
}

// One connection attempt; refused ones are retried after 5 ms, doubling up
// to 100 ms, until the launch's timeout.
void SessionDaemon::probe(Session &s, Proc &p) {
    p.next_probe = Clock::now() + std::chrono::hours(24);
    if (p.probe_addrs.empty())
        return;
    const sockaddr_storage &a = p.probe_addrs[p.probe_next_addr++ % p.probe_addrs.size()];
    const socklen_t len = a.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, reinterpret_cast<const sockaddr *>(&a), len) == 0) {
        close(fd);
        mark_ready(s, p);
        return;
    }
    if (fd >= 0 && errno == EINPROGRESS) {
        p.probe_fd = fd;
        return;
    }
    if (fd >= 0)
        close(fd);
    p.probe_delay_ms = std::min(100, std::max(5, p.probe_delay_ms * 2));
    p.next_probe = Clock::now() + std::chrono::milliseconds(p.probe_delay_ms);
}

void SessionDaemon::on_probe_done(Session &s, Proc &p) {
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(p.probe_fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
        error = errno;
    close(p.probe_fd);
    p.probe_fd = -1;
    if (error == 0) {
        mark_ready(s, p);
        return;
    }
    p.probe_delay_ms = std::min(100, std::max(5, p.probe_delay_ms * 2));
    p.next_probe = Clock::now() + std::chrono::milliseconds(p.probe_delay_ms);
}

void SessionDaemon::check_ready(Session &s, Proc &p) {
    if (s.state != SessionState::starting || p.log_fd < 0)
        return;
    char buf[8192];
    for (;;) {
        ssize_t n = read(p.log_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        std::string text = p.carry;
        text.append(buf, static_cast<size_t>(n));
        for (const auto &line : p.ready_lines) {
            if (text.find(line) != std::string::npos) {
                mark_ready(s, p, line);
                return;
            }
        }
        size_t keep = p.longest_ready > 0 ? p.longest_ready - 1 : 0;
        p.carry = text.size() > keep ? text.substr(text.size() - keep) : text;
    }
}

void SessionDaemon::mark_ready(Session &s, Proc &p, std::string line) {
    stop_watching(p);
    // What only a start needs is given back: a site keeps thousands of
    // ready sessions.
    std::vector<std::string>().swap(p.ready_lines);
    std::string().swap(p.carry);
    s.state = SessionState::ready;
    auto ms = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - p.started);
    launch_duration_.observe(static_cast<double>(ms.count()) / 1e6);
    p.last_active = Clock::now();
    emit(s.id, "ready",
         JsonPtr(json_pack("{s:s, s:s, s:s%}", "state", "running", "sessionState", "ready", "line",
                           line.data(), line.size())));
    log(LogLevel::info, "PVL00010",
        "session " + s.id + " (" + s.application + ") ready on " + s.host_port() + " in " +
            std::to_string(ms.count() / 1000.0) + " ms");
    auto lit = launches_.find(s.id);
    if (lit != launches_.end() && lit->second.tracked) {
        lit->second.add_log("output", "application ready", std::chrono::system_clock::now());
    } else if (lit != launches_.end() && lit->second.status_location.empty()) {
        // Only the queue listing reads an untracked launch from now on.
        Launch &l = lit->second;
        decltype(l.log)().swap(l.log);
        decltype(l.arguments)().swap(l.arguments);
        decltype(l.status)().swap(l.status);
    }
    publish(s);
    if (p.creator >= 0) {
        int fd = p.creator;
        p.creator = -1;
        respond(fd, 200, s.response);
    }
}

void SessionDaemon::stop_session(Session &s, Proc &p) {
    bool was_ready = s.state == SessionState::ready;
    stop_watching(p);
    if (s.state != SessionState::stopping) {
        s.state = SessionState::stopping;
        backend_->signal(app_of(s), SIGTERM);
        p.kill_deadline = Clock::now() + std::chrono::milliseconds(
                                             static_cast<long>(opts_.settings.stop_grace * 1000.0));
    }
    if (was_ready)
        unpublish(s);
}

void SessionDaemon::collect_exits(const pollfd *fds, size_t n) {
    std::vector<AppExit> exits;
    backend_->collect_exits(fds, n, &exits);
    for (const AppExit &e : exits)
        if (Session *s = table_.find_by_pid(e.pid))
            on_exit(*s, e.status);
}

void SessionDaemon::on_exit(Session &s, int status) {
    Proc &p = procs_[s.id];
    std::string how = status < 0 ? std::string("exit status unknown: taken over from an earlier "
                                               "daemon")
                                 : describe_wait_status(status);
    auto lit = launches_.find(s.id);
    const bool tracked = lit != launches_.end() && lit->second.tracked;
    // Answers go out once the session is forgotten everywhere (table, map,
    // journal): a client told "gone" must not find it again.
    std::vector<std::pair<int, std::pair<int, std::string>>> answers;
    std::vector<int> delete_waiters;
    LaunchState end = LaunchState::completed;
    const char *kind = "progress";
    std::string why;
    switch (s.state) {
    case SessionState::starting: {
        std::string tail = log_tail(p.log_path);
        why = "application " + s.application + " exited before it was ready (" + how + ")";
        log(LogLevel::warning, "PVL00021",
            "application " + s.application + " of session " + s.id +
                " exited before it was ready (" + how + ")");
        if (p.creator >= 0) {
            answers.push_back(
                {p.creator, {502, error_body(why + "; last lines of its log:\n" + tail)}});
            p.creator = -1;
        }
        end = LaunchState::failed;
        kind = "error";
        break;
    }
    case SessionState::ready:
        log(LogLevel::notice, "PVL00020",
            "session " + s.id + " (" + s.application + ") ended by itself (" + how + ")");
        why = "application ended by itself (" + how + ")";
        if (status >= 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            end = LaunchState::failed;
            kind = "error";
        }
        break;
    case SessionState::stopping:
        end = p.end_as;
        why = p.end_why;
        kind = end == LaunchState::failed ? "error" : "progress";
        if (tracked)
            delete_waiters = p.delete_waiters;
        else
            for (int fd : p.delete_waiters)
                answers.push_back({fd, {200, s.response}});
        break;
    }
    stop_watching(p);
    pools_[static_cast<size_t>(s.launcher)].release(s.host, s.port);
    const Session gone = s;
    table_.remove(gone.id);
    procs_.erase(gone.id);
    if (gone.state == SessionState::ready)
        unpublish(gone); // after the removal: the map file is rendered from the table
    forget_session(gone.id);
    ++outcomes_[launch_state_name(end)];
    finish_launch(gone.id, end, kind, why);
    end_watchers(gone.id, launch_state_name(end)); // ParaViewWeb sessions have no record
    for (auto &a : answers)
        respond(a.first, a.second.first, a.second.second);
    if (!delete_waiters.empty()) {
        auto again = launches_.find(gone.id);
        std::string body = again != launches_.end() ? launch_body(again->second) : gone.response;
        for (int fd : delete_waiters)
            respond(fd, 200, body);
    }
    drain_queue(gone.launcher);
}

void SessionDaemon::handle_inotify() {
    alignas(struct inotify_event) char buf[8192];
    for (;;) {
        ssize_t n = read(ifd_, buf, sizeof buf);
        if (n <= 0)
            return;
        for (char *ptr = buf; ptr < buf + n;) {
            auto *ev = reinterpret_cast<struct inotify_event *>(ptr);
            ptr += sizeof(struct inotify_event) + ev->len;
            auto w = watches_.find(ev->wd);
            if (w == watches_.end())
                continue;
            Session *s = table_.find(w->second);
            if (s)
                check_ready(*s, procs_[s->id]);
        }
    }
}

double SessionDaemon::idle_scan_interval() const {
    return std::min(30.0, std::max(0.5, opts_.settings.idle_timeout / 4));
}

void SessionDaemon::check_limits(Clock::time_point now) {
    std::set<int> busy;
    const bool scan = opts_.settings.idle_timeout > 0 && now >= next_idle_scan_;
    if (scan) {
        // Apache's proxy connections to an app end on the app's port: an
        // established socket there is a client.
        for (const char *path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            std::string text;
            char buf[65536];
            ssize_t n;
            while ((n = read(fd, buf, sizeof buf)) > 0)
                text.append(buf, static_cast<size_t>(n));
            close(fd);
            established_local_ports(text, &busy);
        }
        next_idle_scan_ =
            now + std::chrono::milliseconds(static_cast<long>(idle_scan_interval() * 1000));
    }
    if (!scan && opts_.settings.max_lifetime <= 0)
        return;
    for (const std::string &id : table_.ids()) {
        Session *s = table_.find(id);
        if (s->state == SessionState::stopping)
            continue;
        Proc &p = procs_[id];
        char secs[32];
        std::string why;
        if (opts_.settings.max_lifetime > 0 &&
            now - p.started >=
                std::chrono::milliseconds(static_cast<long>(opts_.settings.max_lifetime * 1000))) {
            std::snprintf(secs, sizeof secs, "%g", opts_.settings.max_lifetime);
            why = std::string("reached the maximum lifetime of ") + secs + " s";
        } else if (scan && s->state == SessionState::ready) {
            if (busy.count(s->port))
                p.last_active = now;
            else if (now - p.last_active >= std::chrono::milliseconds(static_cast<long>(
                                                opts_.settings.idle_timeout * 1000))) {
                std::snprintf(secs, sizeof secs, "%g", opts_.settings.idle_timeout);
                why = std::string("no client connection for ") + secs + " s";
            }
        }
        if (why.empty())
            continue;
        log(LogLevel::notice, "PVL00025",
            "session " + id + " (" + s->application + ") " + why + "; stopping it");
        if (p.creator >= 0) {
            int fd = p.creator;
            p.creator = -1;
            respond(fd, 503, error_body("the session " + why + " before it was ready"));
        }
        p.end_as = LaunchState::completed;
        p.end_why = why;
        stop_session(*s, p);
    }
}

void SessionDaemon::handle_timers() {
    auto now = Clock::now();
    if (restart_pending_ && now >= claim_deadline_ && !stopping_) {
        restart_pending_ = false;
        log(LogLevel::warning, "PVL00052",
            "Apache restarted without claiming the session daemon (mod_pvlaunch is no longer "
            "loaded, or no longer configured); stopping every session");
        begin_shutdown();
    }
    check_limits(now);
    std::vector<std::string> expired;
    for (const auto &kv : waiting_)
        if (now >= kv.second.deadline)
            expired.push_back(kv.first);
    for (const std::string &id : expired) {
        auto lit = launches_.find(id);
        char secs[32];
        std::snprintf(secs, sizeof secs, "%g",
                      queue_options(lit != launches_.end() ? lit->second.launcher : 0).max_wait);
        log(LogLevel::notice, "PVL00024",
            "queued launch " + id + " waited " + secs + " s without a free slot; removed");
        cancel_waiting(id, 503,
                       std::string("no session could be started within the maximum wait of ") +
                           secs + " s; try again later",
                       LaunchState::failed);
    }
    // Capacity can come back without a session ending (a port another
    // program held is free again): retry the queues now and then.
    if (now >= next_drain_) {
        for (size_t l = 0; l < queues_.size(); ++l)
            if (!queues_[l].empty())
                drain_queue(static_cast<int>(l));
        next_drain_ = now + std::chrono::seconds(1);
    }
    for (auto it = forget_at_.begin(); it != forget_at_.end();) {
        if (now >= it->second) {
            launches_.erase(it->first);
            kept_order_.erase(std::remove(kept_order_.begin(), kept_order_.end(), it->first),
                              kept_order_.end());
            it = forget_at_.erase(it);
        } else {
            ++it;
        }
    }
    for (const std::string &id : table_.ids()) {
        Session *s = table_.find(id);
        Proc &p = procs_[id];
        if (s->state == SessionState::starting && p.probing && p.probe_fd < 0 &&
            now >= p.next_probe && now < p.ready_deadline)
            probe(*s, p);
        if (s->state == SessionState::starting && now >= p.ready_deadline) {
            check_ready(*s, p); // output may have arrived with the deadline
            if (s->state != SessionState::starting)
                continue;
            const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(s->launcher)];
            char secs[32];
            std::snprintf(secs, sizeof secs, "%g", cfg.timeout);
            std::string tail = log_tail(p.log_path);
            log(LogLevel::warning, "PVL00022",
                "session " + id + " (" + s->application + ") not ready within " + secs +
                    " s; stopping it");
            if (p.creator >= 0) {
                int fd = p.creator;
                p.creator = -1;
                const std::string what = p.probing
                                             ? " did not accept connections on " + s->host_port()
                                             : std::string(" did not print its ready line");
                respond(fd, 503,
                        error_body("application " + s->application + what +
                                   " within the timeout of " + secs +
                                   " s; last lines of its log:\n" + tail));
            }
            p.end_as = LaunchState::failed;
            p.end_why = std::string("not ready within the timeout of ") + secs + " s";
            stop_session(*s, p);
        } else if (s->state == SessionState::stopping && !p.killed && now >= p.kill_deadline) {
            log(LogLevel::notice, "PVL00023",
                "session " + id + " did not stop on SIGTERM; sending SIGKILL");
            backend_->signal(app_of(*s), SIGKILL);
            p.killed = true;
        }
    }
}

int SessionDaemon::poll_timeout_ms() const {
    auto now = Clock::now();
    auto next = now + std::chrono::seconds(60);
    for (const auto &kv : procs_) {
        const Proc &p = kv.second;
        const Session *s = table_.find(kv.first);
        if (!s)
            continue;
        if (s->state == SessionState::starting)
            next = std::min(next, p.probing && p.probe_fd < 0
                                      ? std::min(p.ready_deadline, p.next_probe)
                                      : p.ready_deadline);
        else if (s->state == SessionState::stopping && !p.killed)
            next = std::min(next, p.kill_deadline);
    }
    if (stopping_)
        next = std::min(next, stop_deadline_);
    for (const auto &kv : waiting_)
        next = std::min(next, kv.second.deadline);
    if (!waiting_.empty())
        next = std::min(next, next_drain_);
    if (restart_pending_)
        next = std::min(next, claim_deadline_);
    if (opts_.settings.idle_timeout > 0 && table_.size() > 0)
        next = std::min(next, next_idle_scan_);
    if (opts_.settings.max_lifetime > 0)
        for (const auto &kv : procs_)
            next = std::min(next, kv.second.started + std::chrono::milliseconds(static_cast<long>(
                                                          opts_.settings.max_lifetime * 1000)));
    for (const auto &kv : forget_at_)
        next = std::min(next, kv.second);
    int notifier_ms = notifier_.timeout_ms();
    if (notifier_ms >= 0)
        next = std::min(next, now + std::chrono::milliseconds(notifier_ms));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    return ms < 0 ? 0 : static_cast<int>(ms);
}

void SessionDaemon::write_map_file(int launcher) {
    const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(launcher)];
    if (cfg.map_file.empty())
        return;
    std::string tmp = cfg.map_file + ".tmp." + std::to_string(getpid());
    std::string text = table_.map_file_text(launcher);
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    bool ok = fd >= 0;
    if (ok)
        ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    if (ok)
        ok = rename(tmp.c_str(), cfg.map_file.c_str()) == 0;
    if (!ok) {
        log(LogLevel::error, "PVL00043",
            "cannot write the map file " + cfg.map_file + ": " + strerror(errno));
        unlink(tmp.c_str());
    }
}

void SessionDaemon::publish(const Session &s) {
    if (opts_.table) {
        size_t l = static_cast<size_t>(s.launcher);
        long idx = pools_[l].index_of(s.host, s.port);
        // A tracked launch's GET is rendered by the daemon (it changes).
        auto lit = launches_.find(s.id);
        const bool store = lit == launches_.end() || !lit->second.tracked;
        if (idx < 0 ||
            !opts_.table->put(s.id, s.launcher, s.host_port(),
                              static_cast<uint32_t>(port_base_[l] + idx), s.response, store))
            log(LogLevel::error, "PVL00045", "cannot publish session " + s.id);
    }
    write_map_file(s.launcher);
    save_session(s);
}

void SessionDaemon::unpublish(const Session &s) {
    if (opts_.table)
        opts_.table->erase(s.id);
    write_map_file(s.launcher);
}

PersistedSession SessionDaemon::persisted(const Session &s) {
    PersistedSession r;
    r.id = s.id;
    r.launcher_file = opts_.launchers[static_cast<size_t>(s.launcher)]->file;
    r.application = s.application;
    r.host = s.host;
    r.port = s.port;
    r.pid = s.pid;
    r.start_time = procs_[s.id].start_time;
    r.state = s.state == SessionState::ready      ? "ready"
              : s.state == SessionState::starting ? "starting"
                                                  : "stopping";
    r.response = s.response;
    return r;
}

void SessionDaemon::save_session(const Session &s) {
    std::string error;
    if (journal_ && !journal_->put(persisted(s), &error))
        log(LogLevel::error, "PVL00046", error);
    else if (journal_ && journal_->records() > 4 * table_.size() + 64)
        save_state();
}

void SessionDaemon::forget_session(const std::string &id) {
    std::string error;
    if (journal_ && !journal_->erase(id, &error))
        log(LogLevel::error, "PVL00051", error);
    else if (journal_ && journal_->records() > 4 * table_.size() + 64)
        save_state();
}

void SessionDaemon::save_state() {
    if (!journal_)
        return;
    std::vector<PersistedSession> rows;
    for (const std::string &id : table_.ids())
        rows.push_back(persisted(*table_.find(id)));
    std::string error;
    if (!journal_->rewrite(rows, &error))
        log(LogLevel::error, "PVL00049", error);
}

void SessionDaemon::adopt() {
    if (!journal_)
        return;
    size_t adopted = 0, gone = 0, killed = 0;
    for (const PersistedSession &r : journal_->load()) {
        // Ids written before ids were lowercase are kept, in canonical form.
        const std::string id = canonical_session_id(r.id);
        int launcher = -1;
        for (size_t l = 0; l < opts_.launchers.size(); ++l)
            if (opts_.launchers[l]->file == r.launcher_file)
                launcher = static_cast<int>(l);
        AppRef app;
        app.pid = r.pid;
        app.start_time = r.start_time;
        if (!backend_->adopt(app)) {
            ++gone;
            continue;
        }
        bool keep = r.state == "ready" && launcher >= 0 && valid_session_id(id) &&
                    !table_.find(id) &&
                    pools_[static_cast<size_t>(launcher)].take_specific(r.host, r.port);
        if (!keep) {
            backend_->kill_now(app);
            ++killed;
            continue;
        }
        Session s;
        s.id = id;
        s.launcher = launcher;
        s.application = r.application;
        s.host = r.host;
        s.port = r.port;
        s.pid = r.pid;
        s.state = SessionState::ready;
        s.response = r.response;
        Proc &p = procs_[s.id];
        p.start_time = r.start_time;
        // Its age, for PVLaunchMaxLifetime: the process's start time (clock
        // ticks after boot) against the system's uptime.
        p.started = p.last_active = Clock::now();
        if (FILE *f = std::fopen("/proc/uptime", "re")) {
            double uptime = 0;
            if (std::fscanf(f, "%lf", &uptime) == 1) {
                double age = uptime - static_cast<double>(r.start_time) /
                                          static_cast<double>(sysconf(_SC_CLK_TCK));
                if (age > 0)
                    p.started -= std::chrono::milliseconds(static_cast<long>(age * 1000));
            }
            std::fclose(f);
        }
        // What the queue listing shows; the request time is not persisted.
        p.request_number = next_request_number_++;
        p.request_time = p.start_time_wall = std::chrono::system_clock::now();
        table_.add(s);
        // After a crash the shared table still holds the predecessor's
        // entries: children keep routing while we take over.
        std::string route;
        if (opts_.table &&
            opts_.table->route(s.id.data(), s.id.size(), &route) == SharedTable::Lookup::found)
            write_map_file(launcher);
        else
            publish(*table_.find(s.id));
        ++adopted;
    }
    if (opts_.table)
        for (const std::string &id : opts_.table->ids())
            if (!table_.find(id))
                opts_.table->erase(id);
    if (adopted + gone + killed > 0)
        log(LogLevel::notice, "PVL00050",
            "took over " + std::to_string(adopted) + " running session(s); " +
                std::to_string(gone) + " had ended, " + std::to_string(killed) +
                " unfinished launch(es) or stop(s) killed");
    save_state();
}

// Apache restarts: launches in flight are given up (their requests go with
// the old generation), ready sessions stay for the next daemon.
void SessionDaemon::detach() {
    for (const std::string &id : table_.ids()) {
        Session *s = table_.find(id);
        if (s->state != SessionState::starting)
            continue;
        Proc &p = procs_[id];
        if (p.creator >= 0) {
            int fd = p.creator;
            p.creator = -1;
            respond(fd, 503, error_body("the launcher is restarting; try again"));
        }
        backend_->kill_now(app_of(*s));
        stop_watching(p);
        table_.remove(id);
        procs_.erase(id);
        finish_launch(id, LaunchState::canceled, "warning",
                      "the launcher restarted before the session was ready");
    }
    // Queued launches are not handed over: their clients are told to retry.
    std::vector<std::string> queued;
    for (const auto &kv : waiting_)
        queued.push_back(kv.first);
    for (const std::string &id : queued)
        cancel_waiting(id, 503, "the launcher is restarting; try again", LaunchState::canceled);
    save_state();
    detached_ = true;
    log(LogLevel::info, "PVL00034",
        "handing " + std::to_string(table_.size()) + " session(s) over to the next daemon");
}

// Status notifications still pending when the daemon exits get a few
// seconds to go out (their receivers are told the launches ended).
void SessionDaemon::flush_notifications() {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    std::vector<struct pollfd> fds;
    while (notifier_.pending() > 0 && Clock::now() < deadline) {
        fds.clear();
        notifier_.add_pollfds(fds);
        int wait = notifier_.timeout_ms();
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (wait < 0 || wait > left)
            wait = static_cast<int>(left);
        poll(fds.data(), fds.size(), wait);
        notifier_.on_poll(fds.data(), fds.size());
    }
}

void SessionDaemon::handle_parent() {
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg;
    std::memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t n = recvmsg(opts_.parent_fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        // Apache's parent is gone without stopping us (killed): nobody will
        // route to the apps any more, so they are stopped.
        close(opts_.parent_fd);
        opts_.parent_fd = -1;
        log(LogLevel::warning, "PVL00047",
            "Apache's parent process is gone; stopping every session");
        begin_shutdown();
        return;
    }
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (byte == 'R' && !c) {
        restart_pending_ = true;
        claim_deadline_ = Clock::now() + std::chrono::seconds(restart_claim_seconds);
        return;
    }
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int))) {
        restart_pending_ = false;
        int fd;
        std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
        // The new generation's error log (logrotate renames the old one).
        dup2(fd, 2);
        close(fd);
        log(LogLevel::info, "PVL00035",
            "kept across Apache's restart with " + std::to_string(table_.size()) + " session(s)");
    }
}

void SessionDaemon::begin_shutdown() {
    if (stopping_)
        return;
    stopping_ = true;
    stop_deadline_ =
        Clock::now() +
        std::chrono::milliseconds(static_cast<long>(opts_.settings.stop_grace * 1000.0)) +
        std::chrono::seconds(2);
    log(LogLevel::info, "PVL00030",
        "stopping " + std::to_string(table_.size()) + " session(s) before exiting");
    std::vector<std::string> queued;
    for (const auto &kv : waiting_)
        queued.push_back(kv.first);
    for (const std::string &id : queued)
        cancel_waiting(id, 503, "the launcher is shutting down", LaunchState::canceled);
    for (const std::string &id : table_.ids()) {
        Session *s = table_.find(id);
        Proc &p = procs_[id];
        if (p.creator >= 0) {
            int fd = p.creator;
            p.creator = -1;
            respond(fd, 503, error_body("the launcher is shutting down"));
        }
        p.end_as = LaunchState::canceled;
        p.end_why = "the launcher stopped";
        stop_session(*s, p);
    }
}

int SessionDaemon::run() {
    backend_ = make_local_backend(opts_.apps_as);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    sfd_ = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    ifd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (sfd_ < 0 || ifd_ < 0) {
        log(LogLevel::error, "PVL00044",
            std::string("cannot set up the event loop: ") + strerror(errno));
        return 1;
    }
    fcntl(opts_.listen_fd, F_SETFL, fcntl(opts_.listen_fd, F_GETFL) | O_NONBLOCK);
    for (size_t l = 0; l < opts_.launchers.size(); ++l)
        write_map_file(static_cast<int>(l));
    adopt();

    std::vector<struct pollfd> fds;
    std::vector<std::string> probe_ids;
    for (;;) {
        if (detached_ || (stopping_ && (table_.size() == 0 || Clock::now() >= stop_deadline_)))
            break;
        fds.clear();
        fds.push_back({sfd_, POLLIN, 0});
        fds.push_back({ifd_, POLLIN, 0});
        fds.push_back({stopping_ ? -1 : opts_.listen_fd, POLLIN, 0});
        fds.push_back({opts_.parent_fd, POLLIN, 0});
        const size_t first_conn = fds.size();
        for (const auto &kv : conns_) {
            const Conn &c = kv.second;
            short ev =
                c.phase == Conn::Phase::writing   ? POLLOUT
                : c.phase == Conn::Phase::waiting ? POLLRDHUP
                : c.phase == Conn::Phase::streaming
                    ? static_cast<short>(POLLRDHUP | (c.out_off < c.out.size() ? POLLOUT : 0))
                    : POLLIN;
            fds.push_back({kv.first, ev, 0});
        }
        const size_t first_backend = fds.size();
        backend_->add_pollfds(&fds);
        const size_t first_probe = fds.size();
        probe_ids.clear();
        for (const auto &kv : procs_)
            if (kv.second.probe_fd >= 0) {
                fds.push_back({kv.second.probe_fd, POLLOUT, 0});
                probe_ids.push_back(kv.first);
            }
        const size_t first_notifier = fds.size();
        notifier_.add_pollfds(fds);
        int n = poll(fds.data(), fds.size(), poll_timeout_ms());
        if (n < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd_, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                    begin_shutdown();
                else if (si.ssi_signo == SIGUSR1)
                    detach();
            }
            collect_exits(nullptr, 0);
        }
        if (fds[1].revents & POLLIN)
            handle_inotify();
        if (fds[2].revents & POLLIN)
            accept_clients();
        if (fds[3].revents)
            handle_parent();
        for (size_t i = first_conn; i < first_backend; ++i)
            if (fds[i].revents)
                handle_conn_io(fds[i].fd, fds[i].revents);
        notifier_.on_poll(fds.data() + first_notifier, fds.size() - first_notifier);
        collect_exits(fds.data() + first_backend, first_probe - first_backend);
        for (size_t i = first_probe; i < first_notifier; ++i) {
            Session *s = fds[i].revents ? table_.find(probe_ids[i - first_probe]) : nullptr;
            if (s && s->state == SessionState::starting) {
                Proc &p = procs_[s->id];
                if (p.probe_fd == fds[i].fd)
                    on_probe_done(*s, p);
            }
        }
        handle_timers();
        sync_elsewhere();
    }
    if (detached_) {
        flush_notifications();
        log(LogLevel::info, "PVL00048", "session daemon exiting; sessions kept");
        return 0;
    }
    // What ignored even SIGKILL's deadline is killed and waited for here.
    for (const std::string &id : table_.ids()) {
        Session *s = table_.find(id);
        backend_->kill_now(app_of(*s));
        pools_[static_cast<size_t>(s->launcher)].release(s->host, s->port);
        table_.remove(id);
        finish_launch(id, LaunchState::canceled, "warning", "the launcher stopped");
    }
    flush_notifications();
    collect_exits(nullptr, 0); // and whatever the apps left behind
    for (size_t l = 0; l < opts_.launchers.size(); ++l)
        write_map_file(static_cast<int>(l));
    if (journal_)
        journal_->remove_file();
    log(LogLevel::info, "PVL00033", "session daemon exiting");
    return 0;
}

} // namespace

int run_session_daemon(const DaemonOptions &opts) {
    SessionDaemon d(opts);
    return d.run();
}

} // namespace pvl
