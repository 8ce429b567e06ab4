// The control protocol's operations (core/protocol.h) but create.
#include "daemon_internal.h"

namespace pvl {
namespace daemon {

// "host:port" of a ready session, and its owner on a second line if it has one.
void SessionDaemon::op_map(ReplyTo to, const std::string &id) {
    std::string route = valid_session_id(id) ? machine_.table().route(id) : std::string();
    if (route.empty()) {
        respond(to, 404, route);
        return;
    }
    const Session *s = machine_.table().find(id);
    respond(to, 200, s->owner.empty() ? route : route + "\n" + s->owner);
}

void SessionDaemon::not_found(ReplyTo to, const std::string &id, const char *what) {
    respond(to, 404,
            error_body(std::string("no ") + what + " with id " + (valid_session_id(id) ? id : "?") +
                       " (it has ended, or the id is wrong)"));
}

// A session or launch of `owner`, asked for by someone else: the same 404
// as for an unknown id (its existence is not revealed), and a line in the
// audit trail. Administrators pass (but never get another user's secret:
// `to` is marked so that respond() strips it).
bool SessionDaemon::may_see(ReplyTo to, const ControlRequest &req, const std::string &owner,
                            const std::string &app, const char *what) {
    if (owner.empty() || owner == req.user)
        return true;
    if (req.admin) {
        no_secret_.insert(to);
        return true;
    }
    log(LogLevel::notice, "PVL00503",
        audit_line(std::string("refused ") + op_name(req.op) + " of another user's " + what +
                       " (owner " + owner + ")",
                   req.id, app, req.user, req.client));
    not_found(to, req.id, what);
    return false;
}

void SessionDaemon::op_get(ReplyTo to, int launcher, const ControlRequest &req) {
    const std::string &id = req.id;
    auto lit = valid_session_id(id) ? launches_.find(id) : launches_.end();
    if (lit != launches_.end() && lit->second.launcher == launcher && lit->second.tracked) {
        if (may_see(to, req, lit->second.user, lit->second.service, "session"))
            respond(to, 200, launch_body(lit->second));
        return;
    }
    const Session *s = valid_session_id(id) ? machine_.table().find(id) : nullptr;
    if (!s || s->launcher != launcher || s->state != SessionState::ready) {
        not_found(to, id, "session");
        return;
    }
    if (may_see(to, req, s->owner, s->application, "session"))
        respond(to, 200, s->response);
}

void SessionDaemon::op_delete(ReplyTo to, int launcher, const ControlRequest &req) {
    const std::string &id = req.id;
    auto lit = valid_session_id(id) ? launches_.find(id) : launches_.end();
    const Launch *l =
        lit != launches_.end() && lit->second.launcher == launcher ? &lit->second : nullptr;
    const Session *s = valid_session_id(id) ? machine_.table().find(id) : nullptr;
    if (s && s->launcher != launcher)
        s = nullptr;
    const std::string owner = s ? s->owner : l ? l->user : std::string();
    const std::string app = s ? s->application : l ? l->service : std::string();
    if ((s || l) && !may_see(to, req, owner, app, "session"))
        return;
    if (l && l->tracked && launch_ended(l->state)) {
        respond(to, 200, launch_body(lit->second));
        return;
    }
    std::vector<Effect> effects;
    if (!valid_session_id(id) || !machine_.stop(Clock::now(), id, launcher, to, &effects)) {
        no_secret_.erase(to);
        not_found(to, id, "session");
        return;
    }
    log(LogLevel::notice, "PVL00502",
        audit_line(owner == req.user ? "stop requested" : "stop requested by an administrator", id,
                   app, req.user, req.client));
    apply(effects);
}

void SessionDaemon::op_list(ReplyTo to, int launcher) {
    // Whose launch each is: for the administrators who list them.
    auto add_owner = [](json_t *item, const std::string &owner) {
        if (!owner.empty())
            json_object_set_new(item, "owner", json_stringn(owner.data(), owner.size()));
    };
    JsonPtr arr(json_array());
    // Running launches (sessions not being stopped) in request order, then
    // the queue in start order.
    std::vector<std::pair<long, JsonPtr>> running;
    for (const std::string &id : machine_.table().ids()) {
        const Session *s = machine_.table().find(id);
        if (s->launcher != launcher || s->state == SessionState::stopping)
            continue;
        auto lit = launches_.find(id);
        if (lit != launches_.end()) {
            running.emplace_back(lit->second.request_number, launch_summary_json(lit->second, 0));
            json_object_set_new(running.back().second.get(), "hostPort",
                                json_string(s->host_port().c_str()));
            add_owner(running.back().second.get(), s->owner);
            continue;
        }
        const Proc &p = procs_[id]; // every session has one
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
        add_owner(running.back().second.get(), s->owner);
    }
    std::sort(running.begin(), running.end(),
              [](const auto &a, const auto &b) { return a.first < b.first; });
    for (auto &r : running)
        json_array_append_new(arr.get(), r.second.release());
    const LaunchQueue &q = machine_.queue(launcher);
    size_t pos = 0;
    for (const std::string &id : q.ids()) {
        auto it = launches_.find(id);
        if (it == launches_.end())
            continue;
        JsonPtr item = launch_summary_json(it->second, ++pos);
        add_owner(item.get(), it->second.user);
        json_array_append_new(arr.get(), item.release());
    }
    JsonPtr body(json_pack("{s:O}", "launches", arr.get()));
    respond(to, 200, json_to_string(body.get()));
}

// The last lines of a live session's log, for the admin page.
void SessionDaemon::op_logtail(ReplyTo to, int launcher, const ControlRequest &req) {
    const std::string &id = req.id;
    const Session *s = valid_session_id(id) ? machine_.table().find(id) : nullptr;
    if (!s || s->launcher != launcher) {
        not_found(to, id, "running session");
        return;
    }
    if (!may_see(to, req, s->owner, s->application, "running session"))
        return;
    const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(launcher)];
    std::string tail = log_tail(cfg.log_dir + "/" + id + ".log");
    json_t *text = json_stringn(tail.data(), tail.size());
    JsonPtr j(json_pack("{s:s, s:o}", "id", id.c_str(), "log",
                        text ? text : json_string("(the log is not UTF-8 text)")));
    respond(to, 200, json_to_string(j.get()));
}

void SessionDaemon::op_watch(Conn &c, int launcher, const ControlRequest &req) {
    const std::string &id = req.id;
    auto lit = valid_session_id(id) ? launches_.find(id) : launches_.end();
    Launch *l = lit != launches_.end() && lit->second.launcher == launcher ? &lit->second : nullptr;
    const Session *s = valid_session_id(id) ? machine_.table().find(id) : nullptr;
    if (s && s->launcher != launcher)
        s = nullptr;
    // A ParaViewWeb session is watchable once its id is known (ready); a
    // seed 004 launch from its creation.
    if (!l && !(s && s->state == SessionState::ready)) {
        not_found(c.handle, id, "launch");
        return;
    }
    if (!may_see(c.handle, req, l ? l->user : s->owner, l ? l->service : s->application, "launch"))
        return;
    // Each stream holds one of Apache's workers for as long as the launch
    // runs: a bounded number of them, so that Apache keeps answering.
    const Settings &set = opts_.settings;
    size_t total = 0, from_client = 0;
    for (const auto &kv : conns_)
        if (kv.second.phase == Conn::Phase::streaming) {
            ++total;
            if (kv.second.client == req.client)
                ++from_client;
        }
    auto w = watchers_.find(id);
    const size_t on_launch = w == watchers_.end() ? 0 : w->second.size();
    const char *which = total >= set.streams_total              ? "in all"
                        : on_launch >= set.streams_per_launch   ? "on this launch"
                        : from_client >= set.streams_per_client ? "from this client address"
                                                                : nullptr;
    if (which) {
        respond(c.handle, 429,
                error_body(std::string("too many event streams ") + which +
                           " (PVLaunchMaxStreams " + std::to_string(set.streams_total) + " " +
                           std::to_string(set.streams_per_launch) + " " +
                           std::to_string(set.streams_per_client) + "); try again later"));
        return;
    }
    c.client = req.client;
    c.phase = Conn::Phase::streaming;
    c.out = frame_response(200, "");
    c.out_off = 0;
    JsonPtr now(json_object());
    const char *state = l ? launch_state_name(l->state) : "running";
    json_object_set_new(now.get(), "state", json_string(state));
    if (l && l->state == LaunchState::waiting)
        json_object_set_new(
            now.get(), "queuePosition",
            json_integer(static_cast<json_int_t>(machine_.queue_position(id, launcher))));
    if (s)
        json_object_set_new(now.get(), "sessionState", json_string(session_state_name(s->state)));
    watchers_[id].push_back(c.handle);
    stream(c.handle, "state", std::move(now));
    if (l && launch_ended(l->state))
        end_watchers(id, nullptr);
}

void SessionDaemon::op_stats(ReplyTo to, bool detail) {
    json_int_t starting = 0, ready = 0, stopping = 0;
    const SessionTable &table = machine_.table();
    for (const std::string &id : table.ids()) {
        const Session *s = table.find(id);
        ++(s->state == SessionState::starting ? starting
           : s->state == SessionState::ready  ? ready
                                              : stopping);
    }
    size_t free_ports = 0, ports = 0;
    for (const auto &p : pools_) {
        free_ports += p.free_count();
        ports += p.size();
    }
    const SessionMachine::Stats &st = machine_.stats();
    JsonPtr outcomes(json_object());
    for (const auto &kv : st.outcomes)
        json_object_set_new(outcomes.get(), kv.first.c_str(),
                            json_integer(static_cast<json_int_t>(kv.second)));
    JsonPtr j(json_pack("{s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:O, s:o, s:o, s:f}", "sessions",
                        "starting", starting, "ready", ready, "stopping", stopping, "waiting",
                        static_cast<json_int_t>(machine_.waiting_count()), "ports_free",
                        static_cast<json_int_t>(free_ports), "ports_total",
                        static_cast<json_int_t>(ports), "started",
                        static_cast<json_int_t>(st.started), "outcomes", outcomes.get(),
                        "launch_duration_seconds", st.launch_duration.to_json().release(),
                        "queue_wait_seconds", st.queue_wait.to_json().release(), "uptime_seconds",
                        std::chrono::duration<double>(Clock::now() - born_).count()));
    if (detail) {
        json_t *list = json_array();
        for (const std::string &id : table.ids()) {
            const Session *s = table.find(id);
            const char *state = session_state_name(s->state);
            json_array_append_new(
                list, json_pack("{s:s#, s:s#, s:s#, s:s}", "id", id.c_str(),
                                static_cast<int>(std::min<size_t>(id.size(), 8)), "owner",
                                s->owner.data(), static_cast<int>(s->owner.size()), "application",
                                s->application.data(), static_cast<int>(s->application.size()),
                                "state", state));
        }
        json_object_set_new(j.get(), "list", list);
    }
    respond(to, 200, json_to_string(j.get()));
}

void SessionDaemon::op_reorder(ReplyTo to, int launcher, const ControlRequest &req) {
    LaunchQueue::Direction d;
    const std::string &dir = req.direction;
    if (!LaunchQueue::parse_direction(dir.c_str(), &d)) {
        respond(to, 400, error_body("direction must be top, up, down or bottom"));
        return;
    }
    const std::vector<std::string> &ids = req.ids;
    if (ids.empty()) {
        respond(to, 400, error_body("give the launches to move as id parameters"));
        return;
    }
    std::string unknown;
    std::vector<Effect> effects;
    if (!machine_.reorder(launcher, ids, d, &unknown, &effects)) {
        respond(to, 400,
                error_body("no waiting launch with id " +
                           (valid_session_id(unknown) ? unknown : std::string("?"))));
        return;
    }
    log(LogLevel::info, "PVL00037", std::to_string(ids.size()) + " queued launch(es) moved " + dir);
    emit_positions(launcher);
    op_list(to, launcher);
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
        if (!id.empty() && !machine_.table().find(id) && !launches_.count(id))
            return id;
    }
    return std::string();
}

QueueOptions SessionDaemon::queue_options(int launcher) const {
    size_t l = static_cast<size_t>(launcher);
    return l < opts_.settings.queues.size() ? opts_.settings.queues[l] : QueueOptions();
}

} // namespace daemon
} // namespace pvl
