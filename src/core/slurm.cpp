#include "slurm.h"

#include "config.h"

#include <cstring>

namespace pvl {

std::string sh_quote(const std::string &text) {
    std::string out = "'";
    for (char ch : text) {
        if (ch == '\'')
            out += "'\\''";
        else
            out += ch;
    }
    return out + "'";
}

std::string sh_word_with_markers(const std::string &arg) {
    const std::string host = slurm_host_marker, port = slurm_port_marker;
    std::string out, literal;
    auto flush = [&]() {
        if (!literal.empty())
            out += sh_quote(literal);
        literal.clear();
    };
    for (size_t i = 0; i < arg.size();) {
        if (arg.compare(i, host.size(), host) == 0) {
            flush();
            out += "\"$host\"";
            i += host.size();
        } else if (arg.compare(i, port.size(), port) == 0) {
            flush();
            out += "\"$port\"";
            i += port.size();
        } else {
            literal += arg[i++];
        }
    }
    flush();
    return out.empty() ? "''" : out;
}

namespace {

bool valid_env_name(const std::string &name) {
    if (name.empty() || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (char ch : name)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    return true;
}

} // namespace

bool slurm_batch_script(const SlurmScript &s, std::string *out, std::string *error) {
    auto has_nul = [](const std::string &t) { return t.find('\0') != std::string::npos; };
    if (s.argv.empty()) {
        *error = "no command";
        return false;
    }
    std::string cmd;
    for (const std::string &arg : s.argv) {
        if (has_nul(arg)) {
            *error = "an argument holds a NUL byte";
            return false;
        }
        cmd += (cmd.empty() ? "" : " ") + sh_word_with_markers(arg);
    }
    std::string env;
    for (const auto &kv : s.env) {
        if (!valid_env_name(kv.first) || has_nul(kv.second)) {
            *error = "environment variable " + kv.first + " cannot be passed to a job";
            return false;
        }
        env += "export " + kv.first + "=" + sh_word_with_markers(kv.second) + "\n";
    }
    if (has_nul(s.dir)) {
        *error = "the directory holds a NUL byte";
        return false;
    }
    // The step reserves one port of MpiParams' range on the node; the
    // inner shell runs there, with SLURM_STEP_RESV_PORTS set ("p" or
    // "p-q"), prints the route and becomes the app.
    std::string inner = "host=$SLURMD_NODENAME\n"
                        "port=${SLURM_STEP_RESV_PORTS%%-*}\n"
                        "port=${port%%,*}\n" +
                        env + (s.dir.empty() ? "" : "cd " + sh_quote(s.dir) + " || exit 126\n") +
                        "echo \"" + slurm_route_prefix + "$host $port\"\n" + "exec " + cmd + "\n";
    *out = "#!/bin/sh\n"
           "# Written by mod_pvlaunch: one session, one job step with a reserved port.\n"
           "exec srun --resv-ports=1 --ntasks=1 --kill-on-bad-exit=1 sh -c " +
           sh_quote(inner) + "\n";
    return true;
}

bool parse_slurm_route(const std::string &line, std::string *host, int *port) {
    const std::string prefix = slurm_route_prefix;
    if (line.compare(0, prefix.size(), prefix) != 0)
        return false;
    const std::string rest = line.substr(prefix.size());
    const size_t space = rest.find(' ');
    if (space == std::string::npos)
        return false;
    const std::string h = rest.substr(0, space), p = rest.substr(space + 1);
    if (!valid_host(h) || p.empty() || p.size() > 5)
        return false;
    int n = 0;
    for (char ch : p) {
        if (ch < '0' || ch > '9')
            return false;
        n = n * 10 + (ch - '0');
    }
    if (n < 1 || n > 65535)
        return false;
    *host = h;
    *port = n;
    return true;
}

SlurmJobState slurm_job_state(const std::string &name) {
    static const char *const waiting[] = {"PENDING",     "REQUEUED",      "REQUEUE_HOLD",
                                          "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED",
                                          "CONFIGURING"};
    static const char *const placed[] = {"RUNNING",   "COMPLETING", "STAGE_OUT",
                                         "SIGNALING", "RESIZING",   "STOPPED"};
    for (const char *w : waiting)
        if (name == w)
            return SlurmJobState::pending;
    for (const char *p : placed)
        if (name == p)
            return SlurmJobState::running;
    return SlurmJobState::ended; // COMPLETED, CANCELLED, FAILED, TIMEOUT, NODE_FAIL, ...
}

std::map<std::string, SlurmJob> parse_squeue(const std::string &text) {
    std::map<std::string, SlurmJob> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos)
            end = text.size();
        const std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        // id|state|nodes|reason; the reason may be "(null)" or hold '|'.
        size_t a = line.find('|');
        size_t b = a == std::string::npos ? a : line.find('|', a + 1);
        size_t c = b == std::string::npos ? b : line.find('|', b + 1);
        if (c == std::string::npos)
            continue;
        const std::string id = line.substr(0, a);
        if (id.empty() || id.find_first_not_of("0123456789_") != std::string::npos)
            continue;
        SlurmJob j;
        j.state_name = line.substr(a + 1, b - a - 1);
        j.state = slurm_job_state(j.state_name);
        j.nodes = line.substr(b + 1, c - b - 1);
        j.reason = line.substr(c + 1);
        if (!j.reason.empty() && j.reason.back() == '\r')
            j.reason.pop_back();
        out[id] = std::move(j);
    }
    return out;
}

} // namespace pvl
