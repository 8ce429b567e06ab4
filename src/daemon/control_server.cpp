// Connections from Apache's children: reading requests, dispatching them,
// writing answers, and the event streams of watched launches.
#include "daemon_internal.h"

namespace pvl {
namespace daemon {

void SessionDaemon::respond(ReplyTo to, int status, const std::string &body) {
    const bool strip = no_secret_.erase(to) > 0;
    auto h = handles_.find(to);
    if (h == handles_.end())
        return; // nobody, or gone
    auto it = conns_.find(h->second);
    if (it == conns_.end())
        return;
    Conn &c = it->second;
    c.out = frame_response(status, strip ? without_secret(body) : body);
    c.out_off = 0;
    c.phase = Conn::Phase::writing;
    flush_conn(c);
}

// Sends what `out` holds; POLLOUT continues where the socket was full. A
// response closes the connection once sent; an event stream stays open
// until it is marked closing.
void SessionDaemon::flush_conn(Conn &c) {
    while (c.out_off < c.out.size()) {
        ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c.out_off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        break; // the peer is gone
    }
    if (c.out_off < c.out.size() || c.phase != Conn::Phase::streaming || c.closing)
        close_conn(c.fd);
}

void SessionDaemon::close_conn(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end())
        return;
    const ReplyTo handle = it->second.handle;
    handles_.erase(handle);
    no_secret_.erase(handle);
    close(fd);
    conns_.erase(it);
    for (auto wit = watchers_.begin(); wit != watchers_.end();) {
        auto &v = wit->second;
        v.erase(std::remove(v.begin(), v.end(), handle), v.end());
        wit = v.empty() ? watchers_.erase(wit) : std::next(wit);
    }
    // A launch whose requester went away is abandoned (nobody would ever
    // learn its id), a held one loses its place.
    std::vector<Effect> effects;
    machine_.gone(Clock::now(), handle, &effects);
    apply(effects);
}

// Root (Apache's parent, an administrator) may connect, and Apache's
// children. Apache's User alone is not enough: apps run as that user by
// default, and one app must not list, read or stop the others' sessions.
// So a peer of that uid must be a child of the Apache parent that started
// this daemon.
bool SessionDaemon::allowed_peer(const struct ucred &cred, std::string *why) const {
    if (cred.uid == 0)
        return true;
    if (cred.uid != opts_.client_uid && cred.uid != geteuid()) {
        *why = "a process of another user";
        return false;
    }
    if (apache_pid_ > 1 && process_parent(cred.pid) == apache_pid_)
        return true;
    *why = "a process of Apache's user that is not one of Apache's children";
    return false;
}

void SessionDaemon::accept_clients() {
    for (;;) {
        int fd = accept4(opts_.listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        struct ucred cred;
        socklen_t len = sizeof cred;
        std::string why;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
            why = "a peer without credentials";
        else if (!allowed_peer(cred, &why))
            why += " (pid " + std::to_string(cred.pid) + ", uid " + std::to_string(cred.uid) + ")";
        if (!why.empty()) {
            log(LogLevel::warning, "PVL00040", "refused a control connection from " + why);
            close(fd);
            continue;
        }
        Conn c;
        c.fd = fd;
        c.handle = next_handle_++;
        c.uid = cred.uid;
        handles_[c.handle] = fd;
        conns_.emplace(fd, std::move(c));
    }
}

void SessionDaemon::handle_conn_io(int fd, short revents) {
    auto it = conns_.find(fd);
    if (it == conns_.end())
        return;
    Conn &c = it->second;
    if (c.phase == Conn::Phase::writing) {
        if (revents & (POLLERR | POLLHUP))
            close_conn(fd);
        else
            flush_conn(c);
        return;
    }
    if (c.phase == Conn::Phase::streaming) {
        if (revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP))
            close_conn(fd); // the watcher went away
        else if (revents & POLLOUT)
            flush_conn(c);
        return;
    }
    if (c.phase == Conn::Phase::waiting) {
        // Nothing more is expected from a waiting client: readable means gone.
        if (revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP))
            close_conn(fd);
        return;
    }
    char buf[16384];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            c.in.append(buf, static_cast<size_t>(n));
            size_t nl = c.in.find('\n');
            if (nl != std::string::npos) {
                std::string line = c.in.substr(0, nl);
                c.in.clear();
                c.phase = Conn::Phase::waiting;
                dispatch(c, line);
                return;
            }
            if (c.in.size() > max_request_line) {
                respond(c.handle, 413, error_body("control request too large"));
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        close_conn(fd);
        return;
    }
}

