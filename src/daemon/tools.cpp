#include "tools.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace pvl {
namespace daemon {

bool ToolResult::ok() const {
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string ToolResult::message() const {
    // The last line that says something: Slurm's commands end with the
    // error ("sbatch: error: Batch job submission failed: ...").
    const std::string &text = err.find_first_not_of(" \t\r\n") != std::string::npos ? err : out;
    size_t end = text.find_last_not_of(" \t\r\n");
    if (end != std::string::npos) {
        size_t start = text.rfind('\n', end);
        start = start == std::string::npos ? 0 : start + 1;
        std::string line = text.substr(start, end + 1 - start);
        if (line.size() > 500)
            line = line.substr(0, 500) + "...";
        return line;
    }
    if (status < 0)
        return "it could not be started";
    return describe_wait_status(status);
}

Tools::~Tools() {
    for (auto &kv : runs_) {
        if (kv.second.out_fd >= 0)
            close(kv.second.out_fd);
        if (kv.second.err_fd >= 0)
            close(kv.second.err_fd);
    }
}

namespace {

// The daemon's environment (Apache's), as the apps' user: HOME, USER and
// LOGNAME are that user's.
std::vector<std::string> tool_environment(const AppIdentity &who, std::string *path) {
    std::vector<std::string> out;
    *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (char **e = environ; e && *e; ++e) {
        const std::string var = *e;
        if (var.compare(0, 5, "PATH=") == 0)
            *path = var.substr(5);
        if (who.switch_user &&
            (var.compare(0, 5, "HOME=") == 0 || var.compare(0, 5, "USER=") == 0 ||
             var.compare(0, 8, "LOGNAME=") == 0))
            continue;
        out.push_back(var);
    }
    if (who.switch_user) {
        out.push_back("HOME=" + who.home);
        out.push_back("USER=" + who.user);
        out.push_back("LOGNAME=" + who.user);
    }
    return out;
}

} // namespace

uint64_t Tools::start(const std::vector<std::string> &argv, const AppIdentity &who,
                      const std::string &input, std::string *error) {
    std::string path;
    std::vector<std::string> env_strings = tool_environment(who, &path);
    const std::string program = argv.empty() ? std::string() : find_program(argv[0], path);
    if (program.empty()) {
        *error = "program \"" + (argv.empty() ? std::string() : argv[0]) +
                 "\" not found in PATH (" + path + ")";
        return 0;
    }
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    if (who.switch_user &&
        (!resolve_ids(who, &uid, &gid, error) || !user_groups(who.user, gid, &groups, error)))
        return 0;
    // Standard input from a memory file: any size, nothing to feed later.
    int in_fd = static_cast<int>(syscall(SYS_memfd_create, "pvlaunch-input", MFD_CLOEXEC));
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    bool ok = in_fd >= 0 &&
              write(in_fd, input.data(), input.size()) == static_cast<ssize_t>(input.size()) &&
              lseek(in_fd, 0, SEEK_SET) == 0 && pipe2(out_pipe, O_CLOEXEC) == 0 &&
              pipe2(err_pipe, O_CLOEXEC) == 0;
    if (!ok) {
        *error = std::string("cannot prepare ") + argv[0] + ": " + std::strerror(errno);
        for (int fd : {in_fd, out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
            if (fd >= 0)
                close(fd);
        return 0;
    }
    std::vector<std::string> args(argv);
    std::vector<char *> cargv, cenv;
    for (auto &a : args)
        cargv.push_back(&a[0]);
    cargv.push_back(nullptr);
    for (auto &e : env_strings)
        cenv.push_back(&e[0]);
    cenv.push_back(nullptr);
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    const pid_t pid = fork();
    if (pid == 0) {
        // The child: a process group of its own, the apps' user, default
        // signals, the pipes as stdout and stderr, nothing else open.
        setsid();
        if (who.switch_user && (syscall(SYS_setgroups, groups.size(), groups.data()) != 0 ||
                                syscall(SYS_setresgid, gid, gid, gid) != 0 ||
                                syscall(SYS_setresuid, uid, uid, uid) != 0))
            _exit(126);
        default_signals();
        if (chdir("/") != 0 || dup2(in_fd, 0) < 0 || dup2(out_pipe[1], 1) < 0 ||
            dup2(err_pipe[1], 2) < 0)
            _exit(126);
        close_range(3, ~0U, 0);
        execve(program.c_str(), cargv.data(), cenv.data());
        _exit(127);
    }
    const int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &old, nullptr);
    close(in_fd);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (pid < 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        *error = std::string("cannot fork: ") + std::strerror(fork_errno);
        return 0;
    }
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
    Run &r = runs_[pid];
    r.handle = next_handle_++;
    r.pid = pid;
    r.out_fd = out_pipe[0];
    r.err_fd = err_pipe[0];
    return r.handle;
}

void Tools::drain(Run &r, int fd) {
    char buf[16384];
    for (;;) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close(fd);
            (fd == r.out_fd ? r.out_fd : r.err_fd) = -1;
            return;
        }
        // Bounded: squeue's listing of a big site is the largest.
        std::string &to = fd == r.out_fd ? r.result.out : r.result.err;
        if (to.size() < (16u << 20))
            to.append(buf, static_cast<size_t>(n));
    }
}

void Tools::add_pollfds(std::vector<pollfd> *fds) const {
    for (const auto &kv : runs_)
        for (int fd : {kv.second.out_fd, kv.second.err_fd})
            if (fd >= 0)
                fds->push_back({fd, POLLIN, 0});
}

void Tools::on_poll(const pollfd *fds, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (!fds[i].revents)
            continue;
        for (auto it = runs_.begin(); it != runs_.end(); ++it) {
            Run &r = it->second;
            if (r.out_fd != fds[i].fd && r.err_fd != fds[i].fd)
                continue;
            drain(r, fds[i].fd);
            finish_if_done(it);
            break;
        }
    }
}

