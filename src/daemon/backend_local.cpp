// The local backend: apps as processes of this host, children of the
// daemon (a child subreaper), or taken over from an earlier daemon and
// watched through a pidfd.
#include "backend.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <map>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pvl {

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

// The uid of the app user and the gid it runs with (its group, or the one
// PVLaunchUser names).
bool resolve_ids(const AppIdentity &who, uid_t *uid, gid_t *gid, std::string *error) {
    const struct passwd *pw = getpwnam(who.user.c_str());
    if (!pw) {
        *error = "no such user: " + who.user;
        return false;
    }
    *uid = pw->pw_uid;
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

void default_signals() {
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
}

namespace {

constexpr const char *default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The app user's uid, gid and groups. Resolving them goes through NSS:
// with systemd's userdb module that is about a hundred system calls, most
// of a launch's cost in the daemon. They are kept while /etc/passwd and
// /etc/group stay the same, and for a minute at most, so that a change in
// a directory service (LDAP, sssd) is seen within that.
class Credentials {
  public:
    bool get(const AppIdentity &who, uid_t *uid, gid_t *gid, const std::vector<gid_t> **groups,
             std::string *error) {
        const auto now = std::chrono::steady_clock::now();
        Stamp stamp = current();
        if (!valid_ || !(stamp == stamp_) || now - at_ >= std::chrono::minutes(1)) {
            valid_ = false;
            if (!resolve_ids(who, &uid_, &gid_, error) ||
                !user_groups(who.user, gid_, &groups_, error))
                return false;
            valid_ = true;
            stamp_ = stamp;
            at_ = now;
        }
        *uid = uid_;
        *gid = gid_;
        *groups = &groups_;
        return true;
    }

  private:
    struct Stamp {
        struct stat passwd, group;
        bool operator==(const Stamp &o) const {
            return same(passwd, o.passwd) && same(group, o.group);
        }
        static bool same(const struct stat &a, const struct stat &b) {
            return a.st_ino == b.st_ino && a.st_size == b.st_size &&
                   a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
        }
    };
    static Stamp current() {
        Stamp s;
        std::memset(&s, 0, sizeof s);
        stat("/etc/passwd", &s.passwd);
        stat("/etc/group", &s.group);
        return s;
    }

    bool valid_ = false;
    Stamp stamp_;
    std::chrono::steady_clock::time_point at_;
    uid_t uid_ = 0;
    gid_t gid_ = 0;
    std::vector<gid_t> groups_;
};

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

// What the child needs, prepared before the fork: between vfork and exec
// the child shares the daemon's memory and may only make system calls.
struct ChildPlan {
    const char *program;
    char *const *argv;
    char *const *envp;
    const char *dir; // null: stay in the daemon's
    int out_fd;      // stdout and stderr
    int null_fd;     // stdin
    bool switch_user;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t ngroups;
    // Written by the child when a step fails (the parent waits for exec or
    // exit, so it reads them after vfork returns).
    int failed_errno;
    const char *failed_step;
};

// The child's side, from vfork to exec: a session and process group of its
// own (so that the whole group can be signalled), the app user's groups,
// group and user (raw system calls: glibc's set*id would signal the
// daemon's threads), default signal handling with nothing blocked, the
// working directory, stdin from /dev/null, stdout and stderr to the log,
// and no descriptor beyond 0-2.
[[noreturn]] void child_failed(ChildPlan *c, const char *step) {
    c->failed_errno = errno;
    c->failed_step = step;
    _exit(127);
}

[[noreturn]] void run_child(ChildPlan *c) {
    auto fail = [c](const char *step) { child_failed(c, step); };
    if (setsid() < 0)
        fail("setsid");
    if (c->switch_user) {
        if (syscall(SYS_setgroups, c->ngroups, c->groups) != 0)
            fail("setgroups");
        if (syscall(SYS_setresgid, c->gid, c->gid, c->gid) != 0)
            fail("setgid");
        if (syscall(SYS_setresuid, c->uid, c->uid, c->uid) != 0)
            fail("setuid");
    }
    default_signals();
    if (c->dir && chdir(c->dir) != 0)
        fail("chdir");
    if (dup2(c->null_fd, 0) < 0 || dup2(c->out_fd, 1) < 0 || dup2(c->out_fd, 2) < 0)
        fail("dup2");
    close_range(3, ~0U, 0);
    execve(c->program, c->argv, c->envp);
    child_failed(c, "exec");
}

// vfork returns twice in one stack frame: kept in a frame of its own that
// holds nothing but the plan, so that no local of the caller's is clobbered.
__attribute__((noinline)) pid_t start_child(ChildPlan *c) {
    const pid_t pid = vfork();
    if (pid == 0)
        run_child(c);
    return pid;
}

// Returns the pid (also the process group id) or -1 with *error set.
pid_t spawn_app(const SpawnSpec &spec, const AppIdentity &who, Credentials *credentials,
                std::string *error) {
    std::string path = default_path;
    for (const auto &kv : spec.env)
        if (kv.first == "PATH")
            path = kv.second;
    std::string program = find_program(spec.argv[0], path);
    if (program.empty()) {
        *error = "program \"" + spec.argv[0] + "\" not found in PATH (" + path + ")";
        return -1;
    }

    std::vector<std::string> args(spec.argv.begin(), spec.argv.end());
    std::vector<char *> argv;
    for (auto &a : args)
        argv.push_back(&a[0]);
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = environment(spec, path, who.home);
    std::vector<char *> env;
    for (auto &e : env_strings)
        env.push_back(&e[0]);
    env.push_back(nullptr);

    ChildPlan c;
    std::memset(&c, 0, sizeof c);
    if (who.switch_user) {
        const std::vector<gid_t> *groups = nullptr;
        if (!credentials->get(who, &c.uid, &c.gid, &groups, error))
            return -1;
        c.switch_user = true;
        c.groups = groups->data();
        c.ngroups = groups->size();
    }
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) {
        *error = std::string("cannot open /dev/null: ") + std::strerror(errno);
        return -1;
    }
    c.program = program.c_str();
    c.argv = argv.data();
    c.envp = env.data();
    c.dir = spec.dir.empty() ? nullptr : spec.dir.c_str();
    c.out_fd = spec.output_fd;
    c.null_fd = null_fd;

    // No handler of the daemon's may run in the child while it shares our
    // memory: block everything around vfork; the child resets and unblocks.
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    const pid_t pid = start_child(&c);
    const int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &old, nullptr);
    close(null_fd);
    if (pid < 0) {
        *error = std::string("cannot fork: ") + std::strerror(fork_errno);
        return -1;
    }
    if (c.failed_step) {
        waitpid(pid, nullptr, 0);
        const std::string why = std::strerror(c.failed_errno);
        if (std::strcmp(c.failed_step, "chdir") == 0)
            *error = "cannot start \"" + program + "\" in \"" + spec.dir + "\": " + why;
        else
            *error = "cannot start \"" + program + "\": " + c.failed_step + ": " + why;
        return -1;
    }
    return pid;
}

