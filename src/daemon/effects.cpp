// What the session machine decided, carried out: processes signalled,
// requests answered, sessions routed, persisted and forgotten. Exits reach
// the machine from here too.
#include "daemon_internal.h"

namespace pvl {
namespace daemon {

void SessionDaemon::apply(std::vector<Effect> &effects) {
    // Carrying one out may feed the machine again (a spawn's result); what
    // that adds is carried out after what came before it.
    for (size_t i = 0; i < effects.size(); ++i) {
        Effect e = std::move(effects[i]);
        apply_one(e, &effects);
    }
    effects.clear();
}

void SessionDaemon::reply(const Effect &e) {
    const Session *row = e.id.empty() ? nullptr : machine_.table().find(e.id);
    if (e.number == 200 && row && row->state == SessionState::ready && creator_gone(e.to)) {
        // The request that launched it went away while the session became
        // ready (the two crossed): nobody would learn its id.
        log(LogLevel::info, "PVL00059",
            "session " + e.id + " is stopped: its launch request went away before its answer");
        std::vector<Effect> effects;
        machine_.stop(Clock::now(), e.id, row->launcher, nobody, &effects);
        apply(effects);
        return;
    }
    std::string body;
    switch (e.body) {
    case Effect::Body::error:
        body = error_body(e.text);
        break;
    case Effect::Body::error_with_log: {
        const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(e.launcher)];
        body = error_body(e.text + "; last lines of its log:\n" +
                          log_tail(cfg.log_dir + "/" + e.id + ".log"));
        break;
    }
    case Effect::Body::text:
        body = e.text;
        break;
    case Effect::Body::launch: {
        auto it = launches_.find(e.id);
        if (it != launches_.end()) {
            body = launch_body(it->second);
            break;
        }
        if (!e.text.empty()) {
            body = e.text;
            break;
        }
        [[fallthrough]]; // the record is gone
    }
    case Effect::Body::canceled: {
        JsonPtr j(json_pack("{s:s, s:s}", "id", e.id.c_str(), "state", "canceled"));
        body = json_to_string(j.get());
        break;
    }
    }
    respond(e.to, e.number, body);
}

// The connection of a create request waiting for its answer has been closed
// by Apache's child (its client went away), though the machine has not
// heard of it yet.
bool SessionDaemon::creator_gone(ReplyTo to) const {
    auto h = handles_.find(to);
    if (h == handles_.end())
        return false;
    auto c = conns_.find(h->second);
    if (c == conns_.end() || !c->second.creates)
        return false;
    struct pollfd p = {c->second.fd, POLLRDHUP, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void SessionDaemon::apply_one(Effect &e, std::vector<Effect> *more) {
    switch (e.kind) {
    case Effect::Kind::spawn:
        spawn(e.id, e.launcher, more);
        break;
    case Effect::Kind::signal:
        if (e.session.slurm)
            slurm_signal(e.session, more);
        else
            backend_->signal(app_of(e.session), e.number == 9 ? SIGKILL : SIGTERM);
        break;
    case Effect::Kind::kill_now:
        if (e.session.slurm)
            slurm_kill_now(e.session);
        else
            backend_->kill_now(app_of(e.session));
        break;
    case Effect::Kind::unwatch: {
        auto it = procs_.find(e.id);
        if (it != procs_.end())
            stop_watching(it->second);
        break;
    }
    case Effect::Kind::reply:
        reply(e);
        break;
    case Effect::Kind::persist:
        save_session(e.session);
        break;
    case Effect::Kind::publish:
        publish(e.session);
        break;
    case Effect::Kind::unpublish:
        unpublish(e.session);
        break;
    case Effect::Kind::forget: {
        if (e.session.slurm)
            slurm_forget(e.session);
        else
            pools_[static_cast<size_t>(e.session.launcher)].release(e.session.host, e.session.port);
        auto it = procs_.find(e.id);
        if (it != procs_.end()) {
            stop_watching(it->second);
            procs_.erase(it);
        }
        if (e.was_ready)
            unpublish(e.session); // after the removal: the map file is rendered from the table
        forget_session(e.id);
        break;
    }
    case Effect::Kind::emit:
        switch (e.event) {
        case Effect::Event::started:
            emit(e.id, "state",
                 JsonPtr(json_pack("{s:s, s:s}", "state", "running", "sessionState", "starting")));
            break;
        case Effect::Event::ready: {
            auto lit = launches_.find(e.id);
            if (lit != launches_.end() && lit->second.tracked) {
                lit->second.add_log("output", "application ready",
                                    std::chrono::system_clock::now());
            } else if (lit != launches_.end() && lit->second.status_location.empty()) {
                // Only the queue listing reads an untracked launch from now on.
                Launch &l = lit->second;
                decltype(l.log)().swap(l.log);
                decltype(l.arguments)().swap(l.arguments);
                decltype(l.status)().swap(l.status);
            }
            emit(e.id, "ready",
                 JsonPtr(json_pack("{s:s, s:s, s:s%}", "state", "running", "sessionState", "ready",
                                   "line", e.text.data(), e.text.size())));
            break;
        }
        case Effect::Event::queued: {
            auto lit = launches_.find(e.id);
            if (lit == launches_.end())
                break;
            const std::string at = std::to_string(e.position);
            lit->second.state = LaunchState::waiting;
            lit->second.add_log("progress", "queued at position " + at,
                                std::chrono::system_clock::now());
            log(LogLevel::info, "PVL00038",
                "launch " + e.id + " (" + lit->second.service + ") queued at position " + at);
            break;
        }
        case Effect::Event::positions:
            emit_positions(e.launcher);
            break;
        }
        break;
    case Effect::Kind::finish: {
        // The audit trail: how it ended. A launch that never ran has its
        // record; a session, the row it had.
        auto lit = launches_.find(e.id);
        const bool has_row = !e.session.id.empty();
        if (has_row || lit != launches_.end())
            log(LogLevel::notice, "PVL00505",
                audit_line(std::string("ended ") + launch_state_name(e.end) + ": " + e.text, e.id,
                           has_row ? e.session.application : lit->second.service,
                           has_row ? e.session.owner : lit->second.user,
                           has_row ? e.session.client : lit->second.client));
        payloads_.erase(e.id);
        finish_launch(e.id, e.end, e.log_kind, e.text);
        end_watchers(e.id, launch_state_name(e.end)); // ParaViewWeb sessions have no record
        break;
    }
    case Effect::Kind::discard:
        payloads_.erase(e.id);
        launches_.erase(e.id);
        break;
    case Effect::Kind::adopted:
        adopted(e.session);
        break;
    }
}

void SessionDaemon::collect_exits(const pollfd *fds, size_t n) {
    std::vector<AppExit> exits;
    backend_->collect_exits(fds, n, &exits);
    std::vector<Effect> effects;
    for (const AppExit &e : exits) {
        if (tools_.exited(e.pid, e.status))
            continue;
        const Session *s = machine_.table().find_by_pid(e.pid);
        if (!s)
            continue;
        const bool known = e.status >= 0;
        const std::string how =
            known ? describe_wait_status(e.status)
                  : std::string("exit status unknown: taken over from an earlier daemon");
        const bool clean = known && WIFEXITED(e.status) && WEXITSTATUS(e.status) == 0;
        machine_.exited(Clock::now(), s->id, known, clean, how, &effects);
        apply(effects);
    }
    handle_tool_results();
}

} // namespace daemon
} // namespace pvl
