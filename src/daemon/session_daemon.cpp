#include "session_daemon.h"

#include "../core/ids.h"
#include "../core/json.h"
#include "../core/launch_plan.h"
#include "../core/log.h"
#include "../core/port_pool.h"
#include "../core/protocol.h"
#include "../core/session_table.h"
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
#include <netinet/in.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pvl {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t log_tail_lines = 10;
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
    enum class Phase { reading, waiting, writing };
    int fd = -1;
    Phase phase = Phase::reading;
    std::string in;
    std::string out;
    size_t out_off = 0;
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
    int pidfd = -1; // adopted apps are not our children: their exit shows here
};

class SessionDaemon {
  public:
    explicit SessionDaemon(const DaemonOptions &opts) : opts_(opts) {
        if (!opts.state_path.empty())
            journal_ = std::make_unique<StateJournal>(opts.state_path);
        size_t ports = 0;
        for (const auto *cfg : opts.launchers) {
            pools_.emplace_back(cfg->resources);
            port_base_.push_back(ports);
            ports += pools_.back().size();
        }
    }
    int run();

  private:
    void accept_clients();
    void handle_conn_io(int fd, short revents);
    void close_conn(int fd);
    void respond(int fd, int status, const std::string &body);
    void flush_conn(Conn &c);
    void dispatch(int fd, const std::string &line);
    void op_create(int fd, int launcher, json_t *payload);
    void op_get(int fd, int launcher, const std::string &id);
    void op_delete(int fd, int launcher, const std::string &id);
    void op_map(int fd, const std::string &id);

    void check_ready(Session &s, Proc &p);
    void mark_ready(Session &s, Proc &p);
    void stop_session(Session &s, Proc &p);
    void stop_watching(Proc &p);
    void reap_children();
    void on_exit(Session &s, int status);
    void handle_inotify();
    void handle_parent();
    void handle_timers();
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
    std::vector<PortPool> pools_;
    std::vector<size_t> port_base_; // first shared-table port index per launcher
    SessionTable table_;
    std::map<std::string, Proc> procs_;
    std::map<int, Conn> conns_;
    std::map<int, std::string> watches_; // inotify wd -> session id
    apr_pool_t *pool_ = nullptr;
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
        break;
    }
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
                stop_session(*s, p);
            }
        }
        auto &w = p.delete_waiters;
        w.erase(std::remove(w.begin(), w.end(), fd), w.end());
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
    json_error_t jerr;
    JsonPtr req(json_loadb(line.data(), line.size(), 0, &jerr));
    const char *op = req ? json_string_value(json_object_get(req.get(), "op")) : nullptr;
    if (!op) {
        respond(fd, 400, error_body("malformed control request"));
        return;
    }
    std::string id;
    if (const char *s = json_string_value(json_object_get(req.get(), "id")))
        id = s;
    if (std::strcmp(op, "map") == 0) {
        op_map(fd, id);
        return;
    }
    json_int_t l = json_integer_value(json_object_get(req.get(), "l"));
    if (l < 0 || static_cast<size_t>(l) >= opts_.launchers.size()) {
        respond(fd, 500, error_body("no launcher config for this server"));
        return;
    }
    int launcher = static_cast<int>(l);
    if (std::strcmp(op, "create") == 0)
        op_create(fd, launcher, json_object_get(req.get(), "payload"));
    else if (std::strcmp(op, "get") == 0)
        op_get(fd, launcher, id);
    else if (std::strcmp(op, "delete") == 0)
        op_delete(fd, launcher, id);
    else
        respond(fd, 400, error_body("unknown control operation"));
}

void SessionDaemon::op_map(int fd, const std::string &id) {
    std::string route = valid_session_id(id) ? table_.route(id) : std::string();
    respond(fd, route.empty() ? 404 : 200, route);
}

void SessionDaemon::op_get(int fd, int launcher, const std::string &id) {
    Session *s = valid_session_id(id) ? table_.find(id) : nullptr;
    if (!s || s->launcher != launcher || s->state != SessionState::ready) {
        respond(fd, 404, error_body("no session with id " + (valid_session_id(id) ? id : "?")));
        return;
    }
    respond(fd, 200, s->response);
}