bool signal_group(pid_t pgid, int sig) {
    return pgid > 1 && kill(-pgid, sig) == 0;
}

class LocalBackend : public Backend {
  public:
    explicit LocalBackend(const AppIdentity &who) : who_(who) {}
    ~LocalBackend() override {
        for (const auto &kv : apps_)
            if (kv.second >= 0)
                close(kv.second);
    }

    bool start(const SpawnSpec &spec, AppRef *app, std::string *error) override {
        pid_t pid = spawn_app(spec, who_, &credentials_, error);
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
            // Every child is reported: the daemon's own short commands
            // (tools.h) are among them.
            out->push_back({pid, status});
            if (it != apps_.end())
                apps_.erase(it);
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
    AppIdentity who_;
    Credentials credentials_;
    std::map<pid_t, int> apps_; // pid -> pidfd of an adopted app, -1 for a child
};

} // namespace

std::unique_ptr<Backend> make_local_backend(const AppIdentity &who) {
    return std::make_unique<LocalBackend>(who);
}

namespace {

// /proc/<pid>/stat into buf; returns where field 3 (state) starts, or null.
// The command name may hold spaces and parentheses: fields count from the
// last ')'.
char *proc_stat(int pid, char (&buf)[1024]) {
    if (pid <= 1)
        return nullptr;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = std::fopen(path, "re");
    if (!f)
        return nullptr;
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    char *p = std::strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] ? p + 2 : nullptr;
}

} // namespace

pid_t process_parent(int pid) {
    char buf[1024];
    const char *p = proc_stat(pid, buf);
    char state = 0;
    int ppid = 0;
    return p && std::sscanf(p, "%c %d", &state, &ppid) == 2 ? static_cast<pid_t>(ppid) : 0;
}

unsigned long long process_start_time(int pid) {
    char buf[1024];
    char *p = proc_stat(pid, buf);
    if (!p)
        return 0;
    // Field 3 (state) is at p; start time is field 22.
    if (*p == 'Z' || *p == 'X')
        return 0;
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
