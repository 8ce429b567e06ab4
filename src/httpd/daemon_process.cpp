// Life cycle of the session daemon, seen from Apache's parent: the control
// socket is bound here before the fork (so children can connect at once),
// the daemon is forked into a session of its own, watched as an "other
// child" and restarted if it dies.
//
// The daemon outlives Apache's generations: a graceful or hard restart that
// leaves the daemon's configuration as it was keeps the same daemon (its
// apps stay its children, so it keeps reaping them), and only hands it the
// new error log. A restart that changes that configuration asks the old
// daemon to leave its ready apps running and forks a new one, which adopts
// them from the persisted state. Apache's stop stops the daemon and its apps.
//
// Apache's parent can also die without stopping (kill -9, the OOM killer, a
// crash). Its children die with it (PR_SET_PDEATHSIG), and the daemon keeps
// the sessions for PVLaunchClaimWindow: the next Apache started with the
// same configuration claims them through the control socket's path before
// it binds its own. Only the daemon holds the listening control socket, so
// a child that outlives both gets "connection refused", never a hang.
#include "../core/log.h"
#include "../core/protocol.h"
#include "../daemon/backend.h"
#include "../daemon/session_daemon.h"
#include "../daemon/state_file.h"
#include "../daemon/systemd.h"
#include "daemon_client.h"
#include "glue.h"

#include <ap_mpm.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <mpm_common.h>
#include <unixd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <dlfcn.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

// What survives the unload and reload of this module on a restart (Apache's
// process pool): plain data, no pointer into the module.
struct Retained {
    pid_t pid;       // the daemon; 0: none
    int listen_fd;   // unused: only the daemon holds the control socket now
    int channel_fd;  // our end of the socketpair to the daemon
    void *table_mem; // the shared table mapping
    size_t table_len;
    uint64_t fingerprint; // of everything the daemon was started with
    char socket_path[sizeof(sockaddr_un::sun_path)];
};

Retained *retained() {
    static const char key[] = "mod_pvlaunch.retained";
    void *r = ap_retained_data_get(key);
    if (!r) {
        r = ap_retained_data_create(key, sizeof(Retained));
        auto *ret = static_cast<Retained *>(r);
        ret->listen_fd = ret->channel_fd = -1;
    }
    return static_cast<Retained *>(r);
}

// FNV-1a over the daemon's inputs: launcher files (their text as parsed),
// resolved paths, identities and limits. Equal fingerprints: the running
// daemon is exactly the one this configuration would start.
uint64_t fingerprint(const Globals &g) {
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&h](const std::string &part) {
        for (unsigned char c : part + '\0') {
            h ^= c;
            h *= 1099511628211ULL;
        }
    };
    // The module file itself: after an upgrade (a new file) the kept daemon
    // would run the old code against children speaking the new protocol.
    Dl_info info;
    struct stat st;
    if (dladdr(reinterpret_cast<void *>(&fingerprint), &info) && info.dli_fname &&
        stat(info.dli_fname, &st) == 0)
        mix(std::string(info.dli_fname) + ":" + std::to_string(st.st_dev) + ":" +
            std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
            std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec));
    for (const auto &l : g.launchers) {
        mix(l->file);
        mix(l->source);
        mix(l->log_dir);
        mix(l->map_file);
    }
    mix(g.settings.identity());
    mix(std::to_string(ap_unixd_config.user_id));
    mix(std::to_string(geteuid()));
    return h;
}

