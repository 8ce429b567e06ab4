// Launches: create, the queue, starting an app, and how a launch ends.
#include "daemon_internal.h"

namespace pvl {
namespace daemon {

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

} // namespace daemon
} // namespace pvl
