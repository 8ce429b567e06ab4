// Launches: create, starting an app, the launch records and how they end.
#include "daemon_internal.h"

namespace pvl {
namespace daemon {

namespace {

// A launch that will wait is checked now, not after the wait: planned with
// the values the server would give it.
bool plannable(const LauncherConfig &cfg, json_t *payload, const Launch &l, LaunchError *err) {
    ServerVars probe;
    probe.id = l.id;
    probe.host = cfg.resources.empty() ? "localhost" : cfg.resources.front().host;
    probe.port = cfg.resources.empty() ? 0 : cfg.resources.front().port_lo;
    probe.secret = random_token(24);
    probe.application = l.service;
    probe.user = l.user;
    LaunchPlan plan;
    return plan_launch(cfg, payload, probe, &plan, err, unresolved_policy(l));
}

} // namespace

// Per-user limits (max_session_per_user of the launcher and of the app) and
// PVLaunchMaxStarting, before anything is started: "" if the launch may go
// on, else why not (and *retry_after for a cap that frees by itself).
std::string SessionDaemon::over_limit(int launcher, const std::string &app, const std::string &user,
                                      bool *retry_after) const {
    const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(launcher)];
    const size_t max_starting = opts_.settings.max_starting;
    if (max_starting > 0) {
        size_t starting = 0;
        const SessionTable &table = machine_.table();
        for (const std::string &id : table.ids())
            if (table.find(id)->state == SessionState::starting)
                ++starting;
        if (starting >= max_starting) {
            *retry_after = true;
            return "too many launches in progress (PVLaunchMaxStarting " +
                   std::to_string(max_starting) + "); try again in a few seconds";
        }
    }
    auto ait = cfg.apps.find(app);
    const int per_app = ait == cfg.apps.end() ? 0 : ait->second.max_session_per_user;
    if (user.empty() || (cfg.max_session_per_user == 0 && per_app == 0))
        return std::string();
    // What the user holds: sessions not being stopped, and launches still
    // being spawned or waiting in the queue.
    size_t held = 0, held_app = 0;
    const SessionTable &table = machine_.table();
    for (const std::string &id : table.ids()) {
        const Session *s = table.find(id);
        if (s->launcher == launcher && s->owner == user && s->state != SessionState::stopping) {
            ++held;
            held_app += s->application == app;
        }
    }
    for (const auto &kv : launches_)
        if (kv.second.launcher == launcher && kv.second.user == user &&
            machine_.waiting(kv.first)) {
            ++held;
            held_app += kv.second.service == app;
        }
    if (cfg.max_session_per_user > 0 && held >= static_cast<size_t>(cfg.max_session_per_user))
        return "user limit reached: max_session_per_user is " +
               std::to_string(cfg.max_session_per_user) + " and you hold " + std::to_string(held) +
               " session(s), queued launches included; stop one first";
    if (per_app > 0 && held_app >= static_cast<size_t>(per_app))
        return "user limit reached: max_session_per_user of application " + app + " is " +
               std::to_string(per_app) + " and you hold " + std::to_string(held_app) +
               " of its session(s), queued launches included; stop one first";
    return std::string();
}

void SessionDaemon::op_create(ReplyTo to, int launcher, const ControlRequest &req) {
    json_t *payload = req.payload.get();
    if (machine_.shutting_down()) {
        respond(to, 503, error_body("the launcher is shutting down"));
        return;
    }
    const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(launcher)];
    if (!json_is_object(payload)) {
        respond(to, 400, error_body("request body must be a JSON object"));
        return;
    }
    LaunchError err;
    std::string app;
    if (!check_payload(cfg, payload, &app, &err)) {
        respond(to, err.status, error_body(err.message));
        return;
    }
    bool retry_after = false;
    const std::string over = over_limit(launcher, app, req.user, &retry_after);
    if (!over.empty()) {
        log(LogLevel::notice, "PVL00504",
            audit_line("launch refused: " + over, "", app, req.user, req.client));
        JsonPtr body(json_pack("{s:s, s:s}", "error", over.c_str(), "limit",
                               retry_after ? "PVLaunchMaxStarting" : "max_session_per_user"));
        if (retry_after)
            json_object_set_new(body.get(), "retryAfter", json_integer(5));
        respond(to, 429, json_to_string(body.get()));
        return;
    }
    Launch l;
    l.id = new_id();
    if (l.id.empty()) {
        respond(to, 500, error_body("cannot generate a session id"));
        return;
    }
    const SysTime now = std::chrono::system_clock::now();
    l.launcher = launcher;
    l.service = app;
    l.user = req.user;
    l.client = req.client;
    if (!req.base.empty())
        bases_[static_cast<size_t>(launcher)] = req.base;
    l.uri = bases_[static_cast<size_t>(launcher)] + "/" + l.id;
    l.request_number = next_request_number_++;
    l.request_time = now;
    l.arguments = launch_arguments(payload);
    l.tracked = req.async;
    l.all_parameters = req.form;
    l.status_location = req.notify;
    l.add_log("progress", "launch of " + app + " requested", now);
    if (machine_.would_queue(launcher) && !plannable(cfg, payload, l, &err)) {
        respond(to, err.status, error_body(err.message));
        return;
    }
    const std::string id = l.id;
    launches_[id] = std::move(l);
    payloads_[id] = json_ref(payload);
    sync_elsewhere(); // before anyone can learn the id
    std::vector<Effect> effects;
    machine_.create(Clock::now(), id, launcher, to, req.async, &effects);
    apply(effects);
}

