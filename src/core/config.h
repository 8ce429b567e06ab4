// The launcher config model and its parser. Two vocabularies are read: the
// current wslink launcher format ("configuration", "apps", "resources" with
// "port_range") and the one of the ParaViewWeb launcher guide ("url", "log",
// "applications", "wait_line", "resources" with "port").
#pragma once
#include "json.h"
#include "regex.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pvl {

struct SanitizeRule {
    enum class Type { in_list, regexp };
    Type type = Type::in_list;
    std::vector<std::string> list;
    std::string pattern;
    std::shared_ptr<const Regex> re;
    bool has_default = false;
    std::string default_value;
};

struct Resource {
    std::string host;
    int port_lo = 0;
    int port_hi = 0;
};

// Limits of each session of an app, which systemd enforces on the app's
// scope unit (MemoryMax, CPUQuota, TasksMax). 0: none. Only where systemd
// runs the machine: elsewhere Apache refuses them at start.
struct AppLimits {
    unsigned long long memory = 0;      // bytes
    unsigned long long cpu_percent = 0; // of one CPU: 200 is two CPUs
    unsigned long long tasks = 0;
    bool any() const { return memory || cpu_percent || tasks; }
};

struct App {
    std::vector<std::string> cmd;
    std::string dir;
    std::vector<std::pair<std::string, std::string>> env;
    std::vector<std::string> ready_lines; // empty: use the launcher's
    AppLimits limits;
    int max_session_per_user = 0; // 0: only the launcher's limit
    // "slurm": {"options": [...]}: the command runs as a Slurm job, with
    // these sbatch options (templated like cmd).
    bool slurm = false;
    std::vector<std::string> slurm_options;
};

// The launcher-wide "slurm" object: what applies to all its Slurm apps.
struct SlurmSettings {
    // Nodes a session may be routed to (Open OnDemand's host_regex): the
    // whole node name must match. Empty: any node Slurm placed a job on.
    std::string host_regex;
    std::shared_ptr<const Regex> host_re;
    // Jobs of this launcher at once (running or pending): each takes a
    // slot of the shared table, as a port of `resources` does.
    int max_jobs = 256;
    // Seconds between two squeue calls while jobs run.
    double poll_interval = 1.0;
};

struct LauncherConfig {
    std::string file;
    std::string dir;    // the file's directory: where apps start by default
    std::string source; // the file's text, as parsed
    std::string session_url;
    std::string log_dir;
    std::string map_file;
    double timeout = 25.0;
    int max_session = 0; // 0: no limit beyond the port pool
    // Sessions one authenticated user may hold at once, queued launches
    // included; 0: no limit. Users Apache did not authenticate are not
    // counted (there is nobody to count them against).
    int max_session_per_user = 0;
    std::vector<std::string> ready_lines;
    std::vector<std::string> fields;
    std::map<std::string, App> apps;
    std::map<std::string, std::string> properties;
    JsonPtr session_data; // object, or null
    std::map<std::string, SanitizeRule> sanitize;
    std::vector<Resource> resources;
    SlurmSettings slurm;
    // Things the operator should hear about that are not errors: notices
    // (keys of a standalone launcher, ignored here) and warnings (unknown
    // keys, which wslink ignores too but may be typos).
    std::vector<std::string> notices;
    std::vector<std::string> warnings;

    // Ready lines that apply to an app: its own, else the launcher's. Empty
    // means the app counts as ready once it has been spawned.
    const std::vector<std::string> &ready_lines_for(const App &app) const {
        return app.ready_lines.empty() ? ready_lines : app.ready_lines;
    }
    bool has_slurm_apps() const {
        for (const auto &kv : apps)
            if (kv.second.slurm)
                return true;
        return false;
    }
    // Shared-table blocks its Slurm sessions may take.
    size_t slurm_slots() const {
        return has_slurm_apps() ? static_cast<size_t>(slurm.max_jobs) : 0;
    }
    bool has_local_apps() const {
        for (const auto &kv : apps)
            if (!kv.second.slurm)
                return true;
        return false;
    }
};

// Removes // and /* */ comments and '#' comments outside strings, keeping
// newlines so that parser line numbers still point into the file.
std::string strip_comments(const std::string &text);

// Parses config text; `file` is used in messages. On failure returns false
// and sets *error to a message naming the file and the problem.
bool parse_launcher_config(const std::string &text, const std::string &file, LauncherConfig *out,
                           std::string *error);

// Reads and parses a file.
bool load_launcher_config(const std::string &path, LauncherConfig *out, std::string *error);

// Host names that may appear in the RewriteMap: at most 100 letters, digits,
// '.' and '-'.
bool valid_host(const std::string &host);

} // namespace pvl
