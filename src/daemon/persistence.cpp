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
    std::string text = table_.map_file_text(launcher);
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    bool ok = fd >= 0;
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
        long idx = pools_[l].index_of(s.host, s.port);
        // A tracked launch's GET is rendered by the daemon (it changes).
        auto lit = launches_.find(s.id);
        const bool store = lit == launches_.end() || !lit->second.tracked;
        if (idx < 0 ||
            !opts_.table->put(s.id, s.launcher, s.host_port(),
                              static_cast<uint32_t>(port_base_[l] + idx), s.response, store))
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
    r.host = s.host;
    r.port = s.port;
    r.pid = s.pid;
    r.start_time = procs_[s.id].start_time;
    r.state = s.state == SessionState::ready      ? "ready"
              : s.state == SessionState::starting ? "starting"
                                                  : "stopping";
    r.response = s.response;
    return r;
}

void SessionDaemon::save_session(const Session &s) {
    std::string error;
    if (journal_ && !journal_->put(persisted(s), &error))
        log(LogLevel::error, "PVL00046", error);
    else if (journal_ && journal_->records() > 4 * table_.size() + 64)
        save_state();
}

void SessionDaemon::forget_session(const std::string &id) {
    std::string error;
    if (journal_ && !journal_->erase(id, &error))
        log(LogLevel::error, "PVL00051", error);
    else if (journal_ && journal_->records() > 4 * table_.size() + 64)
        save_state();
}

void SessionDaemon::save_state() {
    if (!journal_)
        return;
    std::vector<PersistedSession> rows;
    for (const std::string &id : table_.ids())
        rows.push_back(persisted(*table_.find(id)));
    std::string error;
    if (!journal_->rewrite(rows, &error))
        log(LogLevel::error, "PVL00049", error);
}

void SessionDaemon::adopt() {
    if (!journal_)
        return;
    size_t adopted = 0, gone = 0, killed = 0;
    for (const PersistedSession &r : journal_->load()) {
        // Ids written before ids were lowercase are kept, in canonical form.
        const std::string id = canonical_session_id(r.id);
        int launcher = -1;
        for (size_t l = 0; l < opts_.launchers.size(); ++l)
            if (opts_.launchers[l]->file == r.launcher_file)
                launcher = static_cast<int>(l);
        AppRef app;
        app.pid = r.pid;
        app.start_time = r.start_time;
        if (!backend_->adopt(app)) {
            ++gone;
            continue;
        }
        bool keep = r.state == "ready" && launcher >= 0 && valid_session_id(id) &&
                    !table_.find(id) &&
                    pools_[static_cast<size_t>(launcher)].take_specific(r.host, r.port);
        if (!keep) {
            backend_->kill_now(app);
            ++killed;
            continue;
        }
        Session s;
        s.id = id;
        s.launcher = launcher;
        s.application = r.application;
        s.host = r.host;
        s.port = r.port;
        s.pid = r.pid;
        s.state = SessionState::ready;
        s.response = r.response;
        Proc &p = procs_[s.id];
        p.start_time = r.start_time;
        // Its age, for PVLaunchMaxLifetime: the process's start time (clock
        // ticks after boot) against the system's uptime.
        p.started = p.last_active = Clock::now();
        if (FILE *f = std::fopen("/proc/uptime", "re")) {
            double uptime = 0;
            if (std::fscanf(f, "%lf", &uptime) == 1) {
                double age = uptime - static_cast<double>(r.start_time) /
                                          static_cast<double>(sysconf(_SC_CLK_TCK));
                if (age > 0)
                    p.started -= std::chrono::milliseconds(static_cast<long>(age * 1000));
            }
            std::fclose(f);
        }
        // What the queue listing shows; the request time is not persisted.
        p.request_number = next_request_number_++;
        p.request_time = p.start_time_wall = std::chrono::system_clock::now();
        table_.add(s);
        // After a crash the shared table still holds the predecessor's
        // entries: children keep routing while we take over.
        std::string route;
        if (opts_.table &&
            opts_.table->route(s.id.data(), s.id.size(), &route) == SharedTable::Lookup::found)
            write_map_file(launcher);
        else
            publish(*table_.find(s.id));
        ++adopted;
    }
    if (opts_.table)
        for (const std::string &id : opts_.table->ids())
            if (!table_.find(id))
                opts_.table->erase(id);
    if (adopted + gone + killed > 0)
        log(LogLevel::notice, "PVL00050",
            "took over " + std::to_string(adopted) + " running session(s); " +
                std::to_string(gone) + " had ended, " + std::to_string(killed) +
                " unfinished launch(es) or stop(s) killed");
    save_state();
}

// Apache restarts: launches in flight are given up (their requests go with
// the old generation), ready sessions stay for the next daemon.

} // namespace daemon
} // namespace pvl
