#include "session_table.h"

namespace pvl {

bool SessionTable::add(Session s) {
    if (sessions_.count(s.id))
        return false;
    if (s.pid > 0)
        by_pid_[s.pid] = s.id;
    std::string id = s.id;
    sessions_.emplace(std::move(id), std::move(s));
    return true;
}

Session *SessionTable::find(const std::string &id) {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : &it->second;
}

const Session *SessionTable::find(const std::string &id) const {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : &it->second;
}

Session *SessionTable::find_by_pid(int pid) {
    auto it = by_pid_.find(pid);
    return it == by_pid_.end() ? nullptr : find(it->second);
}

const Session *SessionTable::find_by_pid(int pid) const {
    auto it = by_pid_.find(pid);
    return it == by_pid_.end() ? nullptr : find(it->second);
}

bool SessionTable::remove(const std::string &id) {
    auto it = sessions_.find(id);
    if (it == sessions_.end())
        return false;
    if (it->second.pid > 0)
        by_pid_.erase(it->second.pid);
    sessions_.erase(it);
    return true;
}

std::string SessionTable::route(const std::string &id) const {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.state != SessionState::ready)
        return std::string();
    return it->second.host_port();
}

size_t SessionTable::count(int launcher) const {
    size_t n = 0;
    for (const auto &kv : sessions_)
        if (kv.second.launcher == launcher)
            ++n;
    return n;
}

std::string SessionTable::map_file_text(int launcher) const {
    std::string out;
    for (const auto &kv : sessions_)
        if (kv.second.launcher == launcher && kv.second.state == SessionState::ready)
            out += kv.first + " " + kv.second.host_port() + "\n";
    return out;
}

std::vector<std::string> SessionTable::ids() const {
    std::vector<std::string> out;
    for (const auto &kv : sessions_)
        out.push_back(kv.first);
    return out;
}

} // namespace pvl
