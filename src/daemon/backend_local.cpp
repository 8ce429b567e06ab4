// The local backend: apps as processes of this host, children of the
// daemon (a child subreaper), or taken over from an earlier daemon and
// watched through a pidfd.
#include "backend.h"

#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <grp.h>
#include <map>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pvl {
namespace {

constexpr const char *default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Runs in the child between fork and exec (APR calls it before dropping
// privileges): a session and process group of its own so that the whole
// group can be signalled, the app user's groups instead of the daemon's
// (`data`: the list, resolved before the fork), default signal handling,
// and no descriptor beyond 0-2.
apr_status_t child_setup(void *data, apr_fileperms_t, apr_uid_t, apr_gid_t) {
    const auto *groups = static_cast<const std::vector<gid_t> *>(data);
    if (setsid() < 0)
        return errno;
    if (groups && setgroups(groups->size(), groups->data()) != 0)
        return errno;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    close_range(3, ~0U, 0);
    return APR_SUCCESS;
}

void child_errfn(apr_pool_t *, apr_status_t err, const char *description) {
    char buf[256];
    apr_strerror(err, buf, sizeof buf);
    dprintf(2, "pvlaunch: cannot start the application: %s: %s\n", description, buf);
}

std::string find_program(const std::string &name, const std::string &path) {
    if (name.find('/') != std::string::npos)
        return name;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find(':', start);
        if (end == std::string::npos)
            end = path.size();
        std::string dir = path.substr(start, end - start);
        if (dir.empty())
            dir = ".";
        std::string candidate = dir + "/" + name;
        struct stat st;
        if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            access(candidate.c_str(), X_OK) == 0)
            return candidate;
        start = end + 1;
    }
    return std::string();
}

// Every group of `user` with `primary` among them, as initgroups(3) would
// set them; resolved in the daemon, since NSS is not safe after fork.
bool user_groups(const std::string &user, gid_t primary, std::vector<gid_t> *out,
                 std::string *error) {
    int n = 64;
    for (int tries = 0; tries < 4; ++tries) {
        out->resize(static_cast<size_t>(n));
        int got = n;
        if (getgrouplist(user.c_str(), primary, out->data(), &got) >= 0) {
            out->resize(static_cast<size_t>(got));
            return true;
        }
        n = got > n ? got : n * 4;
    }
    *error = "cannot list the groups of user " + user;
    return false;
}

bool resolve_ids(const AppIdentity &who, gid_t *gid, std::string *error) {
    const struct passwd *pw = getpwnam(who.user.c_str());
    if (!pw) {
        *error = "no such user: " + who.user;
        return false;
    }
    *gid = pw->pw_gid;
    if (!who.group.empty()) {
        const struct group *gr = getgrnam(who.group.c_str());
        if (!gr) {
            *error = "no such group: " + who.group;
            return false;
        }
        *gid = gr->gr_gid;
    }
    return true;
}

// Later entries replace earlier ones of the same name.
std::vector<std::string> environment(const SpawnSpec &spec, const std::string &path,
                                     const std::string &home) {
    std::vector<std::string> out{"PATH=" + path, "HOME=" + home};
    for (const auto &kv : spec.env) {
        if (kv.first == "PATH")
            continue;
        const std::string prefix = kv.first + "=";
        auto same = std::find_if(out.begin(), out.end(), [&prefix](const std::string &e) {
            return e.compare(0, prefix.size(), prefix) == 0;
        });
        if (same != out.end())
            *same = prefix + kv.second;
        else
            out.push_back(prefix + kv.second);
    }
    return out;
}

// Returns the pid (also the process group id) or -1 with *error set.
pid_t spawn_app(apr_pool_t *parent, const SpawnSpec &spec, const AppIdentity &who,
                std::string *error) {
    apr_pool_t *p;
    if (apr_pool_create(&p, parent) != APR_SUCCESS) {
        *error = "out of memory";
        return -1;
    }
    struct PoolGuard {
        apr_pool_t *p;
        ~PoolGuard() { apr_pool_destroy(p); }
    } guard{p};

    std::string path = default_path;
    for (const auto &kv : spec.env)
        if (kv.first == "PATH")
            path = kv.second;
    std::string program = find_program(spec.argv[0], path);
    if (program.empty()) {
        *error = "program \"" + spec.argv[0] + "\" not found in PATH (" + path + ")";
        return -1;
    }

    std::vector<const char *> argv;
    for (const auto &a : spec.argv)
        argv.push_back(a.c_str());
    argv.push_back(nullptr);
    const std::vector<std::string> env_strings = environment(spec, path, who.home);
    std::vector<const char *> env;
    for (const auto &e : env_strings)
        env.push_back(e.c_str());
    env.push_back(nullptr);

    std::vector<gid_t> groups;
    if (who.switch_user) {
        gid_t gid = 0;
        if (!resolve_ids(who, &gid, error) || !user_groups(who.user, gid, &groups, error))
            return -1;
    }

    apr_file_t *out = nullptr, *in = nullptr;
    int out_fd = spec.output_fd;
    apr_os_file_put(&out, &out_fd, APR_FOPEN_WRITE | APR_FOPEN_APPEND, p);
    apr_status_t rv = apr_file_open(&in, "/dev/null", APR_FOPEN_READ, 0, p);
    apr_procattr_t *attr;
    if (rv == APR_SUCCESS)
        rv = apr_procattr_create(&attr, p);
    if (rv == APR_SUCCESS)
        rv = apr_procattr_child_in_set(attr, in, nullptr);
    if (rv == APR_SUCCESS)
        rv = apr_procattr_child_out_set(attr, out, nullptr);
    if (rv == APR_SUCCESS)
        rv = apr_procattr_child_err_set(attr, out, nullptr);
    if (rv == APR_SUCCESS)
        rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM);
    if (rv == APR_SUCCESS && !spec.dir.empty())
        rv = apr_procattr_dir_set(attr, spec.dir.c_str());
    if (rv == APR_SUCCESS)
        rv = apr_procattr_error_check_set(attr, 1);
    if (rv == APR_SUCCESS)
        rv = apr_procattr_child_errfn_set(attr, child_errfn);
    if (rv == APR_SUCCESS && who.switch_user) {
        rv = apr_procattr_user_set(attr, who.user.c_str(), nullptr);
        if (rv == APR_SUCCESS && !who.group.empty())
            rv = apr_procattr_group_set(attr, who.group.c_str());
    }
    if (rv == APR_SUCCESS)
        rv = apr_procattr_perms_set_register(attr, child_setup, who.switch_user ? &groups : nullptr,
                                             0);
    if (rv != APR_SUCCESS) {
        char buf[256];
        *error = std::string("cannot prepare the process: ") + apr_strerror(rv, buf, sizeof buf);
        return -1;
    }
    apr_proc_t proc;
    rv = apr_proc_create(&proc, program.c_str(), argv.data(), env.data(), attr, p);
    if (rv != APR_SUCCESS) {
        char buf[256];
        *error = "cannot start \"" + program + "\"" +
                 (spec.dir.empty() ? std::string() : " in \"" + spec.dir + "\"") + ": " +
                 apr_strerror(rv, buf, sizeof buf);
        return -1;
    }
    return proc.pid;
}