void SessionDaemon::op_delete(int fd, int launcher, const std::string &id) {
    Session *s = valid_session_id(id) ? table_.find(id) : nullptr;
    if (!s || s->launcher != launcher || s->state != SessionState::ready) {
        respond(fd, 404, error_body("no session with id " + (valid_session_id(id) ? id : "?")));
        return;
    }
    Proc &p = procs_[s->id];
    p.delete_waiters.push_back(fd);
    log(LogLevel::info, "PVL00032", "session " + s->id + " stopped on request");
    stop_session(*s, p);
}

void SessionDaemon::op_create(int fd, int launcher, json_t *payload) {
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
    if (cfg.max_session > 0 && table_.count(launcher) >= static_cast<size_t>(cfg.max_session)) {
        respond(fd, 503,
                error_body("the maximum number of sessions (" + std::to_string(cfg.max_session) +
                           ") is reached; try again later"));
        return;
    }
    ServerVars vars;
    PortPool &pool = pools_[static_cast<size_t>(launcher)];
    if (!pool.take(&vars.host, &vars.port, port_bindable)) {
        respond(fd, 503, error_body("all resources are taken; try again later"));
        return;
    }
    vars.id = random_token(16);
    vars.secret = random_token(24);
    vars.application = app;
    LaunchPlan plan;
    if (vars.id.empty() || vars.secret.empty() || table_.find(vars.id)) {
        pool.release(vars.host, vars.port);
        respond(fd, 500, error_body("cannot generate a session id"));
        return;
    }
    if (!plan_launch(cfg, payload, vars, &plan, &err)) {
        pool.release(vars.host, vars.port);
        respond(fd, err.status, error_body(err.message));
        return;
    }

    Proc p;
    p.log_path = cfg.log_dir + "/" + vars.id + ".log";
    int out_fd = open(p.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
                      0640);
    if (out_fd < 0) {
        pool.release(vars.host, vars.port);
        std::string why = "cannot open the session log " + p.log_path + ": " + strerror(errno);
        log(LogLevel::error, "PVL00041", why);
        respond(fd, 500, error_body(why));
        return;
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
    spec.env = plan.env;
    spec.output_fd = out_fd;
    std::string spawn_error;
    pid_t pid = spawn_app(pool_, spec, opts_.apps_as, &spawn_error);
    close(out_fd);
    if (pid < 0) {
        stop_watching(p);
        pool.release(vars.host, vars.port);
        log(LogLevel::error, "PVL00042", "application " + app + ": " + spawn_error);
        respond(fd, 502, error_body("application " + app + " could not be started: " + spawn_error));
        return;
    }
    Session s;
    s.id = vars.id;
    s.launcher = launcher;
    s.application = app;
    s.host = vars.host;
    s.port = vars.port;
    s.pid = pid;
    s.state = SessionState::starting;
    s.response = json_to_string(plan.response.get());
    p.started = Clock::now();
    p.ready_deadline =
        p.started + std::chrono::milliseconds(static_cast<long>(cfg.timeout * 1000.0));
    p.creator = fd;
    if (p.wd >= 0)
        watches_[p.wd] = s.id;
    p.start_time = process_start_time(pid);
    table_.add(s);
    Proc &stored = procs_[s.id] = std::move(p);
    save_session(s);
    Session &row = *table_.find(s.id);
    if (stored.ready_lines.empty())
        mark_ready(row, stored);
    else
        check_ready(row, stored);
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
                mark_ready(s, p);
                return;
            }
        }
        size_t keep = p.longest_ready > 0 ? p.longest_ready - 1 : 0;
        p.carry = text.size() > keep ? text.substr(text.size() - keep) : text;
    }
}

void SessionDaemon::mark_ready(Session &s, Proc &p) {
    stop_watching(p);
    // What only a start needs is given back: a site keeps thousands of
    // ready sessions.
    std::vector<std::string>().swap(p.ready_lines);
    std::string().swap(p.carry);
    s.state = SessionState::ready;
    auto ms = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - p.started);
    log(LogLevel::info, "PVL00010",
        "session " + s.id + " (" + s.application + ") ready on " + s.host_port() + " in " +
            std::to_string(ms.count() / 1000.0) + " ms");
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
        signal_group(s.pid, SIGTERM);
        p.kill_deadline =
            Clock::now() + std::chrono::milliseconds(static_cast<long>(opts_.stop_grace * 1000.0));
    }
    if (was_ready)
        unpublish(s);
}

