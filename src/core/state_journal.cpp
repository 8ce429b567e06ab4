#include "state_journal.h"

#include "json.h"

#include <map>

namespace pvl {
namespace {

json_t *session_json(const PersistedSession &s) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:s, s:s}", "id", s.id.c_str(),
                          "launcher", s.launcher_file.c_str(), "application", s.application.c_str(),
                          "host", s.host.c_str(), "port", s.port, "pid", s.pid, "start",
                          static_cast<json_int_t>(s.start_time), "state", s.state.c_str(),
                          "response", s.response.c_str());
    if (o && !s.owner.empty())
        json_object_set_new(o, "owner", json_stringn(s.owner.data(), s.owner.size()));
    if (o && s.slurm)
        json_object_set_new(o, "job", json_stringn(s.job.data(), s.job.size()));
    return o;
}

bool session_from_json(json_t *o, PersistedSession *s) {
    const char *id = nullptr, *launcher = nullptr, *app = nullptr, *host = nullptr,
               *state = nullptr, *response = nullptr;
    json_int_t start = 0;
    if (json_unpack(o, "{s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:s, s:s}", "id", &id, "launcher",
                    &launcher, "application", &app, "host", &host, "port", &s->port, "pid", &s->pid,
                    "start", &start, "state", &state, "response", &response) != 0 ||
        start < 0)
        return false;
    s->id = id;
    s->launcher_file = launcher;
    s->application = app;
    s->host = host;
    s->start_time = static_cast<unsigned long long>(start);
    s->state = state;
    s->response = response;
    // Records written before sessions had owners have none.
    json_t *owner = json_object_get(o, "owner");
    if (owner && !json_is_string(owner))
        return false;
    s->owner = owner ? std::string(json_string_value(owner), json_string_length(owner)) : "";
    // A Slurm session's record has its job ("" while it was submitted).
    json_t *job = json_object_get(o, "job");
    if (job && !json_is_string(job))
        return false;
    s->slurm = job != nullptr;
    s->job = job ? std::string(json_string_value(job), json_string_length(job)) : "";
    return true;
}

// Sessions by id, remembering the order of first appearance.
struct Replay {
    std::vector<PersistedSession> rows;
    std::map<std::string, size_t> index;

    void put(PersistedSession s) {
        auto it = index.find(s.id);
        if (it != index.end()) {
            rows[it->second] = std::move(s);
            return;
        }
        index[s.id] = rows.size();
        rows.push_back(std::move(s));
    }
    void del(const std::string &id) {
        auto it = index.find(id);
        if (it != index.end()) {
            rows[it->second].id.clear(); // a hole, dropped at the end
            index.erase(it);
        }
    }
    std::vector<PersistedSession> result() {
        std::vector<PersistedSession> out;
        for (auto &r : rows)
            if (!r.id.empty())
                out.push_back(std::move(r));
        return out;
    }
};

} // namespace

std::string journal_put_line(const PersistedSession &s) {
    JsonPtr o(json_pack("{s:o}", "put", session_json(s)));
    return json_to_string(o.get()) + "\n";
}

std::string journal_del_line(const std::string &id) {
    JsonPtr o(json_pack("{s:s}", "del", id.c_str()));
    return json_to_string(o.get()) + "\n";
}

std::vector<PersistedSession> replay_journal(const std::string &text) {
    Replay r;
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '[') {
        JsonPtr arr(json_loadb(text.data(), text.size(), 0, nullptr));
        size_t i;
        json_t *o;
        json_array_foreach(arr.get(), i, o) {
            PersistedSession s;
            if (session_from_json(o, &s) && !s.id.empty())
                r.put(std::move(s));
        }
        return r.result();
    }
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos)
            break; // no newline: a line cut short
        JsonPtr o(json_loadb(text.data() + pos, end - pos, 0, nullptr));
        pos = end + 1;
        if (!json_is_object(o.get()))
            continue;
        json_t *put = json_object_get(o.get(), "put");
        json_t *del = json_object_get(o.get(), "del");
        PersistedSession s;
        if (put && session_from_json(put, &s) && !s.id.empty())
            r.put(std::move(s));
        else if (json_is_string(del))
            r.del(json_string_value(del));
    }
    return r.result();
}

} // namespace pvl
