// Short commands the session daemon runs without waiting for them: Slurm's
// sbatch, squeue and scancel. Each runs as the apps' user with the
// daemon's environment (Apache's: SLURM_CONF and the like reach it), its
// standard input from a given text, its standard output and error on
// pipes that the daemon's poll loop drains. A run is finished once both
// pipes are closed and its exit status is known (the daemon reaps every
// child, and hands the statuses of these over with exited()).
#pragma once
#include "backend.h"

#include <map>
#include <poll.h>
#include <string>
#include <sys/types.h>
#include <vector>

namespace pvl {
namespace daemon {

struct ToolResult {
    int status = -1; // wait status; -1 if it could not be started
    std::string out;
    std::string err;
    bool ok() const;
    // Its error output, trimmed to its last line that says something, or
    // how it ended.
    std::string message() const;
};

class Tools {
  public:
    Tools() = default;
    Tools(const Tools &) = delete;
    Tools &operator=(const Tools &) = delete;
    ~Tools();

    // Starts argv (argv[0] searched in PATH) as `who`; returns its handle,
    // or 0 with *error set.
    uint64_t start(const std::vector<std::string> &argv, const AppIdentity &who,
                   const std::string &input, std::string *error);
    // Runs argv to its end, for at most `seconds` (then kills it).
    ToolResult run(const std::vector<std::string> &argv, const AppIdentity &who, double seconds);
    // Waits for a run started earlier, for at most `seconds` (then kills
    // it); its result is not among take_finished()'s any more.
    ToolResult wait(uint64_t handle, double seconds);

    void add_pollfds(std::vector<pollfd> *fds) const;
    void on_poll(const pollfd *fds, size_t n);
    // A child the daemon reaped: true if it was one of these.
    bool exited(pid_t pid, int status);
    // Runs that finished since the last call, by handle.
    std::vector<std::pair<uint64_t, ToolResult>> take_finished();

  private:
    struct Run {
        uint64_t handle = 0;
        pid_t pid = 0;
        int out_fd = -1;
        int err_fd = -1;
        bool reaped = false;
        ToolResult result;
    };
    void drain(Run &r, int fd);
    void finish_if_done(std::map<pid_t, Run>::iterator it);

    std::map<pid_t, Run> runs_;
    std::vector<std::pair<uint64_t, ToolResult>> finished_;
    uint64_t next_handle_ = 1;
};

} // namespace daemon
} // namespace pvl
