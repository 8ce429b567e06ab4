// Slurm's side of a launch, as text: the batch script that runs an app's
// command as a job step with a reserved port, the route line the job
// prints, and what squeue says of the launcher's jobs. Pure: the daemon
// runs sbatch, squeue and scancel (Slurm's own tools; no scheduling here).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pvl {

// Where the node's values go in an app's command: the template engine puts
// these markers for ${host} and ${port}, and the batch script puts the
// node's name and the port `srun --resv-ports` reserved in their place,
// on the node. A value from a request that holds a marker is refused.
constexpr const char *slurm_host_marker = "\x1dPVL-HOST\x1d";
constexpr const char *slurm_port_marker = "\x1dPVL-PORT\x1d";

// The line a job prints first, in its output file: where its app listens.
//   pvlaunch-route <host> <port>
constexpr const char *slurm_route_prefix = "pvlaunch-route ";

// One word for sh, meaning exactly `text`: single-quoted, with ' written
// as '\''.
std::string sh_quote(const std::string &text);

// One word for sh from an argument holding markers: the literal parts
// quoted, the markers as "$host" and "$port".
std::string sh_word_with_markers(const std::string &arg);

struct SlurmScript {
    std::vector<std::string> argv;                        // rendered, with markers
    std::string dir;                                      // "" for the job's default
    std::vector<std::pair<std::string, std::string>> env; // the app's environment
};

// The batch script: prints the route line, then runs argv as one task of a
// job step holding one reserved port, in `dir`, with `env`. False with
// *error set when an argument or variable cannot be written (a NUL).
bool slurm_batch_script(const SlurmScript &s, std::string *out, std::string *error);

// "pvlaunch-route <host> <port>": false for any other line, a host that
// is not a host name (valid_host) or a port outside 1..65535.
bool parse_slurm_route(const std::string &line, std::string *host, int *port);

enum class SlurmJobState { pending, running, ended };

struct SlurmJob {
    SlurmJobState state = SlurmJobState::pending;
    std::string state_name; // squeue's, e.g. PENDING, RUNNING, COMPLETING
    std::string nodes;      // the node list once placed
    std::string reason;     // why it waits (Priority, Resources, ...)
};

// squeue's job states, in three kinds: waiting for a node (PENDING and
// the like), placed (RUNNING, and the steps of getting there or out of
// it), ended (every final state).
SlurmJobState slurm_job_state(const std::string &name);

// The output of `squeue -h -o "%i|%T|%N|%r"` (the format slurm_squeue_format
// names): job id to what it says. Lines that do not parse are skipped.
constexpr const char *slurm_squeue_format = "%i|%T|%N|%r";
std::map<std::string, SlurmJob> parse_squeue(const std::string &text);

} // namespace pvl
