// Deadlines: ready timeouts, SIGKILL after the grace period, idle and
// lifetime limits, and how long the loop may sleep.
#include "daemon_internal.h"

namespace pvl {
namespace daemon {

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

} // namespace daemon
} // namespace pvl