int bind_control_socket(server_rec *s, const std::string &path) {
    struct sockaddr_un addr;
    if (!unix_address(path, &addr))
        return -1; // refused at start-up (PVL00201)
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

[[noreturn]] void daemon_main(int listen_fd, int channel) {
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
    // Keep stdin/stdout quiet, stderr (the error log), the control socket
    // and the channel to Apache's parent; close everything else inherited
    // from Apache (listeners included).
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
    }
    // Out of the way of 3 and 4 first, whichever numbers they had.
    listen_fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 10);
    channel = fcntl(channel, F_DUPFD_CLOEXEC, 10);
    if (listen_fd < 0 || channel < 0 || dup2(listen_fd, 3) < 0 || dup2(channel, 4) < 0)
        _exit(1);
    close_range(5, ~0U, 0);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    fcntl(4, F_SETFD, FD_CLOEXEC);
    log_set_sink(daemon_log_sink);

    DaemonOptions opts;
    opts.listen_fd = 3;
    opts.parent_fd = 4;
    for (const auto &l : g.launchers)
        opts.launchers.push_back(l.get());
    opts.client_uid = ap_unixd_config.user_id;
    opts.client_gid = ap_unixd_config.group_id;
    opts.table = &g.table;
    opts.settings = g.settings;
    if (geteuid() == 0) {
        opts.apps_as.switch_user = true;
        opts.apps_as.user = g.settings.app_user;
        opts.apps_as.group = g.settings.app_group;
    }
    const struct passwd *pw =
        geteuid() == 0 ? getpwnam(g.settings.app_user.c_str()) : getpwuid(geteuid());
    if (pw && pw->pw_dir)
        opts.apps_as.home = pw->pw_dir;
    log(LogLevel::info, "PVL00001", "session daemon started");
    _exit(run_session_daemon(opts));
}

apr_proc_t daemon_proc;
bool daemon_stopping = false;
pid_t parent_pid = 0; // Apache's parent, for its children

void fork_daemon(server_rec *s);

void daemon_maintenance(int reason, void *data, apr_wait_t) {
    auto *s = static_cast<server_rec *>(data);
    if (reason != APR_OC_REASON_DEATH && reason != APR_OC_REASON_LOST)
        return;
    apr_proc_other_child_unregister(data);
    retained()->pid = 0;
    int mpm_state = AP_MPMQ_STARTING;
    ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state);
    if (daemon_stopping || mpm_state == AP_MPMQ_STOPPING)
        return;
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                 "PVL00204: the session daemon died; starting a new one");
    fork_daemon(s);
}

void watch_daemon(server_rec *s, pid_t pid) {
    daemon_proc.pid = pid;
    daemon_proc.in = daemon_proc.out = daemon_proc.err = nullptr;
    apr_proc_other_child_register(&daemon_proc, daemon_maintenance, s, nullptr, s->process->pconf);
}

// Binds the control socket (the daemon is its only holder, so that nobody
// connects to a socket that no one will ever accept on) and forks the
// daemon with it.
void fork_daemon(server_rec *s) {
    Retained *r = retained();
    const int listen_fd = bind_control_socket(s, r->socket_path);
    if (listen_fd < 0)
        return;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     "PVL00216: cannot create the channel to the session daemon");
        close(listen_fd);
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s, "PVL00205: cannot fork the session daemon");
        close(listen_fd);
        close(pair[0]);
        close(pair[1]);
        return;
    }
    if (pid == 0)
        daemon_main(listen_fd, pair[1]);
    close(listen_fd);
    close(pair[1]);
    if (r->channel_fd >= 0)
        close(r->channel_fd);
    r->channel_fd = pair[0];
    r->pid = pid;
    watch_daemon(s, pid);
}

// Stops the daemon with `sig` (SIGTERM: stop every app; SIGUSR1: leave the
// ready ones to a successor) and waits for it.
void end_daemon(server_rec *s, pid_t pid, int sig, double grace) {
    kill(pid, sig);
    // The daemon gives its apps the grace period, then kills them.
    const long limit_ms = static_cast<long>(grace * 1000) + 4000;
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
}

// Closes and unmaps what the retained daemon used; it is gone.
void release_retained(Retained *r) {
    if (r->listen_fd >= 0)
        close(r->listen_fd);
    if (r->socket_path[0])
        unlink(r->socket_path);
    if (r->channel_fd >= 0)
        close(r->channel_fd);
    if (r->table_mem)
        munmap(r->table_mem, r->table_len);
    std::memset(r, 0, sizeof *r);
    r->listen_fd = r->channel_fd = -1;
}

// Apache stops and the daemon could not stop its apps (it had died, or did
// not exit and was killed): what its journal still lists is killed here,
// each process checked by its start time first, so nothing outlives Apache.
void sweep_journal(server_rec *s, const std::string &state_path) {
    StateJournal journal(state_path);
    size_t killed = 0;
    for (const PersistedSession &r : journal.load()) {
        if (r.pid > 1 && r.start_time != 0 && process_start_time(r.pid) == r.start_time) {
            kill(-r.pid, SIGKILL);
            kill(r.pid, SIGKILL);
            ++killed;
        }
    }
    journal.remove_file();
    if (killed > 0)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "PVL00219: the session daemon did not stop its sessions; killed %lu "
                     "application(s) listed in its journal",
                     static_cast<unsigned long>(killed));
}