bool Tools::exited(pid_t pid, int status) {
    auto it = runs_.find(pid);
    if (it == runs_.end())
        return false;
    it->second.reaped = true;
    it->second.result.status = status;
    // What it wrote before exiting is in the pipes (a grandchild may hold
    // them open: then they close when it does).
    for (int fd : {it->second.out_fd, it->second.err_fd})
        if (fd >= 0)
            drain(it->second, fd);
    finish_if_done(it);
    return true;
}

void Tools::finish_if_done(std::map<pid_t, Run>::iterator it) {
    const Run &r = it->second;
    if (!r.reaped || r.out_fd >= 0 || r.err_fd >= 0)
        return;
    finished_.emplace_back(r.handle, std::move(it->second.result));
    runs_.erase(it);
}

std::vector<std::pair<uint64_t, ToolResult>> Tools::take_finished() {
    std::vector<std::pair<uint64_t, ToolResult>> out;
    out.swap(finished_);
    return out;
}

ToolResult Tools::run(const std::vector<std::string> &argv, const AppIdentity &who,
                      double seconds) {
    std::string error;
    const uint64_t handle = start(argv, who, std::string(), &error);
    if (handle == 0) {
        ToolResult result;
        result.err = error;
        return result;
    }
    return wait(handle, seconds);
}

ToolResult Tools::wait(uint64_t handle, double seconds) {
    ToolResult result;
    pid_t pid = 0;
    for (const auto &kv : runs_)
        if (kv.second.handle == handle)
            pid = kv.first;
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<long>(seconds * 1000));
    while (pid > 0) {
        auto it = runs_.find(pid);
        if (it == runs_.end())
            break;
        Run &r = it->second;
        int status = 0;
        // Its own pid only: the daemon's other children are reaped by the
        // loop, which learns of them as usual.
        if (!r.reaped && waitpid(pid, &status, WNOHANG) == pid) {
            exited(pid, status);
            continue;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            kill(-pid, SIGKILL);
            if (!r.reaped && waitpid(pid, &status, 0) == pid)
                exited(pid, status);
            it = runs_.find(pid);
            if (it != runs_.end()) {
                // A grandchild holds the pipes: give up on them.
                for (int *fd : {&it->second.out_fd, &it->second.err_fd})
                    if (*fd >= 0) {
                        close(*fd);
                        *fd = -1;
                    }
                finish_if_done(it);
            }
            break;
        }
        pollfd fds[2];
        nfds_t n = 0;
        for (int fd : {r.out_fd, r.err_fd})
            if (fd >= 0)
                fds[n++] = {fd, POLLIN, 0};
        if (n == 0 || poll(fds, n, 20) <= 0)
            usleep(n == 0 ? 20000 : 0);
        else
            on_poll(fds, n);
    }
    for (auto it = finished_.begin(); it != finished_.end(); ++it)
        if (it->first == handle) {
            result = std::move(it->second);
            finished_.erase(it);
            break;
        }
    return result;
}

} // namespace daemon
} // namespace pvl
