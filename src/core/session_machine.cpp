#include "session_machine.h"

#include "ids.h"
#include "log.h"

#include <algorithm>
#include <cstdio>

namespace pvl {

namespace {

std::chrono::steady_clock::duration seconds(double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
}

double elapsed(Instant from, Instant to) {
    return std::chrono::duration<double>(to - from).count();
}

std::string number(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", s);
    return buf;
}

Effect effect(Effect::Kind kind, const std::string &id) {
    Effect e;
    e.kind = kind;
    e.id = id;
    return e;
}

Effect with_session(Effect::Kind kind, const Session &s) {
    Effect e = effect(kind, s.id);
    e.launcher = s.launcher;
    e.session = s;
    return e;
}

Effect emit_effect(Effect::Event event, const std::string &id, int launcher) {
    Effect e = effect(Effect::Kind::emit, id);
    e.event = event;
    e.launcher = launcher;
    return e;
}

} // namespace

Effect reply_effect(ReplyTo to, int status, Effect::Body body, std::string text,
                    const std::string &id, int launcher) {
    Effect e = effect(Effect::Kind::reply, id);
    e.launcher = launcher;
    e.to = to;
    e.number = status;
    e.body = body;
    e.text = std::move(text);
    return e;
}

SessionMachine::SessionMachine(MachineSettings settings)
    : settings_(std::move(settings)), queues_(settings_.launchers.size()) {}

const MachineLauncher &SessionMachine::limits(int launcher) const {
    static const MachineLauncher none;
    const size_t l = static_cast<size_t>(launcher);
    return l < settings_.launchers.size() ? settings_.launchers[l] : none;
}

const LaunchQueue &SessionMachine::queue(int launcher) const {
    static const LaunchQueue none;
    const size_t l = static_cast<size_t>(launcher);
    return l < queues_.size() ? queues_[l] : none;
}

bool SessionMachine::at_capacity(int launcher) const {
    const int max = limits(launcher).max_session;
    return max > 0 && table_.count(launcher) >= static_cast<size_t>(max);
}

bool SessionMachine::would_queue(int launcher) const {
    return !queue(launcher).empty() || at_capacity(launcher);
}

bool SessionMachine::waiting(const std::string &id) const {
    auto it = waiting_.find(id);
    return it != waiting_.end() && it->second.queued;
}

size_t SessionMachine::waiting_count() const {
    size_t n = 0;
    for (const auto &q : queues_)
        n += q.size();
    return n;
}

size_t SessionMachine::queue_position(const std::string &id, int launcher) const {
    return queue(launcher).position(id);
}

bool SessionMachine::tracked(const std::string &id) const {
    auto p = waiting_.find(id);
    if (p != waiting_.end())
        return p->second.tracked;
    auto l = lives_.find(id);
    return l != lives_.end() && l->second.tracked;
}

void SessionMachine::create(Instant now, const std::string &id, int launcher, ReplyTo to,
                            bool tracked, std::vector<Effect> *out) {
    if (shutting_down_ || static_cast<size_t>(launcher) >= queues_.size() || waiting_.count(id) ||
        table_.find(id)) {
        out->push_back(reply_effect(to, 503, Effect::Body::error,
                                    shutting_down_ ? "the launcher is shutting down"
                                                   : "the launch cannot be accepted",
                                    id));
        out->push_back(effect(Effect::Kind::discard, id));
        return;
    }
    Pending &p = waiting_[id];
    p.launcher = launcher;
    p.creator = to;
    p.tracked = tracked;
    p.created = now;
    if (would_queue(launcher))
        queue_in(now, id, p, out);
    else
        spawn(id, p, out);
}

void SessionMachine::spawn(const std::string &id, const Pending &p, std::vector<Effect> *out) {
    Effect e = effect(Effect::Kind::spawn, id);
    e.launcher = p.launcher;
    out->push_back(std::move(e));
}

void SessionMachine::queue_in(Instant now, const std::string &id, Pending &p,
                              std::vector<Effect> *out) {
    const MachineLauncher &lim = limits(p.launcher);
    LaunchQueue &q = queues_[static_cast<size_t>(p.launcher)];
    if (q.size() >= lim.queue_length) {
        std::string why;
        if (lim.queue_length > 0)
            why = "the launch queue is full (" + std::to_string(lim.queue_length) +
                  " waiting); try again later";
        else if (at_capacity(p.launcher))
            why = "the maximum number of sessions (" + std::to_string(lim.max_session) +
                  ") is reached; try again later";
        else
            why = "all resources are taken; try again later";
        const ReplyTo to = p.creator;
        waiting_.erase(id);
        ++stats_.outcomes["rejected"];
        out->push_back(reply_effect(to, 503, Effect::Body::error, why, id));
        out->push_back(effect(Effect::Kind::discard, id));
        return;
    }
    q.push(id);
    p.queued = true;
    p.from_queue = false;
    p.deadline = now + seconds(lim.queue_wait);
    Effect e = emit_effect(Effect::Event::queued, id, p.launcher);
    e.position = q.size();
    out->push_back(std::move(e));
    if (p.tracked) {
        // Answered now: it starts for nobody in particular.
        out->push_back(reply_effect(p.creator, 202, Effect::Body::launch, std::string(), id));
        p.creator = nobody;
    }
}

void SessionMachine::drain(Instant now, int launcher, std::vector<Effect> *out) {
    LaunchQueue &q = queues_[static_cast<size_t>(launcher)];
    while (!q.empty() && !shutting_down_) {
        const std::string id = q.front();
        q.pop_front();
        auto it = waiting_.find(id);
        if (it == waiting_.end())
            continue;
        if (at_capacity(launcher)) {
            q.push_front(id);
            return;
        }
        it->second.queued = false;
        it->second.from_queue = true;
        spawn(id, it->second, out);
        // The daemon answers the spawn before anything else happens; the
        // answer goes on draining (spawned, spawn_failed) or stops it
        // (no_capacity).
        return;
    }
    (void)now;
}

void SessionMachine::spawned(Instant now, Session session, bool waits_for_line,
                             std::vector<Effect> *out) {
    auto it = waiting_.find(session.id);
    if (it == waiting_.end() || it->second.queued || table_.find(session.id)) {
        // Nobody asked for it (a bug of the caller): do not keep it running.
        out->push_back(with_session(Effect::Kind::kill_now, session));
        return;
    }
    const Pending p = it->second;
    waiting_.erase(it);
    ++stats_.started;
    stats_.queue_wait.observe(elapsed(p.created, now));
    Life &life = lives_[session.id];
    life.created = p.created;
    life.started = life.last_active = now;
    life.ready_deadline = now + seconds(limits(p.launcher).ready_timeout);
    life.waits_for_line = waits_for_line;
    life.tracked = p.tracked;
    life.creator = p.tracked ? nobody : p.creator;
    session.state = SessionState::starting;
    session.launcher = p.launcher;
    out->push_back(emit_effect(Effect::Event::started, session.id, p.launcher));
    out->push_back(with_session(Effect::Kind::persist, session));
    if (p.tracked && p.creator != nobody)
        out->push_back(
            reply_effect(p.creator, 202, Effect::Body::launch, std::string(), session.id));
    const int launcher = p.launcher;
    table_.add(std::move(session));
    if (p.from_queue) {
        out->push_back(emit_effect(Effect::Event::positions, std::string(), launcher));
        drain(now, launcher, out);
    }
}

void SessionMachine::spawn_failed(Instant now, const std::string &id, int status,
                                  const std::string &why, std::vector<Effect> *out) {
    auto it = waiting_.find(id);
    if (it == waiting_.end() || it->second.queued)
        return;
    const Pending p = it->second;
    waiting_.erase(it);
    ++stats_.outcomes["failed"];
    out->push_back(reply_effect(p.creator, status, Effect::Body::error, why, id));
    if (!p.from_queue) {
        out->push_back(effect(Effect::Kind::discard, id));
        return;
    }
    end(id, LaunchState::failed, "error", why, out);
    out->push_back(emit_effect(Effect::Event::positions, std::string(), p.launcher));
    drain(now, p.launcher, out);
}

void SessionMachine::no_capacity(Instant now, const std::string &id, std::vector<Effect> *out) {
    auto it = waiting_.find(id);
    if (it == waiting_.end() || it->second.queued)
        return;
    Pending &p = it->second;
    if (p.from_queue) {
        // Back to the head of the queue, with its deadline: the next exit or
        // retry tries again.
        queues_[static_cast<size_t>(p.launcher)].push_front(id);
        p.queued = true;
        p.from_queue = false;
        return;
    }
    queue_in(now, id, p, out);
}

void SessionMachine::ready(Instant now, const std::string &id, const std::string &line,
                           std::vector<Effect> *out) {
    Session *s = table_.find(id);
    if (!s || s->state != SessionState::starting)
        return;
    Life &life = lives_[id];
    s->state = SessionState::ready;
    life.last_active = now;
    const double took = elapsed(life.started, now);
    stats_.launch_duration.observe(took);
    out->push_back(effect(Effect::Kind::unwatch, id));
    Effect e = emit_effect(Effect::Event::ready, id, s->launcher);
    e.text = line;
    out->push_back(std::move(e));
    log(LogLevel::info, "PVL00010",
        "session " + id + " (" + s->application + ") ready on " + s->host_port() + " in " +
            std::to_string(took * 1000.0) + " ms");
    out->push_back(with_session(Effect::Kind::publish, *s));
    if (life.creator != nobody) {
        out->push_back(reply_effect(life.creator, 200, Effect::Body::text, s->response, id));
        life.creator = nobody;
    }
}

void SessionMachine::submitted(const std::string &id, const std::string &job,
                               std::vector<Effect> *out) {
    Session *s = table_.find(id);
    if (!s || !s->slurm || !s->job.empty())
        return;
    s->job = job;
    out->push_back(with_session(Effect::Kind::persist, *s));
}

void SessionMachine::scheduler_wait(const std::string &id, const std::string &why) {
    auto it = lives_.find(id);
    if (it != lives_.end())
        it->second.scheduler_wait = why;
}

void SessionMachine::placed(const std::string &id, const std::string &host, int port,
                            const std::string &response, std::vector<Effect> *out) {
    Session *s = table_.find(id);
    if (!s || !s->slurm || s->state != SessionState::starting)
        return;
    s->host = host;
    s->port = port;
    s->response = response;
    lives_[id].scheduler_wait.clear();
    out->push_back(with_session(Effect::Kind::persist, *s));
}

void SessionMachine::start_failed(Instant now, const std::string &id, int status,
                                  const std::string &why, std::vector<Effect> *out) {
    Session *found = table_.find(id);
    if (!found || found->state == SessionState::ready)
        return;
    const Session s = *found;
    const Life life = lives_[id];
    log(LogLevel::warning, "PVL00027", "session " + id + " (" + s.application + "): " + why);
    out->push_back(effect(Effect::Kind::unwatch, id));
    out->push_back(with_session(Effect::Kind::forget, s));
    table_.remove(id);
    lives_.erase(id);
    ++stats_.outcomes["failed"];
    end(id, s.state == SessionState::stopping ? life.end_as : LaunchState::failed, "error", why,
        out, &s);
    if (life.creator != nobody)
        out->push_back(reply_effect(life.creator, status, Effect::Body::error, why, id));
    for (ReplyTo to : life.stop_waiters)
        out->push_back(life.tracked ? reply_effect(to, 200, Effect::Body::launch, s.response, id)
                                    : reply_effect(to, 200, Effect::Body::text, s.response, id));
    drain(now, s.launcher, out);
}

void SessionMachine::exited(Instant now, const std::string &id, bool known, bool clean,
                            const std::string &how, std::vector<Effect> *out) {
    Session *found = table_.find(id);
    if (!found)
        return;
    const Session s = *found; // `id` may be its own: removed below
    const Life life = lives_[s.id];
    // Answers go out once the session is forgotten everywhere (table, map,
    // journal): a client told "gone" must not find it again.
    std::vector<Effect> answers;
    LaunchState state = LaunchState::completed;
    const char *kind = "progress";
    std::string why;
    switch (s.state) {
    case SessionState::starting:
        why = "application " + s.application + " exited before it was ready (" + how + ")";
        log(LogLevel::warning, "PVL00021",
            "application " + s.application + " of session " + s.id +
                " exited before it was ready (" + how + ")");
        if (life.creator != nobody)
            answers.push_back(reply_effect(life.creator, 502, Effect::Body::error_with_log, why,
                                           s.id, s.launcher));
        state = LaunchState::failed;
        kind = "error";
        break;
    case SessionState::ready:
        log(LogLevel::notice, "PVL00020",
            "session " + s.id + " (" + s.application + ") ended by itself (" + how + ")");
        why = "application ended by itself (" + how + ")";
        if (known && !clean) {
            state = LaunchState::failed;
            kind = "error";
        }
        break;
    case SessionState::stopping:
        state = life.end_as;
        why = life.end_why.empty() ? std::string("stopped on request") : life.end_why;
        kind = state == LaunchState::failed ? "error" : "progress";
        for (ReplyTo to : life.stop_waiters)
            answers.push_back(life.tracked
                                  ? reply_effect(to, 200, Effect::Body::launch, s.response, s.id)
                                  : reply_effect(to, 200, Effect::Body::text, s.response, s.id));
        break;
    }
    out->push_back(effect(Effect::Kind::unwatch, s.id));
    Effect forget = with_session(Effect::Kind::forget, s);
    forget.was_ready = s.state == SessionState::ready;
    out->push_back(std::move(forget));
    table_.remove(s.id);
    lives_.erase(s.id);
    ++stats_.outcomes[launch_state_name(state)];
    end(s.id, state, kind, why, out, &s);
    for (Effect &a : answers)
        out->push_back(std::move(a));
    drain(now, s.launcher, out);
}

void SessionMachine::end(const std::string &id, LaunchState state, const char *kind,
                         const std::string &why, std::vector<Effect> *out, const Session *s) {
    Effect e = effect(Effect::Kind::finish, id);
    if (s)
        e.session = *s;
    e.end = state;
    e.log_kind = kind;
    e.text = why;
    out->push_back(std::move(e));
}

void SessionMachine::stop_session(Instant now, Session &s, Life &life, LaunchState end_as,
                                  const std::string &why, std::vector<Effect> *out) {
    const bool was_ready = s.state == SessionState::ready;
    out->push_back(effect(Effect::Kind::unwatch, s.id));
    if (s.state != SessionState::stopping) {
        s.state = SessionState::stopping;
        life.end_as = end_as;
        life.end_why = why;
        Effect sig = with_session(Effect::Kind::signal, s);
        sig.number = 15; // SIGTERM
        out->push_back(std::move(sig));
        life.kill_deadline = now + seconds(settings_.stop_grace);
    }
    if (was_ready)
        out->push_back(with_session(Effect::Kind::unpublish, s));
}

void SessionMachine::cancel_pending(const std::string &id, int status, const std::string &why,
                                    LaunchState state, std::vector<Effect> *out) {
    auto it = waiting_.find(id);
    if (it == waiting_.end())
        return;
    const Pending p = it->second;
    waiting_.erase(it);
    queues_[static_cast<size_t>(p.launcher)].remove(id);
    out->push_back(emit_effect(Effect::Event::positions, std::string(), p.launcher));
    if (p.creator != nobody && status > 0)
        out->push_back(reply_effect(p.creator, status, Effect::Body::error, why, id));
    ++stats_.outcomes[launch_state_name(state)];
    end(id, state, state == LaunchState::failed ? "error" : "warning", why, out);
}

bool SessionMachine::stop(Instant now, const std::string &id, int launcher, ReplyTo to,
                          std::vector<Effect> *out) {
    auto pit = waiting_.find(id);
    if (pit != waiting_.end() && pit->second.queued && pit->second.launcher == launcher) {
        log(LogLevel::info, "PVL00036", "queued launch " + id + " canceled on request");
        const bool tracked = pit->second.tracked;
        cancel_pending(id, 503, "the launch was canceled", LaunchState::canceled, out);
        out->push_back(reply_effect(
            to, 200, tracked ? Effect::Body::launch : Effect::Body::canceled, std::string(), id));
        return true;
    }
    Session *s = table_.find(id);
    if (!s || s->launcher != launcher)
        return false;
    Life &life = lives_[id];
    if (s->state != SessionState::ready && !life.tracked)
        return false;
    life.stop_waiters.push_back(to);
    if (s->state == SessionState::stopping)
        return true; // answered with the others once it is gone
    if (life.creator != nobody) {
        out->push_back(
            reply_effect(life.creator, 503, Effect::Body::error, "the launch was canceled", id));
        life.creator = nobody;
    }
    log(LogLevel::info, "PVL00032", "session " + id + " stopped on request");
    stop_session(now, *s, life, LaunchState::canceled, "stopped on request", out);
    return true;
}

void SessionMachine::gone(Instant now, ReplyTo to, std::vector<Effect> *out) {
    if (to == nobody)
        return;
    for (auto &kv : lives_) {
        Life &life = kv.second;
        auto &w = life.stop_waiters;
        w.erase(std::remove(w.begin(), w.end(), to), w.end());
        if (life.creator != to)
            continue;
        life.creator = nobody;
        Session *s = table_.find(kv.first);
        if (s && s->state == SessionState::starting) {
            // Nobody would ever learn its id.
            log(LogLevel::info, "PVL00031",
                "launch of session " + s->id + " abandoned: the client went away");
            stop_session(now, *s, life, LaunchState::canceled,
                         "the client went away before the session was ready", out);
        }
    }
    for (auto &kv : waiting_)
        if (kv.second.creator == to && kv.second.queued) {
            // A held client that goes away loses its place: nothing is
            // started for nobody.
            const std::string id = kv.first;
            log(LogLevel::info, "PVL00026",
                "queued launch " + id + " abandoned: the client went away");
            cancel_pending(id, 0, "the client went away", LaunchState::canceled, out);
            return;
        }
}

bool SessionMachine::reorder(int launcher, const std::vector<std::string> &ids,
                             LaunchQueue::Direction d, std::string *unknown,
                             std::vector<Effect> *out) {
    if (static_cast<size_t>(launcher) >= queues_.size()) {
        *unknown = ids.empty() ? std::string() : ids.front();
        return false;
    }
    if (!queues_[static_cast<size_t>(launcher)].reorder(ids, d, unknown))
        return false;
    out->push_back(emit_effect(Effect::Event::positions, std::string(), launcher));
    return true;
}

bool SessionMachine::idle_scan_due(Instant now) const {
    return settings_.idle_timeout > 0 && now >= next_idle_scan_;
}

bool SessionMachine::ready_overdue(const std::string &id, Instant now) const {
    const Session *s = table_.find(id);
    auto it = lives_.find(id);
    return s && it != lives_.end() && s->state == SessionState::starting &&
           now >= it->second.ready_deadline;
}

void SessionMachine::tick(Instant now, const std::set<int> *busy_ports, std::vector<Effect> *out) {
    const bool scan = busy_ports && settings_.idle_timeout > 0;
    if (scan)
        next_idle_scan_ = now + seconds(std::min(30.0, std::max(0.5, settings_.idle_timeout / 4)));
    // Limits: PVLaunchMaxLifetime, PVLaunchIdleTimeout.
    if (scan || settings_.max_lifetime > 0)
        for (const std::string &id : table_.ids()) {
            Session &s = *table_.find(id);
            Life &life = lives_[id];
            if (s.state == SessionState::stopping)
                continue;
            std::string why;
            if (settings_.max_lifetime > 0 && now - life.started >= seconds(settings_.max_lifetime))
                why = "reached the maximum lifetime of " + number(settings_.max_lifetime) + " s";
            else if (scan && s.state == SessionState::ready) {
                // A Slurm session's port is on its node: this host cannot
                // see its connections (its job's --time bounds it).
                if (s.slurm || busy_ports->count(s.port))
                    life.last_active = now;
                else if (now - life.last_active >= seconds(settings_.idle_timeout))
                    why = "no client connection for " + number(settings_.idle_timeout) + " s";
            }
            if (why.empty())
                continue;
            log(LogLevel::notice, "PVL00025",
                "session " + id + " (" + s.application + ") " + why + "; stopping it");
            if (life.creator != nobody) {
                out->push_back(reply_effect(life.creator, 503, Effect::Body::error,
                                            "the session " + why + " before it was ready", id));
                life.creator = nobody;
            }
            stop_session(now, s, life, LaunchState::completed, why, out);
        }
    // Queued launches that waited too long.
    std::vector<std::string> expired;
    for (const auto &kv : waiting_)
        if (kv.second.queued && now >= kv.second.deadline)
            expired.push_back(kv.first);
    for (const std::string &id : expired) {
        const std::string secs = number(limits(waiting_[id].launcher).queue_wait);
        log(LogLevel::notice, "PVL00024",
            "queued launch " + id + " waited " + secs + " s without a free slot; removed");
        cancel_pending(id, 503,
                       "no session could be started within the maximum wait of " + secs +
                           " s; try again later",
                       LaunchState::failed, out);
    }
    // Capacity can come back without a session ending (a port another
    // program held is free again): retry the queues now and then.
    if (now >= next_drain_) {
        for (size_t l = 0; l < queues_.size(); ++l)
            if (!queues_[l].empty())
                drain(now, static_cast<int>(l), out);
        next_drain_ = now + std::chrono::seconds(1);
    }
    // Ready timeouts and SIGKILL after the grace period.
    for (const std::string &id : table_.ids()) {
        Session &s = *table_.find(id);
        Life &life = lives_[id];
        if (s.state == SessionState::starting && now >= life.ready_deadline) {
            const MachineLauncher &lim = limits(s.launcher);
            const std::string secs = number(lim.ready_timeout);
            log(LogLevel::warning, "PVL00022",
                "session " + id + " (" + s.application + ") not ready within " + secs +
                    " s; stopping it");
            if (life.creator != nobody && !life.scheduler_wait.empty()) {
                out->push_back(reply_effect(
                    life.creator, 503, Effect::Body::error,
                    "no node for " + s.application + " within the timeout of " + secs +
                        " s: " + life.scheduler_wait + "; it is canceled, try again later",
                    id, s.launcher));
                life.creator = nobody;
            } else if (life.creator != nobody) {
                const std::string what = life.waits_for_line
                                             ? std::string(" did not print its ready line")
                                             : " did not accept connections on " + s.host_port();
                out->push_back(reply_effect(life.creator, 503, Effect::Body::error_with_log,
                                            "application " + s.application + what +
                                                " within the timeout of " + secs + " s",
                                            id, s.launcher));
                life.creator = nobody;
            }
            stop_session(now, s, life, LaunchState::failed,
                         "not ready within the timeout of " + secs + " s", out);
        } else if (s.state == SessionState::stopping && !life.killed && now >= life.kill_deadline) {
            log(LogLevel::notice, "PVL00023",
                s.slurm ? "session " + id + ": its Slurm job " + s.job +
                              " has not ended yet; canceling it again"
                        : "session " + id + " did not stop on SIGTERM; sending SIGKILL");
            Effect sig = with_session(Effect::Kind::signal, s);
            sig.number = 9; // SIGKILL
            out->push_back(std::move(sig));
            life.killed = true;
        }
    }
}

Instant SessionMachine::next_deadline(Instant now) const {
    Instant next = now + std::chrono::seconds(60);
    for (const auto &kv : lives_) {
        const Session *s = table_.find(kv.first);
        const Life &life = kv.second;
        if (!s)
            continue;
        if (s->state == SessionState::starting)
            next = std::min(next, life.ready_deadline);
        else if (s->state == SessionState::stopping && !life.killed)
            next = std::min(next, life.kill_deadline);
        if (settings_.max_lifetime > 0 && s->state != SessionState::stopping)
            next = std::min(next, life.started + seconds(settings_.max_lifetime));
    }
    bool queued = false;
    for (const auto &kv : waiting_)
        if (kv.second.queued) {
            next = std::min(next, kv.second.deadline);
            queued = true;
        }
    if (queued)
        next = std::min(next, next_drain_);
    if (settings_.idle_timeout > 0 && table_.size() > 0)
        next = std::min(next, next_idle_scan_);
    return next;
}

void SessionMachine::adopt(Instant now, const Adoption &a, std::vector<Effect> *out) {
    if (!a.alive) {
        ++stats_.adopt_gone;
        return;
    }
    const Session &r = a.session;
    const bool keep = a.state == "ready" && r.launcher >= 0 &&
                      static_cast<size_t>(r.launcher) < queues_.size() && valid_session_id(r.id) &&
                      !table_.find(r.id) && a.port_free;
    if (!keep) {
        out->push_back(with_session(Effect::Kind::kill_now, r));
        ++stats_.adopt_killed;
        return;
    }
    Session s = r;
    s.state = SessionState::ready;
    Life &life = lives_[s.id];
    // Its age counts for PVLaunchMaxLifetime.
    life.created = life.started = now - seconds(std::max(0.0, a.age));
    life.last_active = now;
    out->push_back(with_session(Effect::Kind::adopted, s));
    table_.add(std::move(s));
    ++stats_.adopted;
}

void SessionMachine::shut_down(Instant now, std::vector<Effect> *out) {
    if (shutting_down_)
        return;
    shutting_down_ = true;
    log(LogLevel::info, "PVL00030",
        "stopping " + std::to_string(table_.size()) + " session(s) before exiting");
    std::vector<std::string> pending;
    for (const auto &kv : waiting_)
        pending.push_back(kv.first);
    for (const std::string &id : pending)
        cancel_pending(id, 503, "the launcher is shutting down", LaunchState::canceled, out);
    for (const std::string &id : table_.ids()) {
        Session &s = *table_.find(id);
        Life &life = lives_[id];
        if (life.creator != nobody) {
            out->push_back(reply_effect(life.creator, 503, Effect::Body::error,
                                        "the launcher is shutting down", id));
            life.creator = nobody;
        }
        stop_session(now, s, life, LaunchState::canceled, "the launcher stopped", out);
    }
}

void SessionMachine::hand_over(Instant now, std::vector<Effect> *out) {
    (void)now;
    for (const std::string &id : table_.ids()) {
        const Session s = *table_.find(id);
        if (s.state != SessionState::starting)
            continue;
        Life &life = lives_[id];
        if (life.creator != nobody)
            out->push_back(reply_effect(life.creator, 503, Effect::Body::error,
                                        "the launcher is restarting; try again", id));
        out->push_back(with_session(Effect::Kind::kill_now, s));
        out->push_back(effect(Effect::Kind::unwatch, id));
        out->push_back(with_session(Effect::Kind::forget, s));
        table_.remove(id);
        lives_.erase(id);
        end(id, LaunchState::canceled, "warning",
            "the launcher restarted before the session was ready", out, &s);
    }
    // Queued launches are not handed over: their clients are told to retry.
    std::vector<std::string> pending;
    for (const auto &kv : waiting_)
        pending.push_back(kv.first);
    for (const std::string &id : pending)
        cancel_pending(id, 503, "the launcher is restarting; try again", LaunchState::canceled,
                       out);
}

void SessionMachine::abandon(std::vector<Effect> *out) {
    for (const std::string &id : table_.ids()) {
        const Session s = *table_.find(id);
        out->push_back(with_session(Effect::Kind::kill_now, s));
        out->push_back(effect(Effect::Kind::unwatch, id));
        Effect forget = with_session(Effect::Kind::forget, s);
        forget.was_ready = s.state == SessionState::ready;
        out->push_back(std::move(forget));
        table_.remove(id);
        lives_.erase(id);
        end(id, LaunchState::canceled, "warning", "the launcher stopped", out, &s);
    }
}

} // namespace pvl