apr_status_t stop_session_daemon(void *data) {
    auto *s = static_cast<server_rec *>(data);
    Globals &g = globals();
    // A restart: the next generation decides whether this daemon stays, and
    // tells it so. Should the next generation not load this module at all,
    // nobody would: the daemon waits for that word a few seconds, then stops
    // its sessions.
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_EXITING) {
        Retained *r = retained();
        const char byte = 'R';
        if (r->channel_fd >= 0 && send(r->channel_fd, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
            ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                         "PVL00218: cannot tell the session daemon that Apache restarts");
        return APR_SUCCESS;
    }
    // Apache stops: the daemon stops every app. No
    // apr_proc_other_child_unregister() here: the registration's own pconf
    // cleanup, registered after this one, has already run.
    daemon_stopping = true;
    Retained *r = retained();
    // Unless systemd stops Apache to start it again (systemctl restart, a
    // package upgrade: the same graceful-stop as systemctl stop). Then the
    // daemon leaves the apps, which live in scope units of their own, and
    // its journal to the daemon of the next start.
    if (r->pid > 0 && systemd_running()) {
        const std::string job = systemd_job_of(getpid());
        if (systemd_job_restarts(job)) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         "PVL00223: systemd restarts Apache (job %s); the sessions are kept "
                         "for the next start",
                         job.c_str());
            end_daemon(s, r->pid, SIGUSR1, g.settings.stop_grace);
            release_retained(r);
            g.table = SharedTable();
            return APR_SUCCESS;
        }
    }
    if (r->pid > 0)
        end_daemon(s, r->pid, SIGTERM, g.settings.stop_grace);
    // A daemon that stopped its sessions removed its journal.
    if (!g.settings.state_path.empty() && access(g.settings.state_path.c_str(), F_OK) == 0)
        sweep_journal(s, g.settings.state_path);
    release_retained(r);
    g.table = SharedTable();
    return APR_SUCCESS;
}

// The shared table is mapped before the daemon and the children are forked,
// so all of them share it without a file.
bool map_shared_table(server_rec *s) {
    Globals &g = globals();
    uint32_t ports = 0;
    for (const auto &l : g.launchers) {
        for (const auto &r : l->resources)
            ports += static_cast<uint32_t>(r.port_hi - r.port_lo + 1);
        ports += static_cast<uint32_t>(l->slurm_slots());
    }
    const size_t len = SharedTable::bytes_needed(ports, SharedTable::default_body_size);
    void *mem = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     "PVL00211: cannot map %lu bytes of shared memory for the session table",
                     static_cast<unsigned long>(len));
        return false;
    }
    Retained *r = retained();
    r->table_mem = mem;
    r->table_len = len;
    return g.table.format(mem, len, ports, SharedTable::default_body_size);
}

// A daemon whose Apache's parent died keeps its sessions for a while (see
// the top of this file); this Apache takes them over: the old daemon saves
// its journal, answers and exits, and the daemon forked next adopts the
// apps from the journal. Nothing listening at the path: nothing to claim.
void claim_orphaned_sessions(server_rec *s, const std::string &path) {
    struct sockaddr_un addr;
    if (!unix_address(path, &addr))
        return;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<struct sockaddr *>(&addr), sizeof addr) != 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    const std::string line = encode_request(Op::claim, 0) + "\n";
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string in;
    if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size())) {
        char buf[4096];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
            in.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    int status = 0;
    size_t length = 0;
    const size_t nl = in.find('\n');
    if (nl == std::string::npos ||
        !parse_response_header(in.substr(0, nl + 1).c_str(), &status, &length)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "PVL00220: a process listens at %s but did not answer as a session daemon",
                     path.c_str());
        return;
    }
    JsonPtr body(json_loads(in.substr(nl + 1).c_str(), 0, nullptr));
    if (status != 200) {
        const char *why = json_string_value(json_object_get(body.get(), "error"));
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "PVL00221: the session daemon at %s keeps its sessions: %s", path.c_str(),
                     why ? why : "no reason given");
        return;
    }
    const json_int_t sessions = json_integer_value(json_object_get(body.get(), "sessions"));
    const pid_t pid = static_cast<pid_t>(json_integer_value(json_object_get(body.get(), "pid")));
    // It leaves at once; its apps must not be adopted while it still
    // reaps them.
    if (pid > 1) {
        const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
        if (pidfd >= 0) {
            struct pollfd p = {pidfd, POLLIN, 0};
            poll(&p, 1, 10000);
            close(pidfd);
        }
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 "PVL00222: took over %ld session(s) kept since Apache's previous parent died",
                 static_cast<long>(sessions));
}

