#include "state_file.h"

#include "../core/json.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pvl {

bool save_state(const std::string &path, const std::vector<PersistedSession> &sessions,
                std::string *error) {
    JsonPtr arr(json_array());
    for (const auto &s : sessions) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:s, s:s}", "id", s.id.c_str(),
                              "launcher", s.launcher_file.c_str(), "application",
                              s.application.c_str(), "host", s.host.c_str(), "port", s.port, "pid",
                              s.pid, "start", static_cast<json_int_t>(s.start_time), "state",
                              s.state.c_str(), "response", s.response.c_str());
        if (o)
            json_array_append_new(arr.get(), o);
    }
    std::string text = json_to_string(arr.get());
    std::string tmp = path + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    bool ok = fd >= 0 &&
              write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp.c_str(), path.c_str()) == 0;
    if (!ok) {
        *error = std::string("cannot write ") + path + ": " + std::strerror(errno);
        unlink(tmp.c_str());
    }
    return ok;
}

std::vector<PersistedSession> load_state(const std::string &path) {
    std::vector<PersistedSession> out;
    json_error_t jerr;
    JsonPtr arr(json_load_file(path.c_str(), 0, &jerr));
    if (!json_is_array(arr.get()))
        return out;
    size_t i;
    json_t *o;
    json_array_foreach(arr.get(), i, o) {
        PersistedSession s;
        const char *id = nullptr, *launcher = nullptr, *app = nullptr, *host = nullptr,
                   *state = nullptr, *response = nullptr;
        json_int_t start = 0;
        if (json_unpack(o, "{s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:s, s:s}", "id", &id, "launcher",
                        &launcher, "application", &app, "host", &host, "port", &s.port, "pid",
                        &s.pid, "start", &start, "state", &state, "response", &response) != 0)
            continue;
        s.id = id;
        s.launcher_file = launcher;
        s.application = app;
        s.host = host;
        s.start_time = static_cast<unsigned long long>(start);
        s.state = state;
        s.response = response;
        out.push_back(std::move(s));
    }
    return out;
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

int open_pidfd(int pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

} // namespace pvl
