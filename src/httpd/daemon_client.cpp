#include "daemon_client.h"

#include "../core/protocol.h"
#include "glue.h"

#include <apr_portable.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

APLOG_USE_MODULE(pvlaunch);

namespace pvl {
namespace {

int connect_daemon(request_rec *r) {
    const std::string &path = globals().settings.socket_path;
    struct sockaddr_un addr;
    if (path.empty() || !unix_address(path, &addr))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int rc;
    do {
        rc = connect(fd, reinterpret_cast<struct sockaddr *>(&addr), sizeof addr);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, r,
                      "PVL00101: cannot reach the session daemon at %s", path.c_str());
        close(fd);
        return -1;
    }
    return fd;
}

} // namespace

bool unix_address(const std::string &path, struct sockaddr_un *addr) {
    std::memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (path.size() >= sizeof addr->sun_path)
        return false;
    std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
    return true;
}

int client_socket(request_rec *r) {
    apr_socket_t *sock = ap_get_conn_socket(r->connection);
    apr_os_sock_t fd;
    if (!sock || apr_os_sock_get(&fd, sock) != APR_SUCCESS)
        return -1;
    return fd;
}

int daemon_open(request_rec *r, const std::string &request) {
    int fd = connect_daemon(r);
    if (fd < 0)
        return -1;
    std::string line = request + "\n";
    size_t off = 0;
    while (off < line.size()) {
        ssize_t n = send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += static_cast<size_t>(n);
    }
    return fd;
}

namespace {

enum class Answer { partial, whole, bad };

// Whether `in` holds a whole framed answer ("<status> <length>\n" + body);
// then *status and *body are set.
Answer framed_answer(const std::string &in, int *status, std::string *body) {
    const size_t header_end = in.find('\n');
    if (header_end == std::string::npos)
        return Answer::partial;
    size_t length = 0;
    if (!parse_response_header(in.substr(0, header_end + 1).c_str(), status, &length))
        return Answer::bad;
    if (in.size() - header_end - 1 < length)
        return Answer::partial;
    body->assign(in, header_end + 1, length);
    return Answer::whole;
}

// What the daemon has already sent, without waiting: true if, with `in`,
// it makes a whole answer.
bool read_ready_answer(int fd, std::string *in, int *status, std::string *body) {
    char buf[16384];
    for (;;) {
        ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        in->append(buf, static_cast<size_t>(got));
    }
    return framed_answer(*in, status, body) == Answer::whole;
}

} // namespace

CallResult daemon_call(request_rec *r, const std::string &request, int timeout_ms,
                       bool watch_client, int *status, std::string *body) {
    int fd = daemon_open(r, request);
    if (fd < 0)
        return CallResult::unavailable;
    const int cfd = watch_client ? client_socket(r) : -1;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string in;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0)
            break;
        struct pollfd fds[2] = {{fd, POLLIN, 0}, {cfd, POLLRDHUP, 0}};
        int n = poll(fds, cfd >= 0 ? 2 : 1, static_cast<int>(left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (cfd >= 0 && (fds[1].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            // The answer may have come with it: then it is the caller's to
            // judge (a new session nobody will learn of must be stopped).
            if (read_ready_answer(fd, &in, status, body)) {
                close(fd);
                return CallResult::ok;
            }
            close(fd);
            return CallResult::client_gone;
        }
        if (!fds[0].revents)
            continue;
        char buf[16384];
        ssize_t got = recv(fd, buf, sizeof buf, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        in.append(buf, static_cast<size_t>(got));
        const Answer a = framed_answer(in, status, body);
        if (a == Answer::bad)
            break;
        if (a == Answer::whole) {
            close(fd);
            return CallResult::ok;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "PVL00102: the session daemon did not answer (connection closed or timed out)");
    close(fd);
    return CallResult::unavailable;
}

} // namespace pvl
