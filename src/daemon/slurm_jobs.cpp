// Sessions as Slurm jobs. A launch of an app with "slurm" runs sbatch (as
// the apps' user, with Apache's environment) with core/slurm.h's batch
// script on its standard input; the job's output file is the session log.
// The job prints where it listens (its node, and the port its step
// reserved), then the app prints its ready line; the daemon reads the file
// on its clock, and one squeue call per poll interval, for all the
// launcher's jobs, says which wait, which run where and which ended. The
// session is routed once both the route line and squeue name the same
// node, and the node is allowed. DELETE is scancel; the session ends when
// squeue says the job did. Slurm schedules: nothing here decides where or
// when a job runs.
#include "daemon_internal.h"

#include <pwd.h>

namespace pvl {
namespace daemon {

namespace {

constexpr auto stopping_poll_interval = std::chrono::milliseconds(200);
constexpr size_t max_route_search = 64 * 1024; // bytes of output before the route line

std::string job_name(const std::string &id) {
    return "pvlaunch-" + id;
}

// sbatch's messages when the controller cannot be reached (after its own
// retries): the service is unavailable rather than the request refused.
bool unreachable(const std::string &message) {
    for (const char *m :
         {"Unable to contact slurm controller", "Socket timed out", "Connection refused",
          "Zero Bytes were transmitted", "Connection timed out"})
        if (message.find(m) != std::string::npos)
            return true;
    return false;
}

// "12345" or "12345;cluster" from sbatch --parsable.
std::string parsable_job_id(const std::string &out) {
    size_t start = out.find_first_not_of(" \t\r\n");
    if (start == std::string::npos)
        return std::string();
    // Warnings may come first: the id is on the last line.
    size_t end = out.find_last_not_of(" \t\r\n");
    size_t line = out.rfind('\n', end);
    line = line == std::string::npos || line < start ? start : line + 1;
    std::string id = out.substr(line, end + 1 - line);
    id = id.substr(0, id.find(';'));
    if (id.empty() || id.size() > 20 || id.find_first_not_of("0123456789") != std::string::npos)
        return std::string();
    return id;
}

} // namespace

AppIdentity SessionDaemon::tool_user() const {
    if (opts_.apps_as.switch_user)
        return opts_.apps_as;
    AppIdentity me;
    if (const struct passwd *pw = getpwuid(geteuid())) {
        me.user = pw->pw_name;
        me.home = pw->pw_dir;
    }
    return me;
}

bool SessionDaemon::slurm_slot_free(int launcher) const {
    const auto &slots = slurm_slots_[static_cast<size_t>(launcher)];
    return std::find(slots.begin(), slots.end(), std::string()) != slots.end();
}

long SessionDaemon::slurm_table_index(const Session &s) const {
    auto it = slurm_jobs_.find(s.id);
    if (it == slurm_jobs_.end())
        return -1;
    const size_t l = static_cast<size_t>(s.launcher);
    return static_cast<long>(pools_[l].size() + it->second.slot);
}

void SessionDaemon::spawn_slurm(const std::string &id, int launcher, std::vector<Effect> *more) {
    const auto now = Clock::now();
    Launch &l = launches_.at(id);
    auto pit = payloads_.find(id);
    json_t *payload = pit->second.get();
    const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(launcher)];
    auto &slots = slurm_slots_[static_cast<size_t>(launcher)];
    auto free_slot = std::find(slots.begin(), slots.end(), std::string());
    LaunchError err;
    ServerVars vars;
    vars.id = l.id;
    vars.secret = random_token(24);
    vars.application = l.service;
    vars.user = l.user;
    vars.slurm = true;
    LaunchPlan plan;
    if (vars.secret.empty()) {
        machine_.spawn_failed(now, id, 500, "cannot generate a session secret", more);
        return;
    }
    if (!plan_launch(cfg, payload, vars, &plan, &err, unresolved_policy(l))) {
        machine_.spawn_failed(now, id, err.status, err.message, more);
        return;
    }
    if (free_slot == slots.end()) {
        // slurm.max_jobs of this launcher run or wait in Slurm already.
        machine_.no_capacity(now, id, more);
        return;
    }
    warn_unresolved(l, plan);
    std::string script, error;
    SlurmScript sc;
    sc.argv = plan.argv;
    sc.dir = plan.dir;
    sc.env = opts_.settings.pass_env;
    sc.env.insert(sc.env.end(), plan.env.begin(), plan.env.end());
    if (!slurm_batch_script(sc, &script, &error)) {
        machine_.spawn_failed(now, id, 500,
                              "application " + l.service + " cannot run as a Slurm job: " + error,
                              more);
        return;
    }
    // The job's output is the session log. Created here, for the apps'
    // user (slurmd opens it as the job's user, in append mode), with the
    // header; the daemon reads what the job adds after it.
    Proc p;
    p.slurm = true;
    const std::string log_path = cfg.log_dir + "/" + vars.id + ".log";
    const int out_fd = open_session_log(log_path, l, vars.id, &error);
    if (out_fd < 0) {
        machine_.spawn_failed(now, id, 500, error, more);
        return;
    }
    p.log_fd = open(log_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (p.log_fd >= 0)
        lseek(p.log_fd, 0, SEEK_END);
    close(out_fd);
    // --no-requeue: Slurm requeues a job whose launch failed on its node
    // held ("launch failed requeued held") and one whose node failed; for
    // a session either is better ended at once (502, or the session ends)
    // than left waiting. A site's options come after ours (--requeue).
    std::vector<std::string> argv = {"sbatch",
                                     "--parsable",
                                     "--job-name=" + job_name(vars.id),
                                     "--output=" + log_path,
                                     "--open-mode=append",
                                     "--no-requeue"};
    argv.insert(argv.end(), plan.slurm_options.begin(), plan.slurm_options.end());
    const uint64_t run = tools_.start(argv, tool_user(), script, &error);
    if (run == 0) {
        stop_watching(p);
        log(LogLevel::error, "PVL00070", "application " + l.service + ": " + error);
        machine_.spawn_failed(now, id, 503, "cannot submit the Slurm job: " + error, more);
        return;
    }
    tool_runs_[run] = {ToolUse::sbatch, vars.id};
    *free_slot = vars.id;
    SlurmWatch &w = slurm_jobs_[vars.id];
    w.launcher = launcher;
    w.slot = static_cast<size_t>(free_slot - slots.begin());
    w.submitting = true;

    Session s = session_of(l);
    s.slurm = true;
    s.response = json_to_string(plan.response.get());
    p.ready_lines = plan.ready_lines;
    for (const auto &r : p.ready_lines)
        p.longest_ready = std::max(p.longest_ready, r.size());
    p.next_read = now + slurm_output_interval;
    mark_started(l, p, "Slurm job of " + l.service + " submitted");
    audit_launched(l, "as a Slurm job");
    payloads_.erase(pit);
    procs_[s.id] = std::move(p);
    const bool waits_for_line = !plan.ready_lines.empty();
    machine_.spawned(now, std::move(s), waits_for_line, more);
    // Until sbatch answers, a timeout is Slurm's (its commands retry for a
    // while when the controller is away).
    machine_.scheduler_wait(id, "sbatch has not answered (is Slurm's controller reachable?)");
    if (!l.tracked && l.status_location.empty())
        launches_.erase(id);
}

void SessionDaemon::cancel_job(const std::string &job, const std::string &id, bool wait) {
    // By id; a job whose id never came back (the daemon went away while
    // sbatch ran) by its name.
    std::vector<std::string> argv = {"scancel"};
    if (!job.empty())
        argv.push_back(job);
    else
        argv.insert(argv.end(), {"--name=" + job_name(id), "--user=" + tool_user().user});
    if (wait) {
        ToolResult r = tools_.run(argv, tool_user(), 15);
        if (!r.ok())
            scancel_failed(job.empty() ? job_name(id) : job, r.message());
        return;
    }
    std::string error;
    const uint64_t run = tools_.start(argv, tool_user(), std::string(), &error);
    if (run == 0)
        scancel_failed(job.empty() ? job_name(id) : job, error);
    else
        tool_runs_[run] = {ToolUse::scancel, job.empty() ? job_name(id) : job};
}

void SessionDaemon::scancel_failed(const std::string &what, const std::string &why) {
    // A job that ended meanwhile is no failure.
    if (why.find("Invalid job id") != std::string::npos ||
        why.find("already completing or completed") != std::string::npos)
        return;
    log(LogLevel::warning, "PVL00071", "scancel " + what + " failed: " + why);
}

void SessionDaemon::slurm_signal(const Session &s, std::vector<Effect> *more) {
    auto it = slurm_jobs_.find(s.id);
    if (it == slurm_jobs_.end())
        return;
    SlurmWatch &w = it->second;
    if (machine_.shutting_down()) {
        // The launcher stops: Apache waits for the daemon, not for Slurm to
        // tear the jobs down. Once scancel took the job, it is over here.
        slurm_kill_now(s);
        machine_.exited(Clock::now(), s.id, true, true, "its Slurm job was canceled", more);
        return;
    }
    if (w.submitting)
        w.cancel_wanted = true; // once sbatch gives its id
    else
        cancel_job(w.job, s.id, false);
}

void SessionDaemon::slurm_kill_now(const Session &s) {
    auto it = slurm_jobs_.find(s.id);
    std::string job = it != slurm_jobs_.end() ? it->second.job : s.job;
    // A job being submitted: its sbatch is waited for first, so that the
    // job it creates is the one canceled.
    if (it != slurm_jobs_.end() && it->second.submitting) {
        it->second.submitting = false;
        for (auto run = tool_runs_.begin(); run != tool_runs_.end(); ++run)
            if (run->second.first == ToolUse::sbatch && run->second.second == s.id) {
                const uint64_t handle = run->first;
                tool_runs_.erase(run);
                ToolResult r = tools_.wait(handle, 15);
                job = r.ok() ? parsable_job_id(r.out) : std::string();
                break;
            }
    }
    if (it != slurm_jobs_.end())
        it->second.cancel_wanted = false;
    cancel_job(job, s.id, true);
    if (job.empty() && !exiting_)
        orphan_names_[s.id] = Clock::now() + std::chrono::seconds(60);
}

void SessionDaemon::slurm_forget(const Session &s) {
    auto it = slurm_jobs_.find(s.id);
    if (it == slurm_jobs_.end())
        return;
    auto &slots = slurm_slots_[static_cast<size_t>(it->second.launcher)];
    if (it->second.slot < slots.size() && slots[it->second.slot] == s.id)
        slots[it->second.slot].clear();
    // A job still being submitted is canceled when sbatch answers (its
    // session is unknown by then).
    slurm_jobs_.erase(it);
}

// An earlier daemon's ready Slurm session: its job is watched again; the
// next squeue says whether it still runs.
void SessionDaemon::slurm_adopted(const Session &s) {
    auto &slots = slurm_slots_[static_cast<size_t>(s.launcher)];
    auto free_slot = std::find(slots.begin(), slots.end(), std::string());
    if (free_slot == slots.end())
        return; // adopt() checked that one is free
    *free_slot = s.id;
    SlurmWatch &w = slurm_jobs_[s.id];
    w.launcher = s.launcher;
    w.slot = static_cast<size_t>(free_slot - slots.begin());
    w.job = s.job;
    w.known_since = Clock::time_point(); // absent from the next squeue: ended
    Proc &p = procs_[s.id];
    p.slurm = p.routed = p.placed = p.ready_seen = true;
    next_squeue_ = Clock::now();
}

void SessionDaemon::handle_tool_results() {
    for (auto &done : tools_.take_finished()) {
        auto it = tool_runs_.find(done.first);
        if (it == tool_runs_.end())
            continue;
        const ToolUse use = it->second.first;
        const std::string what = it->second.second;
        tool_runs_.erase(it);
        ToolResult &r = done.second;
        switch (use) {
        case ToolUse::sbatch:
            on_sbatch(what, r);
            break;
        case ToolUse::squeue:
            squeue_run_ = 0;
            on_squeue(r);
            break;
        case ToolUse::scancel:
            if (!r.ok())
                scancel_failed(what, r.message());
            next_squeue_ = std::min(next_squeue_, Clock::now() + stopping_poll_interval);
            break;
        }
    }
}

void SessionDaemon::on_sbatch(const std::string &id, ToolResult &r) {
    const auto now = Clock::now();
    const std::string job = r.ok() ? parsable_job_id(r.out) : std::string();
    auto it = slurm_jobs_.find(id);
    if (it == slurm_jobs_.end()) {
        // Its session is gone (the launcher restarted, or shut down).
        if (!job.empty())
            cancel_job(job, id, exiting_);
        return;
    }
    SlurmWatch &w = it->second;
    w.submitting = false;
    std::vector<Effect> effects;
    if (job.empty()) {
        const std::string message = r.message();
        const int status = unreachable(message) ? 503 : 502;
        log(LogLevel::error, "PVL00072", "session " + id + ": sbatch failed: " + message);
        machine_.start_failed(now, id, status, "Slurm did not accept the job: " + message,
                              &effects);
        apply(effects);
        return;
    }
    w.job = job;
    w.known_since = now;
    machine_.scheduler_wait(id, std::string()); // the next squeue says more
    log(LogLevel::info, "PVL00073", "session " + id + " is Slurm job " + job);
    auto lit = launches_.find(id);
    if (lit != launches_.end())
        lit->second.add_log("progress", "Slurm job " + job, std::chrono::system_clock::now());
    machine_.submitted(id, job, &effects);
    if (w.cancel_wanted) {
        w.cancel_wanted = false;
        cancel_job(job, id, exiting_);
    }
    apply(effects);
}

size_t SessionDaemon::slurm_position(const std::string &id) const {
    auto it = slurm_jobs_.find(id);
    if (it == slurm_jobs_.end() || it->second.job.empty())
        return 0;
    // Among this launcher's pending jobs, in the order they were submitted.
    const unsigned long long mine = std::stoull(it->second.job);
    size_t ahead = 0;
    for (const auto &kv : slurm_jobs_) {
        // Jobs being canceled wait for nothing.
        const Session *other = machine_.table().find(kv.first);
        if (kv.second.launcher == it->second.launcher && kv.second.listed &&
            kv.second.seen.state == SlurmJobState::pending && !kv.second.job.empty() &&
            std::stoull(kv.second.job) < mine && other && other->state == SessionState::starting)
            ++ahead;
    }
    return ahead + 1;
}

void SessionDaemon::on_squeue(ToolResult &r) {
    const auto now = Clock::now();
    if (squeue_again_) {
        squeue_again_ = false;
        next_squeue_ = now;
    }
    if (!r.ok()) {
        // Slurm's controller is down or unreachable: sessions stay as they
        // are (routed ones keep running on their nodes), new launches fail
        // at sbatch; all is reconciled when squeue answers again.
        if (!slurm_unreachable_)
            log(LogLevel::warning, "PVL00074",
                "squeue failed: " + r.message() +
                    "; Slurm sessions stay as they are until Slurm answers");
        slurm_unreachable_ = true;
        return;
    }
    if (slurm_unreachable_)
        log(LogLevel::notice, "PVL00075", "Slurm answers again");
    slurm_unreachable_ = false;
    const std::map<std::string, SlurmJob> jobs = parse_squeue(r.out);
    std::vector<std::pair<std::string, std::string>> ended; // session id, how
    for (auto &kv : slurm_jobs_) {
        SlurmWatch &w = kv.second;
        if (w.job.empty())
            continue;
        auto j = jobs.find(w.job);
        if (j == jobs.end()) {
            w.listed = false;
            if (w.known_since < squeue_started_)
                ended.emplace_back(kv.first, "Slurm job " + w.job + " is no longer listed");
            continue;
        }
        w.listed = true;
        w.seen = j->second;
        const Session *s = machine_.table().find(kv.first);
        auto p = procs_.find(kv.first);
        const bool placed = p != procs_.end() && p->second.placed;
        if (w.seen.state == SlurmJobState::ended) {
            ended.emplace_back(kv.first, "Slurm job " + w.job + " " + w.seen.state_name);
        } else if (w.seen.state == SlurmJobState::pending && s &&
                   (s->state == SessionState::ready || placed)) {
            // Requeued once placed (a site's --requeue, its node failed):
            // the app, and the route its client was given, are gone.
            ended.emplace_back(kv.first, "Slurm job " + w.job + " was requeued (" +
                                             w.seen.state_name + "); it is canceled");
            cancel_job(w.job, kv.first, false);
        } else if (w.seen.state == SlurmJobState::pending && s &&
                   s->state == SessionState::starting) {
            // Requeued before it was ready (its launch failed on the node):
            // the next run prints its own route, after what is in the file.
            if (p != procs_.end() && p->second.routed) {
                p->second.routed = p->second.ready_seen = false;
                p->second.carry.clear();
            }
        }
    }
    std::vector<Effect> effects;
    for (auto &kv : slurm_jobs_) {
        const SlurmWatch &w = kv.second;
        if (!w.listed || w.seen.state == SlurmJobState::ended)
            continue;
        if (w.seen.state == SlurmJobState::pending) {
            const size_t pos = slurm_position(kv.first);
            machine_.scheduler_wait(kv.first, "its Slurm job " + w.job +
                                                  " is still pending (position " +
                                                  std::to_string(pos) +
                                                  " among this launcher's pending jobs; Slurm's "
                                                  "reason: " +
                                                  w.seen.reason + ")");
            continue;
        }
        machine_.scheduler_wait(kv.first, std::string());
        const Session *s = machine_.table().find(kv.first);
        auto p = procs_.find(kv.first);
        if (s && p != procs_.end() && s->state == SessionState::starting && p->second.routed &&
            !p->second.placed)
            confirm_placement(*s, p->second, w, &effects);
    }
    apply(effects);
    for (const auto &e : ended) {
        const Session *s = machine_.table().find(e.first);
        if (!s)
            continue;
        const bool clean = e.second.find(" COMPLETED") != std::string::npos;
        machine_.exited(now, e.first, true, clean, e.second, &effects);
        apply(effects);
    }
}

void SessionDaemon::confirm_placement(const Session &s, Proc &p, const SlurmWatch &w,
                                      std::vector<Effect> *out) {
    const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(s.launcher)];
    std::string refused;
    if (w.seen.nodes != p.route_host)
        refused = "its job says it runs on \"" + p.route_host + "\", Slurm placed it on \"" +
                  w.seen.nodes + "\"";
    else if (cfg.slurm.host_re && !cfg.slurm.host_re->full_match(p.route_host))
        refused = "node \"" + p.route_host + "\" is not allowed by slurm.host_regex (" +
                  cfg.slurm.host_regex + ")";
    if (!refused.empty()) {
        log(LogLevel::error, "PVL00076", "session " + s.id + " is not routed: " + refused);
        const std::string job = w.job, id = s.id;
        machine_.start_failed(Clock::now(), id, 502, "the session cannot be routed: " + refused,
                              out);
        cancel_job(job, id, false);
        return;
    }
    const std::string response = fill_route(s.response, p.route_host, p.route_port);
    p.placed = true;
    machine_.placed(s.id, p.route_host, p.route_port, response, out);
    const Session *now_placed = machine_.table().find(s.id);
    if (now_placed)
        slurm_advance(*now_placed, p, out);
}

// The route line, then the ready line, from what the job added to its
// output since the last read.
void SessionDaemon::read_job_output(const Session &s, Proc &p, std::vector<Effect> *out) {
    if (p.log_fd < 0 || s.state != SessionState::starting)
        return;
    char buf[8192];
    bool got = false;
    for (;;) {
        const ssize_t n = read(p.log_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p.carry.append(buf, static_cast<size_t>(n));
        got = true;
        if (!p.routed && p.carry.size() > max_route_search)
            break;
    }
    if (!got)
        return;
    if (!p.routed) {
        const std::string prefix = slurm_route_prefix;
        size_t at = p.carry.compare(0, prefix.size(), prefix) == 0 ? 0 : std::string::npos;
        if (at == std::string::npos) {
            const size_t nl = p.carry.find("\n" + prefix);
            at = nl == std::string::npos ? nl : nl + 1;
        }
        const size_t eol = at == std::string::npos ? at : p.carry.find('\n', at);
        if (eol == std::string::npos) {
            if (p.carry.size() > max_route_search) {
                machine_.start_failed(
                    Clock::now(), s.id, 502,
                    "the Slurm job of " + s.application + " did not print where it listens", out);
            }
            return;
        }
        if (!parse_slurm_route(p.carry.substr(at, eol - at), &p.route_host, &p.route_port)) {
            machine_.start_failed(Clock::now(), s.id, 502,
                                  "the Slurm job of " + s.application +
                                      " printed a route that is not a host and port",
                                  out);
            return;
        }
        p.routed = true;
        p.carry.erase(0, eol + 1);
        // squeue confirms the node: at once rather than at the next poll.
        if (squeue_run_ == 0)
            next_squeue_ = Clock::now();
        else
            squeue_again_ = true;
    }
    if (!p.ready_seen) {
        if (p.ready_lines.empty()) {
            p.ready_seen = true; // ready once its port accepts connections
        } else {
            for (const auto &line : p.ready_lines)
                if (p.carry.find(line) != std::string::npos) {
                    p.ready_seen = true;
                    p.ready_line = line;
                    break;
                }
            if (!p.ready_seen) {
                const size_t keep = p.longest_ready > 0 ? p.longest_ready - 1 : 0;
                if (p.carry.size() > keep)
                    p.carry.erase(0, p.carry.size() - keep);
            }
        }
    }
    slurm_advance(s, p, out);
}

void SessionDaemon::slurm_advance(const Session &s, Proc &p, std::vector<Effect> *out) {
    if (!p.placed || !p.ready_seen || s.state != SessionState::starting || p.probing)
        return;
    if (p.ready_lines.empty()) {
        stop_watching(p);
        start_probe(s, p, out);
        return;
    }
    const std::string line = p.ready_line;
    stop_watching(p);
    std::vector<std::string>().swap(p.ready_lines);
    machine_.ready(Clock::now(), s.id, line, out);
}

bool SessionDaemon::slurm_jobs_known() const {
    for (const auto &kv : slurm_jobs_)
        if (!kv.second.job.empty())
            return true;
    return false;
}

// squeue when due, and the by-name cancels of orphaned submissions. (Job
// output is read in handle_timers()' pass over the starting sessions.)
void SessionDaemon::slurm_tick(Clock::time_point now) {
    const bool any_job = slurm_jobs_known();
    bool stopping = false;
    double interval = 60;
    for (const auto &kv : slurm_jobs_) {
        const Session *s = machine_.table().find(kv.first);
        stopping = stopping || (s && s->state == SessionState::stopping);
        interval =
            std::min(interval,
                     opts_.launchers[static_cast<size_t>(kv.second.launcher)]->slurm.poll_interval);
    }
    if (!orphan_names_.empty() && now >= next_orphan_sweep_) {
        next_orphan_sweep_ = now + std::chrono::seconds(2);
        for (auto it = orphan_names_.begin(); it != orphan_names_.end();) {
            cancel_job(std::string(), it->first, false);
            it = now >= it->second ? orphan_names_.erase(it) : std::next(it);
        }
    }
    if (!any_job || squeue_run_ != 0 || now < next_squeue_)
        return;
    std::string error;
    // One call for every job of the launchers: those of the apps' user.
    // All states, so that an ended job says how it ended while Slurm
    // still lists it (MinJobAge).
    const uint64_t run =
        tools_.start({"squeue", "--noheader", "--states=all", "--user=" + tool_user().user,
                      std::string("--format=") + slurm_squeue_format},
                     tool_user(), std::string(), &error);
    squeue_started_ = now;
    const auto wait =
        stopping
            ? std::chrono::duration_cast<Clock::duration>(stopping_poll_interval)
            : std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval));
    next_squeue_ = now + wait;
    if (run == 0) {
        log(LogLevel::warning, "PVL00077", "cannot run squeue: " + error);
        return;
    }
    squeue_run_ = run;
    tool_runs_[run] = {ToolUse::squeue, std::string()};
}