// The running daemon, if this generation keeps it: it must be alive (still
// our child) and started from an identical configuration. Otherwise it is
// asked to hand its ready apps over (SIGUSR1) and everything it used goes.
bool keep_running_daemon(server_rec *s, uint64_t fp) {
    Globals &g = globals();
    Retained *r = retained();
    if (r->pid <= 0)
        return false;
    int status;
    const bool alive = waitpid(r->pid, &status, WNOHANG) == 0;
    if (alive && r->fingerprint == fp && g.table.attach(r->table_mem, r->table_len)) {
        watch_daemon(s, r->pid);
        // Its stderr is still the previous generation's error log, which
        // logrotate may have renamed: hand it the current one.
        char byte = 'L';
        struct iovec iov = {&byte, 1};
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control;
        std::memset(&control, 0, sizeof control);
        struct msghdr msg;
        std::memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        const int err_fd = 2;
        std::memcpy(CMSG_DATA(c), &err_fd, sizeof err_fd);
        if (sendmsg(r->channel_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
            ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                         "PVL00213: cannot hand the new error log to the session daemon");
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "PVL00212: keeping the session daemon (pid %ld) and its sessions",
                     static_cast<long>(r->pid));
        return true;
    }
    if (alive) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "PVL00214: the launcher configuration changed; handing the sessions "
                     "over to a new session daemon");
        end_daemon(s, r->pid, SIGUSR1, g.settings.stop_grace);
    }
    release_retained(r);
    return false;
}

} // namespace

void child_setup() {
    Retained *r = retained();
    // Apache's children die with its parent: nothing manages them any more,
    // and they hold the listening sockets a new Apache needs. (After
    // Apache dropped privileges, which would clear this setting.) Only where
    // the module runs a daemon: loaded without PVLaunchConfig it changes
    // nothing of Apache.
    if (r->pid > 0 && parent_pid > 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent_pid)
            raise(SIGKILL);
    }
    if (r->table_mem)
        mprotect(r->table_mem, r->table_len, PROT_READ);
    // Only Apache's parent talks to the daemon over the channel; its end of
    // the channel closing tells the daemon that the parent is gone.
    if (r->channel_fd >= 0) {
        close(r->channel_fd);
        r->channel_fd = -1;
    }
}

// The applications' user when PVLaunchUser is not given (the packages
// create it).
constexpr const char *default_app_user = "pvlaunch";

