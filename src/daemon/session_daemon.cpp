// The session daemon: its event loop, restarts and shutdown; see
// daemon_internal.h for the other rooms.
#include "daemon_internal.h"
#include "systemd.h"

namespace pvl {
namespace daemon {

Unresolved unresolved_policy(const Launch &l) {
    return l.all_parameters ? Unresolved::reject : Unresolved::keep;
}

std::string error_body(const std::string &message) {
    JsonPtr j(json_object());
    json_object_set_new(j.get(), "error", json_stringn(message.data(), message.size()));
    return json_to_string(j.get());
}

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

MachineSettings machine_settings(const DaemonOptions &opts) {
    MachineSettings m;
    for (size_t l = 0; l < opts.launchers.size(); ++l) {
        MachineLauncher ml;
        ml.max_session = opts.launchers[l]->max_session;
        ml.ready_timeout = opts.launchers[l]->timeout;
        if (l < opts.settings.queues.size()) {
            ml.queue_length = opts.settings.queues[l].max_length;
            ml.queue_wait = opts.settings.queues[l].max_wait;
        }
        m.launchers.push_back(ml);
    }
    m.stop_grace = opts.settings.stop_grace;
    m.idle_timeout = opts.settings.idle_timeout;
    m.max_lifetime = opts.settings.max_lifetime;
    return m;
}

void SessionDaemon::detach() {
    std::vector<Effect> effects;
    machine_.hand_over(Clock::now(), &effects);
    apply(effects);
    save_state();
    detached_ = true;
    log(LogLevel::info, "PVL00034",
        "handing " + std::to_string(machine_.table().size()) +
            " session(s) over to the next daemon");
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
        close(opts_.parent_fd);
        opts_.parent_fd = -1;
        orphaned();
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
            "kept across Apache's restart with " + std::to_string(machine_.table().size()) +
                " session(s)");
    }
}

// Apache's parent is gone without stopping us (kill -9, the OOM killer, a
// crash; its children exit with it). Whoever restarts Apache starts a new
// parent, which claims the sessions through the control socket's path; if
// nobody does within the window, nothing would ever route to the apps
// again, so they are stopped.
void SessionDaemon::orphaned() {
    const double window = opts_.settings.claim_window;
    const size_t n = machine_.table().size();
    if (window <= 0 || n == 0 || machine_.shutting_down()) {
        log(LogLevel::warning, "PVL00047",
            "Apache's parent process is gone; stopping every session");
        begin_shutdown();
        return;
    }
    orphaned_ = true;
    restart_pending_ = false;
    orphan_deadline_ = Clock::now() + std::chrono::milliseconds(static_cast<long>(window * 1000.0));
    char text[200];
    std::snprintf(text, sizeof text,
                  "Apache's parent process is gone; keeping %zu session(s) for %g s for the "
                  "next Apache to claim",
                  n, window);
    log(LogLevel::warning, "PVL00053", text);
}

void SessionDaemon::op_claim(ReplyTo to, uid_t uid) {
    // Apache's parent runs as the daemon's user; its children (User) must
    // not be able to make the daemon leave.
    if (uid != geteuid()) {
        respond(to, 403, error_body("only Apache's parent process may claim the sessions"));
        return;
    }
    if (!orphaned_) {
        respond(to, 409, error_body("the session daemon belongs to a running Apache"));
        return;
    }
    const size_t n = machine_.table().size();
    detach(); // the journal is complete before the answer goes out
    log(LogLevel::notice, "PVL00054", "a new Apache claimed " + std::to_string(n) + " session(s)");
    JsonPtr j(json_pack("{s:I, s:I}", "sessions", static_cast<json_int_t>(n), "pid",
                        static_cast<json_int_t>(getpid())));
    respond(to, 200, json_to_string(j.get()));
}

void SessionDaemon::begin_shutdown() {
    if (machine_.shutting_down())
        return;
    stop_deadline_ =
        Clock::now() +
        std::chrono::milliseconds(static_cast<long>(opts_.settings.stop_grace * 1000.0)) +
        std::chrono::seconds(2);
    std::vector<Effect> effects;
    machine_.shut_down(Clock::now(), &effects);
    apply(effects);
}

int SessionDaemon::run() {
    backend_ = make_local_backend(opts_.apps_as);
    // Where systemd runs the machine, apps leave Apache's cgroup, which
    // systemctl restart apache2 empties. Creating units needs root.
    if (systemd_running() && geteuid() == 0) {
        backend_ = make_scoped_backend(std::move(backend_));
        log(LogLevel::info, "PVL00057", "applications run in scope units of pvlaunch.slice");
    }
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
        if (detached_ || (machine_.shutting_down() &&
                          (machine_.table().size() == 0 || Clock::now() >= stop_deadline_)))
            break;
        fds.clear();
        fds.push_back({sfd_, POLLIN, 0});
        fds.push_back({ifd_, POLLIN, 0});
        fds.push_back({machine_.shutting_down() ? -1 : opts_.listen_fd, POLLIN, 0});
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
        const size_t first_tool = fds.size();
        tools_.add_pollfds(&fds);
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
        notifier_.on_poll(fds.data() + first_notifier, first_tool - first_notifier);
        tools_.on_poll(fds.data() + first_tool, fds.size() - first_tool);
        handle_tool_results();
        collect_exits(fds.data() + first_backend, first_probe - first_backend);
        std::vector<Effect> effects;
        for (size_t i = first_probe; i < first_notifier; ++i) {
            const Session *s =
                fds[i].revents ? machine_.table().find(probe_ids[i - first_probe]) : nullptr;
            if (s && s->state == SessionState::starting) {
                Proc &p = procs_[s->id];
                if (p.probe_fd == fds[i].fd)
                    on_probe_done(*s, p, &effects);
            }
        }
        apply(effects);
        handle_timers();
        sync_elsewhere();
    }
    if (detached_) {
        flush_notifications();
        log(LogLevel::info, "PVL00048", "session daemon exiting; sessions kept");
        return 0;
    }
    // What ignored even SIGKILL's deadline is killed and waited for here.
    finish_tools_at_exit();
    std::vector<Effect> effects;
    machine_.abandon(&effects);
    apply(effects);
    flush_notifications();
    collect_exits(nullptr, 0); // and whatever the apps left behind
    for (size_t l = 0; l < opts_.launchers.size(); ++l)
        write_map_file(static_cast<int>(l));
    if (journal_)
        journal_->remove_file();
    log(LogLevel::info, "PVL00033", "session daemon exiting");
    return 0;
}

} // namespace daemon

int run_session_daemon(const DaemonOptions &opts) {
    daemon::SessionDaemon d(opts);
    return d.run();
}

} // namespace pvl