Clock::time_point SessionDaemon::slurm_next_deadline(Clock::time_point next) const {
    if (squeue_run_ == 0 && slurm_jobs_known())
        next = std::min(next, next_squeue_);
    if (!orphan_names_.empty())
        next = std::min(next, next_orphan_sweep_);
    return next;
}

// A tracked launch whose job waits in Slurm's queue is "queued", with its
// position, as a launch in PVLaunchQueue's is (seed 004).
void SessionDaemon::slurm_launch_status(Launch &l, const Session &s) {
    auto it = slurm_jobs_.find(s.id);
    if (it == slurm_jobs_.end() || it->second.job.empty())
        return;
    const SlurmWatch &w = it->second;
    l.set_status("slurmJob", w.job);
    if (!w.listed)
        return;
    l.set_status("slurmState", w.seen.state_name);
    // Slurm's queue is the queue: a pending job's launch waits there.
    if (w.seen.state == SlurmJobState::pending && s.state == SessionState::starting) {
        if (l.state == LaunchState::running)
            l.state = LaunchState::waiting;
        l.set_status("queuePosition", std::to_string(slurm_position(s.id)));
        l.set_status("slurmReason", w.seen.reason);
        l.set_status("sessionState", "queued");
    } else {
        if (l.state == LaunchState::waiting)
            l.state = LaunchState::running;
        l.erase_status("queuePosition");
        l.erase_status("slurmReason");
    }
}

// The daemon exits: sbatch runs still in flight are waited for (a bounded
// time), and the jobs they created canceled.
void SessionDaemon::finish_tools_at_exit() {
    exiting_ = true;
    std::vector<uint64_t> submitting;
    for (const auto &kv : tool_runs_)
        if (kv.second.first == ToolUse::sbatch)
            submitting.push_back(kv.first);
    for (uint64_t handle : submitting) {
        const std::string id = tool_runs_[handle].second;
        tool_runs_.erase(handle);
        ToolResult r = tools_.wait(handle, 15);
        const std::string job = r.ok() ? parsable_job_id(r.out) : std::string();
        if (!job.empty())
            cancel_job(job, id, true);
        auto w = slurm_jobs_.find(id);
        if (w != slurm_jobs_.end()) {
            w->second.submitting = false;
            w->second.job = job;
        }
    }
}

} // namespace daemon
} // namespace pvl