int start_session_daemon(apr_pool_t *pconf, server_rec *s) {
    Globals &g = globals();
    daemon_stopping = false;
    parent_pid = getpid();
    if (g.settings.socket_path.empty())
        g.settings.socket_path = ap_runtime_dir_relative(pconf, "pvlaunch.sock");
    g.settings.state_path = ap_runtime_dir_relative(pconf, "pvlaunch.state");
    const char *apache_user = ap_unixd_config.user_name ? ap_unixd_config.user_name : "";
    if (g.settings.app_user.empty() && geteuid() == 0) {
        // Apps get a user of their own, which the package creates: as
        // Apache's User, any app could signal Apache's own processes.
        if (!getpwnam(default_app_user)) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "PVL00226: applications need a user of their own, and the user %s "
                         "does not exist: create it (the package does: adduser --system "
                         "--group %s), or name another one with PVLaunchUser. Running them as "
                         "Apache's User (%s) lets any of them signal Apache's processes; "
                         "PVLaunchUser %s says that this is wanted",
                         default_app_user, default_app_user, apache_user, apache_user);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        g.settings.app_user = default_app_user;
    } else if (g.settings.app_user.empty()) {
        // Not root: the apps run as Apache does, there is nobody else to be.
        g.settings.app_user = apache_user;
        g.settings.app_group = ap_unixd_config.group_name ? ap_unixd_config.group_name : "";
    } else if (geteuid() == 0 && g.settings.app_user == apache_user) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "PVL00227: applications run as Apache's User %s, as PVLaunchUser says: "
                     "each of them can signal Apache's processes and the other apps",
                     apache_user);
    }
    if (geteuid() == 0) {
        const struct passwd *pw = getpwnam(g.settings.app_user.c_str());
        if (!pw) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "PVL00207: the user %s for applications does not exist",
                         g.settings.app_user.c_str());
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (pw->pw_uid == 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "PVL00208: applications would run as root; set User or PVLaunchUser "
                         "to an unprivileged user");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    // Limits are systemd's to enforce, on units only root may create.
    const bool units = systemd_running() && geteuid() == 0;
    for (const auto &l : g.launchers)
        for (const auto &app : l->apps)
            if (app.second.limits.any() && !units) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                             "PVL00224: %s: application \"%s\" sets \"limits\", which need "
                             "systemd as the machine's init and Apache started as root; %s",
                             l->file.c_str(), app.first.c_str(),
                             systemd_running() ? "Apache does not run as root"
                                               : "systemd does not run this machine");
                return HTTP_INTERNAL_SERVER_ERROR;
            }
    for (auto &l : g.launchers) {
        if (l->log_dir.empty())
            l->log_dir = ap_runtime_dir_relative(pconf, "pvlaunch-logs");
        else
            l->log_dir = ap_server_root_relative(pconf, l->log_dir.c_str());
        if (apr_dir_make_recursive(l->log_dir.c_str(),
                                   APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE |
                                       APR_FPROT_GREAD | APR_FPROT_GEXECUTE,
                                   pconf) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                         "PVL00209: cannot create the log directory %s (from %s)",
                         l->log_dir.c_str(), l->file.c_str());
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        // A Slurm job's output file is opened by slurmd as the apps' user:
        // the directory must let that user through (its group, 0750).
        if (l->has_slurm_apps() && geteuid() == 0) {
            const struct passwd *pw = getpwnam(g.settings.app_user.c_str());
            const struct group *gr =
                g.settings.app_group.empty() ? nullptr : getgrnam(g.settings.app_group.c_str());
            const gid_t gid = gr ? gr->gr_gid : pw ? pw->pw_gid : 0;
            if (!pw || chown(l->log_dir.c_str(), 0, gid) != 0 ||
                chmod(l->log_dir.c_str(), 0750) != 0) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                             "PVL00228: cannot give the log directory %s (from %s) to the group "
                             "of user %s, which runs its Slurm jobs",
                             l->log_dir.c_str(), l->file.c_str(), g.settings.app_user.c_str());
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        if (!l->map_file.empty())
            l->map_file = ap_server_root_relative(pconf, l->map_file.c_str());
    }
    apr_pool_cleanup_register(pconf, s, stop_session_daemon, apr_pool_cleanup_null);
    const uint64_t fp = fingerprint(g);
    if (keep_running_daemon(s, fp))
        return OK;
    claim_orphaned_sessions(s, g.settings.socket_path);
    if (!map_shared_table(s))
        return HTTP_INTERNAL_SERVER_ERROR;
    Retained *r = retained();
    if (g.settings.socket_path.size() >= sizeof r->socket_path) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "PVL00201: control socket path %s is too long",
                     g.settings.socket_path.c_str());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    std::snprintf(r->socket_path, sizeof r->socket_path, "%s", g.settings.socket_path.c_str());
    r->fingerprint = fp;
    fork_daemon(s);
    return r->pid > 0 ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

void stop_retained_daemon(server_rec *s) {
    Retained *r = retained();
    if (r->pid <= 0)
        return;
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 "PVL00215: no PVLaunchConfig any more; stopping the session daemon");
    end_daemon(s, r->pid, SIGTERM, globals().settings.stop_grace);
    release_retained(r);
}

} // namespace pvl
