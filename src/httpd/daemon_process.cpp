// Life cycle of the session daemon, seen from Apache's parent: the control
// socket is bound here before the fork (so children can connect at once),
// the daemon is forked into a session of its own, watched as an "other
// child" and restarted if it dies, and stopped with the generation.
#include "../core/log.h"
#include "../daemon/session_daemon.h"
#include "glue.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <mpm_common.h>
#include <ap_mpm.h>
#include <unixd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

APLOG_USE_MODULE(pvlaunch);

namespace pvl {
namespace {

// The daemon writes to its stderr, which is Apache's main error log, in
// Apache's own line format.
void daemon_log_sink(LogLevel level, const char *msgno, const std::string &text) {
    static const char *names[] = {"error", "warn", "notice", "info", "debug"};
    char when[64];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(when, sizeof when, "%a %b %d %H:%M:%S", &tm);
    std::snprintf(when + n, sizeof when - n, ".%06ld %d", ts.tv_nsec / 1000, tm.tm_year + 1900);
    dprintf(2, "[%s] [pvlaunch:%s] [pid %d] %s: %s\n", when, names[static_cast<int>(level)],
            static_cast<int>(getpid()), msgno, text.c_str());
}

int bind_control_socket(server_rec *s, const std::string &path) {
    struct sockaddr_un addr;
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "PVL00201: control socket path %s is too long", path.c_str());
        return -1;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    unlink(path.c_str());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0077);
    int rc = fd < 0 ? -1 : bind(fd, reinterpret_cast<struct sockaddr *>(&addr), sizeof addr);
    umask(old);
    if (rc != 0 || listen(fd, 511) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     "PVL00202: cannot create the control socket %s", path.c_str());
        if (fd >= 0)
            close(fd);
        return -1;
    }
    // Only Apache's children (its User) and root may connect.
    if (chmod(path.c_str(), 0600) != 0 ||
        (geteuid() == 0 &&
         chown(path.c_str(), ap_unixd_config.user_id, ap_unixd_config.group_id) != 0)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     "PVL00203: cannot hand the control socket %s to User %s", path.c_str(),
                     ap_unixd_config.user_name);
        close(fd);
        return -1;
    }
    return fd;
}

[[noreturn]] void daemon_main() {
    Globals &g = globals();
    // A session of its own: prefork's hard restart signals Apache's process
    // group, and that must not reach the daemon or its apps.
    setsid();
    if (chdir("/") != 0)
        _exit(1);
    prctl(PR_SET_NAME, "pvlaunch-daemon");
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGTERM, SIGHUP, SIGUSR1, SIGWINCH, SIGINT, SIGCHLD, SIGALRM, SIGPIPE})
        signal(sig, SIG_DFL);
    // Keep stdin/stdout quiet, stderr (the error log) and the control socket;
    // close everything else inherited from Apache (listeners included).
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
    }
    if (dup2(g.listen_fd, 3) < 0)
        _exit(1);
    close_range(4, ~0U, 0);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    log_set_sink(daemon_log_sink);

    DaemonOptions opts;
    opts.listen_fd = 3;
    for (const auto &l : g.launchers)
        opts.launchers.push_back(l.get());
    opts.client_uid = ap_unixd_config.user_id;
    opts.stop_grace = g.stop_grace;
    opts.table = &g.table;
    opts.state_path = g.state_path;
    if (geteuid() == 0) {
        opts.apps_as.switch_user = true;
        opts.apps_as.user = g.app_user;
        opts.apps_as.group = g.app_group;
    }
    const struct passwd *pw = geteuid() == 0 ? getpwnam(g.app_user.c_str()) : getpwuid(geteuid());
    if (pw && pw->pw_dir)
        opts.apps_as.home = pw->pw_dir;
    log(LogLevel::info, "PVL00001", "session daemon started");
    _exit(run_session_daemon(opts));
}

apr_proc_t daemon_proc;
bool daemon_stopping = false;

void fork_daemon(server_rec *s);

void daemon_maintenance(int reason, void *data, apr_wait_t) {
    auto *s = static_cast<server_rec *>(data);
    if (reason != APR_OC_REASON_DEATH && reason != APR_OC_REASON_LOST)
        return;
    apr_proc_other_child_unregister(data);
    globals().daemon_pid = -1;
    int mpm_state = AP_MPMQ_STARTING;
    ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state);
    if (daemon_stopping || mpm_state == AP_MPMQ_STOPPING)
        return;
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                 "PVL00204: the session daemon died; starting a new one");
    fork_daemon(s);
}

