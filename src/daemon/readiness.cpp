// When a starting session is ready: its ready line in the log (inotify),
// or, without one, its port accepting a connection.
#include "daemon_internal.h"

namespace pvl {
namespace daemon {

void SessionDaemon::stop_watching(Proc &p) {
    if (p.wd >= 0) {
        inotify_rm_watch(ifd_, p.wd);
        watches_.erase(p.wd);
        p.wd = -1;
    }
    if (p.log_fd >= 0) {
        close(p.log_fd);
        p.log_fd = -1;
    }
    p.carry.clear();
    if (p.probe_fd >= 0) {
        close(p.probe_fd);
        p.probe_fd = -1;
    }
    p.probing = false;
    decltype(p.probe_addrs)().swap(p.probe_addrs);
}

void SessionDaemon::start_probe(const Session &s, Proc &p, std::vector<Effect> *out) {
    struct addrinfo hints;
    std::memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = nullptr;
    // Resource hosts are the operator's: numeric or in /etc/hosts as a rule.
    const int rc = getaddrinfo(s.host.c_str(), std::to_string(s.port).c_str(), &hints, &res);
    for (struct addrinfo *ai = rc == 0 ? res : nullptr; ai; ai = ai->ai_next) {
        sockaddr_storage a;
        std::memset(&a, 0, sizeof a);
        std::memcpy(&a, ai->ai_addr, std::min<size_t>(ai->ai_addrlen, sizeof a));
        p.probe_addrs.push_back(a);
    }
    if (res)
        freeaddrinfo(res);
    if (p.probe_addrs.empty())
        log(LogLevel::warning, "PVL00067",
            "session " + s.id + ": cannot resolve " + s.host + " (" + gai_strerror(rc) +
                ") to check that the application listens; it can only time out");
    p.probing = true;
    p.probe_delay_ms = 0;
    probe(s, p, out);
}

// One connection attempt; refused ones are retried after 5 ms, doubling up
// to 100 ms, until the launch's timeout.
void SessionDaemon::probe(const Session &s, Proc &p, std::vector<Effect> *out) {
    p.next_probe = Clock::now() + std::chrono::hours(24);
    if (p.probe_addrs.empty())
        return;
    const sockaddr_storage &a = p.probe_addrs[p.probe_next_addr++ % p.probe_addrs.size()];
    const socklen_t len = a.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, reinterpret_cast<const sockaddr *>(&a), len) == 0) {
        close(fd);
        machine_.ready(Clock::now(), s.id, std::string(), out);
        return;
    }
    if (fd >= 0 && errno == EINPROGRESS) {
        p.probe_fd = fd;
        return;
    }
    if (fd >= 0)
        close(fd);
    p.probe_delay_ms = std::min(100, std::max(5, p.probe_delay_ms * 2));
    p.next_probe = Clock::now() + std::chrono::milliseconds(p.probe_delay_ms);
}

void SessionDaemon::on_probe_done(const Session &s, Proc &p, std::vector<Effect> *out) {
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(p.probe_fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
        error = errno;
    close(p.probe_fd);
    p.probe_fd = -1;
    if (error == 0) {
        machine_.ready(Clock::now(), s.id, std::string(), out);
        return;
    }
    p.probe_delay_ms = std::min(100, std::max(5, p.probe_delay_ms * 2));
    p.next_probe = Clock::now() + std::chrono::milliseconds(p.probe_delay_ms);
}

void SessionDaemon::check_ready(const Session &s, Proc &p, std::vector<Effect> *out) {
    if (s.state != SessionState::starting || p.log_fd < 0 || p.slurm)
        return; // a Slurm job's output is read by read_job_output()
    char buf[8192];
    for (;;) {
        ssize_t n = read(p.log_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        std::string text = p.carry;
        text.append(buf, static_cast<size_t>(n));
        for (const auto &line : p.ready_lines) {
            if (text.find(line) != std::string::npos) {
                // What only a start needs is given back: a site keeps
                // thousands of ready sessions.
                const std::string seen = line;
                stop_watching(p);
                std::vector<std::string>().swap(p.ready_lines);
                std::string().swap(p.carry);
                machine_.ready(Clock::now(), s.id, seen, out);
                return;
            }
        }
        size_t keep = p.longest_ready > 0 ? p.longest_ready - 1 : 0;
        p.carry = text.size() > keep ? text.substr(text.size() - keep) : text;
    }
}

void SessionDaemon::handle_inotify() {
    alignas(struct inotify_event) char buf[8192];
    std::vector<Effect> effects;
    for (;;) {
        ssize_t n = read(ifd_, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *ptr = buf; ptr < buf + n;) {
            auto *ev = reinterpret_cast<struct inotify_event *>(ptr);
            ptr += sizeof(struct inotify_event) + ev->len;
            auto w = watches_.find(ev->wd);
            if (w == watches_.end())
                continue;
            const Session *s = machine_.table().find(w->second);
            auto p = procs_.find(w->second);
            if (s && p != procs_.end())
                check_ready(*s, p->second, &effects);
        }
    }
    apply(effects);
}

} // namespace daemon
} // namespace pvl