void SessionDaemon::reap_children() {
    for (;;) {
        siginfo_t si;
        std::memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0)
            return;
        pid_t pid = si.si_pid;
        Session *s = table_.find_by_pid(pid);
        // The leader's zombie still holds the group id: kill what is left of
        // the group before the id can be reused.
        if (s)
            signal_group(pid, SIGKILL);
        int status = 0;
        if (waitpid(pid, &status, 0) < 0)
            continue;
        if (s)
            on_exit(*s, status);
    }
}

void SessionDaemon::on_exit(Session &s, int status) {
    Proc &p = procs_[s.id];
    std::string how = status < 0 ? std::string("exit status unknown: taken over from an earlier "
                                               "daemon")
                                 : describe_wait_status(status);
    // Answers go out once the session is forgotten everywhere (table, map,
    // journal): a client told "gone" must not find it again.
    std::vector<std::pair<int, std::pair<int, std::string>>> answers;
    switch (s.state) {
    case SessionState::starting: {
        std::string tail = log_tail(p.log_path);
        log(LogLevel::warning, "PVL00021",
            "application " + s.application + " of session " + s.id +
                " exited before it was ready (" + how + ")");
        if (p.creator >= 0) {
            answers.push_back(
                {p.creator,
                 {502, error_body("application " + s.application +
                                  " exited before it was ready (" + how +
                                  "); last lines of its log:\n" + tail)}});
            p.creator = -1;
        }
        break;
    }
    case SessionState::ready:
        log(LogLevel::notice, "PVL00020",
            "session " + s.id + " (" + s.application + ") ended by itself (" + how + ")");
        break;
    case SessionState::stopping:
        for (int fd : p.delete_waiters)
            answers.push_back({fd, {200, s.response}});
        break;
    }
    stop_watching(p);
    if (p.pidfd >= 0)
        close(p.pidfd);
    pools_[static_cast<size_t>(s.launcher)].release(s.host, s.port);
    const Session gone = s;
    table_.remove(gone.id);
    procs_.erase(gone.id);
    if (gone.state == SessionState::ready)
        unpublish(gone); // after the removal: the map file is rendered from the table
    forget_session(gone.id);
    for (auto &a : answers)
        respond(a.first, a.second.first, a.second.second);
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

void SessionDaemon::handle_timers() {
    auto now = Clock::now();
    for (const std::string &id : table_.ids()) {
        Session *s = table_.find(id);
        Proc &p = procs_[id];
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
                respond(fd, 503,
                        error_body("application " + s->application +
                                   " did not print its ready line within the timeout of " + secs +
                                   " s; last lines of its log:\n" + tail));
            }
            stop_session(*s, p);
        } else if (s->state == SessionState::stopping && !p.killed && now >= p.kill_deadline) {
            log(LogLevel::notice, "PVL00023",
                "session " + id + " did not stop on SIGTERM; sending SIGKILL");
            signal_group(s->pid, SIGKILL);
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
            next = std::min(next, p.ready_deadline);
        else if (s->state == SessionState::stopping && !p.killed)
            next = std::min(next, p.kill_deadline);
    }
    if (stopping_)
        next = std::min(next, stop_deadline_);
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
        if (idx < 0 || !opts_.table->put(s.id, s.launcher, s.host_port(),
                                         static_cast<uint32_t>(port_base_[l] + idx), s.response))
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
        log(LogLevel::error, "PVL00046", error);
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
        log(LogLevel::error, "PVL00046", error);
}

