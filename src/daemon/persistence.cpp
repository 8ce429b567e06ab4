// What outlives a request: the shared table the children read, the map
// file, the journal, and adoption of a previous daemon's apps.
#include "daemon_internal.h"

namespace pvl {
namespace daemon {

void SessionDaemon::write_map_file(int launcher) {
    const LauncherConfig &cfg = *opts_.launchers[static_cast<size_t>(launcher)];
    if (cfg.map_file.empty())
        return;
    std::string tmp = cfg.map_file + ".tmp." + std::to_string(getpid());
    std::string text = machine_.table().map_file_text(launcher);
    // It names every session id, and an id is the key to a session's
    // secret: Apache's children (for a txt: map) may read it, nobody else.
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    bool ok = fd >= 0;
    if (ok && geteuid() == 0)
        ok = fchown(fd, 0, opts_.client_gid) == 0;
    if (ok)
        ok = fchmod(fd, 0640) == 0;
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
        long idx = s.slurm ? slurm_table_index(s) : pools_[l].index_of(s.host, s.port);
        // A tracked launch's GET is rendered by the daemon (it changes).
        auto lit = launches_.find(s.id);
        const bool store = lit == launches_.end() || !lit->second.tracked;
        if (idx < 0 || !opts_.table->put(s.id, s.launcher, s.host_port(),
                                         static_cast<uint32_t>(port_base_[l] + idx), s.response,
                                         store, s.owner))
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
    r.owner = s.owner;
    r.host = s.host;
    r.port = s.port;
    r.pid = s.pid;
    r.start_time = s.start_time;
    r.slurm = s.slurm;
    r.job = s.job;
    r.state = session_state_name(s.state);
    r.response = s.response;
    return r;
}

void SessionDaemon::save_session(const Session &s) {
    std::string error;
    if (journal_ && !journal_->put(persisted(s), &error))
        log(LogLevel::error, "PVL00046", error);
    else if (journal_ && journal_->records() > 4 * machine_.table().size() + 64)
        save_state();
}

void SessionDaemon::forget_session(const std::string &id) {
    std::string error;
    if (journal_ && !journal_->erase(id, &error))
        log(LogLevel::error, "PVL00051", error);
    else if (journal_ && journal_->records() > 4 * machine_.table().size() + 64)
        save_state();
}

void SessionDaemon::save_state() {
    if (!journal_)
        return;
    std::vector<PersistedSession> rows;
    const SessionTable &table = machine_.table();
    for (const std::string &id : table.ids())
        rows.push_back(persisted(*table.find(id)));
    std::string error;
    if (!journal_->rewrite(rows, &error))
        log(LogLevel::error, "PVL00049", error);
}

void SessionDaemon::adopt() {
    if (!journal_)
        return;
    std::vector<Effect> effects;
    const auto now = Clock::now();
    double uptime = -1;
    if (FILE *f = std::fopen("/proc/uptime", "re")) {
        if (std::fscanf(f, "%lf", &uptime) != 1)
            uptime = -1;
        std::fclose(f);
    }
    for (const PersistedSession &r : journal_->load()) {
        Adoption a;
        Session &s = a.session;
        // Ids written before ids were lowercase are kept, in canonical form.
        s.id = canonical_session_id(r.id);
        s.launcher = -1;
        for (size_t l = 0; l < opts_.launchers.size(); ++l)
            if (opts_.launchers[l]->file == r.launcher_file)
                s.launcher = static_cast<int>(l);
        s.application = r.application;
        s.owner = r.owner;
        s.host = r.host;
        s.port = r.port;
        s.pid = r.pid;
        s.start_time = r.start_time;
        s.response = r.response;
        s.slurm = r.slurm;
        s.job = r.job;
        a.state = r.state;
        if (s.slurm) {
            // Slurm knows whether its job still runs: the first squeue
            // says (an unfinished launch is canceled, by name if sbatch
            // never answered).
            a.alive = true;
            a.port_free = s.launcher >= 0 && !s.job.empty() && slurm_slot_free(s.launcher);
        } else {
            a.alive = backend_->adopt(app_of(s));
            a.port_free = s.launcher >= 0 &&
                          pools_[static_cast<size_t>(s.launcher)].contains(s.host, s.port) &&
                          !pools_[static_cast<size_t>(s.launcher)].is_taken(s.host, s.port);
        }
        // Its age, for PVLaunchMaxLifetime: the process's start time (clock
        // ticks after boot) against the system's uptime (a job's is not
        // known here: its --time bounds it).
        if (uptime >= 0 && !s.slurm)
            a.age = uptime -
                    static_cast<double>(r.start_time) / static_cast<double>(sysconf(_SC_CLK_TCK));
        machine_.adopt(now, a, &effects);
        apply(effects);
    }
    if (opts_.table)
        for (const std::string &id : opts_.table->ids())
            if (!machine_.table().find(id))
                opts_.table->erase(id);
    const SessionMachine::Stats &st = machine_.stats();
    if (st.adopted + st.adopt_gone + st.adopt_killed > 0)
        log(LogLevel::notice, "PVL00050",
            "took over " + std::to_string(st.adopted) + " running session(s); " +
                std::to_string(st.adopt_gone) + " had ended, " + std::to_string(st.adopt_killed) +
                " unfinished launch(es) or stop(s) killed");
    save_state();
}

// An earlier daemon's ready session, now the machine's.
void SessionDaemon::adopted(const Session &s) {
    if (s.slurm)
        slurm_adopted(s);
    else
        pools_[static_cast<size_t>(s.launcher)].take_specific(s.host, s.port);
    Proc &p = procs_[s.id];
    // What the queue listing shows; the request time is not persisted.
    p.request_number = next_request_number_++;
    p.request_time = p.start_time_wall = std::chrono::system_clock::now();
    // After a crash the shared table still holds the predecessor's
    // entries: children keep routing while we take over.
    std::string route;
    if (opts_.table &&
        opts_.table->route(s.id.data(), s.id.size(), &route) == SharedTable::Lookup::found)
        write_map_file(s.launcher);
    else
        publish(s);
}

// Apache restarts: launches in flight are given up (their requests go with
// the old generation), ready sessions stay for the next daemon.

} // namespace daemon
} // namespace pvl