void SessionDaemon::dispatch(Conn &c, const std::string &line) {
    const ReplyTo to = c.handle;
    ControlRequest req;
    std::string error;
    if (!decode_request(line, &req, &error)) {
        respond(to, 400, error_body(error));
        return;
    }
    const std::string &id = req.id;
    c.creates = req.op == Op::create;
    switch (req.op) {
    case Op::map:
        op_map(to, id);
        return;
    case Op::stats:
        op_stats(to, req.detail);
        return;
    case Op::claim:
        op_claim(to, c.uid);
        return;
    default:
        break;
    }
    if (static_cast<size_t>(req.launcher) >= opts_.launchers.size()) {
        respond(to, 500, error_body("no launcher config for this server"));
        return;
    }
    const int launcher = req.launcher;
    switch (req.op) {
    case Op::create:
        op_create(to, launcher, req);
        break;
    case Op::list:
        op_list(to, launcher);
        break;
    case Op::reorder:
        op_reorder(to, launcher, req);
        break;
    case Op::logtail:
        op_logtail(to, launcher, req);
        break;
    case Op::watch:
        op_watch(c, launcher, req);
        break;
    case Op::get:
        op_get(to, launcher, req);
        break;
    case Op::del:
        op_delete(to, launcher, req);
        break;
    case Op::map:
    case Op::stats:
    case Op::claim:
        break;
    }
}

void SessionDaemon::stream(ReplyTo to, const char *event, JsonPtr data) {
    auto h = handles_.find(to);
    auto it = h == handles_.end() ? conns_.end() : conns_.find(h->second);
    if (it == conns_.end() || it->second.phase != Conn::Phase::streaming)
        return;
    Conn &c = it->second;
    JsonPtr line(json_pack("{s:s, s:o}", "event", event, "data", data.release()));
    if (c.out_off == c.out.size()) {
        c.out.clear();
        c.out_off = 0;
    }
    c.out += json_to_string(line.get()) + "\n";
    flush_conn(c);
}

void SessionDaemon::emit(const std::string &id, const char *event, JsonPtr data) {
    auto it = watchers_.find(id);
    if (it == watchers_.end())
        return;
    const std::vector<ReplyTo> streams = it->second; // streaming may close some
    for (ReplyTo to : streams)
        stream(to, event, JsonPtr(json_deep_copy(data.get())));
}

void SessionDaemon::emit_positions(int launcher) {
    if (watchers_.empty())
        return;
    const LaunchQueue &q = machine_.queue(launcher);
    size_t pos = 0;
    for (const std::string &id : q.ids()) {
        ++pos;
        if (watchers_.count(id))
            emit(id, "position",
                 JsonPtr(json_pack("{s:s, s:I}", "state", "waiting", "queuePosition",
                                   static_cast<json_int_t>(pos))));
    }
}

// The launch ended (`state`, or what the stream already said): last event,
// then each watcher's connection closes once it is sent.
void SessionDaemon::end_watchers(const std::string &id, const char *state) {
    if (state)
        emit(id, "state", JsonPtr(json_pack("{s:s}", "state", state)));
    auto it = watchers_.find(id);
    if (it == watchers_.end())
        return;
    const std::vector<ReplyTo> streams = it->second;
    watchers_.erase(it);
    for (ReplyTo to : streams) {
        auto h = handles_.find(to);
        auto c = h == handles_.end() ? conns_.end() : conns_.find(h->second);
        if (c == conns_.end())
            continue;
        c->second.closing = true;
        flush_conn(c->second);
    }
}

} // namespace daemon
} // namespace pvl
