#include "launch_queue.h"

#include "launch_format.h"

#include <algorithm>
#include <set>

namespace pvl {

const char *launch_state_name(LaunchState s) {
    switch (s) {
    case LaunchState::waiting:
        return "waiting";
    case LaunchState::running:
        return "running";
    case LaunchState::completed:
        return "completed";
    case LaunchState::failed:
        return "failed";
    case LaunchState::canceled:
        return "canceled";
    }
    return "unknown";
}

void Launch::add_log(const char *kind, const std::string &message, SysTime now) {
    log.push_back({kind, message, now});
}

void Launch::set_status(const std::string &name, const std::string &value) {
    for (auto &kv : status)
        if (kv.first == name) {
            kv.second = value;
            return;
        }
    status.emplace_back(name, value);
}

void Launch::erase_status(const std::string &name) {
    status.erase(std::remove_if(status.begin(), status.end(),
                                [&](const auto &kv) { return kv.first == name; }),
                 status.end());
}

bool Launch::end(LaunchState final_state, SysTime now) {
    if (launch_ended(state))
        return false;
    state = final_state;
    end_time = now;
    erase_status("queuePosition");
    return true;
}

std::vector<std::pair<std::string, std::string>> launch_arguments(const json_t *payload) {
    std::vector<std::pair<std::string, std::string>> out;
    const char *key;
    json_t *value;
    json_object_foreach(const_cast<json_t *>(payload), key, value) {
        if (std::string(key) == "application" || std::string(key) == "secret")
            continue;
        std::string text;
        if (!json_scalar_text(value, &text))
            text = json_is_null(value) ? "" : json_to_string(value);
        out.emplace_back(key, text);
    }
    return out;
}

namespace {

double seconds_between(SysTime a, SysTime b) {
    return std::chrono::duration<double>(b - a).count();
}

json_t *pairs_json(const std::vector<std::pair<std::string, std::string>> &pairs) {
    json_t *arr = json_array();
    for (const auto &kv : pairs)
        json_array_append_new(arr,
                              json_pack("{s:s%, s:s%}", "name", kv.first.data(), kv.first.size(),
                                        "value", kv.second.data(), kv.second.size()));
    return arr;
}

} // namespace

namespace {

// What the queue listing and the full resource both show.
void summary_fields(json_t *o, const Launch &l) {
    json_object_set_new(o, "id", json_string(l.id.c_str()));
    json_object_set_new(o, "uri", json_string(l.uri.c_str()));
    json_object_set_new(o, "service", json_string(l.service.c_str()));
    json_object_set_new(o, "state", json_string(launch_state_name(l.state)));
    json_object_set_new(o, "requestNumber", json_integer(l.request_number));
    json_object_set_new(o, "requestTime", json_string(iso8601_time(l.request_time).c_str()));
    if (l.started)
        json_object_set_new(o, "startTime", json_string(iso8601_time(l.start_time).c_str()));
}

} // namespace

JsonPtr launch_json(const Launch &l, const json_t *session, SysTime now) {
    JsonPtr j(json_is_object(session) ? json_deep_copy(session) : json_object());
    json_t *o = j.get();
    summary_fields(o, l);
    const bool ended = launch_ended(l.state);
    if (ended)
        json_object_set_new(o, "endTime", json_string(iso8601_time(l.end_time).c_str()));
    const SysTime until = ended ? l.end_time : now;
    json_object_set_new(
        o, "duration",
        json_string(iso8601_duration(seconds_between(l.request_time, until)).c_str()));
    json_object_set_new(o, "arguments", pairs_json(l.arguments));
    json_object_set_new(o, "status", pairs_json(l.status));
    json_t *entries = json_array();
    for (const auto &e : l.log)
        json_array_append_new(
            entries,
            json_pack("{s:s, s:s%, s:s, s:s}", "kind", e.kind.c_str(), "message", e.message.data(),
                      e.message.size(), "time", iso8601_time(e.time).c_str(), "duration",
                      iso8601_duration(seconds_between(l.request_time, e.time)).c_str()));
    json_object_set_new(o, "logEntries", entries);
    return j;
}

JsonPtr launch_summary_json(const Launch &l, size_t queue_position) {
    JsonPtr j(json_object());
    summary_fields(j.get(), l);
    if (queue_position > 0)
        json_object_set_new(j.get(), "queuePosition",
                            json_integer(static_cast<json_int_t>(queue_position)));
    return j;
}

bool LaunchQueue::parse_direction(const std::string &text, Direction *out) {
    if (text == "top")
        *out = Direction::top;
    else if (text == "up")
        *out = Direction::up;
    else if (text == "down")
        *out = Direction::down;
    else if (text == "bottom")
        *out = Direction::bottom;
    else
        return false;
    return true;
}

bool LaunchQueue::remove(const std::string &id) {
    auto it = std::find(ids_.begin(), ids_.end(), id);
    if (it == ids_.end())
        return false;
    ids_.erase(it);
    return true;
}

size_t LaunchQueue::position(const std::string &id) const {
    auto it = std::find(ids_.begin(), ids_.end(), id);
    return it == ids_.end() ? 0 : static_cast<size_t>(it - ids_.begin()) + 1;
}

bool LaunchQueue::reorder(const std::vector<std::string> &ids, Direction d, std::string *unknown) {
    std::set<std::string> chosen;
    for (const auto &id : ids) {
        if (position(id) == 0) {
            *unknown = id;
            return false;
        }
        chosen.insert(id);
    }
    auto is_chosen = [&](const std::string &id) { return chosen.count(id) > 0; };
    switch (d) {
    case Direction::top:
    case Direction::bottom: {
        std::deque<std::string> moved, rest;
        for (const auto &id : ids_)
            (is_chosen(id) ? moved : rest).push_back(id);
        ids_.clear();
        const auto &first = d == Direction::top ? moved : rest;
        const auto &second = d == Direction::top ? rest : moved;
        ids_.insert(ids_.end(), first.begin(), first.end());
        ids_.insert(ids_.end(), second.begin(), second.end());
        break;
    }
    case Direction::up:
        // Front to back: a chosen launch swaps with an unchosen one before
        // it; a block of chosen ones moves up together.
        for (size_t i = 1; i < ids_.size(); ++i)
            if (is_chosen(ids_[i]) && !is_chosen(ids_[i - 1]))
                std::swap(ids_[i], ids_[i - 1]);
        break;
    case Direction::down:
        for (size_t i = ids_.size(); i-- > 1;)
            if (is_chosen(ids_[i - 1]) && !is_chosen(ids_[i]))
                std::swap(ids_[i], ids_[i - 1]);
        break;
    }
    return true;
}

} // namespace pvl