void fork_daemon(server_rec *s) {
    pid_t pid = fork();
    if (pid < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s, "PVL00205: cannot fork the session daemon");
        return;
    }
    if (pid == 0)
        daemon_main();
    globals().daemon_pid = pid;
    daemon_proc.pid = pid;
    daemon_proc.in = daemon_proc.out = daemon_proc.err = nullptr;
    apr_proc_other_child_register(&daemon_proc, daemon_maintenance, s, nullptr,
                                  s->process->pconf);
}

apr_status_t stop_session_daemon(void *data) {
    auto *s = static_cast<server_rec *>(data);
    Globals &g = globals();
    daemon_stopping = true;
    if (g.daemon_pid > 0) {
        // No apr_proc_other_child_unregister() here: the registration's own
        // pconf cleanup, registered after this one, has already run.
        pid_t pid = g.daemon_pid;
        // Apache stopping: the daemon stops every app. Apache restarting
        // (graceful or not): it leaves them to the next generation's daemon.
        const bool exiting = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING;
        kill(pid, exiting ? SIGTERM : SIGUSR1);
        // The daemon gives its apps the grace period, then kills them.
        const long limit_ms = static_cast<long>(g.stop_grace * 1000) + 4000;
        long waited = 0;
        int status;
        while (waitpid(pid, &status, WNOHANG) == 0) {
            if (waited >= limit_ms) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                             "PVL00206: the session daemon did not exit; killing it");
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                break;
            }
            usleep(10000);
            waited += 10;
        }
        g.daemon_pid = -1;
    }
    if (g.listen_fd >= 0) {
        close(g.listen_fd);
        g.listen_fd = -1;
        unlink(g.socket_path.c_str());
    }
    if (g.table_mem) {
        munmap(g.table_mem, g.table_len);
        g.table_mem = nullptr;
        g.table = SharedTable();
    }
    return APR_SUCCESS;
}

// The shared table is mapped before the daemon and the children are forked,
// so all of them share it without a file.
bool map_shared_table(server_rec *s) {
    Globals &g = globals();
    uint32_t ports = 0;
    for (const auto &l : g.launchers)
        for (const auto &r : l->resources)
            ports += static_cast<uint32_t>(r.port_hi - r.port_lo + 1);
    g.table_len = SharedTable::bytes_needed(ports, SharedTable::default_body_size);
    void *mem = mmap(nullptr, g.table_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                     -1, 0);
    if (mem == MAP_FAILED) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     "PVL00211: cannot map %lu bytes of shared memory for the session table",
                     static_cast<unsigned long>(g.table_len));
        return false;
    }
    g.table_mem = mem;
    return g.table.format(mem, g.table_len, ports, SharedTable::default_body_size);
}

} // namespace

void protect_shared_table() {
    Globals &g = globals();
    if (g.table_mem)
        mprotect(g.table_mem, g.table_len, PROT_READ);
}

int start_session_daemon(apr_pool_t *pconf, server_rec *s) {
    Globals &g = globals();
    daemon_stopping = false;
    if (g.socket_path.empty())
        g.socket_path = ap_runtime_dir_relative(pconf, "pvlaunch.sock");
    g.state_path = ap_runtime_dir_relative(pconf, "pvlaunch.state");
    if (g.app_user.empty()) {
        g.app_user = ap_unixd_config.user_name ? ap_unixd_config.user_name : "";
        g.app_group = ap_unixd_config.group_name ? ap_unixd_config.group_name : "";
    }
    if (geteuid() == 0) {
        const struct passwd *pw = getpwnam(g.app_user.c_str());
        if (!pw) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "PVL00207: the user %s for applications does not exist",
                         g.app_user.c_str());
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (pw->pw_uid == 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "PVL00208: applications would run as root; set User or PVLaunchUser "
                         "to an unprivileged user");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    for (auto &l : g.launchers) {
        if (l->log_dir.empty())
            l->log_dir = ap_runtime_dir_relative(pconf, "pvlaunch-logs");
        else
            l->log_dir = ap_server_root_relative(pconf, l->log_dir.c_str());
        if (apr_dir_make_recursive(l->log_dir.c_str(), APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE | APR_FPROT_GREAD | APR_FPROT_GEXECUTE, pconf) !=
            APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                         "PVL00209: cannot create the log directory %s (from %s)",
                         l->log_dir.c_str(), l->file.c_str());
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (!l->map_file.empty())
            l->map_file = ap_server_root_relative(pconf, l->map_file.c_str());
    }
    apr_pool_cleanup_register(pconf, s, stop_session_daemon, apr_pool_cleanup_null);
    if (!map_shared_table(s))
        return HTTP_INTERNAL_SERVER_ERROR;
    g.listen_fd = bind_control_socket(s, g.socket_path);
    if (g.listen_fd < 0)
        return HTTP_INTERNAL_SERVER_ERROR;
    fork_daemon(s);
    return g.daemon_pid > 0 ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

} // namespace pvl
