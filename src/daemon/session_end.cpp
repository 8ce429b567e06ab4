// Stopping sessions and what follows when their app ends.
#include "daemon_internal.h"

namespace pvl {
namespace daemon {

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

} // namespace daemon
} // namespace pvl