void SessionDaemon::warn_unresolved(const Launch &l, const LaunchPlan &plan) {
    for (const auto &name : plan.unresolved)
        log(LogLevel::warning, "PVL00066",
            "launch " + l.id + " (" + l.service + "): \"" + name +
                "\" is neither in the request nor a property of the launcher config; "
                "${" +
                name + "} is left as written");
}

// Creates a session log with its header (whose session this is, for
// whoever reads the log later; the ready line is looked for after it),
// owned by the apps' user where the daemon is root (a Slurm job's output
// is opened by slurmd as that user). Returns its descriptor for writing,
// or -1 with *why set.
int SessionDaemon::open_session_log(const std::string &path, const Launch &l, const std::string &id,
                                    std::string *why) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        *why = "cannot open the session log " + path + ": " + strerror(errno);
    } else if (opts_.apps_as.switch_user &&
               opts_.launchers[static_cast<size_t>(l.launcher)]->apps.at(l.service).slurm) {
        uid_t uid = 0;
        gid_t gid = 0;
        std::string error;
        if (!resolve_ids(opts_.apps_as, &uid, &gid, &error) || fchown(fd, uid, gid) != 0) {
            close(fd);
            fd = -1;
            *why = "cannot give the session log " + path + " to user " + opts_.apps_as.user + ": " +
                   (error.empty() ? strerror(errno) : error);
        }
    }
    if (fd < 0) {
        log(LogLevel::error, "PVL00041", *why);
        return -1;
    }
    const std::string header =
        "# mod_pvlaunch: " + audit_line("session started", id, l.service, l.user, l.client) +
        " at " + iso8601_time(std::chrono::system_clock::now()) + "\n";
    if (write(fd, header.data(), header.size()) != static_cast<ssize_t>(header.size()))
        log(LogLevel::warning, "PVL00058",
            "cannot write the header of the session log " + path + ": " + strerror(errno));
    return fd;
}

// A launch's app (or job) was started: its record and its session's Proc
// say so, and since when.
void SessionDaemon::mark_started(Launch &l, Proc &p, const std::string &what) {
    const SysTime wall = std::chrono::system_clock::now();
    p.request_number = l.request_number;
    p.request_time = l.request_time;
    p.start_time_wall = wall;
    l.state = LaunchState::running;
    l.started = true;
    l.start_time = wall;
    l.erase_status("queuePosition");
    l.add_log("progress", what, wall);
}

// The session a launch starts: whose, from where, of which app.
Session SessionDaemon::session_of(const Launch &l) {
    Session s;
    s.id = l.id;
    s.launcher = l.launcher;
    s.application = l.service;
    s.owner = l.user;
    s.client = l.client;
    return s;
}

// The audit trail's line for a launch that started: `how` says where.
void SessionDaemon::audit_launched(const Launch &l, const std::string &how) {
    log(LogLevel::notice, "PVL00501",
        audit_line("launched (" + how + ")", l.id, l.service, l.user, l.client));
}