bool signal_group(pid_t pgid, int sig) {
    return pgid > 1 && kill(-pgid, sig) == 0;
}

class LocalBackend : public Backend {
  public:
    LocalBackend(apr_pool_t *pool, const AppIdentity &who) : pool_(pool), who_(who) {}
    ~LocalBackend() override {
        for (const auto &kv : apps_)
            if (kv.second >= 0)
                close(kv.second);
    }

    bool start(const SpawnSpec &spec, AppRef *app, std::string *error) override {
        pid_t pid = spawn_app(pool_, spec, who_, error);
        if (pid < 0)
            return false;
        app->pid = pid;
        app->start_time = process_start_time(pid);
        apps_[pid] = -1;
        return true;
    }

    bool signal(const AppRef &app, int sig) override { return signal_group(app.pid, sig); }

    bool adopt(const AppRef &app) override {
        if (app.start_time == 0 || process_start_time(app.pid) != app.start_time)
            return false;
        int pidfd = static_cast<int>(syscall(SYS_pidfd_open, app.pid, 0));
        // The pidfd pins the process: check again that it is the same one.
        if (pidfd < 0 || process_start_time(app.pid) != app.start_time) {
            if (pidfd >= 0)
                close(pidfd);
            return false;
        }
        apps_[app.pid] = pidfd;
        return true;
    }

    void add_pollfds(std::vector<pollfd> *fds) const override {
        for (const auto &kv : apps_)
            if (kv.second >= 0)
                fds->push_back({kv.second, POLLIN, 0});
    }

    void collect_exits(const pollfd *fds, size_t n, std::vector<AppExit> *out) override {
        // Adopted apps: the pidfd is readable once the process has exited.
        for (size_t i = 0; i < n; ++i) {
            if (!fds[i].revents)
                continue;
            for (auto it = apps_.begin(); it != apps_.end(); ++it) {
                if (it->second != fds[i].fd)
                    continue;
                signal_group(it->first, SIGKILL); // what is left of its group
                close(it->second);
                out->push_back({it->first, -1});
                apps_.erase(it);
                break;
            }
        }
        // Children, and what the apps left behind (we are a subreaper).
        for (;;) {
            siginfo_t si;
            std::memset(&si, 0, sizeof si);
            if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0)
                return;
            const pid_t pid = si.si_pid;
            auto it = apps_.find(pid);
            // The leader's zombie still holds the group id: kill what is
            // left of the group before the id can be reused.
            if (it != apps_.end())
                signal_group(pid, SIGKILL);
            int status = 0;
            if (waitpid(pid, &status, 0) < 0)
                continue;
            if (it != apps_.end()) {
                out->push_back({pid, status});
                apps_.erase(it);
            }
        }
    }

    void kill_now(const AppRef &app) override {
        signal_group(app.pid, SIGKILL);
        auto it = apps_.find(app.pid);
        if (it == apps_.end())
            return;
        if (it->second >= 0)
            close(it->second);
        else
            waitpid(app.pid, nullptr, 0);
        apps_.erase(it);
    }

  private:
    apr_pool_t *pool_;
    AppIdentity who_;
    std::map<pid_t, int> apps_; // pid -> pidfd of an adopted app, -1 for a child
};

} // namespace

std::unique_ptr<Backend> make_local_backend(apr_pool_t *pool, const AppIdentity &who) {
    return std::make_unique<LocalBackend>(pool, who);
}

unsigned long long process_start_time(int pid) {
    if (pid <= 1)
        return 0;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = std::fopen(path, "re");
    if (!f)
        return 0;
    char buf[1024];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // The command name may hold spaces and parentheses: fields count from
    // the last ')'. Field 3 (state) follows it; start time is field 22.
    char *p = std::strrchr(buf, ')');
    if (!p)
        return 0;
    char state = p[2];
    if (state == 'Z' || state == 'X')
        return 0;
    p += 2;
    for (int field = 3; field < 22 && p; ++field) {
        p = std::strchr(p, ' ');
        if (p)
            ++p;
    }
    return p ? std::strtoull(p, nullptr, 10) : 0;
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status))
        return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    return "status " + std::to_string(status);
}

} // namespace pvl
