// Seed 004's launch resource and the launch queue. Every launch request
// becomes a Launch: it waits in its launcher's queue when capacity is
// reached (PVLaunchQueue), runs as a session, and ends completed, failed or
// canceled. Pure: the daemon owns the processes and the clock.
#pragma once
#include "json.h"

#include <chrono>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace pvl {

using SysTime = std::chrono::system_clock::time_point;

enum class LaunchState { waiting, running, completed, failed, canceled };
const char *launch_state_name(LaunchState s);
inline bool launch_ended(LaunchState s) {
    return s == LaunchState::completed || s == LaunchState::failed || s == LaunchState::canceled;
}

struct LaunchLogEntry {
    std::string kind; // progress, output, warning, error
    std::string message;
    SysTime time;
};

struct Launch {
    std::string id;
    int launcher = 0;
    std::string service; // the application
    std::string uri;     // where GET and DELETE find it
    std::string user;    // whom Apache authenticated for the request, or ""
    std::string client;  // the address the request came from
    LaunchState state = LaunchState::waiting;
    long request_number = 0;
    SysTime request_time;
    SysTime start_time; // when started
    SysTime end_time;   // when ended
    bool started = false;
    std::vector<std::pair<std::string, std::string>> arguments;
    std::vector<std::pair<std::string, std::string>> status;
    std::vector<LaunchLogEntry> log;
    std::string status_location; // callback URL, or ""
    // Asked for by a seed 004 client (asynchronous POST or a form): GET
    // shows the launch resource, and it is kept for a while after it ends.
    // Otherwise GET and DELETE behave exactly as for ParaViewWeb clients.
    bool tracked = false;
    // From seed 004's form or header interface, which requires every
    // parameter of the service (the ParaViewWeb API leaves ${name} as is).
    bool all_parameters = false;

    void add_log(const char *kind, const std::string &message, SysTime now);
    void set_status(const std::string &name, const std::string &value);
    void erase_status(const std::string &name);
    // Moves to an end state once; false if it had already ended.
    bool end(LaunchState final_state, SysTime now);
};

// The payload as seed 004 "arguments": scalar values as text, others as
// JSON; "application" (it is the service) and "secret" are left out.
std::vector<std::pair<std::string, std::string>> launch_arguments(const json_t *payload);

// The launch resource: `session` (a ParaViewWeb session object, or null)
// first, then seed 004's fields over it.
JsonPtr launch_json(const Launch &l, const json_t *session, SysTime now);
// What the queue listing shows of a launch.
JsonPtr launch_summary_json(const Launch &l, size_t queue_position);

// The waiting launches of one launcher, in start order.
class LaunchQueue {
  public:
    enum class Direction { top, up, down, bottom };
    static bool parse_direction(const std::string &text, Direction *out);

    void push(const std::string &id) { ids_.push_back(id); }
    void push_front(const std::string &id) { ids_.push_front(id); }
    bool remove(const std::string &id);
    bool empty() const { return ids_.empty(); }
    size_t size() const { return ids_.size(); }
    const std::string &front() const { return ids_.front(); }
    void pop_front() { ids_.pop_front(); }
    // 1-based place in the queue; 0 when not waiting.
    size_t position(const std::string &id) const;
    const std::deque<std::string> &ids() const { return ids_; }
    // Moves the given launches (their relative order kept): top/bottom of
    // the queue, or one place up/down each, never past one another. False
    // and *unknown set, with nothing moved, if an id is not in the queue.
    bool reorder(const std::vector<std::string> &ids, Direction d, std::string *unknown);

  private:
    std::deque<std::string> ids_;
};

} // namespace pvl