void SessionDaemon::spawn(const std::string &id, int launcher, std::vector<Effect> *more) {
    const auto now = Clock::now();
    auto lit = launches_.find(id);
    auto pit = payloads_.find(id);
    if (lit == launches_.end() || pit == payloads_.end()) {
        machine_.spawn_failed(now, id, 500, "the launch request is gone", more);
        return;
    }
    Launch &l = lit->second;
    json_t *payload = pit->second.get();
    const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(launcher)];
    auto app_cfg = cfg.apps.find(l.service);
    if (app_cfg != cfg.apps.end() && app_cfg->second.slurm) {
        spawn_slurm(id, launcher, more);
        return;
    }
    ServerVars vars;
    PortPool &pool = pools_[static_cast<size_t>(launcher)];
    LaunchError err;
    if (!pool.take(&vars.host, &vars.port, port_bindable)) {
        if (plannable(cfg, payload, l, &err))
            machine_.no_capacity(now, id, more);
        else
            machine_.spawn_failed(now, id, err.status, err.message, more);
        return;
    }
    vars.id = l.id;
    vars.secret = random_token(24);
    vars.application = l.service;
    vars.user = l.user;
    LaunchPlan plan;
    if (vars.secret.empty()) {
        pool.release(vars.host, vars.port);
        machine_.spawn_failed(now, id, 500, "cannot generate a session secret", more);
        return;
    }
    if (!plan_launch(cfg, payload, vars, &plan, &err, unresolved_policy(l))) {
        pool.release(vars.host, vars.port);
        machine_.spawn_failed(now, id, err.status, err.message, more);
        return;
    }
    warn_unresolved(l, plan);

    Proc p;
    const std::string log_path = cfg.log_dir + "/" + vars.id + ".log";
    std::string why;
    const int out_fd = open_session_log(log_path, l, vars.id, &why);
    if (out_fd < 0) {
        pool.release(vars.host, vars.port);
        machine_.spawn_failed(now, id, 500, why, more);
        return;
    }
    p.ready_lines = plan.ready_lines;
    for (const auto &r : p.ready_lines)
        p.longest_ready = std::max(p.longest_ready, r.size());
    if (!p.ready_lines.empty()) {
        p.log_fd = open(log_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (p.log_fd >= 0)
            lseek(p.log_fd, 0, SEEK_END);
        p.wd = inotify_add_watch(ifd_, log_path.c_str(), IN_MODIFY);
    }
    SpawnSpec spec;
    spec.argv = plan.argv;
    spec.dir = plan.dir;
    spec.env = opts_.settings.pass_env;
    spec.env.insert(spec.env.end(), plan.env.begin(), plan.env.end());
    spec.output_fd = out_fd;
    spec.name = l.service;
    if (app_cfg != cfg.apps.end())
        spec.limits = app_cfg->second.limits;
    std::string spawn_error;
    AppRef app;
    const bool started = backend_->start(spec, &app, &spawn_error);
    close(out_fd);
    if (!started) {
        stop_watching(p);
        pool.release(vars.host, vars.port);
        log(LogLevel::error, "PVL00042", "application " + l.service + ": " + spawn_error);
        machine_.spawn_failed(now, id, 502,
                              "application " + l.service + " could not be started: " + spawn_error,
                              more);
        return;
    }
    Session s = session_of(l);
    s.host = vars.host;
    s.port = vars.port;
    s.pid = app.pid;
    s.start_time = app.start_time;
    s.response = json_to_string(plan.response.get());
    if (p.wd >= 0)
        watches_[p.wd] = s.id;
    mark_started(l, p, "application " + l.service + " started");
    audit_launched(l, "pid " + std::to_string(app.pid) + ", " + vars.host + ":" +
                          std::to_string(vars.port));
    payloads_.erase(pit);
    Proc &stored = procs_[s.id] = std::move(p);
    const bool waits_for_line = !stored.ready_lines.empty();
    machine_.spawned(now, std::move(s), waits_for_line, more);
    // A ParaViewWeb launch needs its record no more: the session and its
    // Proc say what the listing shows (a site keeps thousands of them).
    if (!l.tracked && l.status_location.empty())
        launches_.erase(lit);
    const Session *row = machine_.table().find(id);
    if (!row)
        return;
    if (waits_for_line)
        check_ready(*row, stored, more);
    else
        start_probe(*row, stored, more);
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
    if (l.state == LaunchState::waiting)
        l.set_status("queuePosition", std::to_string(machine_.queue_position(l.id, l.launcher)));
    const Session *s = machine_.table().find(l.id);
    JsonPtr session;
    if (s && s->state == SessionState::ready)
        session.reset(json_loads(s->response.c_str(), 0, nullptr));
    l.set_status("sessionState", s ? session_state_name(s->state)
                                   : (l.state == LaunchState::waiting ? "queued" : "ended"));
    if (s && s->slurm)
        slurm_launch_status(l, *s);
    return launch_json(l, session.get(), std::chrono::system_clock::now());
}

std::string SessionDaemon::launch_body(Launch &l) {
    JsonPtr body(json_pack("{s:o}", "launch", launch_object(l).release()));
    return json_to_string(body.get());
}

} // namespace daemon
} // namespace pvl