void SessionDaemon::adopt() {
    if (!journal_)
        return;
    size_t adopted = 0, gone = 0, killed = 0;
    for (const PersistedSession &r : journal_->load()) {
        int launcher = -1;
        for (size_t l = 0; l < opts_.launchers.size(); ++l)
            if (opts_.launchers[l]->file == r.launcher_file)
                launcher = static_cast<int>(l);
        bool alive = r.start_time != 0 && process_start_time(r.pid) == r.start_time;
        int pidfd = alive ? open_pidfd(r.pid) : -1;
        // The pidfd pins the process: check again that it is the same one.
        alive = pidfd >= 0 && process_start_time(r.pid) == r.start_time;
        if (!alive) {
            if (pidfd >= 0)
                close(pidfd);
            ++gone;
            continue;
        }
        bool keep = r.state == "ready" && launcher >= 0 && valid_session_id(r.id) &&
                    !table_.find(r.id) &&
                    pools_[static_cast<size_t>(launcher)].take_specific(r.host, r.port);
        if (!keep) {
            signal_group(r.pid, SIGKILL);
            close(pidfd);
            ++killed;
            continue;
        }
        Session s;
        s.id = r.id;
        s.launcher = launcher;
        s.application = r.application;
        s.host = r.host;
        s.port = r.port;
        s.pid = r.pid;
        s.state = SessionState::ready;
        s.response = r.response;
        Proc &p = procs_[s.id];
        p.start_time = r.start_time;
        p.pidfd = pidfd;
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
        signal_group(s->pid, SIGKILL);
        waitpid(s->pid, nullptr, 0);
        stop_watching(p);
        table_.remove(id);
        procs_.erase(id);
    }
    save_state();
    detached_ = true;
    log(LogLevel::info, "PVL00034",
        "handing " + std::to_string(table_.size()) + " session(s) over to the next daemon");
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
        log(LogLevel::warning, "PVL00047", "Apache's parent process is gone; stopping every session");
        begin_shutdown();
        return;
    }
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int))) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
        // The new generation's error log (logrotate renames the old one).
        dup2(fd, 2);
        close(fd);
        log(LogLevel::info, "PVL00035",
            "kept across Apache's restart with " + std::to_string(table_.size()) +
                " session(s)");
    }
}

void SessionDaemon::begin_shutdown() {
    if (stopping_)
        return;
    stopping_ = true;
    stop_deadline_ =
        Clock::now() + std::chrono::milliseconds(static_cast<long>(opts_.stop_grace * 1000.0)) +
        std::chrono::seconds(2);
    log(LogLevel::info, "PVL00030",
        "stopping " + std::to_string(table_.size()) + " session(s) before exiting");
    for (const std::string &id : table_.ids()) {
        Session *s = table_.find(id);
        Proc &p = procs_[id];
        if (p.creator >= 0) {
            int fd = p.creator;
            p.creator = -1;
            respond(fd, 503, error_body("the launcher is shutting down"));
        }
        stop_session(*s, p);
    }
}

int SessionDaemon::run() {
    if (apr_pool_create(&pool_, nullptr) != APR_SUCCESS)
        return 1;
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
        log(LogLevel::error, "PVL00044", std::string("cannot set up the event loop: ") +
                                             strerror(errno));
        return 1;
    }
    fcntl(opts_.listen_fd, F_SETFL, fcntl(opts_.listen_fd, F_GETFL) | O_NONBLOCK);
    for (size_t l = 0; l < opts_.launchers.size(); ++l)
        write_map_file(static_cast<int>(l));
    adopt();

    std::vector<struct pollfd> fds;
    std::vector<std::string> pidfd_ids;
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
            short ev = kv.second.phase == Conn::Phase::writing ? POLLOUT
                       : kv.second.phase == Conn::Phase::waiting ? POLLRDHUP
                                                                 : POLLIN;
            fds.push_back({kv.first, ev, 0});
        }
        const size_t first_pidfd = fds.size();
        pidfd_ids.clear();
        for (const auto &kv : procs_)
            if (kv.second.pidfd >= 0) {
                fds.push_back({kv.second.pidfd, POLLIN, 0});
                pidfd_ids.push_back(kv.first);
            }
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
            reap_children();
        }
        if (fds[1].revents & POLLIN)
            handle_inotify();
        if (fds[2].revents & POLLIN)
            accept_clients();
        if (fds[3].revents)
            handle_parent();
        for (size_t i = first_conn; i < first_pidfd; ++i)
            if (fds[i].revents)
                handle_conn_io(fds[i].fd, fds[i].revents);
        for (size_t i = first_pidfd; i < fds.size(); ++i) {
            Session *s = fds[i].revents ? table_.find(pidfd_ids[i - first_pidfd]) : nullptr;
            if (s) {
                signal_group(s->pid, SIGKILL); // what is left of its group
                on_exit(*s, -1);
            }
        }
        handle_timers();
    }
    if (detached_) {
        log(LogLevel::info, "PVL00033", "session daemon exiting; sessions kept");
        return 0;
    }
    // What ignored even SIGKILL's deadline is killed and waited for here.
    for (const std::string &id : table_.ids()) {
        Session *s = table_.find(id);
        signal_group(s->pid, SIGKILL);
        waitpid(s->pid, nullptr, 0);
        pools_[static_cast<size_t>(s->launcher)].release(s->host, s->port);
        table_.remove(id);
    }
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
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
