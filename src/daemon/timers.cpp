// The clock: the machine's deadlines (ready timeouts, SIGKILL after the
// grace period, queue waits, idle and lifetime limits), readiness probes,
// the restart claim, kept launch records, and how long the loop may sleep.
#include "daemon_internal.h"

namespace pvl {
namespace daemon {

namespace {

// Apache's proxy connections to an app end on the app's port: an
// established socket there is a client.
std::set<int> busy_local_ports() {
    std::set<int> busy;
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
    return busy;
}

} // namespace

void SessionDaemon::handle_timers() {
    const auto now = Clock::now();
    if (restart_pending_ && now >= claim_deadline_ && !machine_.shutting_down()) {
        restart_pending_ = false;
        log(LogLevel::warning, "PVL00052",
            "Apache restarted without claiming the session daemon (mod_pvlaunch is no longer "
            "loaded, or no longer configured); stopping every session");
        begin_shutdown();
    }
    if (orphaned_ && now >= orphan_deadline_ && !machine_.shutting_down()) {
        orphaned_ = false;
        log(LogLevel::warning, "PVL00055",
            "no Apache claimed the sessions within PVLaunchClaimWindow; stopping every session");
        begin_shutdown();
    }
    std::vector<Effect> effects;
    for (auto &kv : procs_) {
        const Session *s = machine_.table().find(kv.first);
        if (!s || s->state != SessionState::starting)
            continue;
        Proc &p = kv.second;
        if (p.slurm && p.log_fd >= 0) {
            // A job's output, on a shared filesystem: read on the clock.
            if (now >= p.next_read) {
                p.next_read = now + slurm_output_interval;
                read_job_output(*s, p, &effects);
            }
        } else if (!p.slurm && machine_.ready_overdue(kv.first, now))
            check_ready(*s, p, &effects); // output may have arrived with the deadline
        else if (p.probing && p.probe_fd < 0 && now >= p.next_probe)
            probe(*s, p, &effects);
    }
    apply(effects);
    slurm_tick(now);
    if (machine_.idle_scan_due(now)) {
        const std::set<int> busy = busy_local_ports();
        machine_.tick(now, &busy, &effects);
    } else {
        machine_.tick(now, nullptr, &effects);
    }
    apply(effects);
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
}

int SessionDaemon::poll_timeout_ms() const {
    const auto now = Clock::now();
    auto next = machine_.next_deadline(now);
    for (const auto &kv : procs_) {
        if (kv.second.probing && kv.second.probe_fd < 0)
            next = std::min(next, kv.second.next_probe);
        if (kv.second.slurm && kv.second.log_fd >= 0)
            next = std::min(next, kv.second.next_read);
    }
    next = slurm_next_deadline(next);
    if (machine_.shutting_down())
        next = std::min(next, stop_deadline_);
    if (restart_pending_)
        next = std::min(next, claim_deadline_);
    if (orphaned_)
        next = std::min(next, orphan_deadline_);
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
